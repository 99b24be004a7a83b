"""Generative models and judges. Each model is a LightningModule with `sample(n, generator)`."""
