"""The device plan on the CPU: fast paths off, and the fast paths' code (channels_last layout,
compiled parts) trains the same model to the same weights where the CPU can run it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

from lab.config import load_config
from lab.device import DevicePlan, plan_device, pytorch_defaults
from lab.errors import ConfigError, DeviceError
from lab.generators.build import build_from_section
from lab.training.fit import fit
from lab.training.seeding import seed_everything
from models.sections.vae import VAEConfig
from models.vae import VAE

ROOT = Path(__file__).resolve().parent.parent
SHAPE = (3, 16, 16)  # 3 channels, so NCHW and NHWC differ
CONFIG = VAEConfig(latent_dim=4, channels=(4, 8))
STEPS = 6


def _images() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (64, *SHAPE), generator=generator, dtype=torch.uint8)


def _trained(plan: DevicePlan) -> VAE:
    seed_everything(0)
    model = build_from_section(CONFIG, image_shape=SHAPE, lr=1e-2)
    fit(model, [_images()], plan=plan, batch_size=16, seed=0, max_steps=STEPS)
    return model


@pytest.fixture(scope="module")
def plain() -> VAE:
    return _trained(plan_device("cpu", "auto", deterministic=True))


def test_cpu_plan_turns_every_fast_path_off_even_when_asked(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    plan = plan_device("auto", "auto", deterministic=False, compile=True)
    assert plan.device.type == "cpu" and not plan.is_accelerated
    assert plan.precision == "32-true" and plan.compute_dtype == torch.float32
    assert not plan.channels_last and plan.compiler is None
    kwargs = plan.trainer_kwargs()
    assert kwargs["accelerator"] == "cpu" and kwargs["precision"] == "32-true"
    assert kwargs["benchmark"] is False
    assert plan.peak_memory_bytes() is None
    images = _images()
    assert plan.place(images).is_contiguous()
    module = plan.prepare(build_from_section(CONFIG, image_shape=SHAPE, lr=1e-3))
    assert all(p.is_contiguous() for p in module.parameters())
    assert module.encoder._compiled_call_impl is None


def test_same_model_trains_on_the_cpu_plan(plain: VAE) -> None:
    seed_everything(0)
    untrained = build_from_section(CONFIG, image_shape=SHAPE, lr=1e-2)
    moved = [
        not torch.equal(p, q)
        for p, q in zip(plain.parameters(), untrained.parameters(), strict=True)
    ]
    assert all(moved)
    assert plain.trainer.global_step == STEPS
    assert torch.isfinite(plain.trainer.callback_metrics["loss_epoch"])


def test_fast_path_code_gives_the_same_weights_as_the_plain_path(plain: VAE) -> None:
    """channels_last and compiled parts (with the eager backend, which runs TorchDynamo's
    capture on the CPU without a C++ compiler) change layout and dispatch, not the maths."""
    cpu = plan_device("cpu", "auto", deterministic=True)
    fast = DevicePlan(cpu.device, cpu.precision, True, channels_last=True, compiler="eager")
    placed = fast.place(_images())
    assert placed.is_contiguous(memory_format=torch.channels_last) and not placed.is_contiguous()
    model = _trained(fast)
    convolution = model.encoder[0].weight
    assert convolution.is_contiguous(memory_format=torch.channels_last)
    assert model.encoder._compiled_call_impl is not None
    assert model.decoder._compiled_call_impl is not None
    assert set(model.state_dict()) == set(plain.state_dict())
    for name, value in plain.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value, rtol=1e-4, atol=1e-5)


def test_pytorch_defaults_are_restored_afterwards() -> None:
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    try:
        with pytorch_defaults(benchmark=True):
            assert not torch.are_deterministic_algorithms_enabled()
            assert torch.backends.cudnn.benchmark
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.backends.cudnn.benchmark
    finally:
        torch.use_deterministic_algorithms(False)


def test_compile_without_triton_on_a_gpu_is_one_sentence(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "triton" else find_spec(name)
    )
    with pytest.raises(DeviceError, match=r"train\.compile is true .* set train\.compile to false"):
        plan_device("auto", "32-true", deterministic=True, compile=True)


def test_train_compile_is_validated() -> None:
    config = load_config(ROOT / "experiments" / "demo.yaml", ["train.compile=true"])
    assert config.train.compile is True
    assert load_config(ROOT / "experiments" / "demo.yaml").train.compile is False
    with pytest.raises(ConfigError, match=r"'train\.compile' must be true or false"):
        load_config(ROOT / "experiments" / "demo.yaml", ["train.compile=sometimes"])


# The accelerator's config values name it; no other line outside lab/device.py may.
_ALLOWED = {"lab/experiment.py": re.compile(r'^\s*accelerator: Literal\["auto", "cpu", "cuda"\]')}


def test_only_the_device_module_mentions_cuda() -> None:
    offenders = []
    for folder in ("lab", "models", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name == "lab/device.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                allowed = _ALLOWED.get(name)
                if "cuda" in line.lower() and not (allowed and allowed.match(line)):
                    offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, "device handling belongs in lab/device.py:\n" + "\n".join(offenders)
