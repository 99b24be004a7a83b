"""`collapse-lab eval` on small folders and .npz files written here, and its clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lab.cli import main
from lab.config import load_config
from lab.data.load import load_real_data
from lab.rundir.storage import encode_npz

COUNT = 40


def write_folder(folder: Path, images: torch.Tensor) -> Path:
    folder.mkdir(parents=True)
    for index, image in enumerate(images):
        Image.fromarray(image[0].numpy()).save(folder / f"{index:04d}.png")
    return folder


@pytest.fixture(scope="module")
def digits(tiny_config, tmp_path_factory) -> dict[str, Path]:
    """Real held-out digits and real training digits as folders, and the latter as .npz."""
    real = load_real_data(load_config(tiny_config).data)
    root = tmp_path_factory.mktemp("digits")
    picked = torch.arange(0, len(real.heldout), len(real.heldout) // COUNT)[:COUNT]
    others = real.train.images[:COUNT]
    (root / "fake.npz").write_bytes(encode_npz({"images": others.numpy()}))
    return {
        "real": write_folder(root / "real", real.heldout.images[picked]),
        "fake": write_folder(root / "fake", others),
        "fake_npz": root / "fake.npz",
    }


def run_eval(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["eval", *map(str, args)])
    captured = capsys.readouterr()
    report = json.loads(captured.out) if code == 0 and "--json" in args else None
    return code, report, captured.err


def test_folders_with_a_judge_give_every_number(digits, tiny_config, capsys) -> None:
    code, report, _ = run_eval(
        capsys, digits["real"], digits["fake"], "--judge-config", tiny_config, "--json"
    )
    assert code == 0
    metrics = report["metrics"]
    assert report["real_images"] == report["fake_images"] == COUNT
    for name in ("fid", "precision", "recall", "density", "coverage", "classes_covered"):
        assert name in metrics
    assert {f"recall_{d}" for d in range(10)} <= set(metrics)
    assert 0 < metrics["precision"] <= 1 and 0 < metrics["recall"] <= 1
    assert metrics["fid"] > 0


def test_the_training_set_adds_copy_fraction(digits, tiny_config, capsys) -> None:
    """FAKE is the training digits themselves: every one a copy of TRAIN; the held-out digits,
    never trained on, are not all copies. Tail, bulk and Vendi columns come without --train."""
    code, report, _ = run_eval(
        capsys, digits["real"], digits["fake"], "--judge-config", tiny_config, "--json"
    )
    assert code == 0 and "copy_fraction" not in report["metrics"]
    assert {"tail_recall", "bulk_recall", "tail_coverage", "bulk_coverage", "vendi"} <= set(
        report["metrics"]
    )
    copied = run_eval(
        capsys,
        digits["fake"],
        "--judge-config",
        tiny_config,
        "--train",
        digits["fake_npz"],
        "--json",
    )[1]["metrics"]
    assert copied["copy_fraction"] == 1.0
    unseen = run_eval(
        capsys, digits["real"], "--judge-config", tiny_config, "--train", digits["fake"], "--json"
    )[1]["metrics"]
    assert unseen["copy_fraction"] < 1.0


def test_a_folder_against_itself_is_perfect(digits, tiny_config, capsys) -> None:
    code, report, _ = run_eval(
        capsys, digits["real"], digits["real"], "--judge-config", tiny_config, "--json"
    )
    assert code == 0
    metrics = report["metrics"]
    assert metrics["precision"] == metrics["recall"] == metrics["coverage"] == 1.0
    assert metrics["fid"] == pytest.approx(0.0, abs=1e-2)


def test_npz_and_folder_of_the_same_images_agree(digits, tiny_config, capsys) -> None:
    reports = []
    for fake in (digits["fake"], digits["fake_npz"]):
        code, report, _ = run_eval(
            capsys, digits["real"], fake, "--judge-config", tiny_config, "--json"
        )
        assert code == 0
        reports.append(report["metrics"])
    # The same uint8 pixels; float features may differ in the last bits between two passes.
    assert reports[0] == pytest.approx(reports[1], rel=1e-5)


def test_text_output_lists_the_metrics(digits, tiny_config, capsys) -> None:
    assert (
        main(["eval", str(digits["real"]), str(digits["fake"]), "--judge-config", str(tiny_config)])
        == 0
    )
    out = capsys.readouterr().out
    assert "feature space: judge" in out
    assert "precision" in out and "rare_class_recall" in out


def test_a_corrupt_png_is_named(digits, tmp_path, capsys) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    for source in sorted(digits["fake"].iterdir())[:10]:
        (fake / source.name).write_bytes(source.read_bytes())
    broken = fake / "0005.png"
    broken.write_bytes(broken.read_bytes()[:60])  # truncated mid-file
    code, _, err = run_eval(capsys, digits["real"], fake, "--feature-space", "inception")
    assert code == 2
    assert f"'{broken}' cannot be read as an image" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_folder_of_mixed_sizes_is_named(digits, tmp_path, capsys) -> None:
    fake = tmp_path / "mixed"
    fake.mkdir()
    for index in range(8):
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(fake / f"{index}.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(fake / "9.png")
    code, _, err = run_eval(capsys, digits["real"], fake, "--feature-space", "inception")
    assert code == 2
    assert f"'{fake / '9.png'}' is 32x32 pixels but '{fake / '0.png'}' is 28x28" in err


def test_the_judge_space_needs_a_judge_config(digits, capsys) -> None:
    code, _, err = run_eval(capsys, digits["real"], digits["fake"])
    assert code == 2
    assert "pass --judge-config" in err and "--feature-space inception" in err


def test_images_of_another_shape_than_the_judges_are_refused(digits, tiny_config, tmp_path, capsys):
    colour = tmp_path / "colour.npz"
    colour.write_bytes(encode_npz({"images": np.zeros((10, 3, 32, 32), np.uint8)}))
    code, _, err = run_eval(capsys, digits["real"], colour, "--judge-config", tiny_config)
    assert code == 2
    assert f"'{colour}' holds 3x32x32 images but the judge" in err and "takes 1x28x28" in err


def test_an_npz_without_images_is_named(digits, tmp_path, capsys) -> None:
    wrong = tmp_path / "wrong.npz"
    wrong.write_bytes(encode_npz({"samples": np.zeros((10, 1, 28, 28), np.uint8)}))
    code, _, err = run_eval(capsys, digits["real"], wrong, "--feature-space", "inception")
    assert code == 2
    assert f"'{wrong}' has no 'images' array (it has samples)" in err
