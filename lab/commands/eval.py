"""`collapse-lab eval [REAL] FAKE`: score any generated image set as a run scores a generation.

FAKE (and REAL) are folders of images (PNG, JPEG, ...) of one size, or .npz files with uint8
images [N, C, H, W] under the key `images` (what `collapse-lab run` writes to
samples/gen_NNN.npz). Prints FID, precision, recall, density, coverage, the homogeneity
ratios, tail and bulk recall and coverage and the Vendi score, computed by the same code as a
run's metrics.csv.

Without REAL, FAKE is measured against the held-out set of --judge-config's dataset with its
true labels, exactly as every generation of that experiment is: eval of a run's own samples
with the run's config.yaml reproduces its metrics.csv row. With REAL, the judge labels REAL.

Feature spaces (default: the config's metrics.feature_space, else judge):
  judge      the penultimate layer of the judge of the experiment given with --judge-config:
             the classifier that `collapse-lab run` trains once on that experiment's dataset
             and caches (it is trained now if it is not cached yet). Its images must be the
             dataset's shape. There is no judge without a dataset, so this space needs
             --judge-config.
  inception  the standard 2048-d InceptionV3 features (images of any size); needs the
             torch-fidelity package and its weights file on disk.
With --judge-config, the judge also labels the images, which adds the label columns of its
dataset: class shares and per-class recall for digits, attribute prevalence for CelebA, none
for a folder of faces. The judge and the real features are cached where `collapse-lab run`
keeps them for that config (its cache_dir, relative to the config file's repository), from
whatever folder eval runs; a relative --judge-config that is not in the current folder is
looked up in this collapse-lab checkout, so `--judge-config experiments/demo.yaml` works
anywhere.

8- and 16-bit images are read (16-bit ones keep their high byte). KID's subsets are the
config's kid_subset_size, as in a run, where that leaves subsets that differ; otherwise half
the smaller set, so that kid_std is the spread of KID over different subsets (a note says so).

--train SET names the images FAKE's generator trained on (a folder or a .npz, e.g. the
previous generation's samples/gen_NNN.npz for a run with regime replace) and adds
copy_fraction, the share of FAKE that copies them; without it that column is left out, since
nothing else says what the generator saw.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.domains.images.settings import MetricsConfig

HELP = "score a generated image set against a real one (FID, precision/recall, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "sets",
        type=Path,
        nargs="+",
        metavar="[REAL] FAKE",
        help="generated images (a folder or a .npz), after the real ones they are scored "
        "against; without REAL, the held-out set of --judge-config's dataset",
    )
    parser.add_argument(
        "--feature-space",
        choices=("judge", "inception"),
        help="where distances are measured (default: the config's, else judge, which needs "
        "--judge-config)",
    )
    parser.add_argument(
        "--judge-config",
        type=Path,
        metavar="CONFIG",
        help="experiment YAML (or a run's config.yaml) whose judge embeds and labels the "
        "images, e.g. experiments/demo.yaml; its metrics section sets k, KID and batch size",
    )
    parser.add_argument(
        "--inception-weights",
        metavar="PATH",
        help="InceptionV3 weights file (default: torch hub's cache, $TORCH_HOME/hub/checkpoints)",
    )
    parser.add_argument("--kid", action="store_true", help="add KID (kid, kid_std)")
    parser.add_argument(
        "--train",
        type=Path,
        metavar="SET",
        help="the images FAKE's generator trained on (a folder or a .npz): adds copy_fraction, "
        "the share of FAKE that copies them",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="where real-set features are cached (default: the judge config's cache_dir, as "
        "`run` uses it, else ./cache)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def handle(args: argparse.Namespace) -> int:
    from lab.config import load_config
    from lab.data.image_files import load_images
    from lab.device import plan_device
    from lab.domains.images.evaluation import ImageFiles, score
    from lab.domains.images.settings import ImageDataConfig, MetricsConfig
    from lab.errors import ConfigError, DataError

    if len(args.sets) > 2:
        raise ConfigError(
            f"eval takes REAL and FAKE, or FAKE alone, not {len(args.sets)} sets; pass at most two."
        )
    *real_path, fake_path = args.sets
    notes: list[str] = []
    config_path = experiment_file(args.judge_config, notes) if args.judge_config else None
    config = load_config(config_path) if config_path else None
    if config is not None and not isinstance(config.data, ImageDataConfig):
        raise ConfigError(
            f"{config_path}: data.name {config.data.name!r} is not an image dataset, so "
            "it has no judge; pass an image experiment (e.g. experiments/demo.yaml)."
        )
    metrics = config.metrics if config else MetricsConfig()
    space = args.feature_space or (metrics.feature_space if config else "judge")
    if space == "judge" and config is None:
        raise ConfigError(
            "--feature-space judge measures in the features of a judge, which belongs to a "
            "dataset: pass --judge-config with the experiment whose dataset REAL and FAKE come "
            "from (e.g. experiments/demo.yaml), or use --feature-space inception."
        )
    if not real_path and config is None:
        raise ConfigError(
            "eval with FAKE alone measures it against the held-out set of a dataset: pass "
            "--judge-config with that dataset's experiment, or give REAL before FAKE."
        )
    metrics = dataclasses.replace(
        metrics,
        kid=metrics.kid or args.kid,
        feature_space=space,
        inception_weights=args.inception_weights or metrics.inception_weights,
    )
    fake = ImageFiles(fake_path, load_images(fake_path))
    real = ImageFiles(real_path[0], load_images(real_path[0])) if real_path else None
    train = ImageFiles(args.train, load_images(args.train)) if args.train else None
    for given in (real, fake):
        if given is not None:
            _check_count(given.path, len(given.images), metrics)
    if train is not None and len(train.images) < 2:
        raise DataError(
            f"'{train.path}' holds {len(train.images)} image, but the copy test compares each "
            "training image with its nearest other one; give --train at least 2 images."
        )
    settings = config.train if config else None
    plan = plan_device(
        settings.accelerator if settings else "auto",
        settings.precision if settings else "auto",
        True,
    )
    cache_dir = args.cache_dir or Path(config.cache_dir if config else "cache")
    scored = score(fake, real, config, config_path, metrics, plan, cache_dir, train)
    report = {
        "real": scored.reference,
        "fake": str(fake_path),
        "real_images": scored.reference_images,
        "fake_images": len(fake.images),
        "feature_space": space,
        "metrics": {name: _plain(value) for name, value in scored.metrics.items()},
        "notes": [*notes, *scored.notes],
    }
    print(json.dumps(report, indent=2) if args.json else _text(report))
    return 0


def experiment_file(given: Path, notes: list[str]) -> Path:
    """`given`, or for a relative path that is not here, the same path in the collapse-lab
    checkout this command runs from (where experiments/ lives), when it is there."""
    if given.is_absolute() or given.exists():
        return given
    checkout = Path(__file__).resolve().parents[2] / given
    if not checkout.is_file():
        return given  # load_config names it as missing
    notes.append(f"--judge-config {given} is {checkout} (not in the current folder)")
    return checkout


def _check_count(path: Path, count: int, metrics: MetricsConfig) -> None:
    from lab.errors import DataError

    needed = max(metrics.precision_recall_k, metrics.density_coverage_k) + 1
    if count < needed:
        raise DataError(
            f"'{path}' holds {count} images, but the k-NN metrics need at least {needed} per set "
            f"(k = {needed - 1}); give it more images."
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
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines)
