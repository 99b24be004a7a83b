"""The generation loop end to end on this machine, timed: the offline demo
(experiments/demo.yaml), the CelebA DCGAN (experiments/celeba_dcgan.yaml, its networks,
batch size and epochs) for 2 generations on synthetic faces written in CelebA's real layout,
and the digits DCGAN (experiments/mnist_dcgan.yaml) and the class-conditional DDPM
(experiments/mnist_ddpm.yaml) for 2 generations each on full MNIST when its files are in
data/MNIST/raw/, else on the mnist5k digits.

The faces are tests/celeba_fixtures.py's cartoons (4 of the 40 attributes visible), so the
attribute judge is held to the tiny config's 0.6 instead of 0.85 and the metrics say nothing
about CelebA: what is measured is time per generation, sampling speed and peak memory.
Writes a section of bench/RESULTS.md and an entry of bench/results.json per machine.

    python -m bench.loop_runs --faces 30000 --out bench --work-dir /tmp/loop-runs

`--set KEY=VALUE` overrides go to the runs' configs after the script's own, so a trial on a
CPU can shrink the networks and epochs (bench/gpu_check.sh's GPU_CHECK_*_SET).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.results_file import update_json, write_section
from bench.speed import machine_name
from lab.config import load_config
from lab.data.mnist import FILES as MNIST_FILES
from lab.data.mnist import raw_folder
from lab.device import DevicePlan, plan_device
from lab.domains.images.domain import draw_images
from lab.domains.images.files import image_files
from lab.experiment import ExperimentConfig
from lab.generators.build import read_checkpoint, rebuild
from lab.loop import run_experiment
from tests.celeba_fixtures import write_tiny_celeba

ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC_FACES_MIN_ACCURACY = 0.6  # as experiments/celeba_dcgan_tiny.yaml, on the same faces
TRAIN_PARTITION = 0


def timed_run(
    name: str, config: ExperimentConfig, run_dir: Path, shape: tuple[int, int, int]
) -> dict[str, Any]:
    """Run `config` in `run_dir`; its seconds per generation (from the manifest), peak device
    memory, and the sampling speed of its last generation's model as the loop samples."""
    fresh(run_dir)
    train = config.train
    plan = plan_device(train.accelerator, train.precision, train.deterministic, train.compile)
    plan.reset_peak_memory()
    began = time.perf_counter()
    run = run_experiment(config, run_dir, echo=lambda line: print(f"[{name}] {line}", flush=True))
    seconds = time.perf_counter() - began
    peak = plan.peak_memory_bytes()
    last = len(run.generations) - 1
    return {
        "config": config.name,
        "generations": len(run.generations),
        "samples_per_generation": config.samples_per_generation,
        "seconds": seconds,
        "generation_seconds": [record["wall_time_s"] for record in run.generations],
        "peak_mib": None if peak is None else peak / 2**20,
        "sampling": sampling_speed(config, run_dir, last, shape, plan),
        "last_metrics": {
            key: value
            for key, value in run.generations[last]["metrics"].items()
            if key in ("fid", "precision", "recall", "rare_attributes_kept", "classes_covered")
        },
    }


def sampling_speed(
    config: ExperimentConfig, run_dir: Path, generation: int, shape: tuple, plan: DevicePlan
) -> dict[str, float]:
    """Images per second of the loop's own `draw_images` with a stored generation's model
    (samples_per_generation images and the grid; a diffusion model at sampling.steps)."""
    checkpoint = run_dir / image_files(generation)["checkpoint"]
    saved = read_checkpoint(checkpoint.read_bytes())
    model = rebuild(saved)
    classes = (saved.inputs or {}).get("num_classes", 0)
    plan.prepare(model.to(plan.device))
    draw_images(config, generation, model, plan, shape, classes)  # warm-up
    plan.synchronize()
    began = time.perf_counter()
    drawn = draw_images(config, generation, model, plan, shape, classes)
    seconds = time.perf_counter() - began
    images = len(drawn.samples) + len(drawn.grid)
    return {"images": images, "seconds": seconds, "images_per_s": images / seconds}


