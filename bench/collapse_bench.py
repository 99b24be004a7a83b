"""`make bench-metrics`, second part: the collapse metrics of issue 17 at 10k x 10k.

On the same random 64-d features as the PRDC benchmark (bench/prdc_bench.py), each in a fresh
process pinned to one core:
  - the tail split: PrecisionRecallDensityCoverage with `tail_fraction` against without it
    (the split reads the membership the PRDC pass computed, so it should cost nothing);
  - the Vendi score through the d x d Gram matrix against the `vendi-score` package, both
    through its own d x d route (`score_dual`) and through the n x n kernel (`score_X`);
  - copy_fraction against a brute-force count over full float32 distance matrices, as
    dgm-eval's AuthPct computes it (three N x N matrices in memory).
Writes its section of bench/RESULTS.md, with the machine, the load and the command.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bench.prdc_bench import DIM, _PeakMemory, features, machine
from bench.results_file import write_section
from lab.metrics.memorisation import CopyFraction
from lab.metrics.prdc import PrecisionRecallDensityCoverage
from lab.metrics.vendi import vendi_score


def _prdc(real: np.ndarray, fake: np.ndarray, tails: bool) -> dict[str, float]:
    metric = PrecisionRecallDensityCoverage(k=3, k_density=5, tail_fraction=0.1 if tails else None)
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    return {name: float(value) for name, value in metric.compute().items()}


def _vendi_ours(_: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    return {"vendi": vendi_score(torch.from_numpy(fake))}


def _vendi_package(fake: np.ndarray, route: str) -> dict[str, float]:
    from vendi_score import vendi

    function = vendi.score_dual if route == "dual" else vendi.score_X
    return {"vendi": float(function(fake.astype(np.float64)))}


def _copies_ours(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    return {"copy_fraction": CopyFraction(torch.from_numpy(real))(torch.from_numpy(fake))}


def _copies_brute_force(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """dgm-eval's AuthPct, as a copy share: full float32 distance matrices."""
    training, samples = torch.from_numpy(real), torch.from_numpy(fake)
    within = torch.cdist(training, training)
    within.fill_diagonal_(float("inf"))
    radius = within.min(dim=1).values
    across = torch.cdist(samples, training)
    closest = across.min(dim=1)
    copies = closest.values <= radius[closest.indices]
    return {"copy_fraction": float(copies.double().mean())}


JOBS = {
    "prdc": lambda real, fake: _prdc(real, fake, tails=False),
    "prdc+tails": lambda real, fake: _prdc(real, fake, tails=True),
    "vendi": _vendi_ours,
    "vendi-score dual": lambda _, fake: _vendi_package(fake, "dual"),
    "vendi-score kernel": lambda _, fake: _vendi_package(fake, "kernel"),
    "copy": _copies_ours,
    "copy brute force": _copies_brute_force,
}


