"""Everything measured on one generation's samples, against a real reference set.

The loop measures every generation with `GenerationMetrics` against the real held-out set,
and `collapse-lab eval` measures any image set with the same class, so a number means the
same in a run's metrics.csv and in eval's output.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from lab.data.images import ImageSet, RealData
from lab.device import DevicePlan
from lab.domains.images.judging import judge_cache_path
from lab.domains.images.labels import LabelKind, label_kind
from lab.domains.images.predictions import predict_labels
from lab.domains.images.settings import MetricsConfig
from lab.domains.images.spaces import PRETRAINED, build_spaces, check_pretrained, suffix
from lab.errors import ConfigError
from lab.experiment import ExperimentConfig
from lab.metrics.cmmd import CMMD
from lab.metrics.cmmd import COLUMN as CMMD_COLUMN
from lab.metrics.distribution import FeatureMetrics
from lab.metrics.features import FeatureSpace, cached_features
from lab.metrics.memorisation import COLUMN as COPY_COLUMN
from lab.metrics.memorisation import CopyFraction
from lab.rundir.storage import sha256_file
from lab.schema import to_plain
from models.judges import Judge, JudgeFeatures


@dataclass(frozen=True)
class MeasuredSpace:
    """One space a generation is measured in: its config name, its extractor, and the file
    that caches the reference set's features in it."""

    name: str
    space: FeatureSpace
    features_path: Path


@dataclass(frozen=True)
class _SpaceMetrics:
    space: FeatureSpace
    suffix: str  # of its columns: none for the first space
    compare: FeatureMetrics
    cmmd: CMMD | None


class GenerationMetrics:
    """Set up once on a reference set (its features in every space, and its labels'
    coverage), then called per generation.

    Which label metrics apply follows from the data's kind of labels (labels.py): class
    shares for digits, attribute prevalence for CelebA, none for a folder of faces.
    Per-label recall groups the reference images by their labels: the true labels of a
    dataset's held-out set, or, for a reference without them (a folder given to eval), the
    judge's labels of it. The first space gives the plain columns (with per-label recall and
    copy_fraction); every other space gives the feature metrics that need no labels, its name
    a suffix of their columns. `reference` holds the reference set's own value of the columns
    that have one (label shares, class entropy, vendi; copy_fraction once
    `record_real_copy_rate` has measured it).
    """

    def __init__(
        self,
        spaces: Sequence[MeasuredSpace],
        judge: Judge | None,
        kind: LabelKind,
        names: Sequence[str],
        reference: ImageSet,
        config: MetricsConfig,
        plan: DevicePlan,
    ) -> None:
        self.config = config
        self.plan = plan
        self.coverage = kind.coverage(judge, reference, names, config, plan)
        groups = None
        if kind.labelled:
            groups = reference.labels
            if groups is None:
                groups = predict_labels(judge, reference.images, plan, config.batch_size)
        self.spaces: list[_SpaceMetrics] = []
        self.reference = dict(self.coverage.reference)
        for index, measured in enumerate(spaces):
            real_features = cached_features(
                measured.features_path, measured.space, reference.images, plan, config.batch_size
            )
            first = index == 0
            if first:
                self.space, self.real_features = measured.space, real_features
            labels = (groups, names) if first and kind.labelled else (None, ())
            compare = FeatureMetrics(real_features, config, *labels)
            cmmd = None
            if measured.name in config.cmmd:
                cmmd = CMMD(reset_real_features=False).to(real_features.device)
                cmmd.update(real_features, real=True)
            ending = suffix(index, measured.name)
            self.spaces.append(_SpaceMetrics(measured.space, ending, compare, cmmd))
            self.reference.update({f"{k}{ending}": v for k, v in compare.reference.items()})
        # The real training set's features in the first space, where the loop has them (what
        # curators compare draws with; lab/curation/).
        self.train_features: torch.Tensor | None = None

    def __call__(
        self, samples: torch.Tensor, trained_on: torch.Tensor | None = None
    ) -> tuple[dict[str, float | int], torch.Tensor | None]:
        """(metric name -> value, the judge's labels of the samples, None for unlabelled data).
        With `trained_on`, the images the samples' generator trained on, copy_fraction too."""
        coverage, labels = self.coverage(samples)
        metrics: dict[str, float | int] = {}
        for index, measured in enumerate(self.spaces):
            features = measured.space.extract(samples, self.plan, self.config.batch_size)
            distribution = measured.compare(features)
            if measured.cmmd is not None:
                measured.cmmd.reset()
                measured.cmmd.update(features, real=False)
                distribution[CMMD_COLUMN] = float(measured.cmmd.compute())
            if index == 0:
                metrics["fid"] = distribution.pop("fid")
                metrics.update(coverage)
                metrics.update(distribution)
                if trained_on is not None:
                    training = measured.space.extract(trained_on, self.plan, self.config.batch_size)
                    metrics[COPY_COLUMN] = CopyFraction(training)(features)
            else:
                metrics.update({f"{k}{measured.suffix}": v for k, v in distribution.items()})
        return metrics, labels

    def record_real_copy_rate(self, training_features: torch.Tensor) -> None:
        """The reference's copy_fraction against a training set it is not part of: what a
        model that generalises, rather than copies, scores."""
        self.reference[COPY_COLUMN] = CopyFraction(training_features)(self.real_features)


