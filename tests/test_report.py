"""report.html of a tiny real run: it parses, links only files that exist, shows every
generation and every metric, and renders in a real browser with its images loaded."""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import yaml
from PIL import Image

from lab.cli import main
from lab.experiment import LoggingConfig
from lab.report.writer import write_report
from lab.rundir.results import read_run
from lab.training.logs import generation_loggers, read_curves
from tests.conftest import TINY_EXPERIMENT
from tests.fake_runs import make_run, mnist_rows

GENERATIONS = 2
# Thresholds the tiny run breaks (there are only 10 classes) and keeps, whatever it learns.
CHECK = {"max": {"fid": 1.0e6}, "min": {"classes_covered": 11}}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Marks every image with its natural size once the page has loaded, for --dump-dom.
PROBE_SCRIPT = """<script>
window.addEventListener("load", () => {
  for (const image of document.images) {
    image.dataset.naturalWidth = image.naturalWidth;
    image.dataset.naturalHeight = image.naturalHeight;
  }
  document.body.dataset.probed = "yes";
});
</script>"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """A finished tiny run; `collapse-lab run` writes its report."""
    root = tmp_path_factory.mktemp("report")
    config = root / "tiny.yaml"
    settings = {
        **TINY_EXPERIMENT,
        "generations": GENERATIONS,
        "cache_dir": str(cache_dir),
        "logging": {"every_n_steps": 10},
        "check": CHECK,
    }
    config.write_text(yaml.safe_dump(settings))
    run_dir = root / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    return run_dir


class _Page(HTMLParser):
    """Every img src and a href of a page, and whether its tags are balanced."""

    VOID = {"img", "meta", "br", "link", "input", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values["src"] or "")
        if tag == "a":
            self.links.append(values["href"] or "")
        if tag == "script":
            self.scripts += 1
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()


def _parse(report: Path) -> _Page:
    page = _Page()
    page.feed(report.read_text())
    page.close()
    assert page.open == [], f"unclosed tags: {page.open}"
    return page


def _metric_columns(run_dir: Path) -> list[str]:
    with open(run_dir / "metrics.csv") as handle:
        header = next(csv.reader(handle))
    return [column for column in header if column != "generation"]


@pytest.mark.slow
def test_report_parses_and_references_only_existing_relative_files(run_dir: Path) -> None:
    page = _parse(run_dir / "report.html")
    assert page.scripts == 0
    for reference in page.images + page.links:
        parsed = urlparse(reference)
        assert not parsed.scheme and not parsed.netloc, f"{reference} is not a relative path"
        assert not reference.startswith("/"), reference
        assert (run_dir / reference).is_file(), f"{reference} does not exist"


@pytest.mark.slow
def test_report_has_one_grid_per_generation_and_one_plot_per_metric(run_dir: Path) -> None:
    page = _parse(run_dir / "report.html")
    grids = [src for src in page.images if src.startswith("grids/")]
    assert grids == [f"grids/gen_{g:03d}.png" for g in range(GENERATIONS)]
    columns = _metric_columns(run_dir)
    assert "share_0" in columns and "fid" in columns
    assert {"tail_recall", "bulk_coverage", "vendi", "copy_fraction"} <= set(columns)
    plots = [src for src in page.images if src.startswith("plots/metric_")]
    assert plots == [f"plots/metric_{column}.png" for column in columns]
    assert "plots/heatmap_share.png" in page.images
    assert "plots/cells.png" in page.images
    assert "plots/training_loss.png" in page.images


@pytest.mark.slow
def test_report_shows_the_configs_check_results(run_dir: Path) -> None:
    text = (run_dir / "report.html").read_text()
    assert 'max fid 1e+06</td><td class="ok">holds' in text
    assert 'min classes_covered 11</td><td class="bad">violated' in text
    # A real run has the timeline's columns, so its report shows a line per stage.
    assert "<h2>Collapse timeline</h2>" in text
    assert "<li>early collapse: " in text and "<li>late collapse: " in text


@pytest.mark.slow
def test_each_generation_logs_its_loss_curves(run_dir: Path) -> None:
    for generation in range(GENERATIONS):
        curves = {curve.name: curve for curve in read_curves(run_dir, generation)}
        assert {"loss", "reconstruction", "kl"} <= set(curves)
        assert curves["loss"].x_label == "epoch"
        assert len(curves["loss"].y) >= 2 and all(np.isfinite(curves["loss"].y))


@pytest.mark.slow
def test_redrawing_a_finished_report_changes_no_file(run_dir: Path) -> None:
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in run_dir.rglob("*") if p.is_file()}
    write_report(run_dir)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in run_dir.rglob("*") if p.is_file()}
    assert after == before


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on PATH; install Debian's chromium package (.ci/run does)")


def _browse(report: Path, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, report.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )


@pytest.mark.slow
def test_report_renders_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    # A copy with a probe script, next to the real page so its relative paths resolve.
    probe = run_dir / "report_probe.html"
    probe.write_text(
        (run_dir / "report.html").read_text().replace("</body>", PROBE_SCRIPT + "</body>")
    )
    try:
        dom = _browse(probe, "--dump-dom").stdout
        shot = tmp_path / "report.png"
        _browse(run_dir / "report.html", "--window-size=1280,2400", f"--screenshot={shot}")
    finally:
        probe.unlink()
    assert 'data-probed="yes"' in dom
    sizes = []
    for line in dom.split("<img")[1:]:
        attributes = line.split(">", 1)[0]
        width = attributes.split('data-natural-width="')[1].split('"')[0]
        height = attributes.split('data-natural-height="')[1].split('"')[0]
        sizes.append((int(width), int(height)))
    assert len(sizes) == len(_parse(run_dir / "report.html").images) > GENERATIONS
    assert all(w > 0 and h > 0 for w, h in sizes), f"images that did not load: {sizes}"
    with Image.open(shot) as image:
        grey = np.asarray(image.convert("L"))
    assert grey.shape == (2400, 1280)
    assert (grey < 240).mean() > 0.05, "the screenshot is (almost) blank"
    assert len(np.unique(grey)) > 32, "the screenshot has hardly any shades: nothing drawn"


def test_report_is_generic_over_columns(tmp_path: Path) -> None:
    """CelebA-like attribute columns get a heatmap; a run with unrelated columns and no grids
    still gets one plot per column."""
    rows = [
        {"generation": g, "fid": 10.0 + g, "attr_Eyeglasses": 0.07 / (g + 1), "attr_Bald": 0.02}
        for g in range(3)
    ]
    celeba = make_run(
        tmp_path / "celeba", rows, reference={"attr_Eyeglasses": 0.07, "attr_Bald": 0.022}
    )
    page = _parse(write_report(celeba))
    assert "plots/heatmap_attr.png" in page.images
    assert [src for src in page.images if src.startswith("plots/metric_")] == [
        "plots/metric_fid.png",
        "plots/metric_attr_Eyeglasses.png",
        "plots/metric_attr_Bald.png",
    ]
    chain = [{"generation": g, "mean": 0.1 * g, "variance": 1.0 / (g + 1)} for g in range(4)]
    gaussian = make_run(tmp_path / "gaussian", chain, grids=False)
    page = _parse(write_report(gaussian))
    assert page.images == ["plots/metric_mean.png", "plots/metric_variance.png"]
    assert read_run(gaussian).metric_columns == ["mean", "variance"]


def test_cells_are_cut_from_the_same_place_in_every_grid(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", mnist_rows([1.0, 2.0], [10, 9]))
    page = _parse(write_report(run))
    assert "plots/cells.png" in page.images
    from lab.report.figures import cut_cell

    with Image.open(run / "grids/gen_001.png") as grid:
        cell = np.asarray(cut_cell(grid, 4, 3, 2))
        assert cell.shape == (8, 8)
        # The padding around a cell is the grid's pad value (0); the cell is the image.
        whole = np.asarray(grid)
        assert (whole[:2] == 0).all() and (cell != 0).any()


def test_report_of_a_folder_that_is_not_a_run_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "not a collapse-lab run directory" in capsys.readouterr().err


def test_tensorboard_only_when_installed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("lab.training.logs.tensorboard_installed", lambda: False)
    loggers = generation_loggers(tmp_path, 0, LoggingConfig(tensorboard=True))
    assert [type(logger).__name__ for logger in loggers] == ["CSVLogger"]
    assert generation_loggers(tmp_path, 0, LoggingConfig(csv=False)) == []
    monkeypatch.undo()
    pytest.importorskip("tensorboard", reason="tensorboard is in the dev extra; pip install it")
    loggers = generation_loggers(tmp_path, 3, LoggingConfig(tensorboard=True))
    assert [type(logger).__name__ for logger in loggers] == ["CSVLogger", "TensorBoardLogger"]
    for logger in loggers:
        logger.log_metrics({"loss": 1.5}, step=0)
        logger.finalize("success")
    directory = tmp_path / "logs" / "gen_003"
    assert (directory / "csv" / "metrics.csv").is_file()
    assert list((directory / "tensorboard").glob("events.out.tfevents.*"))
