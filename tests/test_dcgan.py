"""The DCGAN's two-player step, its sampling contract, and its divergence detection."""

from __future__ import annotations

import copy

import pytest
import torch

from lab.device import plan_device
from lab.errors import ConfigError
from lab.generators.build import build_from_section
from lab.training.fit import fit
from lab.training.seeding import cpu_generator, seed_everything
from models.dcgan import DCGAN, DivergenceWatch
from models.sections.dcgan import DCGANConfig

SHAPE = (3, 16, 16)  # the smallest side the architecture allows beyond 8: fast on CPU
CONFIG = DCGANConfig(latent_dim=8, generator_width=4, discriminator_width=4)
PLAN = plan_device("cpu", "32-true", deterministic=True)


def _images(count: int) -> torch.Tensor:
    return torch.randint(0, 256, (count, *SHAPE), generator=torch.Generator().manual_seed(0)).to(
        torch.uint8
    )


def _model(config: DCGANConfig = CONFIG) -> DCGAN:
    seed_everything(0)
    return build_from_section(config, image_shape=SHAPE, lr=2e-4)


def test_architecture_and_initialisation_follow_the_paper() -> None:
    torch.manual_seed(0)  # the initial weights the statistics below are measured on
    model = build_from_section(DCGANConfig(), image_shape=(3, 64, 64), lr=2e-4)
    convs = [m for m in model.generator if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]
    disc = [m for m in model.discriminator if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in disc] == [64, 128, 256, 512, 1]
    weights = torch.cat([c.weight.detach().flatten() for c in convs + disc])
    # Seed 0, 6.3M weights: mean -1.6e-5 (60x under 1e-3), std 0.020008 (0.04% off 0.02,
    # inside the 2% allowed).
    assert abs(float(weights.mean())) < 1e-3
    assert float(weights.std()) == pytest.approx(0.02, rel=0.02)
    g_opt, d_opt = model.configure_optimizers()
    assert g_opt.defaults["betas"] == (0.5, 0.999) and d_opt.defaults["lr"] == 2e-4


def test_one_step_updates_both_networks() -> None:
    model = _model()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    # One batch = one discriminator step and one generator step (Lightning counts 2).
    fit(model, [_images(8)], plan=PLAN, batch_size=8, seed=0, max_steps=2)
    assert model.trainer.global_step == 2
    for prefix in ("generator.", "discriminator."):
        changed = [
            not torch.equal(p, before[name])
            for name, p in model.named_parameters()
            if name.startswith(prefix)
        ]
        assert changed and all(changed), prefix
    metrics = model.trainer.callback_metrics
    assert {"loss_d_epoch", "loss_g_epoch", "d_real_epoch", "d_fake_epoch"} <= set(metrics)
    assert 0 < float(metrics["d_real_epoch"]) < 1 and 0 < float(metrics["d_fake_epoch"]) < 1
    assert model.diverged is None


def test_one_step_is_the_reference_dcgan_step() -> None:
    """One batch through Lightning's manual optimisation does what pytorch/examples'
    dcgan/main.py does: a discriminator step on real images and detached fakes, then a
    generator step on the same fakes against the updated discriminator."""
    model = _model()
    reference = copy.deepcopy(model)
    images = _images(8)
    seed_everything(123)  # the generator's noise comes from torch's global generator
    fit(model, [images], plan=PLAN, batch_size=8, seed=0, max_steps=2)

    seed_everything(123)
    generator, discriminator = reference.generator.train(), reference.discriminator.train()
    adam = {"lr": 2e-4, "betas": (0.5, 0.999)}
    opt_g = torch.optim.Adam(generator.parameters(), **adam)
    opt_d = torch.optim.Adam(discriminator.parameters(), **adam)
    bce = torch.nn.BCEWithLogitsLoss()
    real = images.float() / 255 * 2 - 1
    fake = generator(torch.randn(8, CONFIG.latent_dim, 1, 1))
    loss_d = bce(discriminator(real), torch.ones(8)) + bce(
        discriminator(fake.detach()), torch.zeros(8)
    )
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    bce(discriminator(fake), torch.ones(8)).backward()
    opt_g.step()

    ours = dict(model.named_parameters())
    for name, expected in reference.named_parameters():
        assert torch.allclose(ours[name], expected, atol=1e-6), name


def test_sample_is_uint8_and_fixed_latents_give_the_same_images() -> None:
    model = _model()
    fit(model, [_images(32)], plan=PLAN, batch_size=8, seed=0, max_epochs=2)
    first = model.sample(10, cpu_generator(5), batch_size=4)
    assert first.dtype == torch.uint8 and first.shape == (10, *SHAPE)
    assert int(first.min()) >= 0 and int(first.max()) <= 255 and first.unique().numel() > 1
    assert torch.equal(first, model.sample(10, cpu_generator(5), batch_size=10))
    assert not torch.equal(first, model.sample(10, cpu_generator(6), batch_size=4))


def test_nan_losses_stop_training_and_are_reported() -> None:
    model = _model()
    with torch.no_grad():
        model.generator[0].weight[0, 0, 0, 0] = float("nan")
    # 40 batches in the epoch; the counters are read every 25 batches, so it stops there.
    fit(model, [_images(80)], plan=PLAN, batch_size=2, seed=0, max_epochs=1)
    assert model.diverged == "the losses became NaN or infinite at step 1"
    assert model.trainer.global_step == 2 * 25


def test_discriminator_winning_outright_is_a_divergence() -> None:
    watch = DivergenceWatch(margin=0.01, patience=3)
    finite, real, fake = torch.tensor(0.1), torch.tensor(0.995), torch.tensor(0.002)
    for _ in range(2):
        watch.update(finite, finite, real, fake)
    watch.update(finite, finite, torch.tensor(0.9), fake)  # not outright: the streak restarts
    for _ in range(2):
        watch.update(finite, finite, real, fake)
    assert watch.verdict() is None
    watch.update(finite, finite, real, fake)
    assert watch.verdict() == (
        "the discriminator won outright (D(x) > 0.99 and D(G(z)) < 0.01) for 3 batches in a row"
    )


def test_image_side_must_be_four_times_a_power_of_two() -> None:
    with pytest.raises(ConfigError, match=r"4 times a power of two .* the data is 28x28"):
        build_from_section(CONFIG, image_shape=(1, 28, 28), lr=2e-4)
