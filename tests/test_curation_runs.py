"""Curation in whole runs (docs/curation.md): the metrics measure the same first draws as a
run without it, the next generation trains on the kept ones, a kill during curation resumes
to the same bytes, check, compare and the report read its columns and files, and a curator
from outside lab/ runs."""

from __future__ import annotations

import csv
import io
import json
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import lab.report.figures
from lab.cli import main
from lab.device import plan_device
from lab.domains.images.curation_report import curation_section
from lab.domains.images.grids import GRID_PADDING
from lab.domains.images.predictions import predict_confidence
from lab.domains.images.settings import ImageSamplingConfig
from lab.report.figures import cut_cell
from lab.rundir.directory import MANIFEST_FILE, METRICS_FILE
from lab.rundir.results import read_run
from lab.rundir.storage import encode_npz, sha256_file
from tests.conftest import TINY_EXPERIMENT
from tests.run_processes import launch_run

pytestmark = pytest.mark.slow  # whole loops: make test-fast skips this file

SAMPLES = 300
SMALL = {
    "samples_per_generation": SAMPLES,
    "train": {"max_steps": 20, "batch_size": 64, "lr": 0.002},
}
CURATE = {"kind": "judge_confidence", "oversample": 2}
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_curator" / "experiment.yaml"


def _run(root: Path, name: str, cache_dir: Path, changes: dict) -> tuple[Path, Path]:
    """(config, run directory) of a finished tiny run with `changes`."""
    config = root / f"{name}.yaml"
    raw = {**TINY_EXPERIMENT, **SMALL, "name": name, "cache_dir": str(cache_dir), **changes}
    config.write_text(yaml.safe_dump(raw))
    run_dir = root / name
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    return config, run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> dict[str, Path]:
    """A plain run of one generation and a curated one of two, on the same seed."""
    root = tmp_path_factory.mktemp("curation")
    _, plain = _run(root, "plain", cache_dir, {"generations": 1})
    config, curated = _run(root, "curated", cache_dir, {"generations": 2, "curate": CURATE})
    return {"plain": plain, "curated": curated, "config": config}


def _rows(run_dir: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((run_dir / METRICS_FILE).read_text())))


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as arrays:
        return dict(arrays)


def test_curated_and_plain_runs_measure_the_same_first_draws(runs) -> None:
    plain, curated = runs["plain"], runs["curated"]
    name = "samples/gen_000.npz"
    assert (curated / name).read_bytes() == (plain / name).read_bytes()
    plain_row, curated_row = _rows(plain)[0], _rows(curated)[0]
    assert {key: curated_row[key] for key in plain_row} == plain_row
    assert float(curated_row["curated_fraction"]) == 0.5
    kept = _npz(curated / "curated/gen_000.npz")["labels"]
    shares = np.bincount(kept, minlength=10) / len(kept)
    entropy = -sum(share * np.log2(share) for share in shares if share > 0) + 0.0
    assert float(curated_row["class_entropy_kept"]) == pytest.approx(entropy, abs=1e-6)


def test_the_kept_draws_are_what_the_next_generation_trains_on(runs) -> None:
    curated = runs["curated"]
    kept = _npz(curated / "curated/gen_000.npz")
    drawn = _npz(curated / "samples/gen_000.npz")
    reasons = list(csv.DictReader((curated / "curated/gen_000.csv").open()))
    draws = [int(row["draw"]) for row in reasons]
    assert len(kept["images"]) == len(reasons) == SAMPLES and draws == sorted(set(draws))
    assert {row["curator"] for row in reasons} == {"judge_confidence"}
    assert max(draws) >= SAMPLES, "no draw after the first samples_per_generation was kept"
    first = [position for position, draw in enumerate(draws) if draw < SAMPLES]
    assert np.array_equal(kept["images"][first], drawn["images"][[draws[i] for i in first]])
    manifest = json.loads((curated / MANIFEST_FILE).read_text())
    assert "curated/gen_000.npz" in json.dumps(manifest["generations"][0])
    provenance = (curated / "provenance/gen_001.csv").read_text().splitlines()
    assert provenance[1:] == [f"{i},gen:0:{i}" for i in range(SAMPLES)]


def test_judge_confidence_kept_the_draws_the_judge_is_surest_of(runs, mnist) -> None:
    """Against the judge's own probabilities of the first draws: every one it kept scores
    what the provenance says, and none it dropped scores above the least sure one kept."""
    _, _, judge = mnist
    curated = runs["curated"]
    drawn = torch.from_numpy(_npz(curated / "samples/gen_000.npz")["images"])
    confidence, _ = predict_confidence(judge, drawn, plan_device("cpu", "32-true", True), 256)
    reasons = list(csv.DictReader((curated / "curated/gen_000.csv").open()))
    scores = {int(row["draw"]): float(row["score"]) for row in reasons}
    kept_first = [draw for draw in scores if draw < SAMPLES]
    dropped = sorted(set(range(SAMPLES)) - set(kept_first))
    assert [scores[d] for d in kept_first] == pytest.approx(
        confidence[kept_first].tolist(), rel=1e-5
    )
    assert float(confidence[dropped].max()) <= min(scores.values()) + 1e-5  # csv: 6 digits


