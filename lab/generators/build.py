"""Build a model from its recipe, call its `sample`, and save it with what rebuilds it.

A checkpoint (checkpoints/gen_NNN.pt) is one `torch.save`d dict: the class path, the
config's arguments, the inputs the lab passed (the data's shape, train.lr), the folder the
class was imported from when it came from outside the lab, Lightning's `hparams` where the
model saved them (as JSON text), and the weights. `rebuild` needs nothing else, so `eval`,
a report or a notebook can bring back any generation's model from its run folder. Run
folders made before checkpoints said so hold the bare weights; `read_checkpoint` reads both.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lab.errors import ModelContractError
from lab.generators.contract import (
    declared_keywords,
    import_class,
    source_folder,
)
from lab.generators.recipe import Recipe, plain_arguments, recipe_of
from lab.schema import to_plain

# What a checkpoint of this layout says it is, so a later layout can tell it apart.
CHECKPOINT_FORMAT = 1


def build_model(recipe: Recipe, inputs: Mapping[str, Any]) -> torch.nn.Module:
    """`Class(**init_args)` plus those of `inputs` its constructor declares."""
    cls = import_class(recipe.class_path)
    declared = declared_keywords(cls.__init__)
    given = {name: value for name, value in inputs.items() if name in declared}
    return cls(**recipe.init_args, **given)


def build_from_section(section: Any, **inputs: Any) -> torch.nn.Module:
    """A model from a `model:` section (a kind's dataclass or a ClassPathModel) and the lab's
    inputs, e.g. build_from_section(VAEConfig(latent_dim=4), image_shape=(1, 28, 28), lr=1e-3)."""
    return build_model(recipe_of(section), inputs)


def class_conditional(model: torch.nn.Module) -> bool:
    """Whether `model` draws each item for a class (its `class_conditional` hook,
    docs/models.md): it then trains on (items, classes) batches and `sample` is given the
    class of every item to draw."""
    return bool(getattr(model, "class_conditional", False))


def call_sample(model: torch.nn.Module, positional: Sequence[Any], knobs: Mapping[str, Any]) -> Any:
    """`model.sample(*positional, **knobs)`, each knob passed only if `sample` declares it
    (the config check has refused a bias that it does not)."""
    declared = declared_keywords(model.sample)
    return model.sample(*positional, **{k: v for k, v in knobs.items() if k in declared})


def check_drawn(
    model: torch.nn.Module,
    drawn: Any,
    shape: tuple[int, ...],
    call: str,
    wanted: str,
    dtype: torch.dtype = torch.uint8,
) -> torch.Tensor:
    """`drawn` if it is a tensor of `dtype` and `shape`; else a ModelContractError naming the
    class, the call and what it returned (`wanted` says what it should)."""
    if isinstance(drawn, torch.Tensor) and drawn.dtype == dtype and drawn.shape == shape:
        return drawn
    if isinstance(drawn, torch.Tensor):
        got = f"{str(drawn.dtype).removeprefix('torch.')} [{', '.join(map(str, drawn.shape))}]"
    else:
        got = f"a {type(drawn).__name__}"
    name = f"{type(model).__module__}.{type(model).__qualname__}"
    raise ModelContractError(
        f"{name}.{call} returned {got}; it must return {wanted}, "
        f"{str(dtype).removeprefix('torch.')} [{', '.join(map(str, shape))}] (docs/models.md)"
    )


def checkpoint_bytes(model: torch.nn.Module, recipe: Recipe, inputs: Mapping[str, Any]) -> bytes:
    """The model's weights with the class and arguments that rebuild it."""
    declared = declared_keywords(type(model).__init__)
    hparams = getattr(model, "hparams", None)
    saved = {
        "format": CHECKPOINT_FORMAT,
        "class_path": recipe.class_path,
        "init_args": plain_arguments(recipe),
        "inputs": to_plain({k: v for k, v in inputs.items() if k in declared}),
        "source": source_folder(recipe.class_path) if recipe.outside else None,
        "hparams": json.dumps(dict(hparams), default=repr, sort_keys=True) if hparams else None,
        "state_dict": {name: tensor.cpu() for name, tensor in model.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class SavedModel:
    """A checkpoint read back. `recipe` is None for the bare weights of older runs."""

    state_dict: dict[str, torch.Tensor]
    recipe: Recipe | None = None
    inputs: Mapping[str, Any] | None = None
    source: str | None = None


def read_checkpoint(data: bytes) -> SavedModel:
    """A checkpoint's bytes (read through their sha256 by the caller) as a SavedModel."""
    saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if "class_path" not in saved or "state_dict" not in saved:
        return SavedModel(saved)
    recipe = Recipe(
        saved["class_path"], saved["init_args"], "init_args", saved["source"] is not None
    )
    return SavedModel(saved["state_dict"], recipe, saved["inputs"], saved["source"])


def rebuild(
    saved: SavedModel, fallback: Callable[[], tuple[Recipe, Mapping[str, Any]]] | None = None
) -> torch.nn.Module:
    """The saved model with its weights, on the CPU, in eval mode. Weights saved without
    their recipe (bare weights, from runs made before checkpoints said so) need `fallback`:
    the recipe and inputs the run's config gives."""
    if saved.recipe is not None:
        recipe = saved.recipe
        import_class(recipe.class_path, [Path(saved.source)] if saved.source else [])
        # to_plain stored the data's shape as a list; constructors get it as a tuple.
        inputs = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.inputs.items()}
    elif fallback is not None:
        recipe, inputs = fallback()
    else:
        raise ValueError("bare weights need the recipe and inputs of their run's config")
    model = build_model(recipe, inputs)
    model.load_state_dict(saved.state_dict)
    return model.eval()
