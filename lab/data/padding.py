"""Zero-padding digits to a side a model takes: MNIST's 28x28 inside a 32x32 frame.

Padding adds a black border and changes no pixel of the digit, so the data stays the real
data, where a resize would interpolate every pixel (pytorch/examples' dcgan resizes MNIST to
64x64). The DCGAN needs a side that is 4 times a power of two; 32 is the nearest for MNIST.
"""

from __future__ import annotations

from torch.nn import functional as F

from lab.data.images import ImageSet, RealData


def pad_to_side(real: RealData, side: int) -> RealData:
    """`real` with every image zero-padded, centred, to `side` x `side` (the extra pixel of
    an odd margin goes right and below)."""
    return RealData(
        name=real.name,
        train=_padded(real.train, side),
        heldout=_padded(real.heldout, side),
        class_names=real.class_names,
    )


def _padded(images: ImageSet, side: int) -> ImageSet:
    _, height, width = images.image_shape
    if height > side or width > side:
        raise ValueError(f"cannot pad {height}x{width} images to {side}x{side}")
    top, left = (side - height) // 2, (side - width) // 2
    margins = (left, side - width - left, top, side - height - top)
    return ImageSet(F.pad(images.images, margins).contiguous(), images.labels)
