"""Judges: classifiers trained once on real data that label samples and embed them for FID.

A judge is what turns "the digits look alike" into numbers: its labels give class shares
and coverage, its penultimate layer is the feature space for FID (no Inception weights
needed offline, and for 28x28 digits a digit classifier's features mean more anyway).

Which judge a run gets follows from its data's labels (lab/domains/images/labels.py):
  ClassJudge      one class per image (MNIST digits): softmax over the classes.
  AttributeJudge  a 0/1 attribute matrix (CelebA's 40 attributes): one sigmoid per attribute.
  RotationJudge   no labels (a folder of faces): predicts which of four rotations an image
                  was turned by (Gidaris et al., ICLR 2018). The task needs no labels, and
                  solving it means finding the eyes, mouth and hair, so its features are a
                  label-free FID space; its labels of samples mean nothing and are not used.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from lab.data.images import ImageSet
from models.pixels import to_unit

_POOLINGS = 2  # the digit judge's two 2x2 max-pools: spatial size / 4
_FACE_BLOCKS = 4  # the face judges' conv blocks, each doubling the channels and halving the side
_FACE_POOLED_SIDE = 4  # their last map is pooled to 4x4 whatever the image size
_DROPOUT = 0.3
ROTATIONS = 4  # quarter turns


class Judge(L.LightningModule):
    """A CNN body whose output is the feature space, then dropout and a linear head."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        body: nn.Module,
        feature_dim: int,
        num_outputs: int,
        lr: float,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)  # what the judge accepts (eval checks inputs)
        self.lr = lr
        self.num_features = feature_dim
        self.body = body
        self.dropout = nn.Dropout(_DROPOUT)
        self.head = nn.Linear(feature_dim, num_outputs)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate activations of uint8 images: the judge's feature space."""
        return self.body(to_unit(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(images)))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    @staticmethod
    def training_tensors(split: ImageSet) -> list[torch.Tensor]:
        """What `fit` slices into batches for this judge."""
        return [split.images, split.labels]

    @staticmethod
    def evaluation(split: ImageSet) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, the labels `predict_labels` should give them): the accuracy test."""
        return split.images, split.labels


class ClassJudge(Judge):
    """A small CNN classifier over uint8 images with one label per image."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        feature_dim: int,
        lr: float,
        width: int = 32,
    ) -> None:
        channels, height, width_px = image_shape
        flat = 2 * width * (height >> _POOLINGS) * (width_px >> _POOLINGS)
        body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(flat, feature_dim),
            nn.ReLU(),
        )
        super().__init__(image_shape, body, feature_dim, num_classes, lr)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        images, labels = batch
        loss = F.cross_entropy(self(images), labels)
        self.log("loss", loss, on_epoch=True)
        return loss

    def predict_labels(self, images: torch.Tensor) -> torch.Tensor:
        """Class index per image (call under inference mode, on the judge's device)."""
        return self(images).argmax(dim=1)


class AttributeJudge(Judge):
    """Predicts K binary attributes per image (CelebA's 40), one sigmoid each."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_attributes: int,
        feature_dim: int,
        lr: float,
        width: int = 32,
    ) -> None:
        body = face_body(image_shape[0], feature_dim, width)
        super().__init__(image_shape, body, feature_dim, num_attributes, lr)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        images, attributes = batch
        loss = F.binary_cross_entropy_with_logits(self(images).float(), attributes.float())
        self.log("loss", loss, on_epoch=True)
        return loss

    def predict_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """The probability of each attribute, float32 [N, K]."""
        return torch.sigmoid(self(images).float())

    def predict_labels(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, K]: 1 where the judge thinks the attribute is more likely present."""
        return (self(images) > 0).to(torch.uint8)


