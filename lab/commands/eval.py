"""`collapse-lab eval REAL FAKE`: score any generated image set against any real one.

REAL and FAKE are folders of images (PNG, JPEG, ...) of one size, or .npz files with uint8
images [N, C, H, W] under the key `images` (what `collapse-lab run` writes to
samples/gen_NNN.npz). Prints FID, precision, recall, density, coverage and the homogeneity
ratios, measured exactly as in a run's metrics.csv.

Feature spaces:
  judge      the penultimate layer of the judge of the experiment given with --judge-config:
             the classifier that `collapse-lab run` trains once on that experiment's dataset
             and caches (it is trained now if it is not cached yet). Its images must be the
             dataset's shape, e.g. 1x28x28 for MNIST. There is no judge without a dataset,
             so this space needs --judge-config.
  inception  the standard 2048-d InceptionV3 features (images of any size); needs the
             torch-fidelity package and its weights file on disk.
With --judge-config, the judge also labels both sets, which adds the per-class numbers:
share_<c>, classes_covered, class_entropy, recall_<c> and rare_class_recall.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from lab.config import ExperimentConfig, MetricsConfig
    from lab.device import DevicePlan

HELP = "score a generated image set against a real one (FID, precision/recall, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("real", type=Path, help="real images: a folder of images or a .npz")
    parser.add_argument("fake", type=Path, help="generated images: a folder or a .npz")
    parser.add_argument(
        "--feature-space",
        choices=("judge", "inception"),
        default="judge",
        help="where distances are measured (default: judge, which needs --judge-config)",
    )
    parser.add_argument(
        "--judge-config",
        type=Path,
        metavar="CONFIG",
        help="experiment YAML whose judge (of its dataset) embeds and labels the images, e.g. "
        "experiments/demo.yaml; its metrics section sets k, KID and batch size",
    )
    parser.add_argument(
        "--inception-weights",
        metavar="PATH",
        help="InceptionV3 weights file (default: torch hub's cache, $TORCH_HOME/hub/checkpoints)",
    )
    parser.add_argument("--kid", action="store_true", help="add KID (kid, kid_std)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="where real-set features are cached (default: the judge config's cache_dir, "
        "else ./cache)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def handle(args: argparse.Namespace) -> int:
    from lab.config import MetricsConfig, load_config
    from lab.data.image_files import load_images
    from lab.device import plan_device
    from lab.errors import ConfigError

    config = load_config(args.judge_config) if args.judge_config else None
    if config is not None and config.train is None:  # a vector experiment has no judge
        raise ConfigError(
            f"{args.judge_config}: data.name {config.data.name!r} is not an image dataset, so "
            "it has no judge; pass an image experiment (e.g. experiments/demo.yaml)."
        )
    if args.feature_space == "judge" and config is None:
        raise ConfigError(
            "--feature-space judge measures in the features of a judge, which belongs to a "
            "dataset: pass --judge-config with the experiment whose dataset REAL and FAKE come "
            "from (e.g. experiments/demo.yaml for MNIST digits), or use --feature-space inception."
        )
    metrics = config.metrics if config else MetricsConfig()
    metrics = dataclasses.replace(metrics, kid=metrics.kid or args.kid)
    real_images, fake_images = load_images(args.real), load_images(args.fake)
    for path, images in ((args.real, real_images), (args.fake, fake_images)):
        _check_count(path, len(images), metrics)
    train = config.train if config else None
    plan = plan_device(
        train.accelerator if train else "auto", train.precision if train else "auto", True
    )
    cache_dir = args.cache_dir or Path(config.cache_dir if config else "cache")
    result = _measure(args, config, metrics, real_images, fake_images, plan, cache_dir)
    report = {
        "real": str(args.real),
        "fake": str(args.fake),
        "real_images": len(real_images),
        "fake_images": len(fake_images),
        "feature_space": args.feature_space,
        "metrics": {name: _plain(value) for name, value in result.items()},
    }
    print(json.dumps(report, indent=2) if args.json else _text(report))
    return 0


def _measure(
    args: argparse.Namespace,
    config: ExperimentConfig | None,
    metrics: MetricsConfig,
    real_images: torch.Tensor,
    fake_images: torch.Tensor,
    plan: DevicePlan,
    cache_dir: Path,
) -> dict[str, Any]:
    """Every metric of FAKE against REAL; per-class numbers when a judge is named."""
    from lab.data import load_real_data
    from lab.judging import load_or_train_judge, predict_labels
    from lab.metrics.classes import class_metrics, class_shares
    from lab.metrics.distribution import FeatureMetrics
    from lab.metrics.features import cached_features
    from lab.metrics.suite import judge_space

    judge = real_labels = fake_labels = None
    names: tuple[str, ...] = ()
    if config is not None:
        real_data = load_real_data(config.data)
        judge, _ = load_or_train_judge(config, real_data, plan)
        names = real_data.class_names
        for path, images in ((args.real, real_images), (args.fake, fake_images)):
            _check_shape(path, images, judge.image_shape, args.judge_config, real_data.name)
        real_labels = predict_labels(judge, real_images, plan, metrics.batch_size)
        fake_labels = predict_labels(judge, fake_images, plan, metrics.batch_size)
    if args.feature_space == "inception":
        from lab.metrics.inception import inception_space

        space = inception_space(args.inception_weights or metrics.inception_weights)
    else:
        space = judge_space(config, judge)
    content = hashlib.sha256(real_images.numpy().tobytes()).hexdigest()[:16]
    cache = cache_dir / "features" / f"files-{content}-{space.name}.pt"
    real_features = cached_features(cache, space, real_images, plan, metrics.batch_size)
    fake_features = space.extract(fake_images, plan, metrics.batch_size)
    size = min(metrics.kid_subset_size, len(real_images), len(fake_images))
    metrics = dataclasses.replace(metrics, kid_subset_size=size)
    compare = FeatureMetrics(real_features, metrics, real_labels, names)
    distribution = compare(fake_features)
    result: dict[str, Any] = {"fid": distribution.pop("fid")}
    if judge is not None:
        shares = class_shares(real_labels, len(names))
        result.update(class_metrics(fake_labels, shares, metrics.covered_share_fraction))
    result.update(distribution)
    return result


def _check_count(path: Path, count: int, metrics: MetricsConfig) -> None:
    from lab.errors import DataError

    needed = max(metrics.precision_recall_k, metrics.density_coverage_k) + 1
    if count < needed:
        raise DataError(
            f"'{path}' holds {count} images, but the k-NN metrics need at least {needed} per set "
            f"(k = {needed - 1}); give it more images."
        )


def _check_shape(
    path: Path, images: torch.Tensor, shape: tuple[int, int, int], config: Path, name: str
) -> None:
    from lab.errors import DataError

    found = tuple(images.shape[1:])
    if found != shape:
        raise DataError(
            f"'{path}' holds {'x'.join(map(str, found))} images but the judge of '{config}' "
            f"({name}) takes {'x'.join(map(str, shape))}; pass images of that dataset, or "
            "--feature-space inception without --judge-config."
        )


def _plain(value: float | int) -> float | int | None:
    """JSON has no NaN: a metric that does not apply (a class no real image has) is null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _text(report: dict[str, Any]) -> str:
    lines = [
        f"real: {report['real']} ({report['real_images']} images)",
        f"fake: {report['fake']} ({report['fake_images']} images)",
        f"feature space: {report['feature_space']}",
    ]
    for name, value in report["metrics"].items():
        shown = "n/a" if value is None else f"{value:.6g}"
        lines.append(f"{name:>24}  {shown}")
    return "\n".join(lines)
