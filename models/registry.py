"""The lab's own trained generative models, by the short name a config gives as `kind`.

Each entry names the kind of data the model makes (a domain, lab/domains/registry.py), the
torch-free dataclass of its `model:` section (models/sections/) and the class it builds.
A `kind:` section is shorthand for `class_path:` + `init_args:`: the class below, with the
section's fields as its arguments (lab/generators/recipe.py). The lab's models are the first
users of the contract every model keeps (docs/models.md): a LightningModule built from
keywords plus the data's shape, trained with `Trainer.fit`, drawing with `sample`. Adding a
model of the lab's own means one file in models/, its section in models/sections/ and one
line here; a model from outside the lab needs none of them.

The vector experiments' Gaussian and mixture fits are not trained and live with their
domain (lab/domains/vectors/).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import NamedTuple


class _Entry(NamedTuple):
    domain: str
    section: str  # module.Class of the model's config section (torch-free)
    class_path: str  # module.Class of the LightningModule


_MODELS = {
    "vae": _Entry("images", "models.sections.vae.VAEConfig", "models.vae.VAE"),
    "dcgan": _Entry("images", "models.sections.dcgan.DCGANConfig", "models.dcgan.DCGAN"),
    "diffusion": _Entry(
        "images", "models.sections.diffusion.DiffusionConfig", "models.diffusion.Diffusion"
    ),
    "gpt": _Entry("text", "models.sections.gpt.GPTConfig", "models.gpt.GPT"),
    "hf_causal_lm": _Entry(
        "text",
        "models.sections.hf_causal_lm.HFCausalLMConfig",
        "models.hf_causal_lm.HFCausalLM",
    ),
}


class _SectionClasses(Mapping[str, type]):
    """kind -> section dataclass, importing a section's module only when its kind is used."""

    def __init__(self, domain: str) -> None:
        self._kinds = [kind for kind, entry in _MODELS.items() if entry.domain == domain]

    def __getitem__(self, kind: str) -> type:
        if kind not in self._kinds:
            raise KeyError(kind)
        module, _, name = _MODELS[kind].section.rpartition(".")
        return getattr(importlib.import_module(module), name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)


def model_configs(domain: str) -> Mapping[str, type]:
    """kind -> the dataclass that validates that model's section, for the models that make
    `domain`'s kind of data."""
    return _SectionClasses(domain)


def class_path_of(kind: str) -> str:
    """The class a `kind:` section builds."""
    return _MODELS[kind].class_path
