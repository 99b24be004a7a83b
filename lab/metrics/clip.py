"""The CLIP ViT-L/14 (336 px) feature space, in which Jayasumana et al. (CVPR 2024) measure
CMMD.

The network is open_clip's build of OpenAI's published file `ViT-L-14-336px.pt`, the one the
`clip` package downloads and checks by the sha256 in its URL (open_clip's
`load_openai_model`, which also reads the same layout saved as a plain state dict). The
feature is the image embedding (768-d) scaled to unit length, as the reference code's CLIP
model returns it (scenic's CLIP normalises its embeddings); the preprocessing is cmmd's: the
centre square, resized to 336x336 bicubic, CLIP's mean and standard deviation
(lab/metrics/vit.py).

open_clip rather than transformers (already a dependency) because the hash the lab can pin
with confidence is that of OpenAI's file, stated in its download address, and open_clip reads
that file as published; transformers reads only its own conversion of it, whose hash the lab
could not verify offline. The network's sizes are read from the file, so the tests' small
random CLIP runs through the same code.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from lab.metrics.features import FeatureSpace
from lab.metrics.pretrained import PublishedWeights, loaded_network
from lab.metrics.vit import Preprocessing, PretrainedFeatures

SHA256 = "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02"
PUBLISHED = PublishedWeights(
    space="clip",
    network="CLIP ViT-L/14-336",
    file="ViT-L-14-336px.pt",
    url=f"https://openaipublic.azureedge.net/clip/models/{SHA256}/ViT-L-14-336px.pt",
    sha256=SHA256,
    package="open_clip",
)
# cmmd's CLIP preprocessing: the centre square, 336x336 bicubic, OpenAI CLIP's normalisation.
PREPROCESSING = Preprocessing(
    size=336,
    mean=(0.48145466, 0.4578275, 0.40821073),
    std=(0.26862954, 0.26130258, 0.27577711),
    centre_crop=True,
)


def load_network(weights: Path) -> tuple[nn.Module, int]:
    """(the image tower of the CLIP model in `weights`, its embedding width), in float32."""
    import open_clip

    model = open_clip.load_openai_model(str(weights), precision="fp32", device="cpu")
    return model.visual, int(model.visual.output_dim)


def clip_features(configured: str | None, sha256: str | None) -> PretrainedFeatures:
    """The CLIP feature network from the configured (else the default) weights file, once its
    sha256 is the expected one."""
    visual, width, digest = loaded_network(PUBLISHED, configured, sha256, load_network)
    return PretrainedFeatures(visual, PREPROCESSING, width, digest, unit_length=True)


def clip_space(configured: str | None, sha256: str | None) -> FeatureSpace:
    """The CLIP space; its cache name follows the weights file's content."""
    module = clip_features(configured, sha256)
    return FeatureSpace(name=f"clip-{module.sha256[:16]}", module=module)
