"""The one list of generative models: `kind` in a config's `model` section picks an entry.

Adding a model means one file in models/ and one line here; the loop never branches on kind.
A model is a LightningModule built as `cls(config, image_shape, lr)` with
`sample(n, generator, batch_size) -> uint8 [n, C, H, W]`; one whose training can fail
(e.g. a GAN) may also set `diverged` to a sentence saying how, which the loop records.
Imports are lazy so that loading a config does not pay for every model's dependencies.

Vector models (a Gaussian, a Gaussian mixture) are fitted in closed form or by EM rather than
trained, so they have a config dataclass here and no LightningModule; lab/domains/vectors.py
runs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

# kind -> (module, config dataclass, LightningModule class)
_MODELS = {
    "vae": ("models.vae", "VAEConfig", "VAE"),
    "dcgan": ("models.dcgan", "DCGANConfig", "DCGAN"),
}
# kind -> (module, config dataclass)
_VECTOR_MODELS = {
    "gaussian": ("models.gaussian", "GaussianConfig"),
    "gmm": ("models.mixture", "MixtureConfig"),
}


class _ConfigClasses(Mapping[str, type]):
    """kind -> config dataclass, importing a model's module only when its kind is used (a
    Gaussian's config need not load Lightning)."""

    def __init__(self) -> None:
        self._where = {kind: entry[:2] for kind, entry in (_MODELS | _VECTOR_MODELS).items()}

    def __getitem__(self, kind: str) -> type:
        module, cfg = self._where[kind]
        return _attr(module, cfg)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


def model_configs() -> Mapping[str, type]:
    """kind -> the dataclass that validates that model's config section."""
    return _ConfigClasses()


def build_model(config: Any, image_shape: tuple[int, int, int], lr: float) -> Any:
    """A fresh, untrained model for `config` (a dataclass from `model_configs`)."""
    module, _, cls = _MODELS[config.kind]
    return _attr(module, cls)(config, image_shape, lr)


def _attr(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)
