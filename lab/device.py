"""The one place that decides device and precision; nothing else in the code names CUDA.

On a CUDA card the plan turns on the fast paths: bf16 autocast where the card supports it,
TF32 for the float32 matrix work that stays outside autocast, channels_last images and
weights (the layout the tensor-core convolution kernels want), and `torch.compile` of a
model's parts when `train.compile` asks for it. CPU runs go through the same code with every
fast path off, so the tests on a laptop exercise what the nightly GPU box runs. The bench
(bench/) reaches the card only through this module too: synchronising, peak memory, the
profiler's activities and PyTorch's default flags for the baselines it measures against.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from lab.errors import DeviceError

# The variable that tells a CUDA process which cards it may use (and how to number them).
CARDS_VARIABLE = "CUDA_VISIBLE_DEVICES"
# cuBLAS needs a fixed workspace to be deterministic (torch's reproducibility notes).
_CUBLAS_DETERMINISTIC_WORKSPACE = ":4096:8"
# Images and convolution weights have 4 dimensions; channels_last applies to those alone.
_IMAGE_DIMS = 4


@dataclass(frozen=True)
class DevicePlan:
    """Where tensors live and how arithmetic is done, for training, sampling and metrics."""

    device: torch.device
    precision: Literal["32-true", "bf16-mixed"]
    deterministic: bool
    # Keep images and convolution weights in NHWC order (tensor cores' layout).
    channels_last: bool = False
    # torch.compile backend for each part of a model ("inductor" on GPUs), or None: eager.
    compiler: str | None = None

    @property
    def is_accelerated(self) -> bool:
        return self.device.type != "cpu"

    def trainer_kwargs(self) -> dict[str, Any]:
        """Arguments for lightning.Trainer that follow from this plan. cuDNN's autotuner
        (`benchmark`) picks algorithms by timing them, which may differ between runs, so it
        is on only where the run need not be deterministic."""
        return {
            "accelerator": "gpu" if self.is_accelerated else "cpu",
            "devices": 1,
            "precision": self.precision,
            "deterministic": self.deterministic,
            "benchmark": self.is_accelerated and not self.deterministic,
        }

    def prepare(self, module: nn.Module) -> nn.Module:
        """Lay out `module`'s weights and compile its parts as the plan says, in place.

        Each direct child that holds parameters (a VAE's encoder and decoder, a GAN's
        generator and discriminator) is compiled on its own, in place (`nn.Module.compile`),
        so the module's own methods (training_step, sample) stay plain Python and its
        state_dict keys do not change.
        """
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        if self.compiler is not None:
            for child in module.children():
                if next(child.parameters(), None) is not None:
                    child.compile(backend=self.compiler)
        return module

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
        """`tensor` on the plan's device; images (4-D) in channels_last when the plan says so.
        Index slices of a channels_last tensor stay channels_last, so on-device batches
        reach the first convolution in its layout without a copy."""
        if self.channels_last and tensor.dim() == _IMAGE_DIMS:
            return tensor.to(self.device, memory_format=torch.channels_last, non_blocking=True)
        return tensor.to(self.device, non_blocking=True)

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype the bulk of the arithmetic runs in under this plan."""
        return torch.bfloat16 if self.precision == "bf16-mixed" else torch.float32

    def describe(self) -> str:
        """The card's name (or the CPU's), as benchmark tables name the machine."""
        if self.is_accelerated:
            return torch.cuda.get_device_name(self.device)
        return platform.processor() or platform.machine() or "cpu"

    def synchronize(self) -> None:
        """Wait for queued device work, so a host clock read after it times that work."""
        if self.is_accelerated:
            torch.cuda.synchronize(self.device)

    def reset_peak_memory(self) -> None:
        if self.is_accelerated:
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_memory_bytes(self) -> int | None:
        """Most device memory allocated since the last reset; None on the CPU."""
        if self.is_accelerated:
            return int(torch.cuda.max_memory_allocated(self.device))
        return None

    def profiler_activities(self) -> list[torch.profiler.ProfilerActivity]:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if self.is_accelerated:
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        return activities