def fresh(folder: Path) -> Path:
    """`folder`, emptied: a rerun on the same box measures a first run again (no resumed
    generations, no cached judge or decoded faces)."""
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def celeba(work: Path, faces: int, overrides: list[str]) -> dict[str, Any]:
    root = fresh(work / "celeba-run")
    began = time.perf_counter()
    written = write_tiny_celeba(root, faces, workers=os.cpu_count() or 1)
    writing_s = time.perf_counter() - began
    train_faces = int(np.sum(written["partition"] == TRAIN_PARTITION))
    config = load_config(
        ROOT / "experiments" / "celeba_dcgan.yaml",
        [
            "generations=2",
            f"samples_per_generation={train_faces}",
            f"data.root={root}",
            f"judge.min_accuracy={SYNTHETIC_FACES_MIN_ACCURACY}",
            f"cache_dir={fresh(work / 'cache' / 'celeba')}",
            *overrides,
        ],
    )
    result = timed_run("celeba", config, work / "runs" / "celeba", (3, 64, 64))
    return {
        **result,
        "overrides": overrides,
        "faces": faces,
        "train_faces": train_faces,
        "writing_faces_s": writing_s,
    }


def demo(work: Path, overrides: list[str]) -> dict[str, Any]:
    cache = fresh(work / "cache" / "demo")
    config = load_config(ROOT / "experiments" / "demo.yaml", [f"cache_dir={cache}", *overrides])
    result = timed_run("demo", config, work / "runs" / "demo", (1, 28, 28))
    return {**result, "overrides": overrides}


def mnist_placed(root: Path) -> bool:
    """Whether full MNIST's four IDX files (extracted or .gz) are in `root`/MNIST/raw/."""
    raw = raw_folder(root)
    names = [name for pair in MNIST_FILES.values() for name in pair]
    return all((raw / name).is_file() or (raw / f"{name}.gz").is_file() for name in names)


def full_mnist(name: str, work: Path, overrides: list[str]) -> dict[str, Any]:
    """experiments/`name`.yaml for 2 generations: on full MNIST if it is placed, else on the
    mnist5k digits."""
    root = ROOT / "data"
    placed = mnist_placed(root)
    experiment = ROOT / "experiments" / f"{name}.yaml"
    pad_to = load_config(experiment).data.pad_to
    # mnist5k: a data section of its own (mnist's root and download are not its keys), padded
    # as the experiment pads; as many samples as its 4,000 training digits, not full MNIST's
    # 60,000, and the demos' judge (the defaults), since 5 epochs of batch 256 are 78 steps
    # on 4,000 digits.
    digits = (
        [f"data.root={root}"]
        if placed
        else [
            f"data={{name: mnist5k, pad_to: {'null' if pad_to is None else pad_to}}}",
            "samples_per_generation=4000",
            "judge.max_epochs=8",
            "judge.batch_size=128",
        ]
    )
    config = load_config(
        experiment,
        [
            "generations=2",
            *digits,
            f"cache_dir={fresh(work / 'cache' / name)}",
            *overrides,
        ],
    )
    side = config.data.side()[1]
    result = timed_run(name, config, work / "runs" / name, (1, side, side))
    return {**result, "overrides": overrides, "data": config.data.name}


