"""`collapse-lab check`: exit 1 naming what broke, 0 when thresholds hold, 2 for no run."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cli import main
from lab.config import load_config
from lab.errors import ConfigError
from tests.fake_runs import make_run, mnist_rows

FIDS = [80.0, 150.0, 260.0, 390.0]
COVERED = [10, 10, 8, 7]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run", mnist_rows(FIDS, COVERED))


def _check(capsys, *args: str) -> tuple[int, list[str], str]:
    code = main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out.strip().splitlines(), captured.err


def test_a_violated_threshold_exits_1_naming_metric_generation_value_limit(run_dir, capsys):
    code, lines, _ = _check(capsys, str(run_dir), "--max-fid", "200")
    assert code == 1
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("fid: generation 2 has 260, above the limit 200")
    assert "--max-fid 200" in line and "also generation 3" in line


def test_one_line_per_violated_threshold(run_dir, capsys):
    code, lines, _ = _check(
        capsys,
        str(run_dir),
        "--min-classes-covered",
        "9",
        "--max-fid-increase",
        "3",
        "--max",
        "fid=1000",
    )
    assert code == 1
    assert lines == [
        "classes_covered: generation 2 has 8, below the minimum 9 (--min-classes-covered 9); "
        "also generation 3",
        "fid: generation 2 has 260, above the limit 240 = 3 x generation 0's 80 "
        "(--max-fid-increase 3); also generation 3",
    ]


def test_thresholds_that_hold_exit_0(run_dir, capsys):
    code, lines, _ = _check(
        capsys,
        str(run_dir),
        "--max-fid",
        "390",
        "--min",
        "classes_covered=7",
        "--max-increase",
        "fid=5",
    )
    assert code == 0
    assert lines == [f"ok: 3 thresholds hold for all 4 generations of {run_dir}"]


def test_a_folder_that_is_not_a_run_exits_2(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    code, _, err = _check(capsys, str(folder), "--max-fid", "100")
    assert code == 2
    assert "not a collapse-lab run directory" in err
    code, _, err = _check(capsys, str(tmp_path / "missing"), "--max-fid", "100")
    assert code == 2 and "is not a directory" in err


def test_a_damaged_manifest_exits_2(run_dir, capsys):
    (run_dir / "manifest.json").write_text("{ not json")
    code, _, err = _check(capsys, str(run_dir), "--max-fid", "100")
    assert code == 2 and "manifest.json" in err and "is damaged (it is not valid JSON" in err


def test_an_unknown_metric_exits_2_with_a_suggestion(run_dir, capsys):
    code, _, err = _check(capsys, str(run_dir), "--max", "fdi=3")
    assert code == 2
    assert "'fdi' is not a metric" in err and "did you mean 'fid'?" in err
    code, _, err = _check(capsys, str(run_dir), "--min-rare-class-recall", "0.2")
    assert code == 2 and "'rare_class_recall' is not a metric" in err


def test_no_thresholds_at_all_is_an_error_not_a_pass(run_dir, capsys):
    code, _, err = _check(capsys, str(run_dir))
    assert code == 2 and "no thresholds" in err


def test_thresholds_from_the_run_config_and_flags_override_them(tmp_path, capsys):
    config = {"check": {"max": {"fid": 200.0}, "min": {"classes_covered": 10}}}
    run_dir = make_run(tmp_path / "run", mnist_rows(FIDS, COVERED), config=config)
    code, lines, _ = _check(capsys, str(run_dir))
    assert code == 1
    assert [line.split(":")[0] for line in lines] == ["fid", "classes_covered"]
    assert "check.max.fid in" in lines[0]
    code, lines, _ = _check(capsys, str(run_dir), "--max-fid", "400", "--min", "classes_covered=7")
    assert code == 0, lines


def test_thresholds_from_another_experiment_yaml(run_dir, tmp_path, capsys):
    other = tmp_path / "strict.yaml"
    other.write_text("name: strict\ncheck:\n  min:\n    classes_covered: 9\n")
    code, lines, _ = _check(capsys, str(run_dir), "--config", str(other))
    assert code == 1 and lines[0].startswith("classes_covered: generation 2 has 8")


def test_the_check_section_is_validated_on_load(write_config):
    config = load_config(write_config({"check": {"max_increase": {"fid": 3}}}))
    assert config.check.max_increase == {"fid": 3.0}
    with pytest.raises(ConfigError, match=r"'check.max.fid score' is not a metric name"):
        load_config(write_config({"check": {"max": {"fid score": 3}}}))
    with pytest.raises(ConfigError, match=r"'check.maximum' is not known.*did you mean"):
        load_config(write_config({"check": {"maximum": {"fid": 3}}}))
    with pytest.raises(ConfigError, match=r"'check.max_increase.fid' must be > 0"):
        load_config(write_config({"check": {"max_increase": {"fid": 0}}}))
    with pytest.raises(ConfigError, match=r"'name' must be a non-empty name"):
        load_config(write_config({"name": "a/b"}))
