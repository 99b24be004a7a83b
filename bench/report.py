"""The Markdown section of one card's speed results (bench/speed.py's results dict)."""

from __future__ import annotations

from typing import Any

EXAMPLES = "examples"  # the baseline whose name starts with this is the one the targets use
TARGETS = {"dcgan": 4.0, "vae": 3.0}  # lab's default path over the examples baseline
EVALUATION_TARGET_S = 5.0


def render_speed(results: dict[str, Any]) -> str:
    lines = [
        f"## Speed: {results['card']}",
        "",
        f"- date: {results['date']}",
        f"- card: {results['card']}; torch {results['torch']}, lightning {results['lightning']}, "
        f"Python {results['python']}, {results['cpu_cores']} CPU cores",
        f"- command: `{results['command']}` (size `{results['size']}`)",
        f"- load average (1 min) before / after: {_load(results)} (other work on the machine "
        "slows every path)",
        f"- the lab's precision here: {results['precision']}",
    ]
    if not results.get("accelerated"):
        lines.append(
            "- **CPU run: the fast paths (bf16, channels_last, TF32, torch.compile) are off, "
            "so its ratios are CPU ratios, not measurements of the GPU targets**"
        )
    if results["size"] != "full":
        lines.append(
            f"- **size {results['size']}: tiny models, a few batches; these numbers only show "
            "the script runs, they are not the targets' measurements**"
        )
    matmul = results.get("matmul") or {}
    if matmul.get("flops_per_s"):
        lines.append(
            f"- ceiling: a {matmul['side']}x{matmul['side']} {matmul['dtype']} matrix product "
            f"runs at {_flop_rate(matmul['flops_per_s'])}"
        )
    lines += ["", *_targets(results), "", *_training(results), "", *_flops(results)]
    lines += ["", *_sampling(results), "", *_generation(results)]
    lines += ["", *_evaluation(results), "", *_profile(results)]
    if results.get("errors"):
        lines += ["", "### Failed parts", ""]
        for name, error in results["errors"].items():
            last = error.strip().splitlines()[-1] if error.strip() else "?"
            lines.append(f"- {name}: `{last}`")
    return "\n".join(lines) + "\n"


