"""What the DINOv2 and CLIP spaces share: the reference code's preprocessing, and a network
that maps the preprocessed images to one vector each.

Both reference implementations read images with PIL and resize them with PIL's BICUBIC filter
(antialiased, its output rounded back to uint8) before scaling to [0, 1] and normalising with
the network's own mean and standard deviation: dgm-eval (Stein et al. 2023) resizes to
224x224 for DINOv2 (`torchvision.transforms.Resize((224, 224), BICUBIC)` on a PIL image), and
google-research's cmmd (`io_util._center_crop_and_resize`) crops the centre square and resizes
it to 336x336 for CLIP. torch's bicubic interpolation with `antialias=True` is PIL's filter
(a = -0.5, the same support when shrinking), run as PIL runs it on a uint8 image: the width,
then the height, each pass rounded and clipped to 0..255 (tests/test_feature_spaces.py checks
it against PIL to one level); grey images are repeated to three channels, as both read them as
RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

UINT8_MAX = 255.0


@dataclass(frozen=True)
class Preprocessing:
    """How one space's reference code turns an image into the network's input."""

    size: int  # square side the image is resized to
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    centre_crop: bool  # crop the centre square first (CMMD) rather than stretch (dgm-eval)

    def __call__(self, images: Tensor) -> Tensor:
        """uint8 [N, 1 or 3, H, W] -> float32 [N, 3, size, size], normalised."""
        if self.centre_crop:
            images = centre_square(images)
        pixels = pil_bicubic(images.float(), self.size)  # grey: one channel, a third the work
        if pixels.shape[1] == 1:
            pixels = pixels.expand(-1, 3, -1, -1)
        mean = torch.tensor(self.mean, device=pixels.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=pixels.device).view(1, 3, 1, 1)
        return (pixels / UINT8_MAX - mean) / std


def pil_bicubic(pixels: Tensor, size: int) -> Tensor:
    """[N, C, H, W] uint8 values resized to size x size as PIL's BICUBIC does it on a uint8
    image: the width first, then the height, each pass rounded and clipped to uint8."""
    height, width = pixels.shape[-2:]
    for shape in ((height, size), (size, size)):
        if tuple(pixels.shape[-2:]) != shape:
            pixels = F.interpolate(pixels, size=shape, mode="bicubic", antialias=True)
            pixels = pixels.round().clamp(0, UINT8_MAX)
    return pixels


def centre_square(images: Tensor) -> Tensor:
    """The centre square of each image, as cmmd's io_util crops it (offsets rounded down)."""
    height, width = images.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return images[..., top : top + side, left : left + side]


class PretrainedFeatures(nn.Module):
    """uint8 [N, 1 or 3, H, W] images of any size -> float32 [N, D] features of `network`,
    which takes the preprocessed images; `sha256` names the weights it holds."""

    def __init__(
        self,
        network: nn.Module,
        preprocessing: Preprocessing,
        num_features: int,
        sha256: str,
        unit_length: bool = False,
    ) -> None:
        super().__init__()
        self.network = network.eval()
        self.preprocessing = preprocessing
        self.num_features = num_features
        self.sha256 = sha256
        self.unit_length = unit_length

    def forward(self, images: Tensor) -> Tensor:
        features = self.network(self.preprocessing(images)).float()
        return F.normalize(features, dim=-1) if self.unit_length else features
