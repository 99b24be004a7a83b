"""Score an image set the way a run scores a generation, for `collapse-lab eval`.

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

from lab.config import ExperimentConfig
from lab.data.images import ImageSet
from lab.data.load import load_real_data
from lab.device import DevicePlan
from lab.domains.images.judging import load_or_train_judge
from lab.domains.images.labels import LABEL_KINDS, label_kind
from lab.domains.images.measure import GenerationMetrics, judge_space, real_features_path
from lab.domains.images.settings import MetricsConfig
from lab.errors import DataError
from lab.metrics.degenerate import FeatureSetError
from lab.metrics.features import FeatureSpace

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
        space = _inception(metrics)
        reference = ImageSet(real.images)
        features = _files_cache(cache_dir, real.images, space)
        return _measure(
            fake,
            reference,
            (str(real.path), f"'{real.path}'"),
            metrics,
            lambda sized: GenerationMetrics(
                space, None, UNLABELLED, (), reference, sized, plan, features
            ),
            trained_on,
        )
    data = load_real_data(config.data)
    for given in (fake, real, train):
        if given is not None:
            _check_shape(given, data.train.image_shape, config_path, data.name)
    judge, _ = load_or_train_judge(config, data, plan, _to_stderr)
    space = (
        _inception(metrics) if metrics.feature_space == "inception" else judge_space(config, judge)
    )
    if real is None:
        reference = data.heldout
        described = (f"the {data.name} held-out set",) * 2
        features = real_features_path(
            dataclasses.replace(config, cache_dir=str(cache_dir)), "heldout", space
        )
    else:
        reference, described = ImageSet(real.images), (str(real.path), f"'{real.path}'")
        features = _files_cache(cache_dir, real.images, space)
    kind = label_kind(data)
    return _measure(
        fake,
        reference,
        described,
        metrics,
        lambda sized: GenerationMetrics(
            space, judge, kind, data.class_names, reference, sized, plan, features
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


def _inception(metrics: MetricsConfig) -> FeatureSpace:
    from lab.metrics.inception import inception_space

    return inception_space(metrics.inception_weights)


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
