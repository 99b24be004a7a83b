"""Pretrained feature networks read from one local weights file, checked by its sha256 first.

This machine has no model hub, so a space's weights are a file the user places (by default in
torch hub's checkpoint cache, where the hub would put it). Any network stored under the file's
name would load, and its features would not be the space's, whatever its name: the file's
sha256 is checked against the expected one before anything is loaded, and a missing, partial
or foreign file is one sentence naming the file, the hash it must have and where it comes
from. A run checks this before its judge or any model trains, so a missing file costs
seconds, not a generation. The Inception space (lab/metrics/inception.py) does the same with
its own sentences.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from lab.errors import FeatureSpaceError
from lab.rundir.storage import sha256_file

# The pip extra that installs the packages of the DINOv2 and CLIP spaces.
EXTRA = "spaces"


@dataclass(frozen=True)
class PublishedWeights:
    """Where one space's published weights come from, and what the file must be."""

    space: str  # the config's name of the space: "dinov2"
    network: str  # in words: "DINOv2 ViT-L/14"
    file: str  # the published file's name
    url: str
    # The published file's sha256 where the lab could verify it, else None: the user pins it
    # (metrics.<space>_sha256) once the file is at hand.
    sha256: str | None
    package: str  # the module the network is built with

    @property
    def weights_key(self) -> str:
        return f"metrics.{self.space}_weights"

    @property
    def sha256_key(self) -> str:
        return f"metrics.{self.space}_sha256"


def weights_path(published: PublishedWeights, configured: str | None) -> Path:
    """The configured file, else torch hub's checkpoint cache under the published name."""
    if configured:
        return Path(configured).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / published.file


def checked_weights(published: PublishedWeights, weights: Path, expected: str | None) -> str:
    """The sha256 of `weights` once it is the expected file (`expected`, else the published
    one) and the space's package is installed; else FeatureSpaceError in one sentence."""
    try:
        importlib.import_module(published.package)
    except ImportError:
        raise FeatureSpaceError(
            f"feature space '{published.space}' needs the {published.package} package; install "
            f"it with `pip install 'collapse-lab[{EXTRA}]'`."
        ) from None
    wanted = (
        f"{published.sha256_key} asks for {expected}"
        if expected
        else f"the published file's is {published.sha256}"
    )
    expected = expected or published.sha256
    must = (
        f"its sha256 must be {expected}"
        if expected
        else f"then set {published.sha256_key} to its sha256"
    )
    if weights.is_dir():
        raise FeatureSpaceError(
            f"feature space '{published.space}' needs the {published.network} weights file "
            f"'{weights}', but that is a folder, not a file; put the file {published.file} "
            f"(from {published.url}) in its place, or point {published.weights_key} at it "
            f"({must})."
        )
    if not weights.is_file():
        raise FeatureSpaceError(
            f"feature space '{published.space}' needs the {published.network} weights file "
            f"'{weights}', which does not exist; download {published.url} on a machine with "
            f"internet and put it there, or point {published.weights_key} at it ({must})."
        )
    digest = sha256_file(weights)
    if expected is None:
        raise FeatureSpaceError(
            f"{published.sha256_key} is not set, so '{weights}' (sha256 {digest}) cannot be "
            f"checked: the lab pins no hash of {published.url} it could verify; compare that "
            f"sha256 with the publisher's, then set {published.sha256_key} to it."
        )
    if digest != expected:
        raise FeatureSpaceError(
            f"'{weights}' is not the expected {published.network} weights file: its sha256 is "
            f"{digest}, but {wanted}; download {published.url} again (a partial download, or "
            "other weights under its name, would give numbers in another space)."
        )
    return digest


def loaded_network(
    published: PublishedWeights,
    configured: str | None,
    sha256: str | None,
    load: Callable[[Path], tuple[torch.nn.Module, int]],
) -> tuple[torch.nn.Module, int, str]:
    """(network, feature width, the file's sha256) from the configured (else the default)
    weights file, once its hash is the expected one; a file with that hash that still does not
    load is one sentence."""
    weights = weights_path(published, configured)
    digest = checked_weights(published, weights, sha256)
    try:
        network, width = load(weights)
    except (OSError, RuntimeError, EOFError, ValueError, KeyError, pickle.UnpicklingError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise FeatureSpaceError(
            f"'{weights}' cannot be loaded as the {published.network} weights ({reason}); "
            f"download it again from {published.url}."
        ) from None
    return network, width, digest
