"""Small, randomly initialised DINOv2 and CLIP weights files in the published files' layouts,
written by the same libraries the lab loads them with (there is no hub here): every path of
the two spaces runs through the lab's own loaders and hash checks, on a network small enough
for a test. Their numbers mean nothing; the published weights give the real ones."""

from __future__ import annotations

from pathlib import Path

import torch

from lab.rundir.storage import sha256_file

# DINOv2: one block 64 wide (one head), at the published file's 518 px position grid.
DINOV2 = {"width": 64, "depth": 1, "mlp_ratio": 2.0, "patch": 14, "image_size": 518}
# CLIP: one vision and one text block 64 wide, a 16-d embedding, at 336 px.
CLIP_EMBEDDING = 16


def write_tiny_dinov2(path: Path) -> str:
    """A small DINOv2 backbone in Meta's file layout (timm's names plus mask_token); its sha256."""
    from lab.metrics.dinov2 import network

    torch.manual_seed(0)
    state = network(**DINOV2).state_dict()
    for key in state:
        if key.endswith(".gamma"):  # timm starts LayerScale at 1e-5: features would not vary
            state[key] = torch.ones_like(state[key])
    state["mask_token"] = torch.zeros(1, DINOV2["width"])
    torch.save(state, path)
    return sha256_file(path)


def write_tiny_clip(path: Path) -> str:
    """A small CLIP in OpenAI's state-dict layout (open_clip's CLIP names it the same); its
    sha256."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(0)
    model = CLIP(
        CLIP_EMBEDDING,
        vision_cfg=CLIPVisionCfg(layers=1, width=64, patch_size=14, image_size=336),
        text_cfg=CLIPTextCfg(context_length=8, vocab_size=64, width=64, heads=1, layers=1),
        quick_gelu=True,
    )
    torch.save(model.state_dict(), path)
    return sha256_file(path)
