"""Curation beyond images (docs/curation.md): a text run curated by generation 0's model's
confidence and a Gaussian mixture curated by the real mixture's posterior. In both, the
generation's first draws are a plain run's, the kept items are the draws the provenance
names, and each curator chose what its known answer says."""

from __future__ import annotations

import csv
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lab.cli import main
from lab.config import load_config
from lab.domains.text.curation_report import SHOWN_EACH, curation_section
from lab.domains.text.features import BUCKETS, word_profiles
from lab.domains.text.report import byte_text
from lab.domains.text.tokens import BYTES
from lab.domains.vectors.mixture import MixtureFit
from lab.domains.vectors.statistics import component_posteriors
from lab.rundir.directory import METRICS_FILE
from lab.rundir.results import read_run
from tests.test_text_run import SAMPLES as TEXT_SAMPLES
from tests.test_text_run import TINY_TEXT

pytestmark = pytest.mark.slow  # whole loops: make test-fast skips this file

MIXTURE = {
    "name": "mixture",
    "generations": 3,
    "samples_per_generation": 200,
    "seed": 1,
    "data": {"name": "gmm"},
    "model": {"kind": "gmm", "commit_every": 3, "plot_generations": [0]},
}


def _run(root: Path, config: dict) -> Path:
    path = root / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    run_dir = root / config["name"]
    assert main(["run", str(path), "--run-dir", str(run_dir)]) == 0
    return run_dir


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as arrays:
        return dict(arrays)


def test_word_profiles_count_hashed_word_ngrams_at_unit_length() -> None:
    text = b"The cat, the CAT sat."
    row = torch.frombuffer(bytearray(text), dtype=torch.uint8)[None]
    expected = np.zeros(BUCKETS)
    for gram in ["the", "cat", "the", "cat", "sat", "the cat", "cat the", "the cat", "cat sat"]:
        expected[zlib.crc32(gram.encode()) % BUCKETS] += 1
    profile = word_profiles(torch.cat([row, torch.zeros_like(row)]), BYTES)
    np.testing.assert_allclose(profile[0].numpy(), expected / np.linalg.norm(expected), rtol=1e-6)
    assert not profile[1].any(), "a sequence without words has no profile"


@pytest.fixture(scope="module")
def text_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("text_curation")
    plain = _run(root, {**TINY_TEXT, "name": "plain", "generations": 1})
    curate = {"kind": "judge_confidence", "oversample": 3}
    curated = _run(root, {**TINY_TEXT, "name": "curated", "generations": 2, "curate": curate})
    return {"plain": plain, "curated": curated}


def test_text_curation_keeps_what_generation_0s_model_finds_likeliest(text_runs) -> None:
    """The first continuations are the plain run's; each kept one with a draw among them is
    that continuation, scored 1 / its perplexity under generation 0's model, and no dropped
    one scored higher than the lowest kept."""
    plain, curated = text_runs["plain"], text_runs["curated"]
    name = "samples/gen_000.npz"
    assert (curated / name).read_bytes() == (plain / name).read_bytes()
    drawn = _npz(curated / name)
    kept = _npz(curated / "curated/gen_000.npz")["sequences"]
    reasons = _rows(curated / "curated/gen_000.csv")
    draws = [int(row["draw"]) for row in reasons]
    scores = {int(row["draw"]): float(row["score"]) for row in reasons}
    assert len(kept) == TEXT_SAMPLES and draws == sorted(set(draws))
    assert max(draws) >= TEXT_SAMPLES, "no extra continuation was kept"
    first = [position for position, draw in enumerate(draws) if draw < TEXT_SAMPLES]
    assert np.array_equal(kept[first], drawn["sequences"][[draws[i] for i in first]])
    confidence = 1 / drawn["first_model_perplexity"]
    kept_first = [draws[i] for i in first]
    assert [scores[d] for d in kept_first] == pytest.approx(confidence[kept_first], rel=1e-5)
    dropped = sorted(set(range(TEXT_SAMPLES)) - set(kept_first))
    assert confidence[dropped].max() <= min(scores.values()) * (1 + 1e-5)
    row = _rows(curated / METRICS_FILE)[0]
    assert float(row["curated_fraction"]) == pytest.approx(1 / 3, abs=1e-6)
    assert "class_entropy_kept" not in row


def test_the_text_report_shows_kept_beside_dropped_continuations(text_runs) -> None:
    """The report's table: per generation the first kept continuations and the first of the
    first draws the curator dropped, as the files hold them; a plain run has no such table."""
    curated = text_runs["curated"]
    section = curation_section(read_run(curated), byte_text)
    assert section is not None and section.table is not None
    for generation, row in enumerate(section.table.rows):
        kept = _npz(curated / f"curated/gen_{generation:03d}.npz")["sequences"]
        drawn = _npz(curated / f"samples/gen_{generation:03d}.npz")["sequences"]
        draws = {int(r["draw"]) for r in _rows(curated / f"curated/gen_{generation:03d}.csv")}
        dropped = [i for i in range(len(drawn)) if i not in draws][:SHOWN_EACH]
        expected = [byte_text(r) for r in [*kept[:SHOWN_EACH], *drawn[dropped]]]
        assert row == (f"generation {generation}", *expected)
    assert len(section.table.rows) == 2
    assert "What the curator kept" in (curated / "report.html").read_text()
    assert curation_section(read_run(text_runs["plain"]), byte_text) is None


@pytest.fixture(scope="module")
def mixture_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mixture_curation")
    curate = {"kind": "class_balance", "oversample": 2}
    return {
        "plain": _run(root, MIXTURE),
        "curated": _run(root, {**MIXTURE, "name": "curated", "curate": curate}),
    }


def test_mixture_curation_balances_the_real_modes(mixture_runs) -> None:
    """The first draws and generation 0's fit are the plain run's; the kept points are the
    draws the file names, and class_balance kept each real mode's share of them (0.5 each,
    as the real mixture's posterior labels them)."""
    plain, curated = mixture_runs["plain"], mixture_runs["curated"]
    name = "samples/gen_0000-0002.npz"
    first_draws = _npz(curated / name)["samples"][0]
    assert np.array_equal(first_draws, _npz(plain / name)["samples"][0])
    assert (
        _rows(curated / METRICS_FILE)[0]["l2_distance"]
        == _rows(plain / METRICS_FILE)[0]["l2_distance"]
    )
    stored = _npz(curated / "curated/gen_0000-0002.npz")
    count = MIXTURE["samples_per_generation"]
    assert stored["kept_counts"].tolist() == [count] * 3
    all_draws = _npz(curated / name)["samples"]
    data = load_config(curated.parent / "curated.yaml").data
    real = MixtureFit(*data.arrays(), 0)
    later_draws_kept = 0
    for generation in range(3):
        part = slice(generation * count, (generation + 1) * count)
        points, draws = stored["points"][part], stored["draws"][part]
        among_first = draws < count
        later_draws_kept += int((~among_first).sum())
        assert np.array_equal(points[among_first], all_draws[generation][draws[among_first]])
        labels = component_posteriors(real, points).argmax(1)
        assert np.bincount(labels, minlength=2).tolist() == [count // 2, count // 2]
    assert later_draws_kept, "no draw after the first samples_per_generation was kept"
    row = _rows(curated / METRICS_FILE)[0]
    assert float(row["class_entropy_kept"]) == pytest.approx(1.0)
    assert float(row["curated_fraction"]) == 0.5