def render(results: dict[str, Any]) -> str:
    lines = [
        f"## The loop end to end: {results['card']}",
        "",
        f"- date: {results['date']}; torch {results['torch']}",
        f"- command: `{results['command']}`",
        "",
        "| run | generations | samples per generation | seconds per generation | "
        "sampling images/s | peak MiB | total s |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for name, value in results["runs"].items():
        if not value:
            lines.append(f"| {name} | failed: see the errors below | | | | | |")
            continue
        peak = "-" if value["peak_mib"] is None else f"{value['peak_mib']:,.0f}"
        per_generation = ", ".join(f"{s:.1f}" for s in value["generation_seconds"])
        lines.append(
            f"| {name} | {value['generations']} | {value['samples_per_generation']:,} | "
            f"{per_generation} | {value['sampling']['images_per_s']:,.0f} | {peak} | "
            f"{value['seconds']:.1f} |"
        )
    for name, value in results["runs"].items():
        if value and value.get("overrides"):
            shrunk = " ".join(value["overrides"])
            lines.append(f"\n{name}: with `--set {shrunk}`, a trial, not the experiment's size.")
    celeba_run = results["runs"].get("celeba")
    if celeba_run:
        lines += [
            "",
            f"CelebA: {celeba_run['faces']:,} synthetic 178x218 faces in CelebA's layout "
            f"({celeba_run['train_faces']:,} in the train partition; writing them took "
            f"{celeba_run['writing_faces_s']:.1f} s, outside the totals; the run's total "
            "includes decoding and caching them once, and training the judge); "
            "experiments/celeba_dcgan.yaml's DCGAN, batch size and 5 epochs per generation "
            "unless overridden above; "
            "judge.min_accuracy 0.6 since only 4 attributes are drawn. Its metrics say nothing "
            "about CelebA.",
        ]
    for name, model in (("mnist_dcgan", "DCGAN"), ("mnist_ddpm", "class-conditional DDPM")):
        digits_run = results["runs"].get(name)
        if not digits_run:
            continue
        where = (
            "full MNIST (60,000 training digits)"
            if digits_run["data"] == "mnist"
            else "the mnist5k digits (4,000 training digits; full MNIST was not in data/MNIST/raw/)"
        )
        lines += [
            "",
            f"{name}: experiments/{name}.yaml's {model}, batch size and epochs on {where}"
            + (", zero-padded to 32x32." if name == "mnist_dcgan" else "."),
        ]
    if results["errors"]:
        lines.append("")
    for name, error in results["errors"].items():
        lines.append(f"- {name} failed: `{error}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=30_000, help="synthetic CelebA faces")
    parser.add_argument(
        "--runs",
        nargs="+",
        choices=("celeba", "demo", "mnist_dcgan", "mnist_ddpm"),
        default=["celeba", "demo", "mnist_dcgan"],
    )
    parser.add_argument("--out", type=Path, default=Path("bench"))
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--command", help="the command to record (default: this one)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides"
    )
    args = parser.parse_args(argv)
    plan = plan_device("auto", "auto", deterministic=True)
    card = machine_name(plan)
    key = f"loop runs {card}"
    stored = args.out / "results.json"
    earlier = json.loads(stored.read_text()).get(key, {}) if stored.is_file() else {}
    results: dict[str, Any] = {
        "card": card,
        "date": f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        "torch": torch.__version__,
        "command": args.command or "python -m bench.loop_runs " + " ".join(argv or sys.argv[1:]),
        # Runs measured by an earlier call on this machine stay unless measured again.
        "runs": dict(earlier.get("runs", {})),
        "errors": {},
    }
    measures = {
        "celeba": lambda: celeba(args.work_dir, args.faces, args.set),
        "demo": lambda: demo(args.work_dir, args.set),
        "mnist_dcgan": lambda: full_mnist("mnist_dcgan", args.work_dir, args.set),
        "mnist_ddpm": lambda: full_mnist("mnist_ddpm", args.work_dir, args.set),
    }
    for name in args.runs:
        try:
            results["runs"][name] = measures[name]()
        except Exception as error:  # noqa: BLE001  (one failed run must not lose the other)
            results["runs"][name] = None
            results["errors"][name] = f"{type(error).__name__}: {error}"
            traceback.print_exc()
        update_json(stored, key, results)
        write_section(args.out / "RESULTS.md", key, render(results))
    print(render(results))
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
