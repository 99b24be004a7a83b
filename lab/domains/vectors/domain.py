"""Vector models: many generations per block, computed in memory, committed together.

A generation of the Gaussian chains takes about a millisecond, so the run directory would
spend far longer committing generations one by one (a manifest and a metrics.csv rewritten
and fsynced each time) than computing them. The domain therefore runs `model.commit_every`
generations per block and stores, per block, one file per role: `fits/gen_A-B.npz` (every
generation's fit, and what the next block starts from) and, for the mixture,
`samples/gen_A-B.npz`. Blocks are aligned to multiples of commit_every, so a resumed run
writes the same files as an uninterrupted one; each generation draws its noise from
(seed, generation), so it computes the same numbers too.

Between blocks the state (the next generation's training set and the last fit) is carried
in memory; a resumed run reads it back from the last block's files, bit for bit what the
carried state was.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from threadpoolctl import threadpool_limits

from lab import regimes
from lab.domains.protocol import Block
from lab.domains.vectors.systems import build_system
from lab.experiment import ExperimentConfig
from lab.rundir import faults
from lab.rundir.directory import FinishedGeneration, RunDirectory
from lab.rundir.storage import decode_npz, encode_npz


def block_file(role: str, first: int, last: int) -> str:
    """Where a block's file of one role goes, relative to the run directory."""
    return f"{role}/gen_{first:04d}-{last:04d}.npz"


class VectorDomain:
    setup = "setup (real distribution)"

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.system = build_system(config)
        self.every: int = config.model.commit_every
        # (generation, its training set, the previous generation's fit) after the last block.
        self._carried: tuple[int, Any, Any] | None = None

    def prepare(self, run: RunDirectory, echo: Callable[[str], None]) -> None:
        self.system.check_sizes()
        run.record("reference", self.system.reference())

    def block_end(self, generation: int) -> int:
        return (generation // self.every + 1) * self.every

    def run_block(self, run: RunDirectory, first: int, end: int) -> Block:
        with one_thread():
            return self._run_block(run, first, end)

    def _run_block(self, run: RunDirectory, first: int, end: int) -> Block:
        training, previous = self._state_at(run, first)
        finished, models, drawn, passed = [], [], [], []
        for generation in range(first, end):
            began = time.perf_counter()
            model, samples, record, columns, following = self._step(generation, training, previous)
            row = {
                "generation": generation,
                **self.system.statistics(model),
                "synthetic_fraction": training.synthetic_fraction,
                **columns,
            }
            composition = {"real": training.real, "generated": training.count - training.real}
            seconds = time.perf_counter() - began
            details = {"training_set": composition}
            finished.append(FinishedGeneration(generation, row, seconds, details))
            models.append(model)
            drawn.append(samples)
            passed.append(record)
            training, previous = following, model
        self._carried = (end, training, previous)
        arrays = self.system.block_arrays(range(first, end), models, drawn, passed, training)
        files = {
            block_file(role, first, end - 1): encode_npz(values) for role, values in arrays.items()
        }
        return Block(finished, files)

    def _step(
        self, generation: int, training: Any, previous: Any
    ) -> tuple[Any, Any, Any, dict[str, float], Any]:
        """Fit generation `generation`, draw its samples, let a curator and the expert (if
        any) choose and correct what it passes on, build the next training set: (fit, draws,
        the record of what it passed on, its columns, the next training set)."""
        model = self.system.fit(generation, training, previous)
        faults.reached(f"fitted:{generation}")
        drawn = self.system.draw(generation, model)
        part, record, columns = self.system.passed_on(generation, model, drawn)
        if regimes.keeps_earlier_data(self.config):
            return model, drawn, record, columns, self.system.merge(training, part)
        return model, drawn, record, columns, part

    def _state_at(self, run: RunDirectory, first: int) -> tuple[Any, Any]:
        """The training set of generation `first` and the fit of generation first - 1."""
        if self._carried is not None and self._carried[0] == first:
            return self._carried[1], self._carried[2]
        if first == 0:
            return self.system.real_training(), None
        held = _load(run, "fits", first - 1)["generations"]  # the block holding first - 1
        start = first if held[-1] == first - 1 else int(held[0])
        if start == 0:
            training, previous = self.system.real_training(), None
        else:
            training, previous = self.system.restore(start, lambda role, k: _load(run, role, k))
        # Only a hand-edited manifest ends inside a block: redo its start in memory.
        for generation in range(start, first):
            previous, *_, training = self._step(generation, training, previous)
        return training, previous


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch and BLAS on one thread, then restore their settings. A vector generation is
    a few dozen operations on ~1e5 numbers, too small to split: on this project's busy 2-core
    machine two threads made each generation 17x slower (28 ms against 1.6 ms), waiting for
    each other rather than computing."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(threads)


def _load(run: RunDirectory, role: str, generation: int) -> dict:
    """The stored arrays of the block file (of `role`) that holds `generation`, found through
    the manifest, which lists a block's files in each of its generations' records."""
    (relative,) = [
        name for name in run.generations[generation]["files"] if name.startswith(f"{role}/")
    ]
    return decode_npz(run.read_generation_file(generation, relative))
