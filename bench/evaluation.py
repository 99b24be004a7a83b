"""How long the evaluation of one generation takes: features of the generated and real images,
then FID, precision/recall/density/coverage and homogeneity (FeatureMetrics, as the loop and
`collapse-lab eval` compute them).

Two feature spaces are timed. The judge's (the lab's default: the CelebA attribute judge's
network at 64x64) needs no weights to be timed, so an untrained judge stands in. InceptionV3
needs weights that no package ships and the box may not have, so its architecture is timed
with random weights (torchvision's `inception_v3`, images resized to 299x299 as
torchmetrics does): the time is the real one, the metric values are meaningless. The DINOv2
ViT-L/14 and CLIP ViT-L/14-336 spaces are timed the same way: the lab's own feature modules
(preprocessing included) around the published architectures, randomly initialised.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.models import inception_v3

from lab.device import DevicePlan
from lab.domains.images.settings import MetricsConfig
from lab.metrics.distribution import FeatureMetrics
from lab.metrics.features import FeatureSpace
from models.judges import AttributeJudge, JudgeFeatures
from models.pixels import to_unit

INCEPTION_SIDE = 299
INCEPTION_FEATURES = 2048
# torchvision's ImageNet normalisation, which its inception_v3 expects.
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class RandomInceptionFeatures(nn.Module):
    """uint8 [N, 3, H, W] -> [N, 2048] through an untrained InceptionV3: timing only."""

    num_features = INCEPTION_FEATURES

    def __init__(self) -> None:
        super().__init__()
        self.network = inception_v3(weights=None, aux_logits=False, init_weights=False)
        self.network.fc = nn.Identity()
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))

    def forward(self, images: Tensor) -> Tensor:
        side = (INCEPTION_SIDE, INCEPTION_SIDE)
        resized = F.interpolate(to_unit(images), size=side, mode="bilinear", align_corners=False)
        return self.network((resized - self.mean) / self.std)


def judge_space(image_shape: tuple[int, int, int]) -> FeatureSpace:
    """The CelebA attribute judge's feature space (celeba_dcgan.yaml's judge), untrained."""
    judge = AttributeJudge(image_shape, 40, feature_dim=128, lr=1e-3, width=32)
    return FeatureSpace(name="judge", module=JudgeFeatures(judge), image_shape=image_shape)


def inception_space() -> FeatureSpace:
    return FeatureSpace(name="inception-random", module=RandomInceptionFeatures())


def pretrained_spaces() -> dict[str, FeatureSpace]:
    """The DINOv2 and CLIP spaces at their published sizes, random weights: timing only."""
    import open_clip

    from lab.metrics import clip, dinov2
    from lab.metrics.vit import PretrainedFeatures

    torch.manual_seed(0)
    vit_l = dinov2.network(1024, 24, 4.0, 14, dinov2.PREPROCESSING.size)
    visual = open_clip.create_model("ViT-L-14-336", force_quick_gelu=True).visual
    modules = {
        "dinov2": PretrainedFeatures(vit_l, dinov2.PREPROCESSING, 1024, "random"),
        "clip": PretrainedFeatures(
            visual, clip.PREPROCESSING, visual.output_dim, "random", unit_length=True
        ),
    }
    return {name: FeatureSpace(f"{name}-random", module) for name, module in modules.items()}


def features_per_second(
    plan: DevicePlan, space: FeatureSpace, images: Tensor, batch_size: int
) -> dict[str, float]:
    """Images through `space` per second (preprocessing included), after one warm-up image."""
    space.extract(images[:1], plan, batch_size)
    plan.synchronize()
    began = time.perf_counter()
    space.extract(images, plan, batch_size)
    plan.synchronize()
    seconds = time.perf_counter() - began
    return {"images": len(images), "seconds": seconds, "features_per_s": len(images) / seconds}


def evaluation_seconds(
    plan: DevicePlan, space: FeatureSpace, real: Tensor, fake: Tensor, batch_size: int
) -> dict[str, float | None]:
    """Seconds for each part of measuring `fake` against `real` from scratch (no cached real
    features), after a warm-up pass on a few images; and the peak device memory. Runs with
    deterministic algorithms as the plan says, as the loop does after training."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(plan.deterministic)
    try:
        return _timed_evaluation(plan, space, real, fake, batch_size)
    finally:
        torch.use_deterministic_algorithms(previous)


def _timed_evaluation(
    plan: DevicePlan, space: FeatureSpace, real: Tensor, fake: Tensor, batch_size: int
) -> dict[str, float | None]:
    warm = min(len(real), batch_size, 64)
    FeatureMetrics(space.extract(real[:warm], plan, batch_size), MetricsConfig())(
        space.extract(fake[:warm], plan, batch_size)
    )
    plan.synchronize()
    plan.reset_peak_memory()
    times = {}
    began = time.perf_counter()
    real_features = space.extract(real, plan, batch_size)
    plan.synchronize()
    times["real_features_s"] = time.perf_counter() - began
    began = time.perf_counter()
    fake_features = space.extract(fake, plan, batch_size)
    plan.synchronize()
    times["fake_features_s"] = time.perf_counter() - began
    began = time.perf_counter()
    metrics = FeatureMetrics(real_features, MetricsConfig())
    plan.synchronize()
    times["real_side_metrics_s"] = time.perf_counter() - began
    began = time.perf_counter()
    metrics(fake_features)  # returns floats: the device work is done when it returns
    times["generated_side_metrics_s"] = time.perf_counter() - began
    peak = plan.peak_memory_bytes()
    return {
        **times,
        "total_s": sum(times.values()),
        "per_generation_s": times["fake_features_s"] + times["generated_side_metrics_s"],
        "peak_mib": None if peak is None else peak / 2**20,
    }
