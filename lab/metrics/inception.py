"""The standard FID feature space: InceptionV3's 2048-d pool features, as torchmetrics has them.

torchmetrics wraps torch-fidelity's port of the original TensorFlow graph, whose weights are
one file that no package ships; offline it must already be on disk. Any network stored under
that file's name would load, so the file is checked against the published file's sha256
before it is used: features from other weights are not Inception features, whatever their
name. Images are resized with TF1-compatible bilinear interpolation (`antialias=False`), as
classic FID numbers were, and 1-channel images are repeated to 3 channels.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import Tensor, nn

from lab.errors import FeatureSpaceError
from lab.metrics.features import FeatureSpace
from lab.rundir.storage import sha256_file

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}"
# sha256 of that file (95,628,359 bytes), as projects that pin it state it; torch hub's naming
# convention puts its first 8 digits in the file name.
WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
FEATURES = 2048


def weights_path(configured: str | None) -> Path:
    """The configured file, else torch hub's checkpoint cache, where torch-fidelity would
    download it to."""
    if configured:
        return Path(configured).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def checked_weights(weights: Path) -> str:
    """The sha256 of `weights` once it is known to be the published file, torch-fidelity being
    installed; else FeatureSpaceError in one sentence. A run checks this before it trains its
    judge or any model, so a missing file costs seconds, not a generation."""
    try:
        import torch_fidelity  # noqa: F401  (NoTrainInceptionV3 needs it)
    except ImportError:
        raise FeatureSpaceError(
            "feature space 'inception' needs the torch-fidelity package; install it with "
            "`pip install 'collapse-lab[inception]'` or `pip install torch-fidelity`."
        ) from None
    if weights.is_dir():
        raise FeatureSpaceError(
            f"feature space 'inception' needs the InceptionV3 weights file '{weights}', but "
            f"that is a folder, not a file; put the file {WEIGHTS_FILE} (from {WEIGHTS_URL}) "
            "in its place, or point metrics.inception_weights / --inception-weights at it."
        )
    if not weights.is_file():
        raise FeatureSpaceError(
            f"feature space 'inception' needs the InceptionV3 weights file '{weights}', "
            f"which does not exist; download {WEIGHTS_URL} on a machine with internet and "
            f"put it there (or point metrics.inception_weights / --inception-weights at it)."
        )
    digest = sha256_file(weights)
    if digest != WEIGHTS_SHA256:
        raise FeatureSpaceError(
            f"'{weights}' is not the published InceptionV3 weights file: its sha256 is "
            f"{digest}, that of {WEIGHTS_URL} is {WEIGHTS_SHA256}; download it again "
            "(a partial download, or other weights under its name, would give numbers that "
            "are not FID)."
        )
    return digest


class InceptionFeatures(nn.Module):
    """uint8 [N, 1 or 3, H, W] images of any size -> float32 [N, 2048] features."""

    num_features = FEATURES

    def __init__(self, weights: Path) -> None:
        super().__init__()
        self.sha256 = checked_weights(weights)
        from torchmetrics.image.fid import NoTrainInceptionV3

        try:
            self.network = NoTrainInceptionV3(
                name="inception-v3-compat",
                features_list=[str(FEATURES)],
                feature_extractor_weights_path=str(weights),
                antialias=False,
            )
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise FeatureSpaceError(
                f"'{weights}' cannot be loaded as the InceptionV3 weights ({reason}); download "
                f"it again from {WEIGHTS_URL}."
            ) from None

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        return self.network(images).float()


def inception_space(configured: str | None) -> FeatureSpace:
    """The Inception feature space; its cache name follows the weights file's content."""
    module = InceptionFeatures(weights_path(configured))
    return FeatureSpace(name=f"inception-{module.sha256[:16]}", module=module)
