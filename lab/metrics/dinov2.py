"""The DINOv2 ViT-L/14 feature space (FD_DINOv2): Stein et al. (NeurIPS 2023) found the
Frechet distance in it agrees with people far better than Inception's.

The network is timm's `vit_large_patch14_dinov2`, holding Meta's published backbone file
(`dinov2_vitl14_pretrain.pth`, the one torch hub's `facebookresearch/dinov2` loads, as
dgm-eval does); the feature is the final-normed CLS token, 1024-d, what the hub model's
`forward` returns. Images are 224x224 (dgm-eval's preprocessing, lab/metrics/vit.py), so the
file's 37x37 position embedding (518 px) is resampled to 16x16 once, exactly as the hub
model's `interpolate_pos_encoding` does it on every call (bicubic, no antialiasing, a scale
factor of (16 + 0.1) / 37).

The network's size is read from the file (width, depth, MLP width; DINOv2's heads are 64 wide),
so a small randomly initialised ViT saved in the same layout runs through the same code: the
tests do that, there being no hub here.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lab.metrics.features import FeatureSpace
from lab.metrics.pretrained import PublishedWeights, loaded_network
from lab.metrics.vit import Preprocessing, PretrainedFeatures

PUBLISHED = PublishedWeights(
    space="dinov2",
    network="DINOv2 ViT-L/14",
    file="dinov2_vitl14_pretrain.pth",
    url="https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
    sha256=None,  # no statement of it the lab could verify offline: the user pins it
    package="timm",
)
ARCHITECTURE = "vit_large_patch14_dinov2"
# dgm-eval's DINOv2 transform: 224x224 bicubic, ImageNet's mean and standard deviation.
PREPROCESSING = Preprocessing(
    size=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), centre_crop=False
)
HEAD_WIDTH = 64  # every DINOv2 ViT's attention heads are 64 wide (S 6, B 12, L 16, g 24)
# The hub model's position-embedding resampling (dinov2/models/vision_transformer.py).
INTERPOLATE_OFFSET = 0.1
# Keys of Meta's file that the feature network does not use (masked-image training).
UNUSED_KEYS = ("mask_token",)


def network(width: int, depth: int, mlp_ratio: float, patch: int, image_size: int) -> nn.Module:
    """timm's DINOv2 ViT with these sizes, without a classifier head (its output is the
    normed CLS token)."""
    import timm

    return timm.create_model(
        ARCHITECTURE,
        pretrained=False,
        num_classes=0,
        img_size=image_size,
        patch_size=patch,
        embed_dim=width,
        depth=depth,
        num_heads=max(1, width // HEAD_WIDTH),
        mlp_ratio=mlp_ratio,
    )


def resampled_position_embedding(embedding: Tensor, grid: int) -> Tensor:
    """[1, 1 + M*M, D] -> [1, 1 + grid*grid, D], as the hub model resamples it."""
    cls, patches = embedding[:, :1].float(), embedding[:, 1:].float()
    side = math.isqrt(patches.shape[1])
    if side == grid:
        return embedding
    scale = (grid + INTERPOLATE_OFFSET) / side
    width = patches.shape[-1]
    resized = F.interpolate(
        patches.reshape(1, side, side, width).permute(0, 3, 1, 2),
        scale_factor=(scale, scale),
        mode="bicubic",
        antialias=False,
    )
    resized = resized.permute(0, 2, 3, 1).reshape(1, grid * grid, width)
    return torch.cat([cls, resized], dim=1).to(embedding.dtype)


def load_network(weights: Path) -> tuple[nn.Module, int]:
    """(the network holding `weights`, its feature width) at the preprocessing's input size."""
    state = torch.load(weights, map_location="cpu", weights_only=True)
    state = {key: value for key, value in state.items() if key not in UNUSED_KEYS}
    width = state["cls_token"].shape[-1]
    depth = len({key.split(".")[1] for key in state if key.startswith("blocks.")})
    mlp_ratio = state["blocks.0.mlp.fc1.weight"].shape[0] / width
    patch = state["patch_embed.proj.weight"].shape[-1]
    grid = PREPROCESSING.size // patch
    state["pos_embed"] = resampled_position_embedding(state["pos_embed"], grid)
    built = network(width, depth, mlp_ratio, patch, PREPROCESSING.size)
    built.load_state_dict(state)
    return built, width


def dinov2_features(configured: str | None, sha256: str | None) -> PretrainedFeatures:
    """The DINOv2 feature network from the configured (else the default) weights file, once
    its sha256 is the expected one."""
    built, width, digest = loaded_network(PUBLISHED, configured, sha256, load_network)
    return PretrainedFeatures(built, PREPROCESSING, width, digest)


def dinov2_space(configured: str | None, sha256: str | None) -> FeatureSpace:
    """The DINOv2 space; its cache name follows the weights file's content."""
    module = dinov2_features(configured, sha256)
    return FeatureSpace(name=f"dinov2-{module.sha256[:16]}", module=module)
