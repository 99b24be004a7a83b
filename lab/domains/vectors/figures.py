"""The vector runs' own report figures, drawn from the run directory (config.yaml, manifest,
metrics.csv and the block files), like the rest of the report.

  gaussian  mean_log_variance against theory's (g + 1) delta with a band of three standard
            errors (replace), or mean_variance against its exact expectation (accumulate,
            one dimension); and the log variance of a few chains, generation by generation.
  gmm       the fitted density at model.plot_generations, next to the real one, with each
            generation's samples on top: the Nature paper's first figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lab.domains.protocol import ReportFigure, ReportSection
from lab.domains.vectors import theory
from lab.domains.vectors.mixture import MixtureFit
from lab.domains.vectors.settings import GaussianData, VectorExperiment
from lab.domains.vectors.statistics import log_density
from lab.errors import ConfigError
from lab.experiment import ExperimentConfig
from lab.report.figures import PLOTS_DIR, png
from lab.rundir.results import RunResults
from lab.rundir.storage import decode_npz

TRACED_CHAINS = 20
BAND_STANDARD_ERRORS = 3
DENSITY_GRID = 160  # points per side of each density panel
DENSITY_MARGIN = 4.0  # panels span the real components' means +- this many standard deviations
SAMPLES_SHOWN = 300
PANEL_INCHES = 2.6


def report_sections(results: RunResults) -> list[ReportSection]:
    if not results.rows:
        return []
    try:
        config = VectorExperiment.from_stored(results.config, str(results.path / "config.yaml"))
    except ConfigError as err:
        return [ReportSection("Vector model figures", f"Cannot draw them: {err}")]
    if isinstance(config.data, GaussianData):
        return [_gaussian_section(results, config)]
    return [_mixture_section(results, config)]


def _gaussian_section(results: RunResults, config: ExperimentConfig) -> ReportSection:
    figures = []
    expected = _expected_curve(results, config)
    if expected is not None:
        figures.append(ReportFigure(f"{PLOTS_DIR}/vector_theory.png", *expected))
    traces = _chain_traces(results, config)
    if traces is not None:
        figures.append(ReportFigure(f"{PLOTS_DIR}/vector_chains.png", *traces))
    note = (
        f"{config.model.chains} chains, N = {config.samples_per_generation} samples per "
        f"generation, {config.model.estimator} estimator, regime {config.regime}. Theory: "
        "lab/domains/vectors/theory.py."
    )
    return ReportSection("Gaussian chains against theory", note, figures)


def _expected_curve(results: RunResults, config: ExperimentConfig) -> tuple[bytes, str] | None:
    """The column theory predicts exactly for this run, simulated against predicted."""
    samples, estimator = config.samples_per_generation, config.model.estimator
    generations = np.array(results.generations)
    if config.sampling.truncation is not None:
        return None
    figure = Figure(figsize=(6.0, 3.6), layout="constrained")
    axes = figure.add_subplot()
    if config.regime == "replace":
        column = "mean_log_variance"
        dim, temperature = config.data.dim, config.sampling.temperature
        drift = theory.log_variance_drift(samples, estimator, dim)
        predicted = np.array(
            [
                theory.expected_mean_log_variance(g, samples, estimator, dim, temperature)
                for g in generations
            ]
        )
        error = np.array(
            [
                theory.mean_log_variance_standard_error(g, samples, config.model.chains, dim)
                for g in generations
            ]
        )
        caption = (
            f"mean_log_variance and theory's (g + 1) x {drift:.5f}"
            + (f" + 2 g log {temperature:g}" if temperature != 1.0 else "")
            + f", with a band of {BAND_STANDARD_ERRORS} standard errors"
        )
    elif config.data.dim == 1 and config.sampling.temperature == 1.0:
        column = "mean_variance"
        predicted = np.array(
            [theory.expected_variance(g, samples, estimator, "accumulate") for g in generations]
        )
        error = None
        caption = "mean_variance and its exact expectation when every sample is kept"
    else:
        return None
    simulated = np.array([v if v is not None else np.nan for v in results.series(column)])
    axes.plot(generations, simulated, color="tab:blue", label="simulated")
    axes.plot(generations, predicted, color="black", linestyle="--", label="theory")
    if error is not None:
        band = BAND_STANDARD_ERRORS * error
        axes.fill_between(
            generations, predicted - band, predicted + band, color="gray", alpha=0.3, lw=0
        )
    axes.set_xlabel("generation")
    axes.set_title(column)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return png(figure), caption


def _chain_traces(results: RunResults, config: ExperimentConfig) -> tuple[bytes, str] | None:
    """log variance of the first TRACED_CHAINS chains in every finished generation."""
    stored = [decode_npz(results.read_file(name)) for name in _block_files(results, "fits")]
    if not stored:
        return None
    generations = np.concatenate([s["generations"] for s in stored])
    traces = np.concatenate([s["log_variance"][:, :TRACED_CHAINS] for s in stored])
    figure = Figure(figsize=(6.0, 3.6), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(generations, traces, linewidth=0.7, alpha=0.8)
    mean = results.series("mean_log_variance")
    axes.plot(results.generations, mean, color="black", linewidth=2, label="mean over chains")
    axes.set_xlabel("generation")
    axes.set_ylabel("log variance")
    axes.set_title(f"{traces.shape[1]} chains")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize="small")
    caption = "each line one chain's log variance: a random walk with a downward drift"
    return png(figure), caption


def _mixture_section(results: RunResults, config: ExperimentConfig) -> ReportSection:
    finished = set(results.generations)
    wanted = [g for g in config.model.plot_generations if g in finished]
    note = (
        f"The fitted density (brighter is denser) at generations {', '.join(map(str, wanted))}"
        f" of model.plot_generations, after the real mixture, with {SAMPLES_SHOWN} of each "
        "generation's samples as dots."
    )
    if config.data.dim != 2:
        return ReportSection("Fitted density", "Density plots are drawn for 2-D mixtures only.")
    weights, means, covariances = config.data.arrays()
    real = MixtureFit(weights, means, covariances, 0)
    panels: list[tuple[str, MixtureFit, np.ndarray | None]] = [("real", real, None)]
    for generation in wanted:
        fits = _arrays_of(results, "fits", generation)
        index = int(np.flatnonzero(fits["generations"] == generation)[0])
        model = MixtureFit(
            fits["weights"][index], fits["means"][index], fits["covariances"][index], 0
        )
        samples = _arrays_of(results, "samples", generation)["samples"][index]
        panels.append((f"generation {generation}", model, samples[:SAMPLES_SHOWN]))
    picture = _density_panels(panels, real)
    figure = ReportFigure(f"{PLOTS_DIR}/vector_density.png", picture, "the fitted density")
    return ReportSection("Fitted density", note, [figure])


def _density_panels(panels: Sequence[tuple[str, MixtureFit, Any]], real: MixtureFit) -> bytes:
    spread = np.sqrt(np.linalg.eigvalsh(real.covariances).max(axis=1))
    low = (real.means - DENSITY_MARGIN * spread[:, None]).min(axis=0)
    high = (real.means + DENSITY_MARGIN * spread[:, None]).max(axis=0)
    xs = np.linspace(low[0], high[0], DENSITY_GRID)
    ys = np.linspace(low[1], high[1], DENSITY_GRID)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    figure = Figure(figsize=(PANEL_INCHES * len(panels), PANEL_INCHES + 0.4), layout="constrained")
    for index, (title, model, samples) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        density = np.exp(log_density(model, grid)).reshape(DENSITY_GRID, DENSITY_GRID)
        axes.imshow(
            density,
            origin="lower",
            extent=(low[0], high[0], low[1], high[1]),
            cmap="viridis",
            aspect="auto",
        )
        if samples is not None:
            axes.scatter(samples[:, 0], samples[:, 1], s=1, color="white", alpha=0.6)
        axes.set_xlim(low[0], high[0])
        axes.set_ylim(low[1], high[1])
        axes.set_title(title, fontsize="small")
        axes.tick_params(labelsize="x-small")
    return png(figure)


def _block_files(results: RunResults, role: str) -> list[str]:
    """The run's block files of one role, in generation order, each once."""
    names: list[str] = []
    for record in results.manifest.get("generations", []):
        names += [n for n in record.get("files", {}) if n.startswith(f"{role}/") and n not in names]
    return names


def _arrays_of(results: RunResults, role: str, generation: int) -> dict[str, np.ndarray]:
    (record,) = [r for r in results.manifest["generations"] if r["generation"] == generation]
    (name,) = [n for n in record["files"] if n.startswith(f"{role}/")]
    return decode_npz(results.read_file(name))
