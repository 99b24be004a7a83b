"""One generation's model: built fresh, seeded from (seed, generation), trained with the
budget every generation shares. Used by every domain whose models train with Lightning."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from lightning.pytorch.loggers import Logger

from lab.device import DevicePlan
from lab.errors import DataError
from lab.experiment import ExperimentConfig
from lab.generators.build import build_model, class_conditional
from lab.generators.recipe import recipe_of
from lab.training.fit import fit
from lab.training.seeding import derive_seed, seed_everything


def train_generation(
    config: ExperimentConfig,
    generation: int,
    items: torch.Tensor,
    real_size: int,
    plan: DevicePlan,
    inputs: Mapping[str, Any],
    loggers: Sequence[Logger] = (),
    start: Mapping[str, torch.Tensor] | None = None,
    classes: torch.Tensor | None = None,
) -> tuple[torch.nn.Module, int]:
    """A model of `config.model`, built with `inputs` (the data's shape, train.lr) and seeded
    from (seed, generation), starting from the weights `start` when given (train.init_from:
    previous), trained on `items` (a tensor indexed along its first dimension: images, token
    sequences), and on each item's class from `classes` when the model is class-conditional;
    and its step count."""
    seed_everything(derive_seed(config.seed, "model", generation))
    model = build_model(recipe_of(config.model), inputs)
    if start is not None:
        model.load_state_dict(start)
    tensors = [items]
    if class_conditional(model):
        if classes is None:
            raise DataError(
                f"model.{config.model_name} is class-conditional, but generation {generation}'s "
                "training set has no class for every item; use data with classes, or an "
                "unconditional model"
            )
        tensors.append(classes)
    max_epochs, max_steps = training_budget(config, real_size)
    steps = fit(
        model,
        tensors,
        plan=plan,
        batch_size=config.train.batch_size,
        seed=derive_seed(config.seed, "batches", generation),
        max_epochs=max_epochs,
        max_steps=max_steps,
        label=f"generation {generation}/{config.generations - 1}",
        loggers=loggers,
        log_every_n_steps=config.logging.every_n_steps,
    )
    return model, steps


def training_budget(config: ExperimentConfig, real_size: int) -> tuple[int | None, int | None]:
    """(max_epochs, max_steps) for every generation: with `train.fixed_budget`, epochs count
    passes over the real training set and become a step budget shared by all generations."""
    train = config.train
    if train.max_steps is not None:
        return None, train.max_steps
    if train.fixed_budget:
        return None, train.max_epochs * (real_size // train.batch_size)
    return train.max_epochs, None
