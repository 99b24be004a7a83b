"""The generation loop: run a domain's generations in blocks, commit each block, resume.

The loop owns what every run shares: the run directory and its lock, resuming at the first
unfinished generation, committing, stopping after a diverged generation when the config says
so, and recording whatever stops a run. What depends on the kind of data (real data, models,
metrics, files) is the domain's (lab/domains/, found through lab/domains/registry.py): a
block is one generation of a model trained for minutes, or many of a fit that takes well
under a millisecond. Each
generation seeds itself from (seed, generation), so a redone block draws the same numbers as
the first attempt did, whatever the block's size.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lab.config import config_from_dict
from lab.device import allocation, out_of_memory
from lab.domains.protocol import Block
from lab.domains.registry import spec_of
from lab.errors import EXIT_SIGINT, ConfigError, Interrupted, OutOfMemory
from lab.experiment import OBSERVER_SECTIONS, ExperimentConfig
from lab.memory import refuse_if_too_large
from lab.rundir.directory import RunDirectory

# metrics_table shows at most this many generations (evenly spaced, the last included).
TABLE_ROWS = 25
# Fewer bytes than any generation's manifest record takes (its generation, status, metrics,
# file hashes and wall time), so a count of generations whose records alone cannot fit in
# memory is refused before the run starts.
MANIFEST_RECORD_MIN_BYTES = 200


def run_experiment(
    config: ExperimentConfig, run_dir: Path, echo: Callable[[str], None] = print
) -> RunDirectory:
    """Run (or resume) every generation of `config` in `run_dir`, holding its lock throughout.

    Whatever stops the run (a user error, a bug, Ctrl-C, SIGTERM) is recorded in the manifest
    for `collapse-lab status` before it propagates; finished generations are never touched.
    A new run directory is bound to the config only once the domain's checks have passed.
    """
    check_run_size(config)
    opened = RunDirectory.open(
        run_dir, config.as_dict(), config.digest(), OBSERVER_SECTIONS, _resolve_stored
    )
    with opened as run:
        start = len(run.generations)
        if start >= config.generations:
            echo(f"{run_dir}: all {config.generations} generations are complete; nothing to do.")
            return run
        stop = stopping_reason(run, config)
        if stop:
            echo(f"{run_dir}: {stop}; nothing to do.")
            return run
        if start:
            echo(f"{run_dir}: resuming at generation {start} of {config.generations}.")
        spec = spec_of(config)
        domain = spec.open(config)
        during = domain.setup
        try:
            domain.prepare(run, echo)
            run.bind()
            generation = start
            while generation < config.generations:
                end = min(domain.block_end(generation), config.generations)
                during = _span(generation, end)
                run.begin_generation(generation)
                block = domain.run_block(run, generation, end)
                run.commit_generations(block.generations, block.files)
                _report_block(config, spec.headline, block, echo)
                generation = end
                stop = stopping_reason(run, config)
                if stop:
                    echo(f"{stop}.")
                    break
        except KeyboardInterrupt:  # Ctrl-C outside Lightning's training: say it the same way
            stop = Interrupted("Ctrl-C", EXIT_SIGINT)
            run.record_failure(during, stop)
            raise stop from None
        except Exception as error:
            if not out_of_memory(error):
                run.record_failure(during, error)
                raise
            short = OutOfMemory(
                f"{during} ran out of memory ({allocation(error)}); lower train.batch_size or "
                "sampling.batch_size, or make the model or its data smaller."
            )
            run.record_failure(during, short)
            raise short from None
        except BaseException as error:
            run.record_failure(during, error)
            raise
        return run


def check_run_size(config: ExperimentConfig) -> None:
    """What the engine itself must hold: one manifest record per generation (in memory while
    the run goes on), and a cache folder that is a folder."""
    refuse_if_too_large(
        config.generations * MANIFEST_RECORD_MIN_BYTES,
        f"key 'generations' is {config.generations}: the manifest's record of each generation",
        "lower it",
    )
    cache = Path(config.cache_dir)
    if cache.exists() and not cache.is_dir():
        raise ConfigError(
            f"key 'cache_dir' is '{config.cache_dir}', which is a file, not a folder; point "
            "cache_dir at a folder (it is created when missing)."
        )


def _resolve_stored(stored: dict) -> dict:
    """A run directory's stored config as this version of the lab reads it."""
    return config_from_dict(stored).as_dict()


def _span(first: int, end: int) -> str:
    return f"generation {first}" if end == first + 1 else f"generations {first}-{end - 1}"


def _report_block(
    config: ExperimentConfig,
    headline: tuple[str, ...],
    block: Block,
    echo: Callable[[str], None],
) -> None:
    """One line per block: its span, its time, the headline metrics of its last generation."""
    last = block.generations[-1]
    seconds = sum(done.wall_time_s for done in block.generations)
    summary = ", ".join(
        f"{name} {last.metrics[name]:.4g}"
        for name in headline
        if last.metrics.get(name) is not None
    )
    span = _span(block.generations[0].generation, last.generation + 1)
    echo(f"{span}/{config.generations - 1} done in {seconds:.1f}s: {summary}")
    for done in block.generations:
        if done.details.get("diverged"):
            echo(f"generation {done.generation} diverged: {done.details['diverged']}.")


def stopping_reason(run: RunDirectory, config: ExperimentConfig) -> str | None:
    """Why the run must not go on: its last generation diverged and the config says stop."""
    last = run.generations[-1] if run.generations else {}
    if last.get("diverged") and config.train.on_divergence == "stop":
        return (
            f"stopped after generation {last['generation']}, whose training diverged "
            f"({last['diverged']}), as train.on_divergence is 'stop'"
        )
    return None


def metrics_table(run: RunDirectory, columns: tuple[str, ...]) -> str:
    """A small fixed-width table of the headline metrics per generation (those it has); a long
    run shows TABLE_ROWS generations spread evenly over it, the last one included."""
    present = {name for record in run.generations for name in record["metrics"]}
    header = ("generation", *(name for name in columns if name in present))
    lines = ["  ".join(f"{name:>15}" for name in header)]
    for record in _spread(run.generations, TABLE_ROWS):
        values = [record["metrics"].get(name) for name in header]
        lines.append("  ".join(_cell(value) for value in values))
    return "\n".join(lines)


def _spread(records: list[dict], count: int) -> list[dict]:
    if len(records) <= count:
        return records
    step = (len(records) - 1) / (count - 1)
    return [records[round(i * step)] for i in range(count)]


def _cell(value: float | int | None) -> str:
    if value is None:
        return f"{'':>15}"
    if isinstance(value, float):
        return f"{value:>15.4f}"
    return f"{value:>15}"