def plan_device(
    accelerator: Literal["auto", "cpu", "cuda"],
    precision: Literal["auto", "32-true", "bf16-mixed"],
    deterministic: bool,
    compile: bool = False,
) -> DevicePlan:
    """Resolve `train.accelerator`, `train.precision` and `train.compile` against what this
    machine has. On the CPU the fast paths stay off: `compile` is ignored there, where
    compiling costs more than it saves on models this small."""
    has_cuda = torch.cuda.is_available()
    if accelerator == "cuda" and not has_cuda:
        raise DeviceError(
            f"train.accelerator is 'cuda' but torch {torch.__version__} sees no CUDA device here; "
            "set train.accelerator to 'auto' or 'cpu'."
        )
    use_cuda = has_cuda and accelerator != "cpu"
    if precision == "auto":
        precision = "bf16-mixed" if use_cuda and torch.cuda.is_bf16_supported() else "32-true"
    if use_cuda and compile and importlib.util.find_spec("triton") is None:
        raise DeviceError(
            f"train.compile is true but torch.compile needs the triton package on CUDA, which "
            f"is not installed beside torch {torch.__version__}; install triton or set "
            "train.compile to false."
        )
    if use_cuda:
        _fast_float32()
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", _CUBLAS_DETERMINISTIC_WORKSPACE)
    device = torch.device("cuda", torch.cuda.current_device()) if use_cuda else torch.device("cpu")
    return DevicePlan(
        device=device,
        precision=precision,
        deterministic=deterministic,
        channels_last=use_cuda,
        compiler="inductor" if use_cuda and compile else None,
    )


def visible_cards() -> list[str]:
    """The CUDA cards this process may use, each named as a child's CUDA_VISIBLE_DEVICES
    would name it: the entries of this process's own CUDA_VISIBLE_DEVICES when it is set,
    else 0 .. count - 1. A sweep pins each of its cells to one of them (lab/sweeps/local.py),
    and a child pinned to one card sees it as its only device, cuda:0."""
    count = torch.cuda.device_count()
    listed = os.environ.get(CARDS_VARIABLE)
    if listed is None:
        return [str(index) for index in range(count)]
    return [name.strip() for name in listed.split(",") if name.strip()][:count]


def card_environment(card: str) -> dict[str, str]:
    """What a child process's environment needs to use `card` alone."""
    return {CARDS_VARIABLE: card}


def _fast_float32() -> None:
    """TF32 for float32 matrix products and convolutions (10-bit mantissa, float32 range):
    what stays in float32 under autocast, and everything under 32-true."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


@contextlib.contextmanager
def pytorch_defaults(benchmark: bool = False) -> Iterator[None]:
    """PyTorch's default numerics for the duration, restoring the current ones after: how
    code copied from pytorch/examples runs (float32 matmuls without TF32, cuDNN's TF32
    convolutions, nondeterministic algorithms allowed; `benchmark` as the example sets it).
    The bench runs its baselines inside this, since a plan and Lightning change these flags
    for the whole process."""
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cudnn.benchmark,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = benchmark
    torch.use_deterministic_algorithms(False)
    try:
        yield
    finally:
        matmul, cudnn_tf32, cudnn_benchmark, deterministic, warn_only = saved
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn_tf32
        torch.backends.cudnn.benchmark = cudnn_benchmark
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


# What torch says when an allocation fails on the CPU (its allocator) or on a card.
_OUT_OF_MEMORY_WORDS = ("can't allocate memory", "not enough memory", "out of memory")


def out_of_memory(error: BaseException) -> bool:
    """Whether `error` is an allocation that failed, on the CPU or a card."""
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    message = str(error).lower()
    return isinstance(error, RuntimeError) and any(w in message for w in _OUT_OF_MEMORY_WORDS)


# What torch's allocators say they were asked for: "... tried to allocate 8189952 bytes ..."
# on the CPU, "... Tried to allocate 2.00 GiB ..." on a card.
_ALLOCATION = re.compile(r"tried to allocate ([\d.]+ ?\w+)", re.IGNORECASE)


def allocation(error: BaseException) -> str:
    """What an out-of-memory error says was asked for, in a few words."""
    asked = _ALLOCATION.search(str(error))
    return f"it asked for {asked.group(1)} more" if asked else type(error).__name__
