"""Score an image set the way a run scores a generation: `lab.evaluate` and `collapse-lab eval`.

The reference is either the held-out set of an experiment's dataset with its true labels
(what every generation of that experiment is measured against, so eval of a run's own
samples reproduces its metrics.csv row), or any image set given as files, which the judge
labels. Either way the numbers come from `GenerationMetrics`, the loop's own class.

KID's subsets are the config's `kid_subset_size`, as in a run, when that leaves subsets that
differ from one another; otherwise (the size does not fit, or every subset would be both
whole sets, and `kid_std` about 0) half the smaller set, so that `kid_std` says how much KID
moves with the images drawn. Sets too small for two-image halves get KID over the whole sets
and no `kid_std`. Eval's notes say where it chose so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lab.data.image_files import load_images
from lab.data.images import ImageSet
from lab.device import DevicePlan, plan_device
from lab.domains.images.judging import load_or_train_judge
from lab.domains.images.labels import LABEL_KINDS, label_kind
from lab.domains.images.measure import (
    GenerationMetrics,
    MeasuredSpace,
    judge_space,
    real_features_path,
)
from lab.domains.images.settings import MetricsConfig
from lab.domains.images.spaces import PRETRAINED, SPACES, build_spaces, check_pretrained
from lab.errors import ConfigError, DataError
from lab.experiment import ExperimentConfig
from lab.metrics.degenerate import FeatureSetError
from lab.metrics.features import FeatureSpace
from lab.rundir.results import verify_run_file

# What a reference scored without a judge (inception space, no config) is labelled with.
UNLABELLED = LABEL_KINDS["none"]


@dataclasses.dataclass(frozen=True)
class ImageFiles:
    """Images read from `path` (a folder or a .npz), named in messages by that path."""

    path: Path
    images: torch.Tensor


@dataclasses.dataclass(frozen=True)
class Scored:
    reference: str  # what the samples were measured against, in words
    reference_images: int
    metrics: dict[str, Any]
    notes: tuple[str, ...] = ()  # how the numbers were measured where eval chose for the user


def evaluate_images(
    fake: Path | str,
    real: Path | str | None = None,
    *,
    config: ExperimentConfig | None = None,
    config_path: Path | None = None,
    feature_space: str | None = None,
    kid: bool = False,
    train: Path | str | None = None,
    inception_weights: str | None = None,
    cache_dir: Path | str | None = None,
    weights: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """The metrics of the images at `fake` (a folder or a .npz) against those at `real`, or
    without `real` against the held-out set of `config`'s dataset, as lab.evaluate says.
    `weights` maps metrics keys (dinov2_weights, clip_weights) to the files given for them."""
    metrics = config.metrics if config else MetricsConfig()
    spaces = _spaces(feature_space) or (metrics.spaces if config else ("judge",))
    if "judge" in spaces and config is None:
        raise ConfigError(
            "--feature-space judge measures in the features of a judge, which belongs to a "
            "dataset: pass --judge-config with the experiment whose dataset REAL and FAKE come "
            "from (e.g. experiments/demo.yaml), or use --feature-space inception."
        )
    if real is None and config is None:
        raise ConfigError(
            "eval with FAKE alone measures it against the held-out set of a dataset: pass "
            "--judge-config with that dataset's experiment, or give REAL before FAKE."
        )
    metrics = dataclasses.replace(
        metrics,
        kid=metrics.kid or kid,
        feature_space=spaces[0] if len(spaces) == 1 else "judge",
        feature_spaces=spaces if len(spaces) > 1 else (),
        cmmd=tuple(name for name in metrics.cmmd if name in spaces),
        inception_weights=inception_weights or metrics.inception_weights,
        **{key: value for key, value in (weights or {}).items() if value},
    )
    fake_set = _read(fake)
    real_set = _read(real) if real is not None else None
    train_set = _read(train) if train is not None else None
    for given in (real_set, fake_set):
        if given is not None:
            _check_count(given.path, len(given.images), metrics)
    if train_set is not None and len(train_set.images) < 2:
        raise DataError(
            f"'{train_set.path}' holds {len(train_set.images)} image, but the copy test "
            "compares each training image with its nearest other one; give --train at least "
            "2 images."
        )
    settings = config.train if config else None
    plan = plan_device(
        settings.accelerator if settings else "auto",
        settings.precision if settings else "auto",
        True,
    )
    cache = Path(cache_dir or (config.cache_dir if config else "cache"))
    scored = score(fake_set, real_set, config, config_path, metrics, plan, cache, train_set)
    return {
        "real": scored.reference,
        "fake": str(fake),
        "real_images": scored.reference_images,
        "fake_images": len(fake_set.images),
        "feature_space": spaces[0],
        "feature_spaces": list(spaces),
        "metrics": {name: _plain(value) for name, value in scored.metrics.items()},
        "notes": list(scored.notes),
    }


def _read(path: Path | str) -> ImageFiles:
    """The images at `path`; a run's own file must still be what its manifest vouches for."""
    verify_run_file(Path(path))
    return ImageFiles(Path(path), load_images(Path(path)))


