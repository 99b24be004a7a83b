"""The one place that decides device and precision; nothing else in the code names CUDA.

CPU runs go through the same code with the fast paths off, so the tests on a laptop exercise
what the nightly GPU box runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch

from lab.errors import DeviceError

# cuBLAS needs a fixed workspace to be deterministic (torch's reproducibility notes).
_CUBLAS_DETERMINISTIC_WORKSPACE = ":4096:8"


@dataclass(frozen=True)
class DevicePlan:
    """Where tensors live and how arithmetic is done, for training, sampling and metrics."""

    device: torch.device
    precision: Literal["32-true", "bf16-mixed"]
    deterministic: bool

    @property
    def is_accelerated(self) -> bool:
        return self.device.type != "cpu"

    def trainer_kwargs(self) -> dict[str, Any]:
        """Arguments for lightning.Trainer that follow from this plan."""
        return {
            "accelerator": "gpu" if self.is_accelerated else "cpu",
            "devices": 1,
            "precision": self.precision,
            "deterministic": self.deterministic,
        }

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """Sampling and feature extraction: no autograd, autocast as in training."""
        enabled = self.precision == "bf16-mixed"
        with (
            torch.inference_mode(),
            torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled),
        ):
            yield

    def place(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device, non_blocking=True)


def plan_device(
    accelerator: Literal["auto", "cpu", "cuda"],
    precision: Literal["auto", "32-true", "bf16-mixed"],
    deterministic: bool,
) -> DevicePlan:
    """Resolve `train.accelerator` and `train.precision` against what this machine has."""
    has_cuda = torch.cuda.is_available()
    if accelerator == "cuda" and not has_cuda:
        raise DeviceError(
            f"train.accelerator is 'cuda' but torch {torch.__version__} sees no CUDA device here; "
            "set train.accelerator to 'auto' or 'cpu'."
        )
    use_cuda = has_cuda and accelerator != "cpu"
    if precision == "auto":
        precision = "bf16-mixed" if use_cuda and torch.cuda.is_bf16_supported() else "32-true"
    if use_cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = not deterministic
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", _CUBLAS_DETERMINISTIC_WORKSPACE)
    device = torch.device("cuda", torch.cuda.current_device()) if use_cuda else torch.device("cpu")
    return DevicePlan(device=device, precision=precision, deterministic=deterministic)