def measure(job: str, count: int, repeats: int) -> dict:
    """Best time, numbers and peak added memory of one job, in a fresh process on one core."""
    code = (
        "import json; from bench.collapse_bench import _measure_here;"
        f"print(json.dumps(_measure_here({job!r}, {count}, {repeats})))"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure_here(job: str, count: int, repeats: int) -> dict:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    torch.set_num_threads(1)
    real, fake = features(count, 0)
    times, numbers, peak = [], {}, 0.0
    for _ in range(repeats):
        with _PeakMemory() as memory:
            began = time.perf_counter()
            numbers = JOBS[job](real, fake)
            times.append(time.perf_counter() - began)
        peak = max(peak, memory.added_mib)
    return {"seconds": min(times), "numbers": numbers, "peak_mib": peak}


def run(count: int, kernel_count: int, repeats: int, output: Path) -> str:
    load_before = os.getloadavg()[0]
    results = {job: measure(job, count, repeats) for job in JOBS if job != "vendi-score kernel"}
    # The n x n route costs O(n^3): once, at a smaller size, beside ours on the same features.
    kernel = measure("vendi-score kernel", kernel_count, 1)
    kernel_ours = measure("vendi", kernel_count, repeats)
    load_after = os.getloadavg()[0]
    command = "make bench-metrics" if output.name == "RESULTS.md" else " ".join(sys.argv)

    def number(job: str, name: str) -> float:
        return results[job]["numbers"][name]

    tails = {name: v for name, v in results["prdc+tails"]["numbers"].items() if "_" in name}
    prdc_unchanged = all(
        number("prdc+tails", name) == value for name, value in results["prdc"]["numbers"].items()
    )
    vendi_gap = abs(number("vendi", "vendi") - number("vendi-score dual", "vendi"))
    kernel_gap = abs(kernel_ours["numbers"]["vendi"] - kernel["numbers"]["vendi"])
    copies_equal = number("copy", "copy_fraction") == number("copy brute force", "copy_fraction")
    speedup = results["copy brute force"]["seconds"] / results["copy"]["seconds"]
    added = results["prdc+tails"]["seconds"] - results["prdc"]["seconds"]

    def row(label: str, result: dict, size: int, value: str) -> str:
        seconds, peak = result["seconds"], result["peak_mib"]
        return f"| {label} | {size:,} | {seconds:.3f} | {peak:.0f} | {value} |"

    lines = [
        "## Collapse metrics: tails, Vendi, copy_fraction (CPU, one core)",
        "",
        f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {machine()}",
        f"- load average (1 min) before / after: {load_before:.2f} / {load_after:.2f} "
        "(the machine is shared; other work slows every row)",
        f"- command: `{command}`",
        f"- inputs: real (or training) and generated float32 features, {DIM}-d, the PRDC "
        f"benchmark's; best of {repeats} runs (the n x n route: one), each job in a fresh "
        "process pinned to one core",
        "",
        "| computation | points per set | seconds | peak added MiB | result |",
        "|---|---:|---:|---:|---|",
        row("PRDC (k = 3 / 5)", results["prdc"], count, "the four numbers"),
        row(
            "PRDC with the tail split (tail_fraction 0.1)",
            results["prdc+tails"],
            count,
            ", ".join(f"{name} {value:.4f}" for name, value in tails.items()),
        ),
        row(
            "Vendi, ours (d x d Gram matrix, float64)",
            results["vendi"],
            count,
            f"{number('vendi', 'vendi'):.6f}",
        ),
        row(
            "Vendi, `vendi-score` `score_dual` (d x d)",
            results["vendi-score dual"],
            count,
            f"{number('vendi-score dual', 'vendi'):.6f}",
        ),
        row(
            "Vendi, ours",
            kernel_ours,
            kernel_count,
            f"{kernel_ours['numbers']['vendi']:.6f}",
        ),
        row(
            "Vendi, `vendi-score` `score_X` (n x n kernel)",
            kernel,
            kernel_count,
            f"{kernel['numbers']['vendi']:.6f}",
        ),
        row(
            "copy_fraction, ours (tiled, exact)",
            results["copy"],
            count,
            f"{number('copy', 'copy_fraction'):.4f}",
        ),
        row(
            "copy_fraction, brute force (N x N float32 matrices, as dgm-eval's AuthPct)",
            results["copy brute force"],
            count,
            f"{number('copy brute force', 'copy_fraction'):.4f}",
        ),
        "",
        f"- the tail split adds {added:+.3f} s to PRDC and "
        f"{'leaves its four numbers unchanged' if prdc_unchanged else 'CHANGES ITS NUMBERS'}",
        f"- Vendi: ours equals `score_dual` to {vendi_gap:.1e} and `score_X` to {kernel_gap:.1e}",
        f"- copy_fraction: ours is {speedup:.1f}x as fast as the brute force, with "
        f"{'equal numbers' if copies_equal else 'DIFFERENT NUMBERS'}",
        "",
    ]
    text = "\n".join(lines)
    write_section(output, "collapse-metrics", text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="points per set")
    parser.add_argument(
        "--kernel-count",
        type=int,
        default=4_000,
        help="points for vendi-score's n x n route (an n x n eigendecomposition: O(n^3))",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args(argv)
    print(run(args.count, args.kernel_count, args.repeats, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