def _check_count(path: Path, count: int, metrics: MetricsConfig) -> None:
    needed = max(metrics.precision_recall_k, metrics.density_coverage_k) + 1
    if count < needed:
        raise DataError(
            f"'{path}' holds {count} images, but the k-NN metrics need at least {needed} per set "
            f"(k = {needed - 1}); give it more images."
        )


def _plain(value: float | int) -> float | int | None:
    """JSON has no NaN: a metric that does not apply (a class no real image has) is null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def score(
    fake: ImageFiles,
    real: ImageFiles | None,
    config: ExperimentConfig | None,
    config_path: Path | None,
    metrics: MetricsConfig,
    plan: DevicePlan,
    cache_dir: Path,
    train: ImageFiles | None = None,
) -> Scored:
    """Every metric of `fake` against `real` (None: the config's held-out set), in the space
    `metrics.feature_space` names; the label metrics too when `config` names a judge, and
    copy_fraction when `train` gives the images `fake`'s generator trained on."""
    trained_on = train.images if train is not None else None
    if config is None:
        if real is None:
            raise ValueError("scoring against a held-out set needs its config")
        reference = ImageSet(real.images)
        spaces = [
            MeasuredSpace(name, space, _files_cache(cache_dir, real.images, space))
            for name, space in zip(
                metrics.spaces, build_spaces(metrics.spaces, metrics, _no_judge), strict=True
            )
        ]
        return _measure(
            fake,
            reference,
            (str(real.path), f"'{real.path}'"),
            metrics,
            lambda sized: GenerationMetrics(spaces, None, UNLABELLED, (), reference, sized, plan),
            trained_on,
        )
    data = config.data.load()
    for given in (fake, real, train):
        if given is not None:
            _check_shape(given, data.train.image_shape, config_path, data.name)
    for name in metrics.spaces:
        if name in PRETRAINED:
            check_pretrained(name, metrics)  # before a judge trains
    judge, _ = load_or_train_judge(config, data, plan, _to_stderr)
    built = build_spaces(metrics.spaces, metrics, lambda: judge_space(config, judge))
    cached = dataclasses.replace(config, cache_dir=str(cache_dir))
    if real is None:
        reference = data.heldout
        described = (f"the {data.name} held-out set",) * 2
        paths = [real_features_path(cached, "heldout", space) for space in built]
    else:
        reference, described = ImageSet(real.images), (str(real.path), f"'{real.path}'")
        paths = [_files_cache(cache_dir, real.images, space) for space in built]
    spaces = [
        MeasuredSpace(name, space, path)
        for name, space, path in zip(metrics.spaces, built, paths, strict=True)
    ]
    kind = label_kind(data)
    return _measure(
        fake,
        reference,
        described,
        metrics,
        lambda sized: GenerationMetrics(
            spaces, judge, kind, data.class_names, reference, sized, plan
        ),
        trained_on,
    )


@dataclasses.dataclass(frozen=True)
class _KIDSizing:
    metrics: MetricsConfig  # with the subset size (and count) used
    notes: tuple[str, ...] = ()
    spread: bool = True  # False: KID over the whole sets, so kid_std means nothing


def _kid_sizing(metrics: MetricsConfig, real: int, fake: int) -> _KIDSizing:
    """metrics.kid_subset_size when both sets have that many images and one has more (so the
    subsets differ), as in the run that the config describes; else half the smaller set (an
    unbiased MMD needs 2 images a set), or the whole sets when even that is too few."""
    size, smaller = metrics.kid_subset_size, min(real, fake)
    if not metrics.kid or (size <= smaller and size < max(real, fake)):
        return _KIDSizing(metrics)
    half = smaller // 2
    if half < 2:
        whole = dataclasses.replace(metrics, kid_subset_size=smaller, kid_subsets=1)
        note = (
            "the sets are too small for KID subsets of 2 images (half the smaller set), so kid "
            "is measured on the whole sets and kid_std is empty"
        )
        return _KIDSizing(whole, (note,), spread=False)
    reason = (
        f"is more than the {smaller} images of the smaller set"
        if size > smaller
        else "would take every image of both sets, so every subset would be the same"
    )
    note = (
        f"KID over {metrics.kid_subsets} subsets of {half} images, half the smaller set: "
        f"metrics.kid_subset_size {size} {reason}"
    )
    return _KIDSizing(dataclasses.replace(metrics, kid_subset_size=half), (note,))


def _measure(
    fake: ImageFiles,
    reference: ImageSet,
    described: tuple[str, str],
    metrics: MetricsConfig,
    build: Callable[[MetricsConfig], GenerationMetrics],
    trained_on: torch.Tensor | None,
) -> Scored:
    """`fake` measured against `reference` by `build(metrics)`, with KID sized to the sets
    (and copy_fraction against `trained_on` when given); a set the metrics cannot measure is
    named in one sentence. `described`: the reference in words, for the output and as a
    message names it (a path in quotes)."""
    kid = _kid_sizing(metrics, len(reference), len(fake.images))
    words, named = described
    try:
        measure = build(kid.metrics)
    except FeatureSetError as err:
        raise DataError(f"{named} cannot be the real reference set: {err}.") from None
    try:
        measured = measure(fake.images, trained_on)[0]
    except FeatureSetError as err:
        raise DataError(f"'{fake.path}' cannot be measured: {err}.") from None
    if not kid.spread:
        measured["kid_std"] = math.nan
    return Scored(words, len(reference), measured, kid.notes)


def _spaces(given: str | None) -> tuple[str, ...]:
    """--feature-space's spaces: one name, or several joined by commas (judge,dinov2)."""
    if given is None:
        return ()
    names = tuple(name.strip() for name in given.split(","))
    for name in names:
        if name not in SPACES:
            raise ConfigError(
                f"--feature-space names {name!r}, which eval does not know; use "
                f"{', '.join(SPACES)}, or several joined by commas (judge,dinov2)."
            )
    if len(set(names)) != len(names):
        raise ConfigError(f"--feature-space '{given}' names a space twice; name each once.")
    return names


def _no_judge() -> FeatureSpace:
    raise ValueError("the judge space needs a config")  # evaluate_images refuses it before


def _check_shape(
    given: ImageFiles, shape: tuple[int, int, int], config_path: Path | None, name: str
) -> None:
    """Images a judge labels must have its dataset's shape."""
    found = tuple(given.images.shape[1:])
    if found != shape:
        raise DataError(
            f"'{given.path}' holds {'x'.join(map(str, found))} images but the judge of "
            f"'{config_path}' ({name}) takes {'x'.join(map(str, shape))}; pass images of that "
            "dataset, or --feature-space inception without --judge-config."
        )


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr)


def _files_cache(cache_dir: Path, images: torch.Tensor, space: FeatureSpace) -> Path:
    content = hashlib.sha256(images.numpy().tobytes()).hexdigest()[:16]
    return cache_dir / "features" / f"files-{content}-{space.name}.pt"
