"""Everything measured on one generation's samples, against the real held-out set."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import torch

from lab.config import ExperimentConfig
from lab.data import RealData
from lab.device import DevicePlan
from lab.errors import ConfigError
from lab.judging import judge_cache_path
from lab.metrics.coverage import label_coverage
from lab.metrics.distribution import FeatureMetrics
from lab.metrics.features import FeatureSpace, cached_features
from lab.storage import sha256_file
from models.judges import Judge, JudgeFeatures


class GenerationMetrics:
    """Set up once per run (real features and the real labels' coverage), then called per
    generation.

    Which label metrics apply follows from the data (lab/metrics/coverage.py): class shares
    for digits, attribute prevalence for CelebA, none for a folder of faces. Per-label recall
    groups the real held-out images by their true labels (digits or attributes): it asks which
    real images the samples still reach, and needs no judge on the real side.
    """

    def __init__(
        self, judge: Judge, real: RealData, config: ExperimentConfig, plan: DevicePlan
    ) -> None:
        self.config = config.metrics
        self.plan = plan
        batch = self.config.batch_size
        self.coverage = label_coverage(judge, real, self.config, plan)
        self.reference = self.coverage.reference
        self.space = feature_space(config, judge)
        real_features = cached_features(
            real_features_path(config, "heldout", self.space),
            self.space,
            real.heldout.images,
            plan,
            batch,
        )
        labelled = real.label_kind != "none"
        self.compare = FeatureMetrics(
            real_features,
            self.config,
            real.heldout.labels if labelled else None,
            real.class_names if labelled else (),
        )

    def __call__(self, samples: torch.Tensor) -> tuple[dict[str, float | int], torch.Tensor | None]:
        """(metric name -> value, the judge's labels of the samples, None for unlabelled data)."""
        features = self.space.extract(samples, self.plan, self.config.batch_size)
        coverage, labels = self.coverage(samples)
        distribution = self.compare(features)
        metrics: dict[str, float | int] = {"fid": distribution.pop("fid")}
        metrics.update(coverage)
        metrics.update(distribution)
        return metrics, labels


def feature_space(config: ExperimentConfig, judge: Judge) -> FeatureSpace:
    """The space config.metrics.feature_space names."""
    if config.metrics.feature_space == "inception":
        from lab.metrics.inception import inception_space

        return inception_space(config.metrics.inception_weights)
    return judge_space(config, judge)


def judge_space(config: ExperimentConfig, judge: Judge) -> FeatureSpace:
    """The judge's penultimate layer, named by the cached judge's weights, so cached features
    of a retrained judge are never mistaken for this one's."""
    weights = sha256_file(judge_cache_path(config))[:16]
    return FeatureSpace(
        name=f"judge-{weights}", module=JudgeFeatures(judge), image_shape=judge.image_shape
    )


def real_features_path(config: ExperimentConfig, split: str, space: FeatureSpace) -> Path:
    """Cache file of one real split's features: one per (dataset, split, extractor)."""
    data = hashlib.sha256(json.dumps(asdict(config.data), sort_keys=True).encode()).hexdigest()
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
