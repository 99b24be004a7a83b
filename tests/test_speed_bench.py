"""`make bench` at its smallest size: every part runs and the results files are well formed
(written to a temp folder; the committed bench/RESULTS.md holds the GPU's full-size run)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from bench.results_file import remove_section, write_section
from bench.speed import SIZES, default_size, main


@pytest.mark.slow
def test_smoke_bench_measures_every_part_and_keeps_other_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ViT-L feature spaces take half a minute on one core even at the smoke size; the
    # suite leaves them to `make bench` (features_per_second is tested on its own).
    monkeypatch.setitem(SIZES, "smoke", dataclasses.replace(SIZES["smoke"], vit_images=0))
    out = tmp_path / "out"
    write_section(out / "RESULTS.md", "prdc", "## PRDC: an earlier benchmark's section")
    code = main(["--size", "smoke", "--out", str(out), "--work-dir", str(tmp_path / "work")])
    assert code == 0
    stored = json.loads((out / "results.json").read_text())
    (key,) = stored
    results = stored[key]
    card = results["card"]
    assert key == f"speed {card}"
    assert results["errors"] == {} and results["size"] == "smoke"
    for model in ("dcgan", "vae"):
        section = results[model]
        measured = [*section["baselines"].values(), *section["lab"].values()]
        assert len(measured) == 4
        assert all(value["images_per_s"] > 0 and value["images"] > 0 for value in measured)
        assert section["sampling"]["images"] > 0
    assert results["dcgan"]["flops_per_batch"] > 0
    assert results["matmul"]["flops_per_s"] > 0
    drawn = {(value["model"], value["experiment"]) for value in results["generation"]}
    assert drawn == {("diffusion", "demo_diffusion.yaml"), ("GPT (bytes)", "demo_text_beams.yaml")}
    assert all(value["items_per_s"] > 0 for value in results["generation"])
    judge = results["evaluation"]["judge"]
    assert judge["total_s"] >= judge["per_generation_s"] > 0
    assert (out / results["dcgan"]["profile"]["file"]).stat().st_size > 0
    text = (out / "RESULTS.md").read_text()
    assert "## PRDC: an earlier benchmark's section" in text
    assert f"## Speed: {card}" in text and "### Targets" in text
    assert "| diffusion | `demo_diffusion.yaml` | 10 DDIM steps, guidance 0 | 50 |" in text
    if not results["accelerated"]:
        assert "CPU run" in text and "yes |" not in text and "| no:" not in text
        assert text.count("not a target measurement (CPU or small size)") == 3


def test_features_per_second_times_a_space() -> None:
    from bench.evaluation import features_per_second
    from lab.device import plan_device
    from lab.metrics.features import FeatureSpace
    from lab.metrics.vit import Preprocessing, PretrainedFeatures

    unit = Preprocessing(size=8, mean=(0.0,) * 3, std=(1.0,) * 3, centre_crop=False)
    module = PretrainedFeatures(torch.nn.Flatten(), unit, 3 * 8 * 8, "none")
    images = torch.zeros(6, 1, 4, 4, dtype=torch.uint8)
    timed = features_per_second(
        plan_device("cpu", "32-true", True), FeatureSpace("x", module), images, 4
    )
    assert timed["images"] == 6
    assert timed["features_per_s"] == pytest.approx(6 / timed["seconds"])


def test_plain_make_bench_runs_the_smoke_size_on_a_cpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_size() == "smoke"


def test_a_section_is_replaced_in_place_and_others_stay(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    write_section(path, "speed A", "## A, first run")
    write_section(path, "speed B", "## B")
    write_section(path, "speed A", "## A, second run")
    text = path.read_text()
    assert "## A, second run" in text and "first run" not in text and "## B" in text
    assert text.index("## A") < text.index("## B")
    remove_section(path, "speed A")
    remove_section(path, "speed C")  # absent: nothing changes
    text = path.read_text()
    assert "## A" not in text and "speed A" not in text and "## B" in text
    assert text.startswith("# Benchmarks") and not text.endswith("\n\n")
