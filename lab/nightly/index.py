"""runs/nightly/index.html: every night, its headline numbers, and the regression flag.

A night is flagged when an entry's final metric moved further from that entry's previous
finished night than its tolerance allows, in either direction: a sudden improvement is as
much a sign that the code, the data or the box changed as a sudden collapse is. The page is
rebuilt from the nights' night.json files alone, with links relative to runs/nightly/.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from lab.nightly.night import NIGHT_FILE
from lab.nightly.suite import Tolerance
from lab.rundir.atomic import write_atomic
from lab.sweeps.cells import FINISHED

log = logging.getLogger("collapse_lab")

INDEX_FILE = "index.html"
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem 2rem;
       color: #1d1d1f; }
table { border-collapse: collapse; font-size: 0.9rem; margin-bottom: 0.6rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f4f4f6; }
.ok { color: #176b2c; } .bad { color: #b3261e; font-weight: 600; } .muted { color: #666; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
"""


@dataclass(frozen=True)
class Change:
    """One final metric of one entry against the same entry's previous finished night."""

    metric: str
    current: float | None
    previous: float | None
    previous_date: str | None
    allowed: float | None

    @property
    def flagged(self) -> bool:
        if self.current is None or self.previous is None or self.allowed is None:
            return False
        return abs(self.current - self.previous) > self.allowed

    def describe(self) -> str:
        if self.current is None:
            return "not in this night's metrics.csv"
        if self.previous is None:
            return "first finished night"
        delta = self.current - self.previous
        text = f"{delta:+.4g} since {self.previous_date} ({self.previous:.6g})"
        if self.allowed is not None:
            text += f", tolerance {self.allowed:.4g}"
        return text


def read_nights(root: Path) -> list[dict[str, Any]]:
    """Every night under `root` with a readable night.json, oldest first."""
    nights = []
    for file in sorted(root.glob(f"*/{NIGHT_FILE}")):
        try:
            nights.append(json.loads(file.read_text()))
        except (OSError, ValueError) as err:
            log.warning("skipping %s: %s", file, err)
    return sorted(nights, key=lambda night: str(night.get("date")))


def changes(nights: list[dict[str, Any]]) -> dict[tuple[str, str], list[Change]]:
    """(date, entry) -> its changes, for every finished entry, against the entry's previous
    finished night, with the tolerances that were in force on the later night."""
    last: dict[str, tuple[str, dict[str, float]]] = {}
    found: dict[tuple[str, str], list[Change]] = {}
    for night in nights:
        for entry in night.get("entries", []):
            if entry.get("status") != FINISHED:
                continue
            name, final = entry["name"], entry.get("final") or {}
            previous_date, previous = last.get(name, (None, {}))
            tolerances = {m: Tolerance(**raw) for m, raw in (entry.get("tolerance") or {}).items()}
            shown = list(tolerances) + [m for m in entry.get("headline", []) if m not in tolerances]
            listed = []
            for metric in shown:
                before = previous.get(metric)
                if final.get(metric) is None and before is None:
                    continue  # a default this entry never had (class metrics of a CelebA run)
                tolerance = tolerances.get(metric)
                allowed = tolerance.allowed(before) if tolerance and before is not None else None
                listed.append(Change(metric, final.get(metric), before, previous_date, allowed))
            found[(night["date"], name)] = listed
            last[name] = (night["date"], final)
    return found


def night_problems(night: dict[str, Any], found: dict[tuple[str, str], list[Change]]) -> list[str]:
    """One line per flagged metric or unfinished entry of a night (empty: all is well)."""
    problems = []
    for entry in night.get("entries", []):
        name = entry["name"]
        if entry.get("status") != FINISHED:
            problems.append(f"{name} {entry.get('status')}: {entry.get('reason')}")
        for change in found.get((night["date"], name), []):
            if change.flagged:
                problems.append(f"{name} {change.metric} moved {change.describe()}")
    return problems


