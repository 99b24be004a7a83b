"""Score an image set the way a run scores a generation, for `collapse-lab eval`.

The reference is either the held-out set of an experiment's dataset with its true labels
(what every generation of that experiment is measured against, so eval of a run's own
samples reproduces its metrics.csv row), or any image set given as files, which the judge
labels. Either way the numbers come from `GenerationMetrics`, the loop's own class.
"""

from __future__ import annotations

import dataclasses
import hashlib
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
        measure = GenerationMetrics(
            space,
            None,
            UNLABELLED,
            (),
            ImageSet(real.images),
            _clamped(metrics, real.images, fake.images),
            plan,
            _files_cache(cache_dir, real.images, space),
        )
        return Scored(str(real.path), len(real.images), measure(fake.images, trained_on)[0])
    data = load_real_data(config.data)
    for given in (fake, real, train):
        if given is not None:
            _check_shape(given, data.train.image_shape, config_path, data.name)
    judge, _ = load_or_train_judge(config, data, plan)
    space = (
        _inception(metrics) if metrics.feature_space == "inception" else judge_space(config, judge)
    )
    if real is None:
        reference, described = data.heldout, f"the {data.name} held-out set"
        features = real_features_path(
            dataclasses.replace(config, cache_dir=str(cache_dir)), "heldout", space
        )
    else:
        reference, described = ImageSet(real.images), str(real.path)
        features = _files_cache(cache_dir, real.images, space)
    measure = GenerationMetrics(
        space,
        judge,
        label_kind(data),
        data.class_names,
        reference,
        _clamped(metrics, reference.images, fake.images),
        plan,
        features,
    )
    return Scored(described, len(reference), measure(fake.images, trained_on)[0])


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


def _clamped(metrics: MetricsConfig, real: torch.Tensor, fake: torch.Tensor) -> MetricsConfig:
    """KID subsets no larger than either set."""
    size = min(metrics.kid_subset_size, len(real), len(fake))
    return dataclasses.replace(metrics, kid_subset_size=size)


def _files_cache(cache_dir: Path, images: torch.Tensor, space: FeatureSpace) -> Path:
    content = hashlib.sha256(images.numpy().tobytes()).hexdigest()[:16]
    return cache_dir / "features" / f"files-{content}-{space.name}.pt"
