"""`collapse-lab eval [REAL] FAKE`: score any generated image set as a run scores a generation.

FAKE (and REAL) are folders of images (PNG, JPEG, ...) of one size, or .npz files with uint8
images [N, C, H, W] under the key `images` (what `collapse-lab run` writes to
samples/gen_NNN.npz). Prints FID, precision, recall, density, coverage, the homogeneity
ratios, tail and bulk recall and coverage and the Vendi score, computed by the same code as a
run's metrics.csv.

Without REAL, FAKE is measured against the held-out set of --judge-config's dataset with its
true labels, exactly as every generation of that experiment is: eval of a run's own samples
with the run's config.yaml reproduces its metrics.csv row. With REAL, the judge labels REAL.

Feature spaces (default: the config's metrics.feature_spaces or feature_space, else judge):
  judge      the penultimate layer of the judge of the experiment given with --judge-config:
             the classifier that `collapse-lab run` trains once on that experiment's dataset
             and caches (it is trained now if it is not cached yet). Its images must be the
             dataset's shape. There is no judge without a dataset, so this space needs
             --judge-config.
  inception  the standard 2048-d InceptionV3 features (images of any size); needs the
             torch-fidelity package and its weights file on disk.
  dinov2     DINOv2 ViT-L/14's CLS token (FD_DINOv2, Stein et al. 2023); needs timm and its
             weights file (docs/feature_spaces.md).
  clip       CLIP ViT-L/14-336's unit-length image embedding (CMMD's space); needs open_clip
             and its weights file.
Several spaces joined by commas (--feature-space judge,dinov2) measure in each: the first
gives the plain columns, every other one its feature metrics with its name as a suffix
(fid_dinov2), as a run with metrics.feature_spaces writes them.
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
import json
from pathlib import Path
from typing import Any

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
        metavar="SPACE",
        help="where distances are measured: judge, inception, dinov2 or clip, or several "
        "joined by commas (default: the config's, else judge, which needs --judge-config)",
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
    for space, network in (("dinov2", "DINOv2 ViT-L/14"), ("clip", "CLIP ViT-L/14-336")):
        parser.add_argument(
            f"--{space}-weights",
            metavar="PATH",
            help=f"{network} weights file (default: the config's metrics.{space}_weights, "
            "else torch hub's cache)",
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
    from lab.errors import ConfigError
    from lab.evaluation import evaluate

    if len(args.sets) > 2:
        raise ConfigError(
            f"eval takes REAL and FAKE, or FAKE alone, not {len(args.sets)} sets; pass at most two."
        )
    *real, fake = args.sets
    notes: list[str] = []
    report = evaluate(
        fake,
        real[0] if real else None,
        config=experiment_file(args.judge_config, notes) if args.judge_config else None,
        feature_space=args.feature_space,
        kid=args.kid,
        train=args.train,
        inception_weights=args.inception_weights,
        cache_dir=args.cache_dir,
        dinov2_weights=args.dinov2_weights,
        clip_weights=args.clip_weights,
    )
    report["notes"] = [*notes, *report["notes"]]
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


def _text(report: dict[str, Any]) -> str:
    lines = [
        f"real: {report['real']} ({report['real_images']} images)",
        f"fake: {report['fake']} ({report['fake_images']} images)",
        f"feature space: {', '.join(report['feature_spaces'])}",
    ]
    for name, value in report["metrics"].items():
        shown = "n/a" if value is None else f"{value:.6g}"
        lines.append(f"{name:>24}  {shown}")
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines)
