"""Judges: classifiers trained once on real data that label samples and embed them for FID.

A judge is what turns "the digits look alike" into numbers: its labels give class shares
and coverage, its penultimate layer is the feature space for FID (no Inception weights
needed offline, and for 28x28 digits a digit classifier's features mean more anyway).
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from models.pixels import to_unit

_POOLINGS = 2  # two 2x2 max-pools: spatial size / 4


class ClassJudge(L.LightningModule):
    """A small CNN classifier over uint8 images with one label per image."""

    def __init__(
        self, image_shape: tuple[int, int, int], num_classes: int, feature_dim: int, lr: float
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.image_shape = (channels, height, width)
        self.lr = lr
        self.num_features = feature_dim
        flat = 64 * (height >> _POOLINGS) * (width >> _POOLINGS)
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(flat, feature_dim),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate activations of uint8 images: the judge's feature space."""
        return self.body(to_unit(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(images)))

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        images, labels = batch
        loss = F.cross_entropy(self(images), labels)
        self.log("loss", loss, on_epoch=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    def predict_labels(self, images: torch.Tensor) -> torch.Tensor:
        """Class index per image (call under inference mode, on the judge's device)."""
        return self(images).argmax(dim=1)

    def labels_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Class index per image from its `features`, saving a second pass over the images."""
        return self.head(features).argmax(dim=1)


class JudgeFeatures(nn.Module):
    """The judge as a torchmetrics feature extractor: uint8 images in, float features out.

    `num_features` tells torchmetrics the feature size, so it does not probe the network
    with a 299x299 dummy image meant for Inception.
    """

    def __init__(self, judge: ClassJudge) -> None:
        super().__init__()
        self.judge = judge
        self.num_features = judge.num_features

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.judge.features(images).float()