def test_check_and_compare_read_the_curation_columns(runs, tmp_path, capsys) -> None:
    curated, plain = runs["curated"], runs["plain"]
    assert main(["check", str(curated), "--min", "curated_fraction=0.6"]) == 1
    assert "curated_fraction" in capsys.readouterr().out
    assert main(["check", str(curated), "--min", "curated_fraction=0.5"]) == 0
    out = tmp_path / "compare"
    assert main(["compare", str(plain), str(curated), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "curated_fraction" in table and "class_entropy_kept" in table
    header = (out / "compare.csv").read_text().splitlines()[0].split(",")
    assert {"curated_fraction", "class_entropy_kept"} <= set(header)


REPORT_SECTION = "<h2>What the curator kept</h2>"


def test_the_report_shows_the_first_draws_beside_the_first_kept(runs) -> None:
    """Each generation's two grids hold, cell by cell, the first draws of samples/ and the
    first kept images of curated/ (which differ: the curator dropped some first draws)."""
    curated = runs["curated"]
    page = (curated / "report.html").read_text()
    assert REPORT_SECTION in page and "judge_confidence kept" in page
    rows = ImageSamplingConfig().grid_rows  # the tiny run leaves grid_rows at its default
    for generation in range(2):
        cells = {}
        for which, folder in (("drawn", "samples"), ("kept", "curated")):
            relative = f"plots/curated_{which}_gen_{generation:03d}.png"
            assert f'src="{relative}"' in page
            with Image.open(curated / relative) as grid:
                cells[which] = np.stack(
                    [np.asarray(cut_cell(grid, i, rows, GRID_PADDING)) for i in range(rows**2)]
                )
            images = _npz(curated / f"{folder}/gen_{generation:03d}.npz")["images"]
            assert np.array_equal(cells[which], images[: rows**2, 0])
        assert not np.array_equal(cells["drawn"], cells["kept"])
    assert 'src="plots/curated_class_entropy.png"' in page


def test_the_reports_entropy_chart_plots_draws_kept_and_real(runs, monkeypatch) -> None:
    drawn = []
    monkeypatch.setattr(
        lab.report.figures, "comparison_plot", lambda *args, **kw: drawn.append((args, kw))
    )
    results = read_run(runs["curated"])
    section = curation_section(results, 2)
    assert [figure.relative for figure in section.charts] == ["plots/curated_class_entropy.png"]
    ((_, series), options) = drawn[0]
    rows = _rows(runs["curated"])
    assert [label for label, _, _ in series] == ["draws", "kept"]
    for (_, generations, values), column in zip(
        series, ("class_entropy", "class_entropy_kept"), strict=True
    ):
        assert generations == [0, 1]
        assert values == [float(row[column]) for row in rows]
    real = json.loads((runs["curated"] / MANIFEST_FILE).read_text())["reference"]
    assert options == {"real": real["class_entropy"]}


def test_a_generation_that_kept_nothing_gets_no_kept_grid(runs, tmp_path) -> None:
    """With allow_fewer a curator may keep nothing: the report says so instead of failing."""
    run_dir = tmp_path / "none_kept"
    shutil.copytree(runs["curated"], run_dir)
    empty = run_dir / "curated/gen_001.npz"
    empty.write_bytes(encode_npz({"images": np.zeros((0, 1, 28, 28), np.uint8)}))
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    manifest["generations"][1]["files"]["curated/gen_001.npz"] = sha256_file(empty)
    (run_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    section = curation_section(read_run(run_dir), 2)
    assert [figure.caption for figure in section.figures] == [
        "generation 0: first 4 drawn",
        "generation 0: first 4 kept",
        "generation 1: first 4 drawn",
    ]
    assert section.note.endswith("Kept nothing in generation 1.")


def test_a_plain_runs_report_has_no_curation_section(runs) -> None:
    plain = runs["plain"]
    assert REPORT_SECTION not in (plain / "report.html").read_text()
    assert not list(plain.glob("plots/curated_*"))


def _outputs(run_dir: Path) -> dict[str, bytes]:
    files = [
        run_dir / METRICS_FILE,
        *run_dir.glob("samples/*.npz"),
        *run_dir.glob("curated/*"),
        *run_dir.glob("provenance/*"),
    ]
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(files)}


def test_a_kill_during_curation_resumes_to_identical_bytes(runs, tmp_path) -> None:
    run_dir = tmp_path / "killed"
    process = launch_run(runs["config"], run_dir, kill_at="curated:1")
    _, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, err
    assert not (run_dir / "curated/gen_001.npz").exists()
    assert main(["run", str(runs["config"]), "--run-dir", str(run_dir)]) == 0
    assert _outputs(run_dir) == _outputs(runs["curated"])


def test_a_curator_from_outside_the_lab_runs(cache_dir, tmp_path) -> None:
    """examples/own_curator/, shrunk, its TypicalInk keeping the draws."""
    run_dir = tmp_path / "own"
    overrides = [
        "generations=1",
        f"seed={TINY_EXPERIMENT['seed']}",  # the seed the session's cached judge was trained with
        f"samples_per_generation={SAMPLES}",
        "train.max_epochs=null",
        "train.max_steps=20",
        f"cache_dir={cache_dir}",
        "curate.dedupe=false",  # a VAE 20 steps old draws near-copies of one blur
    ]
    arguments = ["run", str(EXAMPLE), "--run-dir", str(run_dir)]
    assert main([*arguments, *(f"--set={o}" for o in overrides)]) == 0
    reasons = list(csv.DictReader((run_dir / "curated/gen_000.csv").open()))
    assert len(reasons) == SAMPLES
    assert {row["curator"] for row in reasons} == {"typical_ink.TypicalInk"}
