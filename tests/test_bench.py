"""The metrics benchmark's measurement at its smallest size (the full run is make bench-metrics)."""

from __future__ import annotations

import pytest

from bench.prdc_bench import NAMES, measure

pytest.importorskip("prdc")


def test_both_sides_measure_the_same_numbers_in_fresh_processes() -> None:
    ours = measure("ours", 300, k=5, repeats=1, one_core=True)
    theirs = measure("reference", 300, k=5, repeats=1, one_core=True)
    for name in NAMES:
        assert ours["numbers"][name] == pytest.approx(theirs["numbers"][name], abs=1e-6)
    assert ours["seconds"] > 0 and ours["peak_mib"] >= 0
