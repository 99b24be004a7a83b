"""The sections of an image experiment: the dataset, the judge, sampling and what is measured.

Free of torch, so loading a config validates these sections in the first second; the
datasets themselves load in lab/data/ (through lab/domains/images/datasets.py) and are
measured in lab/domains/images/.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from lab.data.celeba_attributes import ATTRIBUTES as CELEBA_ATTRIBUTES
from lab.domains.images.datasets import DATASETS, DEFAULT_DATASET, Mnist5kData
from lab.experiment import ExperimentConfig, requested_biases
from lab.generators.section import ClassPathModel, model_field
from lab.schema import SchemaError, bounds, by_kind, omitted_at_default
from models.registry import model_configs

# The feature spaces image metrics are measured in (lab/domains/images/spaces.py builds them).
SpaceName = Literal["judge", "inception", "dinov2", "clip"]
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")

# What an image model's constructor gets from the data, where it declares it.
IMAGE_SHAPE = "image_shape"
NUM_CLASSES = "num_classes"


@dataclass(frozen=True)
class JudgeConfig:
    """The classifier trained once on real data that labels samples and supplies FID features."""

    # Passes over the real training set that train the judge.
    max_epochs: int = field(default=8, metadata=bounds(ge=1))
    # The judge's training batch size.
    batch_size: int = field(default=128, metadata=bounds(ge=1))
    # The judge's learning rate (Adam).
    lr: float = field(default=1e-3, metadata=bounds(gt=0))
    # Width of the judge's penultimate layer: the judge feature space's dimension.
    feature_dim: int = field(default=128, metadata=bounds(ge=2))
    # Channels of the judge's first conv layer; they double in each later one.
    width: int = field(default=32, metadata=bounds(ge=1))
    # Every later number depends on the judge's labels; refuse to run with a poor one.
    min_accuracy: float = field(default=0.95, metadata=bounds(ge=0, le=1))


@dataclass(frozen=True)
class MetricsConfig:
    """What is measured on every generation's samples against the real held-out set."""

    # FID, precision/recall, density/coverage, homogeneity and KID are measured in this space:
    # the judge's penultimate layer (offline), the standard 2048-d InceptionV3, DINOv2
    # ViT-L/14 (FD_DINOv2, Stein et al. 2023) or CLIP ViT-L/14-336 (CMMD's space); the
    # pretrained ones need their weights file on disk (docs/feature_spaces.md).
    feature_space: SpaceName = "judge"
    # Several spaces in one run, e.g. [judge, dinov2, clip]; the first keeps the plain column
    # names, each other one's feature metrics get its name as a suffix (fid_dinov2). Empty:
    # feature_space alone.
    feature_spaces: tuple[SpaceName, ...] = field(default=(), metadata=omitted_at_default())
    # CMMD (x 1000, the paper's RBF kernel, sigma 10) in these spaces: column cmmd in the
    # first space, cmmd_<space> in the others. The paper measures it in clip.
    cmmd: tuple[SpaceName, ...] = field(default=(), metadata=omitted_at_default())
    # A class counts as covered (a rare attribute as kept) while its share of samples is at
    # least this fraction of its share of the real data.
    covered_share_fraction: float = field(default=0.5, metadata=bounds(gt=0, le=1))
    # Images per batch when extracting features and labels.
    batch_size: int = field(default=500, metadata=bounds(ge=1))
    # The InceptionV3 weights file; empty means torch hub's cache ($TORCH_HOME/hub/checkpoints).
    inception_weights: str | None = None
    # The DINOv2 ViT-L/14 weights file; empty means torch hub's cache, as for Inception.
    dinov2_weights: str | None = field(default=None, metadata=omitted_at_default())
    # The sha256 the DINOv2 file must have: the lab pins none, so set it once the published
    # file is at hand (docs/feature_spaces.md); a run in that space refuses until it is set.
    dinov2_sha256: str | None = field(default=None, metadata=omitted_at_default())
    # The CLIP ViT-L/14-336 weights file; empty means torch hub's cache, as for Inception.
    clip_weights: str | None = field(default=None, metadata=omitted_at_default())
    # The sha256 the CLIP file must have; empty means the published file's, which the lab pins.
    clip_sha256: str | None = field(default=None, metadata=omitted_at_default())
    # Neighbours per k-NN ball: the published conventions are 3 (precision/recall, Kynkaanniemi
    # et al. 2019) and 5 (density/coverage, Naeem et al. 2020).
    precision_recall_k: int = field(default=3, metadata=bounds(ge=1))
    # Neighbours per k-NN ball of density and coverage (Naeem et al. 2020: 5).
    density_coverage_k: int = field(default=5, metadata=bounds(ge=1))
    # Mean pairwise feature distance (homogeneity) over at most this many images per set.
    pairwise_max_samples: int = field(default=5000, metadata=bounds(ge=2))
    # KID (unbiased at the small sample sizes where FID is not) as columns kid and kid_std.
    kid: bool = False
    # KID: the number of random subsets it averages over.
    kid_subsets: int = field(default=100, metadata=bounds(ge=1))
    # KID: images per subset.
    kid_subset_size: int = field(default=1000, metadata=bounds(ge=2))
    # CelebA: rare attributes whose prevalence among samples is watched; rare_attributes_kept
    # counts those keeping at least covered_share_fraction of their real prevalence.
    rare_attributes: tuple[str, ...] = (
        "Eyeglasses",
        "Bald",
        "Mustache",
        "Gray_Hair",
        "Wearing_Hat",
    )
    # The tail of the real held-out set: this share of its images with the largest
    # density/coverage k-NN ball (the sparsest); tail_recall and tail_coverage are read over
    # them, bulk_recall and bulk_coverage over the rest.
    tail_fraction: float = field(default=0.1, metadata=bounds(gt=0, lt=1))

    @property
    def spaces(self) -> tuple[str, ...]:
        """The spaces a run measures in, the first keeping the plain column names."""
        return self.feature_spaces or (self.feature_space,)

    def check(self, prefix: str) -> None:
        self._check_spaces(prefix)
        for index, name in enumerate(self.rare_attributes):
            if name not in CELEBA_ATTRIBUTES:
                close = difflib.get_close_matches(name, CELEBA_ATTRIBUTES, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise SchemaError(
                    f"{prefix}.rare_attributes[{index}]",
                    f"is {name!r}, not a CelebA attribute; {hint}the names are those on line 2 "
                    "of list_attr_celeba.txt",
                )
        if len(set(self.rare_attributes)) != len(self.rare_attributes):
            raise SchemaError(f"{prefix}.rare_attributes", "lists an attribute twice")

    def _check_spaces(self, prefix: str) -> None:
        if self.feature_spaces and self.feature_space != "judge":
            raise SchemaError(
                f"{prefix}.feature_space",
                f"is {self.feature_space!r} beside feature_spaces; set one of them (list "
                f"{self.feature_space!r} first in feature_spaces)",
            )
        if len(set(self.feature_spaces)) != len(self.feature_spaces):
            raise SchemaError(f"{prefix}.feature_spaces", "lists a space twice")
        for index, name in enumerate(self.cmmd):
            if name not in self.spaces:
                raise SchemaError(
                    f"{prefix}.cmmd[{index}]",
                    f"is {name!r}, a space this run does not measure in "
                    f"({', '.join(self.spaces)}); add it to feature_spaces",
                )
        for key in ("dinov2_sha256", "clip_sha256"):
            value = getattr(self, key)
            if value is not None and not SHA256_PATTERN.fullmatch(value):
                raise SchemaError(f"{prefix}.{key}", "must be 64 hexadecimal digits (a sha256)")


@dataclass(frozen=True)
class ImageSamplingConfig:
    """How samples are drawn: in batches, plus a fixed-noise grid per generation."""

    # Samples drawn at once; lower it when sampling runs out of memory.
    batch_size: int = field(default=1000, metadata=bounds(ge=1))
    # Rows (and columns) of the fixed-noise grid drawn each generation.
    grid_rows: int = field(default=8, metadata=bounds(ge=1, le=64))
    # Sampling bias (MAD: keeps quality, loses diversity faster). temperature scales the
    # latent noise (1.0 unbiased); truncation draws each latent coordinate from a normal
    # truncated to [-truncation, truncation] (null: unbiased).
    temperature: float = field(default=1.0, metadata=bounds(gt=0))
    # Latent truncation: each coordinate from N(0, 1) cut to [-t, t] (null: unbiased).
    truncation: float | None = field(default=None, metadata=bounds(gt=0))
    # Classifier-free guidance weight w of a class-conditional model (MAD's lambda =
    # 1 / (1 + w)); 0 is unbiased.
    guidance: float = field(default=0.0, metadata={**bounds(ge=0), **omitted_at_default()})
    # Denoising steps of a diffusion model's sampler (null: every step of its training
    # schedule). Fewer steps are faster and coarser.
    steps: int | None = field(default=None, metadata={**bounds(ge=1), **omitted_at_default()})

    # The keywords of `sample` that a config setting them asks the model for: the biases,
    # and the sampler's steps; a model whose `sample` does not declare one is refused.
    BIASES: ClassVar[tuple[str, ...]] = ("temperature", "truncation", "guidance", "steps")


@dataclass(frozen=True, kw_only=True)
class ImageExperiment(ExperimentConfig):
    """An experiment on images: a dataset, a model that draws images, a judge and metrics."""

    model: Any = field(metadata=model_field(lambda: model_configs("images")))
    data: Any = field(
        default_factory=Mnist5kData,
        metadata=by_kind(lambda: DATASETS, key="name", default=DEFAULT_DATASET),
    )
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    sampling: ImageSamplingConfig = field(default_factory=ImageSamplingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    def check_experiment(self) -> None:
        self.require_train()
        side_problem = getattr(self.model, "image_side_problem", None)
        if side_problem is not None:
            self._check_side(side_problem)
        bias_problem = getattr(self.model, "bias_problem", None)
        if bias_problem is not None:
            for name, value in self.sampling_biases().items():
                problem = bias_problem(name, value)
                if problem:
                    raise SchemaError(f"sampling.{name}", f"is {value!r}, but {problem}")

    def check_model_class(self, cls: type) -> None:
        """A model from outside the lab may refuse image sides as the lab's DCGAN does, with
        an `image_side_problem(side)` on its class (docs/models.md)."""
        side_problem = getattr(cls, "image_side_problem", None)
        if isinstance(self.model, ClassPathModel) and callable(side_problem):
            self._check_side(side_problem)

    def _check_side(self, side_problem: Any) -> None:
        key, side = self.data.side()
        problem = side_problem(side)
        if problem:
            given = "is unset, so" if getattr(self.data, key) is None else "makes"
            raise SchemaError(
                f"data.{key}",
                f"{given} the images {side}x{side}, but {problem}; set it to such a side",
            )

    def model_inputs(self) -> Mapping[str, str]:
        return {
            **super().model_inputs(),
            IMAGE_SHAPE: "the data's [channels, height, width]",
            NUM_CLASSES: "the data's number of classes, 0 without class labels",
        }

    def sampling_biases(self) -> dict[str, Any]:
        return requested_biases(self.sampling)
