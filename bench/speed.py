"""`make bench`: the lab's GPU path against the pytorch/examples baselines, on one card.

For the DCGAN (CelebA-sized 64x64 faces) and the VAE (28x28 digits), in one process on the
same device: training images per second of the baselines (bench/baselines.py) and of the
lab's path (bench/lab_path.py) in its default configuration and with the fast-path options;
sampling images per second; the evaluation of 10k generated against 10k real images
(bench/evaluation.py); peak device memory; and the DCGAN training step's achieved FLOP/s as a
share of a plain matrix product's, measured in the same run. Writes the card's section of
bench/RESULTS.md and its entry in bench/results.json (bench/results_file.py), and a profile
of the lab's DCGAN steps beside them.

Sizes: `full` is the one whose numbers mean something (on a GPU); `smoke` runs the same code
on tiny models in seconds on a CPU, so CI keeps the script working; `auto` (the default) is
`full` where the device plan finds an accelerator and `smoke` elsewhere, so a plain
`make bench` finishes on a laptop too.

    python -m bench.speed --size smoke --out /tmp/bench
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import torch

from bench import baselines, evaluation, generation_speed, lab_path
from bench.report import render_speed
from bench.results_file import remove_section, update_json, write_section
from lab.device import DevicePlan, plan_device
from lab.generators.build import build_from_section
from lab.training.seeding import seed_everything
from models.dcgan import DCGAN
from models.sections.dcgan import DCGANConfig
from models.sections.vae import VAEConfig
from models.vae import VAE
from tests.celeba_fixtures import write_tiny_celeba
from tests.idx_fixtures import idx_bytes

# Optimiser steps Lightning counts per batch: the GAN steps both players.
DCGAN_STEPS_PER_BATCH, VAE_STEPS_PER_BATCH = 2, 1
DCGAN_LR, VAE_LR = 2e-4, 1e-3  # celeba_dcgan.yaml, mnist_vae.yaml


@dataclass(frozen=True)
class Size:
    """Everything a size changes. Batch sizes and networks at `full` are those of
    experiments/celeba_dcgan.yaml and experiments/mnist_vae.yaml."""

    dcgan: DCGANConfig
    dcgan_batch: int
    vae: VAEConfig
    vae_batch: int
    jpegs: int  # JPEG files the ImageFolder baseline decodes
    train_images: int  # uint8 images in memory (TensorDataset baseline and the lab's path)
    baseline_warmup: int
    baseline_batches: int  # measured batches, DataLoader baselines
    lab_warmup: int
    lab_batches: int  # measured batches, the lab's path
    samples: int
    sample_batch: int
    eval_images: int  # generated and real images each
    eval_batch: int
    inception_images: int  # 0: not run
    inception_batch: int
    # Images timed through each pretrained ViT-L space (DINOv2, CLIP); 0: not run.
    vit_images: int
    vit_batch: int
    matmul_side: int
    matmul_repeats: int
    profile_skip: int
    profile_batches: int
    # (name, deterministic, compile) of the lab's path; the first is the default config.
    variants: tuple[tuple[str, bool, bool], ...]
    # (sampler in GENERATORS, experiment file, items drawn): sampling where it is the cost.
    generation: tuple[tuple[str, str, int], ...]


FULL = Size(
    dcgan=DCGANConfig(),
    dcgan_batch=128,
    vae=VAEConfig(),
    vae_batch=256,
    jpegs=8192,
    train_images=32768,
    baseline_warmup=10,
    baseline_batches=40,
    lab_warmup=40,
    lab_batches=300,
    samples=10_000,
    sample_batch=10_000,
    eval_images=10_000,
    eval_batch=5000,
    inception_images=10_000,
    inception_batch=500,
    vit_images=1000,
    vit_batch=250,
    matmul_side=8192,
    matmul_repeats=20,
    profile_skip=20,
    profile_batches=20,
    variants=(
        ("default", True, False),
        ("deterministic: false", False, False),
        ("compile: true", True, True),
    ),
    generation=(
        ("diffusion", "demo_diffusion.yaml", 2000),
        ("diffusion", "mnist_ddpm.yaml", 2000),
        ("gpt_beams", "demo_text_beams.yaml", 1000),
        ("opt_beams", "wikitext_opt.yaml", 512),
    ),
)
SMOKE = Size(
    dcgan=DCGANConfig(latent_dim=16, generator_width=4, discriminator_width=4),
    dcgan_batch=8,
    vae=VAEConfig(latent_dim=4, channels=(4, 8)),
    vae_batch=8,
    jpegs=160,  # one epoch covers the measured batches, as at full size
    train_images=256,
    baseline_warmup=2,
    baseline_batches=12,
    lab_warmup=2,
    lab_batches=24,
    samples=256,
    sample_batch=128,
    eval_images=256,
    eval_batch=128,
    inception_images=0,
    inception_batch=8,
    vit_images=4,  # a ViT-L image takes seconds on a small CPU
    vit_batch=4,
    matmul_side=512,  # big enough for the CPU's matrix kernels to reach their speed
    matmul_repeats=5,
    profile_skip=2,
    profile_batches=4,
    variants=(("default", True, False), ("deterministic: false", False, False)),
    # The CPU demos' own networks and knobs, few items: on a CPU these are real numbers. The
    # GPU-sized ones (mnist_ddpm at 100 steps, OPT-125m) take minutes a handful here: full only.
    generation=(
        ("diffusion", "demo_diffusion.yaml", 50),
        ("gpt_beams", "demo_text_beams.yaml", 10),
    ),
)
SIZES = {"smoke": SMOKE, "full": FULL}
AUTO = "auto"
# bench/RESULTS.md's note that no GPU has run the full size yet; a full GPU run removes it.
GPU_NOT_MEASURED_KEY = "speed GPU not measured"
DCGAN_SHAPE = (3, 64, 64)
VAE_SHAPE = (1, 28, 28)


class Bench:
    """Runs each measurement, keeping going past a failed one (its error is recorded, and
    the run exits non-zero), and rewrites the results after each part so a run cut short
    still leaves what it measured."""

    def __init__(self, size: Size, size_name: str, out: Path, work: Path, command: str):
        self.size = size
        self.out = out
        self.work = work
        self.plan = plan_device("auto", "auto", deterministic=True)
        self.card = machine_name(self.plan)
        self.results: dict[str, Any] = {
            "card": self.card,
            "date": f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
            "torch": torch.__version__,
            "lightning": lightning.__version__,
            "python": platform.python_version(),
            "cpu_cores": os.cpu_count(),
            # Other work on a shared machine slows every path; the section shows how busy it was.
            "load_average_1min": {"before": os.getloadavg()[0]},
            "command": command,
            "size": size_name,
            "precision": self.plan.precision,
            "accelerated": self.plan.is_accelerated,
            "errors": {},
        }
        self.images = {
            "dcgan": random_images(size.train_images, DCGAN_SHAPE),
            "vae": random_images(size.train_images, VAE_SHAPE),
        }

    def attempt(self, name: str, measure: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        try:
            value = measure()
        except Exception as error:  # noqa: BLE001  (one failed part must not lose the others)
            lines = traceback.format_exception(error)
            self.results["errors"][name] = "".join(lines[-6:])
            print(f"[bench] {name} FAILED: {error}", flush=True)
            value = None
        print(f"[bench] {name}: {time.perf_counter() - began:.1f} s", flush=True)
        self.save()
        return value

    def save(self) -> None:
        key = f"speed {self.card}"
        update_json(self.out / "results.json", key, self.results)
        write_section(self.out / "RESULTS.md", key, render_speed(self.results))
        if self.plan.is_accelerated and self.results["size"] == "full":
            remove_section(self.out / "RESULTS.md", GPU_NOT_MEASURED_KEY)

    def run(self) -> dict[str, Any]:
        size, results = self.size, self.results
        matmul = self.attempt(
            "matmul",
            lambda: lab_path.matmul_flops_per_s(self.plan, size.matmul_side, size.matmul_repeats),
        )
        results["matmul"] = {
            "dtype": str(self.plan.compute_dtype).removeprefix("torch."),
            "side": size.matmul_side,
            "flops_per_s": matmul,
        }
        results["dcgan"] = self.dcgan()
        results["vae"] = self.vae()
        results["evaluation"] = self.evaluation()
        results["generation"] = self.generation()
        # Compiled variants last: compiling takes longest, and a run cut short keeps the rest.
        for name, build, steps in (
            ("dcgan", self.new_dcgan, DCGAN_STEPS_PER_BATCH),
            ("vae", self.new_vae, VAE_STEPS_PER_BATCH),
        ):
            section = results[name]
            compiled, _ = self.lab_variants(
                name, build, self.images[name], section["batch_size"], steps, compiled=True
            )
            section["lab"].update(compiled)
        results["load_average_1min"]["after"] = os.getloadavg()[0]
        self.save()
        return results

    def dcgan(self) -> dict[str, Any]:
        size, plan = self.size, self.plan
        section: dict[str, Any] = {"batch_size": size.dcgan_batch, "config": asdict(size.dcgan)}
        self.results["dcgan"] = section
        images = self.images["dcgan"]
        jpeg_root = self.work / "celeba-jpegs"
        self.attempt("write JPEGs", lambda: write_jpegs(jpeg_root, size.jpegs))
        folder = jpeg_root / "celeba"
        loaders = {
            "examples: ImageFolder JPEGs, float32": lambda: baselines.dcgan_loader(
                baselines.celeba_image_folder(folder, DCGAN_SHAPE[1]),
                size.dcgan_batch,
                baselines.DCGAN_EXAMPLE_WORKERS,
            ),
            "TensorDataset in host memory, float32": lambda: baselines.dcgan_loader(
                baselines.dcgan_tensor_dataset(images), size.dcgan_batch, 0
            ),
        }
        self.baselines(section, "dcgan", loaders, baselines.dcgan_baseline, self.new_dcgan)
        section["flops_per_batch"] = self.attempt(
            "dcgan flops",
            lambda: lab_path.flops_per_batch(
                plan, self.new_dcgan(), images, size.dcgan_batch, DCGAN_STEPS_PER_BATCH
            ),
        )
        section["lab"], trained = self.lab_variants(
            "dcgan", self.new_dcgan, images, size.dcgan_batch, DCGAN_STEPS_PER_BATCH, compiled=False
        )
        if trained is not None:
            section["sampling"] = self.sampling("dcgan", trained)
        profile = self.out / f"profile-{slug(self.card)}.txt"
        section["profile"] = self.attempt(
            "dcgan profile",
            lambda: {
                "file": profile.name,
                **lab_path.profile_training(
                    plan,
                    self.new_dcgan(),
                    images,
                    size.dcgan_batch,
                    DCGAN_STEPS_PER_BATCH,
                    size.profile_skip,
                    size.profile_batches,
                    profile,
                ),
            },
        )
        return section

    def vae(self) -> dict[str, Any]:
        size, plan = self.size, self.plan
        section: dict[str, Any] = {"batch_size": size.vae_batch, "config": asdict(size.vae)}
        self.results["vae"] = section
        images = self.images["vae"]
        mnist_root = self.work / "mnist"
        self.attempt("write MNIST", lambda: write_mnist(mnist_root, images))
        loaders = {
            "examples: torchvision MNIST, float32": lambda: baselines.vae_loader(
                baselines.mnist_dataset(mnist_root),
                size.vae_batch,
                baselines.VAE_EXAMPLE_WORKERS,
                plan,
            ),
            "TensorDataset in host memory, float32": lambda: baselines.vae_loader(
                baselines.vae_tensor_dataset(images), size.vae_batch, 0, plan
            ),
        }
        self.baselines(section, "vae", loaders, baselines.vae_baseline, self.new_vae)
        section["lab"], trained = self.lab_variants(
            "vae", self.new_vae, images, size.vae_batch, VAE_STEPS_PER_BATCH, compiled=False
        )
        if trained is not None:
            section["sampling"] = self.sampling("vae", trained)
        return section

    def baselines(
        self,
        section: dict[str, Any],
        model_name: str,
        loaders: dict[str, Callable[[], Any]],
        baseline: Callable[..., Any],
        build: Callable[[], Any],
    ) -> None:
        """Throughput of `baseline` (examples' training step) on a fresh model per loader,
        into section["baselines"] one by one, so each result is saved as it comes."""
        size = self.size
        section["baselines"] = {}
        for name, loader in loaders.items():
            section["baselines"][name] = self.attempt(
                f"{model_name} baseline {name}",
                lambda loader=loader: _plain(
                    baseline(
                        self.plan,
                        build(),
                        baselines.forever(loader()),
                        size.baseline_warmup,
                        size.baseline_batches,
                    )
                ),
            )

    def sampling(self, model_name: str, trained: Any) -> Any:
        """Images per second of `trained.sample` in the lab's large batches."""
        size = self.size
        return self.attempt(
            f"{model_name} sampling",
            lambda: _plain(
                lab_path.sampling_throughput(self.plan, trained, size.samples, size.sample_batch)
            ),
        )

    def lab_variants(
        self,
        model_name: str,
        build: Callable[[], Any],
        images: torch.Tensor,
        batch_size: int,
        steps_per_batch: int,
        compiled: bool,
    ) -> tuple[dict[str, Any], Any]:
        """Throughput of each variant of the lab's path with (or without) train.compile; and
        the first variant's trained model."""
        measured: dict[str, Any] = {}
        default_model = None
        for name, deterministic, compile_ in self.size.variants:
            if compile_ != compiled:
                continue
            plan = plan_device("auto", "auto", deterministic, compile_)
            model = build()

            def measure(plan: DevicePlan = plan, model: Any = model) -> dict[str, Any]:
                return _plain(
                    lab_path.train_throughput(
                        plan,
                        model,
                        images,
                        batch_size,
                        steps_per_batch,
                        self.size.lab_warmup,
                        self.size.lab_batches,
                    )
                )

            measured[name] = self.attempt(f"{model_name} lab {name}", measure)
            if measured[name] is not None and default_model is None:
                default_model = model
        return measured, default_model

    def generation(self) -> list[dict[str, Any]]:
        """Items/s of each sampler in the size's `generation` list, saved one by one."""
        measured: list[dict[str, Any]] = []
        self.results["generation"] = measured
        for sampler, experiment, items in self.size.generation:
            draw = GENERATORS[sampler]
            value = self.attempt(
                f"{sampler} sampling {experiment}",
                lambda draw=draw, experiment=experiment, items=items: draw(
                    self.plan, experiment, items, self.work
                ),
            )
            if value is not None:
                measured.append({**asdict(value), "items_per_s": value.items_per_s})
        return measured

    def evaluation(self) -> dict[str, Any]:
        size, plan = self.size, self.plan
        section: dict[str, Any] = {"images": size.eval_images}
        self.results["evaluation"] = section
        real = random_images(size.eval_images, DCGAN_SHAPE, seed=1)
        fake = random_images(size.eval_images, DCGAN_SHAPE, seed=2)
        section["judge"] = self.attempt(
            "evaluation judge",
            lambda: evaluation.evaluation_seconds(
                plan, evaluation.judge_space(DCGAN_SHAPE), real, fake, size.eval_batch
            ),
        )
        if size.vit_images:
            section["feature_spaces"] = self.attempt(
                "evaluation feature spaces",
                lambda: {
                    name: evaluation.features_per_second(
                        plan, space, real[: size.vit_images], size.vit_batch
                    )
                    for name, space in evaluation.pretrained_spaces().items()
                },
            )
        count = size.inception_images
        section["inception_images"] = count
        if not count:  # FID's 2048x2048 eigenvalues alone take a minute on a small CPU
            return section
        section["inception"] = self.attempt(
            "evaluation inception",
            lambda: evaluation.evaluation_seconds(
                plan, evaluation.inception_space(), real[:count], fake[:count], size.inception_batch
            ),
        )
        return section

    def new_dcgan(self) -> DCGAN:
        seed_everything(0)
        return build_from_section(self.size.dcgan, image_shape=DCGAN_SHAPE, lr=DCGAN_LR)

    def new_vae(self) -> VAE:
        seed_everything(0)
        return build_from_section(self.size.vae, image_shape=VAE_SHAPE, lr=VAE_LR)


GENERATORS: dict[str, Callable[..., generation_speed.Sampled]] = {
    "diffusion": lambda plan, experiment, items, _: generation_speed.diffusion_sampling(
        plan, experiment, items
    ),
    "gpt_beams": lambda plan, experiment, items, _: generation_speed.gpt_beam_search(
        plan, experiment, items
    ),
    "opt_beams": generation_speed.opt_beam_search,
}


def _plain(throughput: baselines.Throughput) -> dict[str, float | None]:
    return {**asdict(throughput), "images_per_s": throughput.images_per_s}


def random_images(count: int, shape: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    """uint8 images; the content does not change the speed of any path measured here."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, *shape), generator=generator, dtype=torch.uint8)


def write_jpegs(root: Path, count: int) -> None:
    """`count` synthetic 178x218 CelebA-like JPEGs in CelebA's layout (kept if present)."""
    folder = root / "celeba" / "img_align_celeba"
    if folder.is_dir() and sum(1 for _ in folder.iterdir()) >= count:
        return
    write_tiny_celeba(root, count, workers=max(1, os.cpu_count() or 1))


def write_mnist(root: Path, images: torch.Tensor) -> None:
    """`images` as MNIST's training split in its IDX files, where torchvision's MNIST reads
    them (the test split holds the first few again)."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    pixels = images[:, 0].numpy()
    labels = np.arange(len(pixels), dtype=np.uint8) % 10
    for prefix, count in (("train", len(pixels)), ("t10k", min(len(pixels), 16))):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(pixels[:count]))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels[:count]))


def machine_name(plan: DevicePlan) -> str:
    """The card's name, or the CPU's model name for a CPU-only run."""
    if plan.is_accelerated:
        return plan.describe()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"CPU {line.split(':', 1)[1].strip()}"
    return f"CPU {plan.describe()}"


def default_size() -> str:
    """`full` where the device plan finds an accelerator, `smoke` on a CPU-only machine."""
    return "full" if plan_device("auto", "auto", deterministic=True).is_accelerated else "smoke"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=[AUTO, *sorted(SIZES)], default=AUTO)
    parser.add_argument("--out", type=Path, default=Path("bench"), help="folder for the results")
    parser.add_argument("--work-dir", type=Path, help="synthetic data (default: a temp folder)")
    parser.add_argument("--command", help="the command to record (default: this one)")
    args = parser.parse_args(argv)
    command = args.command or "python -m bench.speed " + " ".join(argv or sys.argv[1:])
    size_name = args.size if args.size != AUTO else default_size()
    with contextlib.ExitStack() as stack:
        work = args.work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        bench = Bench(SIZES[size_name], size_name, args.out, work, command)
        results = bench.run()
    print(render_speed(results))
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
