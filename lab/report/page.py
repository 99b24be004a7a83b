"""The HTML of report.html: one self-contained page, inline CSS, no scripts, no network.

Every link and image is a path relative to the run directory, so the folder can be copied,
zipped or served as it is, and the page opens straight from the file system.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

import yaml

from lab.domains.protocol import ReportFigure, ReportSection, ReportTable
from lab.domains.registry import facts_of
from lab.rundir.results import RunResults

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem 2rem;
       color: #1d1d1f; background: #fff; max-width: 120rem; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.muted { color: #666; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1.2rem; }
dl.summary dt { font-weight: 600; } dl.summary dd { margin: 0; }
.strip { display: flex; gap: 0.8rem; overflow-x: auto; padding-bottom: 0.5rem; }
.strip figure { margin: 0; text-align: center; flex: none; }
.strip img { width: 16rem; image-rendering: pixelated; border: 1px solid #ccc; }
.plots { display: flex; flex-wrap: wrap; gap: 0.6rem; }
.plots img { width: 26rem; }
img.wide { max-width: 100%; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #f4f4f6; position: sticky; top: 0; }
.scroll { overflow-x: auto; }
table.checks th, table.checks td { text-align: left; }
.ok { color: #176b2c; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; }
pre { background: #f6f6f8; padding: 0.8rem; overflow-x: auto; }
table.cells td { text-align: left; vertical-align: top; white-space: pre-wrap;
                 font-family: ui-monospace, monospace; min-width: 14rem; max-width: 24rem; }
table.cells td:first-child { min-width: 0; white-space: nowrap; font-family: inherit; }
"""


@dataclass(frozen=True)
class CheckRow:
    """One threshold of the run's `check:` section and whether it holds."""

    threshold: str
    holds: bool
    detail: str


@dataclass(frozen=True)
class Contents:
    """What the page shows; every path is relative to the run directory."""

    results: RunResults
    sections: list[ReportSection]
    metric_plots: list[tuple[str, str]]
    loss_plot: str | None
    checks: list[CheckRow] = field(default_factory=list)
    check_error: str | None = None
    # The collapse timeline, one line per stage (lab/analysis/timeline.py).
    timeline: list[str] = field(default_factory=list)


def render(contents: Contents) -> str:
    results = contents.results
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(results.name)}: collapse-lab report</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(results.name)}</h1>",
        '<p class="muted">collapse-lab report: a model trained on its own samples, '
        "generation after generation.</p>",
        _summary(results),
    ]
    parts += _timeline(contents.timeline)
    parts += _checks(contents)
    if not results.rows:
        parts.append("<h2>Generations</h2><p>No generation has finished yet.</p>")
    else:
        for section in contents.sections:
            parts += _domain_section(section)
        plots = "".join(
            f'<img src="{escape(path)}" alt="{escape(column)} against generation">'
            for column, path in contents.metric_plots
        )
        parts += _section("Metrics per generation", f'<div class="plots">{plots}</div>')
        parts += _section(
            "Training loss of each generation",
            f'<img class="wide" src="{escape(contents.loss_plot or "")}" alt="loss curves">',
            show=contents.loss_plot is not None,
        )
        parts += _section("Metrics table", _table(results))
    config_text = yaml.safe_dump(results.config, sort_keys=False)
    parts += _section(
        "Config",
        f"<details><summary>config.yaml (as resolved)</summary><pre>{escape(config_text)}"
        "</pre></details>",
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _summary(results: RunResults) -> str:
    manifest = results.manifest
    planned = results.planned_generations
    finished = len(results.rows)
    items = [("generations finished", f"{finished}" + (f" of {planned}" if planned else ""))]
    if manifest.get("created"):
        items.append(("started", str(manifest["created"])))
    items += [(fact.label, fact.value) for fact in facts_of(results.config, manifest)]
    times = results.wall_times()
    if times:
        total = sum(times.values())
        items.append(
            ("wall time", f"{total:.1f} s in all, {total / len(times):.1f} s a generation")
        )
    if manifest.get("config_digest"):
        items.append(("config digest", str(manifest["config_digest"])[:16]))
    versions = manifest.get("versions") or {}
    if versions:
        items.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    return f'<dl class="summary">{rows}</dl>'


def _timeline(lines: Sequence[str]) -> list[str]:
    if not lines:
        return []
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    note = (
        '<p class="muted">From the thresholds in config.yaml\'s check.early_collapse and '
        "check.late_collapse; collapse-lab check RUN prints the same lines.</p>"
    )
    return _section("Collapse timeline", f'<ul class="timeline">{items}</ul>{note}')


def _checks(contents: Contents) -> list[str]:
    if contents.check_error:
        return _section("Checks", f'<p class="bad">{escape(contents.check_error)}</p>')
    if not contents.checks:
        return []
    rows = "".join(
        f"<tr><td>{escape(row.threshold)}</td>"
        f'<td class="{"ok" if row.holds else "bad"}">{"holds" if row.holds else "violated"}</td>'
        f"<td>{escape(row.detail)}</td></tr>"
        for row in contents.checks
    )
    header = "<tr><th>threshold</th><th>status</th><th>detail</th></tr>"
    table = f'<table class="checks">{header}{rows}</table>'
    note = '<p class="muted">From the check: section of config.yaml; collapse-lab check RUN.</p>'
    return _section("Checks", table + note)


def _domain_section(section: ReportSection) -> Sequence[str]:
    note = f'<p class="muted">{escape(section.note)}</p>' if section.note else ""
    if section.table is not None:
        note += _cells_table(section.table)
    if section.strip:
        figures = "".join(
            f'<figure><a href="{escape(f.relative)}"><img src="{escape(f.relative)}" '
            f'alt="{escape(f.caption)}"></a><figcaption>{escape(f.caption)}</figcaption></figure>'
            for f in section.figures
        )
        strip = f'<div class="strip">{figures}</div>'
        return _section(section.title, note + strip + _wide(section.charts))
    return _section(section.title, note + _wide([*section.figures, *section.charts]))


def _wide(figures: Sequence[ReportFigure]) -> str:
    return "".join(
        f'<figure><img class="wide" src="{escape(f.relative)}" alt="{escape(f.caption)}">'
        f"<figcaption>{escape(f.caption)}</figcaption></figure>"
        for f in figures
    )


def _cells_table(table: ReportTable) -> str:
    header = "".join(f"<th>{escape(cell)}</th>" for cell in table.header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return f'<div class="scroll"><table class="cells"><tr>{header}</tr>{rows}</table></div>'


def _table(results: RunResults) -> str:
    times = results.wall_times()
    header = "".join(f"<th>{escape(c)}</th>" for c in results.columns) + "<th>wall time (s)</th>"
    rows = []
    for generation, row in zip(results.generations, results.rows, strict=True):
        cells = "".join(f"<td>{escape(row.get(c) or '')}</td>" for c in results.columns)
        time_cell = f"{times[generation]:.1f}" if generation in times else ""
        rows.append(f"<tr>{cells}<td>{time_cell}</td></tr>")
    return f'<div class="scroll"><table><tr>{header}</tr>{"".join(rows)}</table></div>'


def _section(title: str, body: str, show: bool = True) -> Sequence[str]:
    return [f"<h2>{escape(title)}</h2>", body] if show else []
