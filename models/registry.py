"""The one list of generative models: `kind` in a config's `model` section picks an entry.

Adding a model means one file in models/ and one line here; the loop never branches on kind.
A model is a LightningModule built as `cls(config, image_shape, lr)` with
`sample(n, generator, batch_size) -> uint8 [n, C, H, W]`; one whose training can fail
(e.g. a GAN) may also set `diverged` to a sentence saying how, which the loop records.
Imports are lazy so that loading a config does not pay for every model's dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

# kind -> (module, config dataclass, LightningModule class)
_MODELS = {
    "vae": ("models.vae", "VAEConfig", "VAE"),
    "dcgan": ("models.dcgan", "DCGANConfig", "DCGAN"),
}


def model_configs() -> dict[str, type]:
    """kind -> the dataclass that validates that model's config section."""
    return {kind: _attr(module, cfg) for kind, (module, cfg, _) in _MODELS.items()}


def build_model(config: Any, image_shape: tuple[int, int, int], lr: float) -> Any:
    """A fresh, untrained model for `config` (a dataclass from `model_configs`)."""
    module, _, cls = _MODELS[config.kind]
    return _attr(module, cls)(config, image_shape, lr)


def _attr(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)