class RotationJudge(Judge):
    """Predicts the quarter turn an image was rotated by: a judge for data without labels."""

    def __init__(
        self, image_shape: tuple[int, int, int], feature_dim: int, lr: float, width: int = 32
    ) -> None:
        body = face_body(image_shape[0], feature_dim, width)
        super().__init__(image_shape, body, feature_dim, ROTATIONS, lr)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        # Batches are shuffled every epoch, so turning the i-th image by i % 4 quarters is a
        # fresh, balanced draw of rotations without a random generator.
        turns = torch.arange(len(batch), device=batch.device) % ROTATIONS
        loss = F.cross_entropy(self(rotate(batch, turns)), turns)
        self.log("loss", loss, on_epoch=True)
        return loss

    def predict_labels(self, images: torch.Tensor) -> torch.Tensor:
        """Predicted quarter turns (0-3) per image."""
        return self(images).argmax(dim=1)

    @staticmethod
    def training_tensors(split: ImageSet) -> list[torch.Tensor]:
        return [split.images]

    @staticmethod
    def evaluation(split: ImageSet) -> tuple[torch.Tensor, torch.Tensor]:
        """Every held-out image in all four rotations."""
        images = split.images
        turns = torch.arange(ROTATIONS).repeat_interleave(len(images))
        return rotate(images.repeat(ROTATIONS, 1, 1, 1), turns), turns


def rotate(images: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Each square image [C, H, W] turned counter-clockwise by its number of quarter turns."""
    rotated = images.clone()
    for quarter in range(1, ROTATIONS):
        chosen = turns == quarter
        rotated[chosen] = torch.rot90(images[chosen], quarter, dims=(2, 3))
    return rotated


def face_body(channels: int, feature_dim: int, width: int) -> nn.Sequential:
    """Four conv-BN-ReLU-maxpool blocks (width, 2x, 4x, 8x channels), pooled to 4x4, then a
    linear layer to the feature space: enough for 64x64 faces, cheap enough for a CPU test."""
    layers: list[nn.Module] = []
    previous = channels
    for block in range(_FACE_BLOCKS):
        count = width * 2**block
        layers += [
            nn.Conv2d(previous, count, 3, padding=1, bias=False),
            nn.BatchNorm2d(count),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]
        previous = count
    flat = previous * _FACE_POOLED_SIDE**2
    layers += [
        AveragePoolTo(_FACE_POOLED_SIDE),
        nn.Flatten(),
        nn.Linear(flat, feature_dim),
        nn.ReLU(),
    ]
    return nn.Sequential(*layers)


class AveragePoolTo(nn.Module):
    """Adaptive average pooling to `side` x `side`, as `nn.AdaptiveAvgPool2d` computes it (bin
    i of n inputs spans floor(i n / side) to ceil((i + 1) n / side)), written as one matrix
    product per axis. AdaptiveAvgPool2d's backward pass on GPUs adds with atomics, so PyTorch
    refuses it under deterministic algorithms (`train.deterministic`, the default); a matrix
    product's backward is deterministic."""

    def __init__(self, side: int) -> None:
        super().__init__()
        self.side = side

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        rows = _pooling_matrix(maps.shape[-2], self.side, maps)
        columns = _pooling_matrix(maps.shape[-1], self.side, maps)
        return torch.einsum("ih,nchw,jw->ncij", rows, maps, columns)


def _pooling_matrix(size: int, side: int, like: torch.Tensor) -> torch.Tensor:
    """[side, size]: row i averages the inputs of output bin i."""
    inputs = torch.arange(size, device=like.device)
    bins = torch.arange(side, device=like.device)
    start = (bins * size) // side
    end = ((bins + 1) * size + side - 1) // side
    inside = (inputs >= start[:, None]) & (inputs < end[:, None])
    return inside.to(like.dtype) / (end - start)[:, None].to(like.dtype)


class JudgeFeatures(nn.Module):
    """The judge as a torchmetrics feature extractor: uint8 images in, float features out.

    `num_features` tells torchmetrics the feature size, so it does not probe the network
    with a 299x299 dummy image meant for Inception.
    """

    def __init__(self, judge: Judge) -> None:
        super().__init__()
        self.judge = judge
        self.num_features = judge.num_features

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.judge.features(images).float()
