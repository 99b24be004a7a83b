"""The Inception feature space: offline it fails with one sentence; a file that is not the
published weights is refused by its sha256; with a weights file of random weights, made here
(no package ships the real ones) and accepted by pretending its hash is the published one, it
measures any image size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import lab.metrics.inception
from lab.cli import main
from lab.errors import FeatureSpaceError
from lab.metrics.inception import WEIGHTS_FILE, WEIGHTS_SHA256, WEIGHTS_URL, InceptionFeatures
from lab.rundir.storage import sha256_file

pytest.importorskip("torch_fidelity")


def test_a_run_without_weights_fails_with_one_sentence(
    write_config, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    config = write_config({"metrics": {"feature_space": "inception"}})
    code = main(["run", str(config), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    expected_path = tmp_path / "torch" / "hub" / "checkpoints" / WEIGHTS_FILE
    assert f"'{expected_path}'" in err and WEIGHTS_URL in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_without_torch_fidelity_the_sentence_says_what_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "torch_fidelity", None)
    with pytest.raises(FeatureSpaceError, match=r"pip install 'collapse-lab\[inception\]'"):
        InceptionFeatures(tmp_path / WEIGHTS_FILE)


def test_a_file_that_is_not_the_published_weights_is_refused(tmp_path) -> None:
    """Any network saved under the file's name used to load and give features silently."""
    weights = tmp_path / WEIGHTS_FILE
    weights.write_bytes(b"<html>not the weights</html>")
    with pytest.raises(FeatureSpaceError) as refused:
        InceptionFeatures(weights)
    message = str(refused.value)
    assert f"'{weights}' is not the published InceptionV3 weights file" in message
    assert sha256_file(weights) in message and WEIGHTS_SHA256 in message
    assert WEIGHTS_SHA256.startswith(WEIGHTS_FILE.split("-")[-1].removesuffix(".pth"))


def test_a_folder_at_the_weights_path_is_called_a_folder(tmp_path) -> None:
    folder = tmp_path / WEIGHTS_FILE
    folder.mkdir()
    with pytest.raises(FeatureSpaceError, match="but that is a folder, not a file"):
        InceptionFeatures(folder)


def test_an_unloadable_file_with_the_right_hash_is_named(tmp_path, monkeypatch) -> None:
    weights = tmp_path / WEIGHTS_FILE
    weights.write_bytes(b"<html>not the weights</html>")
    monkeypatch.setattr(lab.metrics.inception, "WEIGHTS_SHA256", sha256_file(weights))
    with pytest.raises(FeatureSpaceError, match="cannot be loaded as the InceptionV3 weights"):
        InceptionFeatures(weights)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights file in the real format, holding a randomly initialised network."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Unloaded(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):
            return None  # keep the random initialisation

    root = tmp_path_factory.mktemp("inception")
    torch.save({}, root / "empty.pt")
    torch.manual_seed(0)
    network = Unloaded("inception-v3-compat", ["2048"], str(root / "empty.pt"))
    torch.save(network.state_dict(), root / WEIGHTS_FILE)
    return root / WEIGHTS_FILE


@pytest.fixture
def accepted(random_weights: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The random weights, with their hash standing in for the published one."""
    monkeypatch.setattr(lab.metrics.inception, "WEIGHTS_SHA256", sha256_file(random_weights))
    return random_weights


def test_grey_images_are_repeated_to_three_channels(accepted) -> None:
    extractor = InceptionFeatures(accepted)
    grey = torch.randint(0, 256, (1, 1, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        from_grey, from_rgb = extractor(grey), extractor(grey.repeat(1, 3, 1, 1))
    assert from_grey.shape == (1, 2048) and from_grey.dtype == torch.float32
    assert torch.equal(from_grey, from_rgb)
    assert not extractor.network.use_antialias  # TF1-compatible resizing, as classic FID


@pytest.mark.slow
def test_eval_in_the_inception_space(accepted, tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    folders = {}
    for name, low in (("real", 0), ("fake", 60)):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        for index in range(6):
            pixels = rng.integers(low, low + 180, (40, 40), dtype=np.uint8)
            Image.fromarray(pixels).save(folders[name] / f"{index}.png")
    args = ["eval", str(folders["real"]), str(folders["fake"]), "--feature-space", "inception"]
    args += ["--inception-weights", str(accepted), "--cache-dir", str(tmp_path / "cache")]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["feature_space"] == "inception"
    # 1.27e-12: random weights (seed 0) give features of about 1e-8, and this is their squared
    # mean gap (1.26e-12); the real set against itself measures -1e-21, 9 orders below.
    assert np.isfinite(report["metrics"]["fid"]) and report["metrics"]["fid"] > 0
    cached = list((tmp_path / "cache" / "features").iterdir())
    assert len(cached) == 1 and "-inception-" in cached[0].name
    assert torch.load(cached[0], weights_only=True).shape == (6, 2048)