def write_index(root: Path) -> Path:
    """Rewrite <root>/index.html from the nights found under `root`."""
    nights = read_nights(root)
    found = changes(nights)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>collapse-lab nightly</title>',
        f"<style>{STYLE}</style></head><body>",
        "<h1>collapse-lab nightly</h1>",
        '<p class="muted">Newest night first. A metric is flagged when it moved from the '
        "entry's previous finished night by more than its tolerance (see docs/nightly.md).</p>",
    ]
    if not nights:
        parts.append("<p>No night has run yet.</p>")
    for night in reversed(nights):
        parts += _night_section(night, found)
    parts.append("</body></html>")
    index = root / INDEX_FILE
    write_atomic(index, ("\n".join(parts) + "\n").encode())
    return index


def _night_section(night: dict[str, Any], found: dict[tuple[str, str], list[Change]]) -> list[str]:
    date = str(night.get("date"))
    problems = night_problems(night, found)
    flagged = any(
        c.flagged for e in night.get("entries", []) for c in found.get((date, e["name"]), [])
    )
    status = (
        '<span class="bad">REGRESSION FLAG</span>'
        if flagged
        else ('<span class="bad">incomplete</span>' if problems else '<span class="ok">ok</span>')
    )
    facts = [
        f"commit {night.get('commit') or 'unknown'}",
        f"host {night.get('host') or 'unknown'}",
        f"started {night.get('started')}",
        f"finished {night.get('finished') or 'not recorded (stopped, or still running)'}",
    ]
    parts = [
        f'<h2 id="{escape(date)}">{escape(date)} {status}</h2>',
        f'<p class="muted">{escape("; ".join(facts))}</p>',
    ]
    if problems:
        items = "".join(f"<li>{escape(problem)}</li>" for problem in problems)
        parts.append(f'<ul class="bad">{items}</ul>')
    rows = []
    for entry in night.get("entries", []):
        rows.append(_entry_row(date, entry, found.get((date, entry["name"]), [])))
    parts.append(
        "<table><tr><th>experiment</th><th>status</th><th>generations</th>"
        "<th>final metrics</th><th>wall time</th><th>links</th></tr>" + "".join(rows) + "</table>"
    )
    return parts


def _entry_row(date: str, entry: dict[str, Any], listed: list[Change]) -> str:
    status = entry.get("status", "")
    status_cell = (
        f'<span class="ok">{escape(status)}</span>'
        if status == FINISHED
        else f'<span class="bad">{escape(status)}</span>: {escape(str(entry.get("reason") or ""))}'
    )
    planned = entry.get("planned_generations")
    generations = f"{entry.get('generations', 0)}" + (f" of {planned}" if planned else "")
    metrics = []
    final = entry.get("final") or {}
    for change in listed:
        value = "—" if change.current is None else f"{change.current:.6g}"
        css = "bad" if change.flagged else "muted"
        metrics.append(
            f"<b>{escape(change.metric)}</b> {value} "
            f'<span class="{css}">({escape(change.describe())})</span>'
        )
    if not listed and final:
        metrics += [f"<b>{escape(k)}</b> {v:.6g}" for k, v in list(final.items())[:4]]
    links = []
    if entry.get("report"):
        links.append(f'<a href="{escape(date)}/{escape(entry["report"])}">report</a>')
    if entry.get("log"):
        links.append(f'<a href="{escape(date)}/{escape(entry["log"])}">log</a>')
    seconds = entry.get("wall_time_s")
    wall = f"{seconds / 60:.1f} min" if isinstance(seconds, (int, float)) else ""
    return (
        f'<tr><td>{escape(entry["name"])}<br><span class="muted">{escape(entry.get("config", ""))}'
        f"</span></td><td>{status_cell}</td><td>{generations}</td>"
        f"<td>{'<br>'.join(metrics)}</td><td>{wall}</td><td>{' '.join(links)}</td></tr>"
    )
