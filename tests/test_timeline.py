"""The collapse timeline in `collapse-lab check` and the report: the first generation of early
collapse (tails lost while FID holds) and of late collapse (variety lost), on runs whose
numbers are written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cli import main
from lab.config import load_config
from lab.errors import ConfigError
from lab.report.writer import write_report
from tests.fake_runs import make_run

REFERENCE = {"vendi": 40.0, "class_entropy": 3.3}


def _rows(fid, tail, rare, vendi, entropy) -> list[dict[str, float]]:  # noqa: ANN001
    return [
        {
            "generation": g,
            "fid": values[0],
            "tail_recall": values[1],
            "rare_class_recall": values[2],
            "vendi": values[3],
            "class_entropy": values[4],
        }
        for g, values in enumerate(zip(fid, tail, rare, vendi, entropy, strict=True))
    ]


# The tails halve by generation 2 while FID has risen by a third; the Vendi score halves by 4.
TAILS_FIRST = _rows(
    fid=[90, 100, 120, 200, 400],
    tail=[0.6, 0.5, 0.25, 0.1, 0.0],
    rare=[0.4, 0.35, 0.3, 0.1, 0.0],
    vendi=[36, 34, 30, 24, 15],
    entropy=[3.3, 3.2, 3.2, 3.0, 2.5],
)
# Everything falls together: the tails halve only once FID has doubled.
ALL_AT_ONCE = _rows(
    fid=[90, 200, 400],
    tail=[0.6, 0.4, 0.2],
    rare=[0.4, 0.3, 0.1],
    vendi=[36, 30, 25],
    entropy=[3.3, 3.2, 3.1],
)


def _check(capsys, run_dir: Path, *args: str) -> tuple[int, list[str]]:
    code = main(["check", str(run_dir), *args])
    return code, capsys.readouterr().out.strip().splitlines()


def test_check_names_the_first_generation_of_each_stage(tmp_path, capsys) -> None:
    run_dir = make_run(tmp_path / "run", TAILS_FIRST, reference=REFERENCE)
    code, lines = _check(capsys, run_dir, "--max-fid", "1000")
    assert code == 0
    assert lines[0] == (
        "early collapse: from generation 2 (tail_recall 0.25 < 0.5 x generation 0's 0.6, "
        "while fid 120 <= 1.5 x generation 0's 90)"
    )
    assert lines[1] == "late collapse: from generation 4 (vendi 15 < 0.5 x the real data's 40)"
    assert lines[2].startswith("ok: 1 threshold")
    # The timeline never changes the exit status: the thresholds decide it, as before.
    code, lines = _check(capsys, run_dir, "--max-fid", "150")
    assert code == 1 and lines[0].startswith("early collapse: from generation 2")
    assert lines[2].startswith("fid: generation 3 has 200")


def test_tails_that_fall_only_with_fid_are_no_early_collapse(tmp_path, capsys) -> None:
    run_dir = make_run(tmp_path / "run", ALL_AT_ONCE, reference=REFERENCE)
    _, lines = _check(capsys, run_dir, "--max-fid", "1000")
    assert lines[0].startswith("early collapse: not seen: the tails fell only after fid")
    assert "tail_recall 0.2 < 0.5 x generation 0's 0.6 at generation 2" in lines[0]
    assert lines[1] == (
        "late collapse: not reached in 3 generations (lowest: vendi at generation 2: 0.625 x "
        "the real data's; late collapse is below 0.5 x)"
    )


def test_the_check_section_sets_the_fractions(tmp_path, capsys) -> None:
    check = {
        "early_collapse": {"tails_below": 0.3, "quality_within": 3.0},
        "late_collapse": {"diversity_below": 0.8},
    }
    run_dir = make_run(tmp_path / "run", TAILS_FIRST, config={"check": check}, reference=REFERENCE)
    _, lines = _check(capsys, run_dir, "--max-fid", "1000")
    # tail_recall 0.1 < 0.3 x 0.6 at generation 3, with FID 200 within 3 x 90.
    assert lines[0] == (
        "early collapse: from generation 3 (tail_recall 0.1 < 0.3 x generation 0's 0.6, "
        "while fid 200 <= 3 x generation 0's 90)"
    )
    assert lines[1] == "late collapse: from generation 2 (vendi 30 < 0.8 x the real data's 40)"


def test_any_signal_the_run_has_counts(tmp_path, capsys) -> None:
    """A run without tail_recall and vendi (older, or another kind of labels) is read from the
    rarest class's recall and the class entropy."""
    rows = [
        {k: v for k, v in row.items() if k not in ("tail_recall", "vendi")} for row in TAILS_FIRST
    ]
    check = {"late_collapse": {"diversity_below": 0.8}}
    run_dir = make_run(tmp_path / "run", rows, config={"check": check}, reference=REFERENCE)
    _, lines = _check(capsys, run_dir, "--max-fid", "1000")
    assert lines[0].startswith("early collapse: not seen: the tails fell only after fid")
    assert "(rare_class_recall 0.1 < 0.5 x generation 0's 0.4 at generation 3" in lines[0]
    assert lines[1] == (
        "late collapse: from generation 4 (class_entropy 2.5 < 0.8 x the real data's 3.3)"
    )


def test_no_timeline_without_its_columns_or_for_a_kind_without_one(tmp_path, capsys) -> None:
    old = make_run(tmp_path / "old", [{"generation": 0, "fid": 90.0}, {"generation": 1, "fid": 95}])
    assert _check(capsys, old, "--max-fid", "100")[1] == [
        f"ok: 1 threshold hold for all 2 generations of {old}"
    ]
    vectors = make_run(tmp_path / "vectors", TAILS_FIRST, config={"data": {"name": "gaussian"}})
    assert len(_check(capsys, vectors, "--max-fid", "1000")[1]) == 1


def test_the_report_shows_the_timeline_at_its_top(tmp_path) -> None:
    run_dir = make_run(tmp_path / "run", TAILS_FIRST, reference=REFERENCE)
    page = write_report(run_dir).read_text()
    timeline = page.index("<h2>Collapse timeline</h2>")
    assert timeline < page.index("<h2>Samples of every generation</h2>")
    assert "early collapse: from generation 2 (tail_recall 0.25 &lt; 0.5 x" in page
    assert "late collapse: from generation 4 (vendi 15 &lt; 0.5 x the real data&#x27;s 40)" in page
    old = make_run(tmp_path / "old", [{"generation": 0, "fid": 90.0}])
    assert "Collapse timeline" not in write_report(old).read_text()


def test_the_fractions_are_validated_on_load(write_config) -> None:
    config = load_config(write_config())
    assert config.check.early_collapse.tails_below == 0.5
    assert config.check.early_collapse.quality_within == 1.5
    assert config.check.late_collapse.diversity_below == 0.5
    with pytest.raises(ConfigError, match=r"'check.early_collapse.quality_within' must be >= 1"):
        load_config(write_config({"check": {"early_collapse": {"quality_within": 0.9}}}))
    with pytest.raises(ConfigError, match=r"'check.late_collapse.diversity_below' must be > 0"):
        load_config(write_config({"check": {"late_collapse": {"diversity_below": 0}}}))
