"""The one list of trained generative models: `kind` in a config's `model` section picks one.

Adding a model means one file in models/ and one line here; the loop never branches on kind.
Each entry names the kind of data the model makes (a domain, lab/domains/registry.py), which
is how a config's model and data are checked to fit. A model is a LightningModule built as
`cls(config, shape, lr)`, `shape` being one training item's (an image's [C, H, W], a byte
sequence's [L]), that trains with `Trainer.fit`. An image model offers
`sample(n, generator, batch_size, temperature, truncation) -> uint8 [n, C, H, W]`; one whose
training can fail (a GAN) may also set `diverged` to a sentence saying how, which the loop
records (models/sampling.py sets it for any model whose images come out NaN or infinite). A
model whose architecture fixes the image side (the DCGAN) gives its config an
`image_side_problem(side) -> str | None`, asked when a config loads. A language model offers
`sample(prompts, length, generator, batch_size, temperature) -> uint8 [n, length]`
(models/gpt.py). Imports are lazy so that loading a config does not pay for every model's
dependencies.

The vector experiments' Gaussian and mixture fits are not trained and live with their
domain (lab/domains/vectors/).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple


class _Entry(NamedTuple):
    domain: str
    module: str
    config: str
    model: str


_MODELS = {
    "vae": _Entry("images", "models.vae", "VAEConfig", "VAE"),
    "dcgan": _Entry("images", "models.dcgan", "DCGANConfig", "DCGAN"),
    "gpt": _Entry("text", "models.gpt", "GPTConfig", "GPT"),
}


class _ConfigClasses(Mapping[str, type]):
    """kind -> config dataclass, importing a model's module only when its kind is used."""

    def __init__(self, domain: str) -> None:
        self._kinds = [kind for kind, entry in _MODELS.items() if entry.domain == domain]

    def __getitem__(self, kind: str) -> type:
        if kind not in self._kinds:
            raise KeyError(kind)
        entry = _MODELS[kind]
        return _attr(entry.module, entry.config)

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)


def model_configs(domain: str) -> Mapping[str, type]:
    """kind -> the dataclass that validates that model's config section, for the models
    that make `domain`'s kind of data."""
    return _ConfigClasses(domain)


def build_model(config: Any, shape: tuple[int, ...], lr: float) -> Any:
    """A fresh, untrained model for `config` (a dataclass from `model_configs`) and items of
    `shape`."""
    entry = _MODELS[config.kind]
    return _attr(entry.module, entry.model)(config, shape, lr)


def _attr(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)
