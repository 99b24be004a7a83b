"""The metrics benchmarks' measurements at their smallest size (the full run is make
bench-metrics)."""

from __future__ import annotations

import pytest

from bench.collapse_bench import measure as measure_collapse
from bench.prdc_bench import NAMES, measure

pytestmark = pytest.mark.slow  # whole loops: make test-fast skips this file

pytest.importorskip("prdc")


def test_both_sides_measure_the_same_numbers_in_fresh_processes() -> None:
    ours = measure("ours", 300, k=5, repeats=1, one_core=True)
    theirs = measure("reference", 300, k=5, repeats=1, one_core=True)
    for name in NAMES:
        assert ours["numbers"][name] == pytest.approx(theirs["numbers"][name], abs=1e-6)
    assert ours["seconds"] > 0 and ours["peak_mib"] >= 0


def test_the_collapse_metrics_and_their_references_agree_in_fresh_processes() -> None:
    pytest.importorskip("vendi_score")
    for ours, reference in (("vendi", "vendi-score dual"), ("copy", "copy brute force")):
        mine = measure_collapse(ours, 300, repeats=1)
        theirs = measure_collapse(reference, 300, repeats=1)
        for name, value in theirs["numbers"].items():
            assert mine["numbers"][name] == pytest.approx(value, abs=1e-6), name
