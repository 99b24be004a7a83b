"""The lab's own path, measured as the loop runs it: `lab.training.fit` (Lightning, on-device
uint8 batches, the plan's precision, layout and compiler), `model.sample` under
`plan.inference()`, a count of a training step's FLOPs, and a profile of the steps."""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L
import torch
from torch.autograd import DeviceType
from torch.utils.flop_counter import FlopCounterMode

from bench.baselines import Throughput
from lab.device import DevicePlan
from lab.training.fit import fit
from lab.training.seeding import cpu_generator, seed_everything

# Rows of the profiler's table kept in the profile file.
_PROFILE_ROWS = 30


class StepTimer(L.Callback):
    """Times training batches `warmup` .. `warmup + measured` (host clock, device synced at
    both ends); the warm-up absorbs compilation and cuDNN's algorithm choice."""

    def __init__(self, plan: DevicePlan, warmup: int, measured: int, batch_size: int) -> None:
        self.plan = plan
        self.warmup = warmup
        self.last = warmup + measured
        self.batch_size = batch_size
        self.seen = 0
        self.started = self.began = self.ended = 0.0

    def on_train_start(self, trainer, module) -> None:  # noqa: ANN001
        self.started = time.perf_counter()

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:  # noqa: ANN001
        if self.seen == self.warmup:
            self.plan.synchronize()
            self.plan.reset_peak_memory()
            self.began = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self.seen += 1
        if self.seen == self.last:
            self.plan.synchronize()
            self.ended = time.perf_counter()

    def result(self) -> Throughput:
        if self.seen < self.last:
            raise RuntimeError(f"training stopped after {self.seen} of {self.last} batches")
        images = (self.last - self.warmup) * self.batch_size
        peak = self.plan.peak_memory_bytes()
        return Throughput(
            images,
            self.ended - self.began,
            None if peak is None else peak / 2**20,
            warmup_s=self.began - self.started,
        )


def train_throughput(
    plan: DevicePlan,
    model: L.LightningModule,
    images: torch.Tensor,
    batch_size: int,
    steps_per_batch: int,
    warmup: int,
    measured: int,
) -> Throughput:
    """Images per second of `fit` on uint8 `images` (placed on the device by fit, as the loop
    does); `steps_per_batch` is how many optimiser steps Lightning counts per batch."""
    seed_everything(0)
    timer = StepTimer(plan, warmup, measured, batch_size)
    fit(
        model,
        [images],
        plan=plan,
        batch_size=batch_size,
        seed=0,
        max_steps=(warmup + measured) * steps_per_batch,
        label="bench",
        callbacks=[timer],
    )
    return timer.result()


def flops_per_batch(
    plan: DevicePlan,
    model: L.LightningModule,
    images: torch.Tensor,
    batch_size: int,
    steps_per_batch: int,
) -> int:
    """FLOPs of one training batch, counted by torch.utils.flop_counter over a real `fit` of
    one batch (convolutions and matrix products; the optimiser's elementwise work is not
    counted). Needs an eager plan: compiled code hides its operations from the counter."""
    with FlopCounterMode(display=False) as counter:
        fit(
            model,
            [images[:batch_size]],
            plan=plan,
            batch_size=batch_size,
            seed=0,
            max_steps=steps_per_batch,
            label="bench flops",
        )
    return int(counter.get_total_flops())


def sampling_throughput(
    plan: DevicePlan, model: L.LightningModule, count: int, batch_size: int
) -> Throughput:
    """Images per second of `model.sample` as the loop calls it (latents drawn on the CPU,
    uint8 images returned to the CPU)."""
    with plan.inference():
        model.sample(batch_size, cpu_generator(1), batch_size)  # warm-up
        plan.synchronize()
        plan.reset_peak_memory()
        began = time.perf_counter()
        drawn = model.sample(count, cpu_generator(0), batch_size)
        seconds = time.perf_counter() - began
    peak = plan.peak_memory_bytes()
    return Throughput(len(drawn), seconds, None if peak is None else peak / 2**20)


def matmul_flops_per_s(plan: DevicePlan, side: int, repeats: int) -> float:
    """FLOP/s of a plain square matrix product in the plan's compute dtype, on random data:
    the ceiling a training step's achieved FLOP/s is compared with."""
    generator = torch.Generator(device=plan.device).manual_seed(0)
    a, b = (
        torch.randn(side, side, device=plan.device, dtype=plan.compute_dtype, generator=generator)
        for _ in range(2)
    )
    for _ in range(3):
        a @ b
    plan.synchronize()
    began = time.perf_counter()
    for _ in range(repeats):
        a @ b
    plan.synchronize()
    return 2 * side**3 * repeats / (time.perf_counter() - began)


class _ProfileSteps(L.Callback):
    """Advances the profiler's schedule per batch and times the active window."""

    def __init__(self, profiler: torch.profiler.profile, plan: DevicePlan, skip: int, active: int):
        self.profiler = profiler
        self.plan = plan
        self.first, self.last = skip, skip + active
        self.seen = 0
        self.began = self.ended = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:  # noqa: ANN001
        if self.seen == self.first:
            self.plan.synchronize()
            self.began = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self.seen += 1
        if self.seen == self.last:
            self.plan.synchronize()
            self.ended = time.perf_counter()
        self.profiler.step()


def profile_training(
    plan: DevicePlan,
    model: L.LightningModule,
    images: torch.Tensor,
    batch_size: int,
    steps_per_batch: int,
    skip: int,
    active: int,
    output: Path,
) -> dict[str, float | None]:
    """Profile `active` training batches after `skip` warm-up ones; writes the operator table
    to `output` and returns the wall and device milliseconds per batch and the share of the
    wall time the device was busy (None on the CPU)."""
    schedule = torch.profiler.schedule(wait=skip - 1, warmup=1, active=active, repeat=1)
    with torch.profiler.profile(activities=plan.profiler_activities(), schedule=schedule) as prof:
        steps = _ProfileSteps(prof, plan, skip, active)
        fit(
            model,
            [images],
            plan=plan,
            batch_size=batch_size,
            seed=0,
            max_steps=(skip + active) * steps_per_batch,
            label="bench profile",
            callbacks=[steps],
        )
    averages = prof.key_averages()
    wall_ms = (steps.ended - steps.began) * 1e3 / active
    # Kernels, copies and fills: the device-side events, as the table sums them.
    device_us = sum(
        event.self_device_time_total
        for event in averages
        if event.device_type != DeviceType.CPU and not getattr(event, "is_user_annotation", False)
    )
    sort = "self_device_time_total" if plan.is_accelerated else "self_cpu_time_total"
    table = averages.table(sort_by=sort, row_limit=_PROFILE_ROWS)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        f"{active} training batches of {batch_size} after {skip} warm-up ones; "
        f"wall {wall_ms:.3f} ms per batch\n\n{table}\n"
    )
    if not plan.is_accelerated:
        return {"wall_ms_per_batch": wall_ms, "device_ms_per_batch": None, "device_busy": None}
    device_ms = device_us / 1e3 / active
    return {
        "wall_ms_per_batch": wall_ms,
        "device_ms_per_batch": device_ms,
        "device_busy": device_ms / wall_ms,
    }
