"""Seed groups and paired differences (lab/analysis/seeds.py) on run folders written without
training: an optional section that some groups lack (curate) is one setting, so a curated
group is compared with the plain one on the same seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.analysis.seeds import difference_estimates, group_by_seed, paired_differences
from lab.rundir.results import read_run
from tests.fake_runs import make_run

# seed -> the plain run's last-generation l2_distance; each curator adds its own offset.
PLAIN = {0: 0.30, 1: 0.50, 2: 0.40}
OFFSETS = {None: 0.0, "dedupe": -0.10, "class_balance": 0.02}


def _runs(root: Path) -> list:
    runs = []
    for kind, offset in OFFSETS.items():
        for seed, value in PLAIN.items():
            config = {"seed": seed, "regime": "replace"}
            if kind is not None:
                config["curate"] = {"kind": kind, "oversample": 2, "dedupe": False}
            rows = [
                {"generation": 0, "l2_distance": 0.01},
                {"generation": 1, "l2_distance": value + offset},
            ]
            path = make_run(root / f"{kind}-{seed}", rows, config=config, grids=False)
            runs.append(read_run(path))
    return runs


def test_a_section_some_groups_lack_is_one_setting(tmp_path) -> None:
    groups = group_by_seed(_runs(tmp_path))
    assert [group.label for group in groups] == [
        "curate=<not set>",
        "curate.kind=dedupe",
        "curate.kind=class_balance",
    ]
    differences = {d.label: d for d in paired_differences(groups)}
    assert set(differences) == {
        "curate: kind=dedupe - <not set>",
        "curate: kind=class_balance - <not set>",
        "curate.kind: class_balance - dedupe",
    }
    for label, offset in [
        ("curate: kind=dedupe - <not set>", -0.10),
        ("curate: kind=class_balance - <not set>", 0.02),
        ("curate.kind: class_balance - dedupe", 0.12),
    ]:
        estimate = difference_estimates(differences[label], ["l2_distance"])[1, "l2_distance"]
        assert estimate.n == 3 and estimate.mean == pytest.approx(offset)
        assert estimate.std == pytest.approx(0.0, abs=1e-12)


def test_groups_that_differ_in_two_settings_are_not_paired(tmp_path) -> None:
    """Plain against dedupe on another regime differs in the section and the regime: not
    paired; the two dedupe groups differ in the regime alone, and plain against dedupe on
    the same regime in the section alone (whose keys then tell no group apart: 'set')."""
    runs = _runs(tmp_path)[:6]
    rows = [{"generation": 0, "l2_distance": 0.01}, {"generation": 1, "l2_distance": 0.2}]
    curate = {"kind": "dedupe", "oversample": 2, "dedupe": False}
    config = {"seed": 0, "regime": "accumulate", "curate": curate}
    runs.append(read_run(make_run(tmp_path / "other", rows, config=config, grids=False)))
    labels = [d.label for d in paired_differences(group_by_seed(runs))]
    assert labels == ["curate: set - <not set>", "regime: accumulate - replace"]
