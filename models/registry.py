"""The one list of generative models: `kind` in a config's `model` section picks an entry.

Adding a model means one file in models/ and one line here; the loop never branches on kind.
Imports are lazy so that loading a config does not pay for every model's dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

# kind -> (module, config dataclass, LightningModule class)
_MODELS = {
    "vae": ("models.vae", "VAEConfig", "VAE"),
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
