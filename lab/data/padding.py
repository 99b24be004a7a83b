"""Zero-padding digits to a side a model takes: MNIST's 28x28 inside a 32x32 frame.

Padding adds a black border and changes no pixel of the digit, so the data stays the real
data (the judge's accuracy on it is that of 28x28 digits). The DCGAN needs a side that is 4
times a power of two; 32 is the usual choice for MNIST (pytorch/examples' dcgan resizes to 64
instead, which interpolates every pixel).
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