def _targets(results: dict[str, Any]) -> list[str]:
    counts = bool(results.get("accelerated")) and results["size"] == "full"
    lines = [
        "### Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for model, target in TARGETS.items():
        ratio = _ratio(results.get(model) or {}, "default")
        if ratio is None:
            lines.append(
                f"| {model.upper()} training >= {target:g}x the examples baseline | "
                "not measured | - |"
            )
            continue
        verdict = _verdict(counts, ratio >= target, f"no: {ratio / target:.0%} of the target")
        lines.append(
            f"| {model.upper()} training >= {target:g}x the examples baseline | "
            f"{ratio:.1f}x (default config) | {verdict} |"
        )
    judge = ((results.get("evaluation") or {}).get("judge")) or {}
    images = (results.get("evaluation") or {}).get("images", 0)
    if judge.get("total_s") is not None:
        seconds = judge["total_s"]
        over = f"no: {seconds / EVALUATION_TARGET_S:.1f}x the limit"
        verdict = _verdict(counts, seconds < EVALUATION_TARGET_S, over)
        lines.append(
            f"| evaluation, {images:,} x {images:,} images (judge features), "
            f"< {EVALUATION_TARGET_S:g} s | {seconds:.2f} s | {verdict} |"
        )
    lines.append("| `make nightly` under 60 min on one H100 | not measured by this bench | - |")
    return lines


def _verdict(counts: bool, met: bool, missed: str) -> str:
    """Whether a target is met; only a full-size run on an accelerator measures the targets."""
    if not counts:
        return "not a target measurement (CPU or small size)"
    return "yes" if met else missed


def _training(results: dict[str, Any]) -> list[str]:
    lines = [
        "### Training, images per second",
        "",
        "| model | path | images/s | x examples | x TensorDataset | peak MiB | warm-up s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for model in TARGETS:
        section = results.get(model) or {}
        rows = [
            *((name, value) for name, value in (section.get("baselines") or {}).items()),
            *((f"lab, {name}", value) for name, value in (section.get("lab") or {}).items()),
        ]
        examples = _baseline(section, EXAMPLES)
        tensors = _baseline(section, "TensorDataset")
        batch = section.get("batch_size", "?")
        for name, value in rows:
            if not value:
                lines.append(f"| {model.upper()} (batch {batch}) | {name} | failed | | | | |")
                continue
            speed = value["images_per_s"]
            warmup = value.get("warmup_s")
            lines.append(
                f"| {model.upper()} (batch {batch}) | {name} | {speed:,.0f} | "
                f"{_times(speed, examples)} | {_times(speed, tensors)} | {_mib(value)} | "
                f"{'-' if warmup is None else f'{warmup:.1f}'} |"
            )
    return lines


def _flops(results: dict[str, Any]) -> list[str]:
    section = results.get("dcgan") or {}
    flops = section.get("flops_per_batch")
    ceiling = (results.get("matmul") or {}).get("flops_per_s")
    if not flops:
        return ["### DCGAN training step FLOP/s", "", "not measured"]
    lines = [
        "### DCGAN training step FLOP/s",
        "",
        f"torch.utils.flop_counter counts {flops / 1e9:,.1f} GFLOP per batch of "
        f"{section.get('batch_size')} (both players' forward and backward passes).",
        "",
        "| lab path | achieved | share of the matrix product |",
        "|---|---:|---:|",
    ]
    batch = section.get("batch_size", 1)
    for name, value in (section.get("lab") or {}).items():
        if not value:
            continue
        achieved = flops * value["images_per_s"] / batch
        share = f"{achieved / ceiling:.1%}" if ceiling else "not measured"
        lines.append(f"| {name} | {_flop_rate(achieved)} | {share} |")
    return lines


def _sampling(results: dict[str, Any]) -> list[str]:
    lines = [
        "### Sampling (`model.sample` under `plan.inference()`, uint8 to the host)",
        "",
        "| model | images | images/s | peak MiB |",
        "|---|---:|---:|---:|",
    ]
    for model in TARGETS:
        value = (results.get(model) or {}).get("sampling")
        if value:
            lines.append(
                f"| {model.upper()} | {value['images']:,} | {value['images_per_s']:,.0f} | "
                f"{_mib(value)} |"
            )
        else:
            lines.append(f"| {model.upper()} | | not measured | |")
    return lines


def _generation(results: dict[str, Any]) -> list[str]:
    lines = [
        "### Sampling where it is the cost (bench/generation_speed.py: each experiment's "
        "network and knobs, untrained)",
        "",
        "| model | experiment | setting | items | items/s |",
        "|---|---|---|---:|---:|",
    ]
    measured = results.get("generation") or []
    for value in measured:
        lines.append(
            f"| {value['model']} | `{value['experiment']}` | {value['setting']} | "
            f"{value['items']:,} | {value['items_per_s']:,.2f} |"
        )
    if not measured:
        lines.append("| | | | | not measured |")
    return lines


def _evaluation(results: dict[str, Any]) -> list[str]:
    section = results.get("evaluation") or {}
    lines = [
        "### Evaluation: generated against real images, from scratch",
        "",
        "Features of both sets, then FID, precision/recall/density/coverage and homogeneity "
        "(FeatureMetrics); per generation the loop pays only the generated side, the real "
        "features being cached. Inception: the architecture with random weights (the real "
        "weights are not on the box), so only its time means something.",
        "",
        "| feature space | images each | real features s | generated features s | "
        "real-side metrics s | generated-side metrics s | total s | per generation s | "
        "peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    spaces = (
        ("judge (CelebA attributes, 64x64)", "judge", section.get("images")),
        ("InceptionV3 (299x299, random weights)", "inception", section.get("inception_images")),
    )
    for label, key, count in spaces:
        value = section.get(key)
        if not value:
            status = "failed" if count else "not run at this size"
            lines.append(f"| {label} | {count or ''} | {status} | | | | | | |")
            continue
        lines.append(
            f"| {label} | {count:,} | {value['real_features_s']:.2f} | "
            f"{value['fake_features_s']:.2f} | {value['real_side_metrics_s']:.2f} | "
            f"{value['generated_side_metrics_s']:.2f} | {value['total_s']:.2f} | "
            f"{value['per_generation_s']:.2f} | {_mib(value)} |"
        )
    return [*lines, "", *_features_per_second(section)]


def _features_per_second(section: dict[str, Any]) -> list[str]:
    """Features per second of every space: what a run pays per image in each of them."""
    lines = [
        "### Features per second, per feature space",
        "",
        "Images through each space's extractor (its preprocessing included), per second; the "
        "ViT-L spaces with random weights at their published sizes, so only the speed means "
        "something (docs/feature_spaces.md).",
        "",
        "| feature space | input | images | features/s |",
        "|---|---|---:|---:|",
    ]
    for label, key, side in (
        ("judge (CelebA attributes)", "judge", "64x64"),
        ("InceptionV3", "inception", "299x299"),
    ):
        value, count = (
            section.get(key),
            section.get("images" if key == "judge" else f"{key}_images"),
        )
        rate = f"{count / value['real_features_s']:,.1f}" if value and count else "not measured"
        lines.append(f"| {label} | {side} | {count or ''} | {rate} |")
    spaces = section.get("feature_spaces") or {}
    for label, key, side in (
        ("DINOv2 ViT-L/14", "dinov2", "224x224"),
        ("CLIP ViT-L/14-336", "clip", "336x336"),
    ):
        value = spaces.get(key)
        if not value:
            lines.append(f"| {label} | {side} | | not measured |")
            continue
        lines.append(f"| {label} | {side} | {value['images']} | {value['features_per_s']:.2f} |")
    return lines


def _profile(results: dict[str, Any]) -> list[str]:
    value = (results.get("dcgan") or {}).get("profile")
    if not value:
        return ["### Profile of the lab's DCGAN steps", "", "not measured"]
    lines = ["### Profile of the lab's DCGAN steps (default config)", ""]
    wall = value["wall_ms_per_batch"]
    if value.get("device_busy") is None:
        lines.append(
            f"{wall:.2f} ms per batch (CPU run: no device time); table in `bench/{value['file']}`."
        )
    else:
        lines.append(
            f"{wall:.2f} ms per batch of wall time, of which the device was busy "
            f"{value['device_ms_per_batch']:.2f} ms ({value['device_busy']:.0%}); the operator "
            f"table is in `bench/{value['file']}`."
        )
    return lines


def _load(results: dict[str, Any]) -> str:
    load = results.get("load_average_1min") or {}
    if not load:
        return "not recorded"
    return " / ".join(
        "-" if load.get(when) is None else f"{load[when]:.2f}" for when in ("before", "after")
    )


def _baseline(section: dict[str, Any], prefix: str) -> float | None:
    for name, value in (section.get("baselines") or {}).items():
        if name.startswith(prefix) and value:
            return value["images_per_s"]
    return None


def _ratio(section: dict[str, Any], variant: str) -> float | None:
    lab = (section.get("lab") or {}).get(variant)
    examples = _baseline(section, EXAMPLES)
    if not lab or not examples:
        return None
    return lab["images_per_s"] / examples


def _times(speed: float, baseline: float | None) -> str:
    return f"{speed / baseline:.1f}x" if baseline else "-"


def _mib(value: dict[str, Any]) -> str:
    peak = value.get("peak_mib")
    return "-" if peak is None else f"{peak:,.0f}"


def _flop_rate(flops_per_s: float) -> str:
    """TFLOP/s as a card reaches them; GFLOP/s for a CPU's smaller figures."""
    if flops_per_s < 1e12:
        return f"{flops_per_s / 1e9:,.1f} GFLOP/s"
    return f"{flops_per_s / 1e12:,.2f} TFLOP/s"