def heldout_metrics(
    config: ExperimentConfig, real: RealData, judge: Judge, plan: DevicePlan
) -> GenerationMetrics:
    """What every generation of a run of `config` is measured with: the real held-out set,
    its true labels, and its features cached per (dataset, split, extractor); its real copy
    rate is measured against the real training set, in the first space."""
    spaces = [
        MeasuredSpace(name, space, real_features_path(config, "heldout", space))
        for name, space in zip(config.metrics.spaces, feature_spaces(config, judge), strict=True)
    ]
    measure = GenerationMetrics(
        spaces,
        judge,
        label_kind(real),
        real.class_names,
        real.heldout,
        config.metrics,
        plan,
    )
    first = spaces[0].space
    train_features = cached_features(
        real_features_path(config, "train", first),
        first,
        real.train.images,
        plan,
        config.metrics.batch_size,
    )
    measure.record_real_copy_rate(train_features)
    measure.train_features = train_features
    return measure


def check_feature_space(config: ExperimentConfig) -> None:
    """What the configured spaces need from disk, checked before the judge or a model trains."""
    for name in config.metrics.spaces:
        if name in PRETRAINED:
            check_pretrained(name, config.metrics)


def feature_spaces(config: ExperimentConfig, judge: Judge) -> list[FeatureSpace]:
    """The spaces config.metrics names, in its order."""
    return build_spaces(config.metrics.spaces, config.metrics, lambda: judge_space(config, judge))


def judge_space(config: ExperimentConfig, judge: Judge) -> FeatureSpace:
    """The judge's penultimate layer, named by the cached judge's weights, so cached features
    of a retrained judge are never mistaken for this one's."""
    weights = sha256_file(judge_cache_path(config))[:16]
    return FeatureSpace(
        name=f"judge-{weights}", module=JudgeFeatures(judge), image_shape=judge.image_shape
    )


def real_features_path(config: ExperimentConfig, split: str, space: FeatureSpace) -> Path:
    """Cache file of one real split's features: one per (dataset, split, extractor)."""
    data = hashlib.sha256(json.dumps(to_plain(config.data), sort_keys=True).encode()).hexdigest()
    name = f"{config.data.name}-{data[:12]}-{split}-{space.name}.pt"
    return Path(config.cache_dir) / "features" / name


def check_metric_sizes(config: ExperimentConfig, heldout: int) -> None:
    """k-NN balls need more points than k, and KID subsets no more than there are images;
    both are config errors, caught before any training."""
    metrics = config.metrics
    available = min(heldout, config.samples_per_generation)
    limits = {
        "metrics.precision_recall_k": (metrics.precision_recall_k, available - 1),
        "metrics.density_coverage_k": (metrics.density_coverage_k, available - 1),
    }
    if metrics.kid:
        limits["metrics.kid_subset_size"] = (metrics.kid_subset_size, available)
    for key, (value, limit) in limits.items():
        if value > limit:
            raise ConfigError(
                f"key '{key}' is {value}, but the metrics compare {heldout} held-out real images "
                f"with {config.samples_per_generation} samples, which allows at most {limit}; "
                "lower it."
            )
