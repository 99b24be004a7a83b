"""One progress bar per training run, saying which generation and epoch it is in."""

from __future__ import annotations

import lightning as L
from tqdm.auto import tqdm

from lab.rundir import faults


class TrainingProgress(L.Callback):
    """A tqdm bar over optimiser steps; hidden automatically when stderr is not a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: tqdm | None = None

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        total = int(trainer.estimated_stepping_batches)
        self.bar = tqdm(total=total, desc=self.label, unit="step", leave=False, disable=None)

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.bar is not None and trainer.max_epochs and trainer.max_epochs > 0:
            epoch = f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
            self.bar.set_description(f"{self.label} {epoch}")

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        faults.reached(f"step:{self.label}:{trainer.global_step}")
        if self.bar is None:
            return
        self.bar.update(1)
        # A manually optimised module (the GAN) may return nothing, so outputs is {}.
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None and self.bar.n % 10 == 0:
            self.bar.set_postfix(loss=f"{float(loss):.4g}")

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
