"""Training a LightningModule on in-memory uint8 tensors: `Trainer.fit` with on-device index
batches, seeds derived from (seed, purpose, generation), progress and per-generation logs."""
