"""The text domain's part of report.html: the same held-out prompts continued by every
generation side by side (the text analogue of the fixed-noise grid), and the distribution of
each generation's sample perplexities under generation 0's model (the Nature paper's
figure). Both are read from the generations' samples files."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from lab.domains.protocol import ReportFigure, ReportSection, ReportTable
from lab.domains.text.curation_report import curation_section
from lab.domains.text.files import SHOWN_PROMPTS_TEXT, SHOWN_TEXT, text_files
from lab.domains.text.words import decode
from lab.report.figures import MAX_LEGEND_GENERATIONS, PLOTS_DIR, png
from lab.rundir.results import RunResults
from lab.rundir.storage import decode_npz

HISTOGRAM_BINS = 60
HISTOGRAM_FIGSIZE = (7.0, 3.6)
LATEST_COLOUR = 0.9  # of viridis: generation 0 dark, the last one light but still visible
# Control characters other than line breaks and tabs would not show; U+FFFD shows them.
_UNPRINTABLE = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F], "\ufffd")


def report_sections(results: RunResults) -> list[ReportSection]:
    samples = results.generation_paths(lambda generation: text_files(generation)["samples"])
    stored = {generation: decode_npz(results.read_file(path)) for generation, path in samples}
    if not stored:
        return []
    sections = [_continuations(stored), _perplexities(stored)]
    curated = curation_section(results, byte_text)
    return sections if curated is None else [*sections, curated]


def readable(data: bytes) -> str:
    """Bytes as text a page can show: invalid UTF-8 and control characters as U+FFFD."""
    return decode(data).translate(_UNPRINTABLE)


def byte_text(row: np.ndarray) -> str | None:
    """A row of byte tokens as readable text; None for a tokenizer's ids, which the report
    cannot read without the tokenizer."""
    return readable(bytes(row)) if row.dtype == np.uint8 else None


def _shown(arrays: dict[str, np.ndarray], key: str, text_key: str) -> list[str]:
    """The shown prompts or continuations as text: stored as text when the model's tokens
    are not bytes, else decoded from their bytes."""
    if text_key in arrays:
        return [str(text).translate(_UNPRINTABLE) for text in arrays[text_key]]
    return [readable(bytes(row)) for row in arrays[key]]


def _continuations(stored: dict[int, dict[str, np.ndarray]]) -> ReportSection:
    prompts = _shown(next(iter(stored.values())), "shown_prompts", SHOWN_PROMPTS_TEXT)
    header = ("", *(f"prompt {i + 1}" for i in range(len(prompts))))
    rows = [("held-out prompt", *prompts)]
    for generation, arrays in stored.items():
        rows.append((f"generation {generation}", *_shown(arrays, "shown", SHOWN_TEXT)))
    note = (
        "Each column is one prompt from the held-out text; each row is how one generation "
        "continued it, from noise that is the same every generation (samples/gen_NNN.txt)."
    )
    table = ReportTable(header, rows)
    return ReportSection("The same prompts, continued by every generation", note, table=table)


def _perplexities(stored: dict[int, dict[str, np.ndarray]]) -> ReportSection:
    note = (
        "The perplexity (per token: per byte for a byte-level model) of each generation's "
        "samples under generation 0's model. "
        "Samples drift to what the first model finds most likely (the mass moves left) and "
        "grow a tail of text it finds unlikely (Shumailov et al. 2024, Figure 1b)."
    )
    figure = ReportFigure(
        f"{PLOTS_DIR}/sample_perplexity.png",
        perplexity_histograms({g: a["first_model_perplexity"] for g, a in stored.items()}),
        "perplexity of the samples under generation 0's model",
    )
    return ReportSection("Sample perplexity under generation 0's model", note, [figure])


def perplexity_histograms(values: dict[int, np.ndarray]) -> bytes:
    """One step histogram (share of samples) per generation over shared log-spaced bins."""
    everything = np.concatenate(list(values.values()))
    finite = everything[np.isfinite(everything) & (everything > 0)]
    low, high = (finite.min(), finite.max()) if finite.size else (1.0, 2.0)
    bins = np.geomspace(low, max(high, low * (1 + 1e-9)), HISTOGRAM_BINS + 1)
    figure = Figure(figsize=HISTOGRAM_FIGSIZE, layout="constrained")
    axes = figure.add_subplot()
    colours = colormaps["viridis"](np.linspace(0, LATEST_COLOUR, len(values)))
    for colour, (generation, series) in zip(colours, values.items(), strict=True):
        weights = np.full(len(series), 1 / max(1, len(series)))
        axes.hist(
            series,
            bins=bins,
            weights=weights,
            histtype="step",
            color=colour,
            label=f"gen {generation}",
        )
    axes.set_xscale("log")
    axes.set_xlabel("perplexity under generation 0's model")
    axes.set_ylabel("share of samples")
    axes.grid(alpha=0.3)
    if len(values) <= MAX_LEGEND_GENERATIONS:
        axes.legend(fontsize="x-small")
    return png(figure)
