"""Train any LightningModule on in-memory uint8 tensors with `Trainer.fit`.

Shared by generative models and judges, so both get the same device plan, the same
on-device batches and the same quiet, progress-bar-only output.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger
from lightning.pytorch.trainer.states import TrainerStatus
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lab.device import DevicePlan
from lab.errors import EXIT_SIGINT, EXIT_SIGTERM, Interrupted
from lab.training.batches import IndexBatches
from lab.training.progress import TrainingProgress

# Lightning's start-up banner ("GPU available: ...", "Seed set to ...") says nothing our
# own output does not; warnings stay visible.
for _name in ("lightning.pytorch", "lightning.fabric", "lightning"):
    logging.getLogger(_name).setLevel(logging.WARNING)
# Lightning 2.6 calls an API that torch 2.14 deprecates, once per fit; nothing for users to do.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
# Logging every n steps counts steps across epochs, so short epochs lose nothing.
warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")


def fit(
    module: L.LightningModule,
    tensors: Sequence[torch.Tensor],
    *,
    plan: DevicePlan,
    batch_size: int,
    seed: int,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    label: str = "train",
    loggers: Sequence[Logger] = (),
    log_every_n_steps: int = 50,
    callbacks: Sequence[Callback] = (),
) -> int:
    """Train `module` on `tensors` (images, and labels for a classifier) in place; what the
    module logs goes to `loggers` (none: nothing is written), and `callbacks` watch the
    training (the bench times steps with one). Returns the optimiser steps."""
    batches = IndexBatches([plan.place(t) for t in tensors], batch_size, seed)
    plan.prepare(module)
    trainer = L.Trainer(
        max_epochs=max_epochs if max_epochs is not None else -1,
        max_steps=max_steps if max_steps is not None else -1,
        logger=list(loggers) or False,
        log_every_n_steps=log_every_n_steps,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[TrainingProgress(label), *callbacks],
        **plan.trainer_kwargs(),
    )
    try:
        trainer.fit(module, train_dataloaders=batches)
    except SystemExit as stop:
        if trainer.state.status != TrainerStatus.INTERRUPTED:
            raise
        if isinstance(stop, SIGTERMException):
            raise Interrupted("SIGTERM", EXIT_SIGTERM) from None
        raise Interrupted("Ctrl-C", EXIT_SIGINT) from None
    # Lightning hands the module back on the CPU; sampling and judging run on the plan's device.
    module.to(plan.device)
    module.eval()
    return trainer.global_step
