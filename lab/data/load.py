"""Load a real image dataset by its `data.name`; nothing heavy is imported until then."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.data.images import RealData
    from lab.domains.images.settings import ImageDataConfig


def load_real_data(config: ImageDataConfig) -> RealData:
    """Load the dataset a config names; a missing or broken one is one DataError sentence."""
    real = _load(config)
    if config.pad_to is not None:
        from lab.data.padding import pad_to_side

        return pad_to_side(real, config.pad_to)
    return real


def _load(config: ImageDataConfig) -> RealData:
    if config.name == "mnist5k":
        from lab.data.mnist5k import load_mnist5k

        return load_mnist5k(config.heldout_per_class, config.split_seed)
    if config.name == "celeba":
        from lab.data.celeba import load_celeba

        return load_celeba(config.root, config.image_size, config.crop)
    if config.name == "faces":
        from lab.data.faces import load_faces

        return load_faces(
            config.root, config.image_size, config.heldout_fraction, config.split_seed
        )
    from lab.data.mnist import load_mnist

    return load_mnist(config.root, config.download)
