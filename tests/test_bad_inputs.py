"""Every bad input is one sentence (file, field, fix) and exit code 2, never a traceback.

The same cases generate docs/errors.md: the test fails when the document and the messages
drift apart. Regenerate it with `make errors-doc` after changing a message on purpose.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import gzip
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from lab.cli import main
from lab.config import load_config
from lab.data.celeba import ATTR_FILE, IMAGE_DIR
from lab.device import plan_device
from lab.domains.images.judging import load_or_train_judge
from lab.rundir.directory import RunDirectory
from lab.rundir.locks import RunLock
from tests.celeba_fixtures import write_tiny_celeba
from tests.conftest import SMALL_CHAINS_EXPERIMENT, TINY_EXPERIMENT
from tests.idx_fixtures import write_tiny_mnist
from tests.text_fixtures import write_wikitext

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
WRITE_DOC_VARIABLE = "COLLAPSE_LAB_WRITE_ERRORS_DOC"


@dataclass(frozen=True)
class Case:
    """A bad input: what was done, the CLI arguments it leads to, and words the message needs."""

    title: str
    arrange: Callable[[Path, pytest.MonkeyPatch], list[str]]
    words: tuple[str, ...]


def _config(tmp: Path, changes: dict | None = None, name: str = "exp.yaml") -> Path:
    config = {**TINY_EXPERIMENT, "cache_dir": str(tmp / "cache"), **(changes or {})}
    path = tmp / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _run(tmp: Path, changes: dict | None = None, *extra: str) -> list[str]:
    return ["run", str(_config(tmp, changes)), "--run-dir", str(tmp / "run"), *extra]


def _mnist(tmp: Path) -> dict:
    return {"data": {"name": "mnist", "root": str(tmp / "data")}}


def missing_mnist(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "data").mkdir()
    return _run(tmp, _mnist(tmp))


def truncated_idx(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    write_tiny_mnist(tmp / "data")
    labels = tmp / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-5]))
    return _run(tmp, _mnist(tmp))


def corrupt_idx(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    write_tiny_mnist(tmp / "data")
    raw = tmp / "data" / "MNIST" / "raw"
    (raw / "train-images-idx3-ubyte.gz").unlink()
    (raw / "train-images-idx3-ubyte").write_bytes(b"<html>404 Not Found</html>")
    return _run(tmp, _mnist(tmp))


def corrupt_gzip(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    write_tiny_mnist(tmp / "data")
    archive = tmp / "data" / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:20])
    return _run(tmp, _mnist(tmp))


def yaml_syntax(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    path = tmp / "exp.yaml"
    path.write_text("name: broken\ntrain: {max_steps: 3\n")
    return ["run", str(path)]


def missing_config(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return ["run", str(tmp / "experiments" / "nope.yaml")]


def unknown_key(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"sampels_per_generation": 10})


def wrong_type(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"seed": "zero"})


def negative_generations(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"generations": -2})


def fraction_out_of_range(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"metrics": {"covered_share_fraction": 1.5}})


def batch_larger_than_data(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"train": {"max_steps": 5, "batch_size": 2000}})


def set_unknown_key(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, None, "--set", "train.epochs=3")


def set_unparsable(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, None, "--set", "model.channels=[16, 32")


def different_config(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    other = load_config(_config(tmp, {"seed": 1}, name="other.yaml"))
    with RunDirectory.open(tmp / "run", other.as_dict(), other.digest()) as run:
        run.bind()
    return _run(tmp)


def unwritable_run_dir(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "a-file").write_text("")
    return ["run", str(_config(tmp)), "--run-dir", str(tmp / "a-file" / "run")]


def disk_full(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    return _vector_run(tmp)  # its first write is config.yaml, once the config passed its checks


def _celeba(tmp: Path) -> dict:
    write_tiny_celeba(tmp / "data", count=12)
    return {"data": {"name": "celeba", "root": str(tmp / "data")}}


def missing_celeba_attributes(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    changes = _celeba(tmp)
    (tmp / "data" / "celeba" / ATTR_FILE).unlink()
    return _run(tmp, changes)


def truncated_jpeg(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    changes = _celeba(tmp)
    image = tmp / "data" / "celeba" / IMAGE_DIR / "000003.jpg"
    image.write_bytes(image.read_bytes()[:1000])
    return _run(tmp, changes)


def attributes_disagree(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    changes = _celeba(tmp)
    path = tmp / "data" / "celeba" / ATTR_FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join([str(len(lines) - 3), *lines[1:-1]]) + "\n")
    return _run(tmp, changes)


def corrupt_face_png(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    folder = tmp / "faces"
    folder.mkdir()
    for index in range(20):
        Image.new("RGB", (40, 40), (index * 10, 90, 120)).save(folder / f"face{index}.png")
    (folder / "face2.png").write_bytes((folder / "face2.png").read_bytes()[:60])
    return _run(tmp, {"data": {"name": "faces", "root": str(folder)}})


def inception_without_weights(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("TORCH_HOME", str(tmp / "torch-home"))
    return _run(tmp, {"metrics": {"feature_space": "inception"}})


def _digit_folder(folder: Path, images: torch.Tensor) -> Path:
    folder.mkdir()
    for index, image in enumerate(images):
        Image.fromarray(image[0].numpy()).save(folder / f"{index:04d}.png")
    return folder


def identical_real_images(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    # A one-epoch judge keeps this quick; trained here, so that eval has only its error to say.
    judge = {"max_epochs": 1, "batch_size": 256, "min_accuracy": 0.5}
    config = _config(tmp, {"judge": judge})
    real_data = load_config(config).data.load()
    load_or_train_judge(load_config(config), real_data, plan_device("cpu", "32-true", True))
    digits = real_data.heldout.images
    real = _digit_folder(tmp / "real", digits[:1].repeat(20, 1, 1, 1))
    fake = _digit_folder(tmp / "fake", digits[:20])
    return ["eval", str(real), str(fake), "--judge-config", str(config)]


def wide_pixels(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    folder = tmp / "scans"
    folder.mkdir()
    for index in range(8):
        pixels = np.full((28, 28), 1000 * (index + 1), np.int32)
        Image.fromarray(pixels).save(folder / f"{index}.tif")
    return ["eval", str(folder), str(folder), "--feature-space", "inception"]


def _inception_eval(tmp: Path, weights: Path) -> list[str]:
    folder = _digit_folder(tmp / "images", torch.zeros(8, 1, 28, 28, dtype=torch.uint8))
    space = ["--feature-space", "inception", "--inception-weights", str(weights)]
    return ["eval", str(folder), str(folder), *space]


def inception_weights_of_other_content(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    weights = tmp / "weights-inception-2015-12-05-6726825d.pth"
    weights.write_bytes(b"<html>rate limit exceeded</html>")
    return _inception_eval(tmp, weights)


def inception_weights_folder(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "weights").mkdir()
    return _inception_eval(tmp, tmp / "weights")


def dinov2_without_weights(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("TORCH_HOME", str(tmp / "torch-home"))
    return _run(tmp, {"metrics": {"feature_spaces": ["judge", "dinov2"]}})


def clip_weights_of_other_content(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    weights = tmp / "ViT-L-14-336px.pt"
    weights.write_bytes(b"<html>rate limit exceeded</html>")
    return _run(tmp, {"metrics": {"feature_space": "clip", "clip_weights": str(weights)}})


def dinov2_hash_not_pinned(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    weights = tmp / "dinov2_vitl14_pretrain.pth"
    weights.write_bytes(b"weights")
    return _run(tmp, {"metrics": {"feature_space": "dinov2", "dinov2_weights": str(weights)}})


def cmmd_outside_the_spaces(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"metrics": {"feature_spaces": ["judge", "dinov2"], "cmmd": ["clip"]}})


_HELD_LOCKS: list[RunLock] = []


def run_dir_in_use(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    lock = RunLock(tmp / "run")  # a second open file description conflicts like a second process
    lock.acquire()
    _HELD_LOCKS.append(lock)
    return _run(tmp)


def cuda_absent(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    return _run(tmp, {"train": {"max_steps": 5, "accelerator": "cuda"}})


def _sweep(tmp: Path, axes: dict, *extra: str) -> list[str]:
    _config(tmp)
    path = tmp / "sweep.yaml"
    path.write_text(yaml.safe_dump({"experiment": "exp.yaml", "axes": axes}))
    return ["sweep", str(path), "--out", str(tmp / "sweep"), *extra]


def sweep_unknown_axis(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _sweep(tmp, {"regim": ["replace", "accumulate"]})


def sweep_more_cells_than_cards(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return _sweep(tmp, {"seed": [0, 1, 2, 3]}, "--parallel", "4")


def sweep_without_ray(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    return _sweep(tmp, {"seed": [0, 1]}, "--executor", "ray")


def sweep_equal_values(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _sweep(tmp, {"seed": [0, 1], "sampling.temperature": [1, 1.0]})


def sweep_axis_on_name(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _sweep(tmp, {"name": ["first", "second"]})


def sweep_in_use(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    lock = RunLock(tmp / "sweep")  # as another `collapse-lab sweep` into the folder holds it
    lock.acquire()
    _HELD_LOCKS.append(lock)
    return _sweep(tmp, {"seed": [0]})


def sweep_out_is_a_file(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "sweep").write_text("")
    return _sweep(tmp, {"seed": [0]})


def _suite(tmp: Path, output: Path) -> Path:
    _config(tmp)
    path = tmp / "nightly.yaml"
    suite = {"output": str(output), "entries": [{"name": "demo", "config": str(tmp / "exp.yaml")}]}
    path.write_text(yaml.safe_dump(suite))
    return path


def nightly_date_off_the_calendar(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return ["nightly", str(_suite(tmp, tmp / "nightly")), "--date", "2026-13-45"]


def nightly_output_is_a_file(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "nightly").write_text("")
    return ["nightly", str(_suite(tmp, tmp / "nightly")), "--date", "2026-11-27"]


def compare_out_in_a_run(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    return ["compare", str(run), "--out", str(run / "comparison")]


def dcgan_on_30px_digits(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"model": {"kind": "dcgan"}, "data": {"name": "mnist5k", "pad_to": 30}})


_UNCONDITIONAL_DIFFUSION = {"kind": "diffusion", "block_out_channels": [8, 16]}


def guidance_without_classes(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"model": _UNCONDITIONAL_DIFFUSION, "sampling": {"guidance": 2.0}})


def steps_for_a_vae(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"sampling": {"steps": 10}})


def augment_without_ratio(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"regime": "augment"})


def augment_ratio_beyond_the_samples(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"regime": "augment", "regime_options": {"synthetic_ratio": 1.0}})


# The finished chains run, built once, then copied into each case's folder.
_FINISHED_RUNS: list[Path] = []


def _vector_config(tmp: Path, changes: dict | None = None) -> Path:
    path = tmp / "chains.yaml"
    path.write_text(yaml.safe_dump({**SMALL_CHAINS_EXPERIMENT, **(changes or {})}, sort_keys=False))
    return path


def _vector_run(tmp: Path, changes: dict | None = None, *extra: str) -> list[str]:
    return ["run", str(_vector_config(tmp, changes)), "--run-dir", str(tmp / "run"), *extra]


def _finished_run(tmp: Path) -> Path:
    """tmp/run: a finished run of SMALL_CHAINS_EXPERIMENT (the experiment is tmp/chains.yaml)."""
    if not _FINISHED_RUNS:
        source = tmp / "first"
        assert main(["run", str(_vector_config(tmp)), "--run-dir", str(source)]) == 0
        _FINISHED_RUNS.append(source)
    _vector_config(tmp)
    return Path(shutil.copytree(_FINISHED_RUNS[0], tmp / "run"))


def _read_only(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Writes, renames and removals under `root` fail as on a read-only file system (even
    removing a file that is not there: EROFS comes before the lookup)."""
    real_open, real_unlink, real_replace = open, os.unlink, os.replace

    def refuse(path: object) -> None:
        if str(path).startswith(str(root)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def opening(file, mode="r", *args, **kwargs):  # noqa: ANN001, ANN202
        if any(flag in mode for flag in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def unlinking(path, *args, **kwargs):  # noqa: ANN001, ANN202
        refuse(path)
        return real_unlink(path, *args, **kwargs)

    def replacing(source, target, *args, **kwargs):  # noqa: ANN001, ANN202
        refuse(target)
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", opening)
    monkeypatch.setattr(os, "unlink", unlinking)
    monkeypatch.setattr(os, "replace", replacing)


def read_only_run(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    (run / "report.html").unlink()  # so that `report` has something to write
    _read_only(monkeypatch, run)
    return ["report", str(run)]


def non_utf8_experiment(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    path = tmp / "exp.yaml"
    path.write_bytes(b"name: caf\xe9\ngenerations: 2\n")  # Latin-1, as an old editor saves
    return ["run", str(path)]


def non_utf8_suite(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    path = tmp / "nightly.yaml"
    path.write_bytes(b"entries:\n  - {name: demo, config: d\xe9mo.yaml}\n")
    return ["nightly", str(path)]


def empty_run_config(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    (run / "config.yaml").write_text("")
    return _vector_run(tmp, {"seed": 1})  # not the experiment that made it: cannot restore


def garbled_run_config(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    (run / "config.yaml").write_text("name: chains\ngenerations: [6\n")
    return ["status", str(run)]


def manifest_without_generations(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    (run / "manifest.json").write_text('{"format": 1}')
    return ["status", str(run)]


def manifest_a_list(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    (run / "manifest.json").write_text("[1, 2, 3]")
    return _vector_run(tmp)


def manifest_record_without_files(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["generations"][4]["files"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    return _vector_run(tmp)


def truncated_manifest(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    manifest = run / "manifest.json"
    text = manifest.read_text()
    # Cut just before the last record's wall time, as a write cut short would: the same
    # decoder message every time (how many digits the times have moves only the column).
    manifest.write_text(text[: text.rindex('"wall_time_s"')])
    return _vector_run(tmp)


def edited_metrics(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    lines = (run / "metrics.csv").read_text().splitlines()
    cells = lines[3].split(",")
    cells[5] = "0.001"  # mean_w2 of generation 2, under the limit below
    lines[3] = ",".join(cells)
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    return ["check", str(run), "--max", "mean_w2=0.05"]


def missing_fits(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    (run / "fits" / "gen_0003-0005.npz").unlink()
    return ["report", str(run)]


def garbled_fits(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    fits = run / "fits" / "gen_0000-0002.npz"
    fits.write_bytes(fits.read_bytes()[:100])
    return ["report", str(run)]


def set_twice(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _vector_run(tmp, None, "--set", "seed=1", "--set", "seed=one")


def yaml_key_twice(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    path = tmp / "exp.yaml"
    path.write_text("name: twice\ngenerations: 3\nseed: 0\nseed: 1\n")
    return ["run", str(path)]


def huge_samples(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"samples_per_generation": 10**9})


def huge_chains(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _vector_run(tmp, {"model": {"kind": "gaussian", "chains": 10**9}})


def huge_latent(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"model": {"kind": "vae", "latent_dim": 10**8, "channels": [16, 32]}})


def huge_generations(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _vector_run(tmp, {"generations": 10**12})


def infinite_temperature(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _vector_run(tmp, None, "--set", "sampling.temperature=.inf")


def cache_dir_is_a_file(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "cache").write_text("")
    return _run(tmp)


def compare_out_is_a_file(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    (tmp / "table.csv").write_text("")
    return ["compare", str(run), "--out", str(tmp / "table.csv")]


def nan_threshold(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return ["check", str(_finished_run(tmp)), "--max", "mean_w2=nan"]


def config_is_a_folder(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "experiments").mkdir()
    return ["run", str(tmp / "experiments")]


def lock_is_a_folder(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "run" / ".lock").mkdir(parents=True)
    return _vector_run(tmp)


def check_without_thresholds(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return ["check", str(_finished_run(tmp))]


def eval_one_training_image(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    sets = {"real": 8, "fake": 8, "train": 1}
    for name, count in sets.items():
        (tmp / name).mkdir()
        for index in range(count):
            Image.new("L", (12, 12), index * 20).save(tmp / name / f"{index}.png")
    return [
        "eval",
        str(tmp / "real"),
        str(tmp / "fake"),
        "--feature-space",
        "inception",
        "--train",
        str(tmp / "train"),
    ]


def missing_wikitext_file(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (write_wikitext(tmp / "data") / "wiki.test.raw").unlink()
    return _run(
        tmp,
        {
            "samples_per_generation": 20,
            "data": {"name": "wikitext2", "root": str(tmp / "data")},
            "model": {"kind": "gpt", "layers": 1, "heads": 2, "width": 16},
            "train": {"max_steps": 2, "batch_size": 8},
        },
    )


# A model from outside the lab, written next to the experiment file (docs/models.md); each
# case changes one thing. Each case's module has its own name, as one process imports them all.
OWN_MODEL = """
import lightning as L
import torch


class Gen(L.LightningModule):
    def __init__(self, image_shape, width: int = 4):
        super().__init__()
        self.shape = tuple(image_shape)
        self.layer = torch.nn.Linear(1, width)

    def training_step(self, batch, batch_idx):
        return self.layer(batch.float().mean().view(1, 1)).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def sample(self, n, generator):
        return torch.randint(0, 256, (n, *self.shape), generator=generator, dtype=torch.uint8)
"""


def _own_model(
    tmp: Path, module: str, changes: dict | None = None, replace: tuple[str, str] = ("", "")
) -> list[str]:
    (tmp / f"{module}.py").write_text(OWN_MODEL.replace(*replace))
    model = {"class_path": f"{module}.Gen", "init_args": {}}
    changes = dict(changes or {})
    model.update(changes.pop("model", {}))
    return _run(tmp, {"model": model, **changes})


def own_model_nowhere(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"model": {"class_path": "nowhere_to_be_found.Gen"}})


def own_model_import_fails(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    replace = ("import lightning", "raise RuntimeError('no GPU here')\nimport lightning")
    return _own_model(tmp, "own_broken", replace=replace)


def own_model_not_lightning(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _own_model(tmp, "own_plain", replace=("class Gen(L.LightningModule):", "class Gen:"))


def own_model_unknown_argument(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _own_model(tmp, "own_unknown", {"model": {"init_args": {"widht": 3}}})


def own_model_missing_argument(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _own_model(tmp, "own_missing", replace=("width: int = 4", "width: int"))


def own_model_lab_input(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _own_model(tmp, "own_shape", {"model": {"init_args": {"image_shape": [1, 28, 28]}}})


def own_model_undeclared_bias(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _own_model(tmp, "own_bias", {"sampling": {"truncation": 1.5}})


def own_model_float_samples(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _own_model(
        tmp, "own_float", replace=("dtype=torch.uint8)", "dtype=torch.uint8).float()")
    )


def own_model_wrong_shape(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _own_model(tmp, "own_flat", replace=("(n, *self.shape)", "(n, 784)"))


def kind_and_class_path(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"model": {"kind": "vae", "class_path": "my_model.Gen"}})


def judge_in_text(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    text = {
        "data": {"name": "pydoc"},
        "model": {"kind": "gpt", "layers": 1, "heads": 1, "width": 8},
        "judge": {"max_epochs": 2},
    }
    return _run(tmp, text)


def key_of_another_dataset(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"data": {"name": "mnist5k", "image_size": 32}})


def foreign_folder(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "run").mkdir()
    (tmp / "run" / "notes.txt").write_text("the user's own")
    return _vector_run(tmp)


def lost_manifests(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    (run / "manifest.json").unlink()
    (run / "manifest.prev.json").unlink()
    return ["run", str(tmp / "chains.yaml"), "--run-dir", str(run)]


def edited_run_config(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    run = _finished_run(tmp)
    stored = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**stored, "seed": 99}, sort_keys=False))
    return ["compare", str(run), "--out", str(tmp / "compare")]


def name_a_path(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _vector_run(tmp, {"name": ".."})


def linked_lock(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "run").mkdir()
    (tmp / "run" / ".lock").symlink_to(tmp / "elsewhere" / "lock")
    return _vector_run(tmp)


_TINY_TEXT = {
    "data": {"name": "pydoc", "sequence_length": 32, "prompt_length": 16},
    "model": {"kind": "gpt", "layers": 1, "heads": 2, "width": 16},
    "train": {"max_steps": 2, "batch_size": 8, "lr": 0.01},
    "samples_per_generation": 24,
}


def too_many_shown_prompts(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    data = {**_TINY_TEXT["data"], "shown_prompts": 10**7}
    return _run(tmp, {**_TINY_TEXT, "data": data})


def sequence_beyond_the_text(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    data = {**_TINY_TEXT["data"], "sequence_length": 10**8}
    return _run(tmp, {**_TINY_TEXT, "data": data})


def _pretrained_text(tmp: Path, pretrained: str, **changes: object) -> list[str]:
    return _run(
        tmp, {**_TINY_TEXT, "model": {"kind": "hf_causal_lm", "pretrained": pretrained}, **changes}
    )


def pretrained_folder_missing(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _pretrained_text(tmp, str(tmp / "opt"))


def pretrained_folder_malformed(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "opt").mkdir()
    (tmp / "opt" / "config.json").write_text('{"model_type": "opt"}')
    return _pretrained_text(tmp, str(tmp / "opt"))


def pretrained_offline(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp / "hub"))
    return _pretrained_text(tmp, "facebook/opt-125m")


def prompt_beyond_positions(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    from tests.hf_fixtures import POSITIONS, write_tiny_opt

    data = {"name": "pydoc", "sequence_length": POSITIONS, "prompt_length": 16}
    return _pretrained_text(tmp, str(write_tiny_opt(tmp / "opt")), data=data)


def pretrained_init_without_weights(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {**_TINY_TEXT, "train": {**_TINY_TEXT["train"], "init_from": "pretrained"}})


def beams_with_temperature(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {**_TINY_TEXT, "sampling": {"beams": 5, "temperature": 0.7}})


def changed_real_text(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    from tests.text_fixtures import write_text_files

    books = write_text_files(tmp / "books")
    data = {**_TINY_TEXT["data"], "name": "textfiles", "root": str(tmp / "books")}
    arguments = _run(tmp, {**_TINY_TEXT, "data": data, "generations": 2})
    assert main(arguments) == 0
    (tmp / "run" / "samples" / "gen_001.npz").unlink()
    books[0].write_text("Another text altogether, written after the run began. " * 40)
    return arguments


def out_of_memory(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from lab.training import trained

    def exhausted(*args: object, **kwargs: object) -> None:
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
            "memory: you tried to allocate 16381952 bytes. Error code 12 (Cannot allocate memory)"
        )

    monkeypatch.setattr(trained, "train_generation", exhausted)
    return _run(tmp, _TINY_TEXT)


def curate_gaussian_chains(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _vector_run(tmp, {"curate": {"kind": "dedupe"}})


def correct_gaussian_chains(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _vector_run(tmp, {"correct": {"strength": 0.5}})


def correct_other_components(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    model = {"kind": "gmm", "components": 3}
    return _vector_run(tmp, {"data": {"name": "gmm"}, "model": model, "correct": {}})


def curate_text_by_class(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {**_TINY_TEXT, "curate": {"kind": "class_balance"}})


def curate_beam_search(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {**_TINY_TEXT, "sampling": {"beams": 3}, "curate": {"kind": "dedupe"}})


def curate_unknown_argument(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {"curate": {"kind": "feature_density", "init_args": {"neighbours": 3}}})


def curate_labels_without_classes(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    return _run(tmp, {**_celeba(tmp), "curate": {"kind": "class_balance"}})


CASES = {
    "missing-dataset": Case("MNIST folder missing", missing_mnist, ("MNIST/raw", "data.download")),
    "truncated-idx": Case("truncated IDX file", truncated_idx, ("t10k-labels", "truncated")),
    "corrupt-idx": Case("corrupt IDX file", corrupt_idx, ("train-images", "not an IDX")),
    "corrupt-gzip": Case("corrupt .gz archive", corrupt_gzip, ("labels-idx1-ubyte.gz",)),
    "yaml-syntax": Case("YAML syntax error", yaml_syntax, ("exp.yaml", "line 2")),
    "missing-config": Case("config file missing", missing_config, ("nope.yaml", "does not exist")),
    "unknown-key": Case("unknown key", unknown_key, ("did you mean 'samples_per_generation'",)),
    "wrong-type": Case("wrong type", wrong_type, ("'seed'", "integer")),
    "negative-generations": Case("negative generations", negative_generations, (">= 1",)),
    "fraction-range": Case("fraction outside [0, 1]", fraction_out_of_range, ("<= 1",)),
    "batch-too-large": Case("batch larger than the data", batch_larger_than_data, ("lower it",)),
    "set-unknown-key": Case("--set on an unknown key", set_unknown_key, ("train.epochs",)),
    "set-unparsable": Case("--set with an unparsable value", set_unparsable, ("not valid YAML",)),
    "different-config": Case("run directory of another config", different_config, ("'seed'",)),
    "unwritable": Case("unwritable output folder", unwritable_run_dir, ("Not a directory",)),
    "disk-full": Case("disk full mid-write", disk_full, ("No space left on device",)),
    "in-use": Case("run directory in use", run_dir_in_use, ("in use by process",)),
    "cuda-absent": Case("CUDA requested but absent", cuda_absent, ("train.accelerator",)),
    "celeba-missing": Case(
        "CelebA attribute file missing", missing_celeba_attributes, ("list_attr_celeba.txt",)
    ),
    "truncated-jpeg": Case("truncated JPEG in CelebA", truncated_jpeg, ("000003.jpg",)),
    "attributes-disagree": Case(
        "attribute file disagrees with the images", attributes_disagree, ("has 11 rows",)
    ),
    "corrupt-png": Case("corrupt PNG in a faces folder", corrupt_face_png, ("face2.png",)),
    "inception-weights": Case(
        "Inception features without the weights",
        inception_without_weights,
        ("weights-inception-2015-12-05-6726825d.pth",),
    ),
    "sweep-unknown-axis": Case(
        "sweep axis on an unknown key", sweep_unknown_axis, ("sweep.yaml", "did you mean 'regime'")
    ),
    "sweep-too-parallel": Case(
        "sweep --parallel above the cards", sweep_more_cells_than_cards, ("--parallel 2",)
    ),
    "sweep-without-ray": Case(
        "sweep --executor ray without ray", sweep_without_ray, ("collapse-lab[ray]",)
    ),
    "dcgan-side": Case(
        "digits at a side the DCGAN cannot take", dcgan_on_30px_digits, ("data.pad_to", "30x30")
    ),
    "guidance-unconditional": Case(
        "guidance for an unconditional diffusion model",
        guidance_without_classes,
        ("sampling.guidance", "model.conditional: true"),
    ),
    "steps-vae": Case(
        "sampler steps for a model without them", steps_for_a_vae, ("sampling.steps", "VAE")
    ),
    "augment-no-ratio": Case(
        "regime augment without its ratio",
        augment_without_ratio,
        ("regime_options.synthetic_ratio", "is required"),
    ),
    "augment-ratio-large": Case(
        "augment ratio above the samples drawn",
        augment_ratio_beyond_the_samples,
        ("regime_options.synthetic_ratio", "samples_per_generation"),
    ),
    "read-only": Case(
        "run folder on a read-only file system", read_only_run, ("Read-only file system",)
    ),
    "non-utf8-yaml": Case("experiment YAML not UTF-8", non_utf8_experiment, ("UTF-8", "0xe9")),
    "non-utf8-suite": Case("suite YAML not UTF-8", non_utf8_suite, ("nightly.yaml", "UTF-8")),
    "empty-run-config": Case(
        "run folder's config.yaml emptied", empty_run_config, ("config.yaml", "is empty")
    ),
    "garbled-run-config": Case(
        "run folder's config.yaml garbled", garbled_run_config, ("config.yaml", "not valid YAML")
    ),
    "manifest-no-generations": Case(
        "manifest.json without generations",
        manifest_without_generations,
        ("manifest.json", "generations", "manifest.prev.json"),
    ),
    "manifest-a-list": Case("manifest.json a list", manifest_a_list, ("holds a list",)),
    "manifest-record-no-files": Case(
        "manifest record without files", manifest_record_without_files, ("generation 4", "files")
    ),
    "truncated-manifest": Case(
        "manifest.json truncated",
        truncated_manifest,
        ("not valid JSON", "copy it over manifest.json", "3 finished generations"),
    ),
    "edited-metrics": Case(
        "metrics.csv edited after the run", edited_metrics, ("generation 2", "mean_w2")
    ),
    "missing-fits": Case(
        "vector fits file missing", missing_fits, ("gen_0003-0005.npz", "generations 3-5")
    ),
    "garbled-fits": Case("vector fits file garbled", garbled_fits, ("gen_0000-0002.npz", "sha256")),
    "set-twice": Case("key given twice with --set", set_twice, ("--set 'seed=one'",)),
    "yaml-key-twice": Case("key given twice in a YAML file", yaml_key_twice, ("'seed'", "twice")),
    "curate-chains": Case(
        "curation of Gaussian chains (no points kept)",
        curate_gaussian_chains,
        ("'curate'", "mean and scatter", "'gmm'"),
    ),
    "correct-chains": Case(
        "self-correction of Gaussian chains",
        correct_gaussian_chains,
        ("'correct'", "nothing to correct", "'gmm'"),
    ),
    "correct-components": Case(
        "self-correction with more components than the real mixture",
        correct_other_components,
        ("'correct'", "model.components is 3", "set model.components to 2"),
    ),
    "curate-text-classes": Case(
        "class-balancing curator on text",
        curate_text_by_class,
        ("curate.kind", "class_balance", "text has no classes"),
    ),
    "curate-beams": Case(
        "curation of beam search's continuations",
        curate_beam_search,
        ("sampling.beams", "draws nothing"),
    ),
    "curate-argument": Case(
        "curator argument it does not take",
        curate_unknown_argument,
        ("curate.init_args.neighbours", "its arguments are k"),
    ),
    "curate-no-classes": Case(
        "class-label curator on data without classes",
        curate_labels_without_classes,
        ("curate.kind", "class_balance", "no classes"),
    ),
    "huge-samples": Case(
        "samples that cannot fit in memory", huge_samples, ("samples_per_generation", "TiB")
    ),
    "huge-chains": Case("chains that cannot fit in memory", huge_chains, ("model.chains", "GiB")),
    "huge-latent": Case("a model that cannot fit in memory", huge_latent, ("model.latent_dim",)),
    "huge-generations": Case(
        "generations that cannot fit in memory", huge_generations, ("'generations'", "manifest")
    ),
    "infinite-temperature": Case(
        "infinite sampling temperature", infinite_temperature, ("finite", "temperature")
    ),
    "cache-dir-file": Case("cache_dir is a file", cache_dir_is_a_file, ("cache_dir", "a file")),
    "compare-out-file": Case(
        "compare --out is a file", compare_out_is_a_file, ("--out", "table.csv", "a file")
    ),
    "nan-threshold": Case("check with a NaN threshold", nan_threshold, ("finite", "nan")),
    "config-folder": Case("config path is a folder", config_is_a_folder, ("is a folder",)),
    "lock-folder": Case("RUN/.lock is a folder", lock_is_a_folder, ("lock file", "Is a directory")),
    "check-no-thresholds": Case(
        "check without thresholds on a Gaussian run",
        check_without_thresholds,
        ("--max mean_log_variance=VALUE",),
    ),
    "eval-train-one-image": Case(
        "eval --train with one image", eval_one_training_image, ("'<tmp>/train'", "--train")
    ),
    "identical-real": Case(
        "eval: a real set of identical images",
        identical_real_images,
        ("real' cannot be the real reference set", "identical features"),
    ),
    "wide-pixels": Case(
        "eval: 32-bit pixels beyond 0..255", wide_pixels, ("0.tif", "32-bit integer pixels")
    ),
    "inception-hash": Case(
        "Inception weights file of other content",
        inception_weights_of_other_content,
        ("is not the published InceptionV3 weights file", "6726825d0af5f729"),
    ),
    "inception-folder": Case(
        "Inception weights path is a folder", inception_weights_folder, ("a folder, not a file",)
    ),
    "dinov2-weights": Case(
        "DINOv2 features without the weights",
        dinov2_without_weights,
        ("dinov2_vitl14_pretrain.pth", "metrics.dinov2_weights", "dl.fbaipublicfiles.com"),
    ),
    "clip-hash": Case(
        "CLIP weights file of other content",
        clip_weights_of_other_content,
        ("is not the expected CLIP ViT-L/14-336 weights file", "3035c92b350959924f9f"),
    ),
    "dinov2-hash-unset": Case(
        "DINOv2 weights without a pinned sha256",
        dinov2_hash_not_pinned,
        ("metrics.dinov2_sha256 is not set",),
    ),
    "cmmd-space": Case(
        "CMMD in a space the run does not measure in",
        cmmd_outside_the_spaces,
        ("metrics.cmmd[0]", "add it to feature_spaces"),
    ),
    "wikitext-missing": Case(
        "wikitext-2 file missing", missing_wikitext_file, ("wiki.test.raw", "wikitext-2-raw/")
    ),
    "own-model-nowhere": Case(
        "model.class_path names no module",
        own_model_nowhere,
        ("model.class_path", "nowhere_to_be_found", "PYTHONPATH", "'<tmp>'"),
    ),
    "own-model-import-fails": Case(
        "model.class_path's module fails to import",
        own_model_import_fails,
        ("own_broken", "RuntimeError: no GPU here"),
    ),
    "own-model-not-lightning": Case(
        "model.class_path not a LightningModule",
        own_model_not_lightning,
        ("own_plain.Gen", "lightning.LightningModule"),
    ),
    "own-model-unknown-argument": Case(
        "model.init_args key the class does not take",
        own_model_unknown_argument,
        ("model.init_args.widht", "own_unknown.Gen", "image_shape, width"),
    ),
    "own-model-missing-argument": Case(
        "model.init_args lacks a required argument",
        own_model_missing_argument,
        ("model.init_args.width", "own_missing.Gen", "no default"),
    ),
    "own-model-lab-input": Case(
        "model.init_args gives what the lab passes",
        own_model_lab_input,
        ("model.init_args.image_shape", "passed by the lab"),
    ),
    "own-model-undeclared-bias": Case(
        "a sampling bias the model's sample does not declare",
        own_model_undeclared_bias,
        ("sampling.truncation", "own_bias.Gen.sample", "'truncation'"),
    ),
    "own-model-float-samples": Case(
        "a model whose sample returns floats",
        own_model_float_samples,
        ("own_float.Gen.sample(2, generator)", "float32 [2, 1, 28, 28]", "uint8"),
    ),
    "own-model-wrong-shape": Case(
        "a model whose sample returns the wrong shape",
        own_model_wrong_shape,
        ("own_flat.Gen.sample(2, generator)", "[2, 784]", "[2, 1, 28, 28]"),
    ),
    "kind-and-class-path": Case(
        "model with both kind and class_path", kind_and_class_path, ("model.kind", "class_path")
    ),
    "judge-in-text": Case(
        "judge section in a text experiment", judge_in_text, ("'judge'", "images", "text")
    ),
    "key-of-another-dataset": Case(
        "data key of another dataset",
        key_of_another_dataset,
        ("data.image_size", "'celeba', 'faces'", "'mnist5k'"),
    ),
    "foreign-folder": Case(
        "--run-dir a folder of other files",
        foreign_folder,
        ("notes.txt", "not a collapse-lab run directory", "nothing in it was touched"),
    ),
    "lost-manifests": Case(
        "manifest.json and manifest.prev.json both gone",
        lost_manifests,
        ("no manifest.json and no manifest.prev.json", "fits, metrics.csv", "backup"),
    ),
    "edited-run-config": Case(
        "a run's config.yaml edited after the run",
        edited_run_config,
        ("config.yaml", "is not the config this run was made with"),
    ),
    "name-a-path": Case(
        "experiment name '..'", name_a_path, ("'name'", "a path rather than a name")
    ),
    "linked-lock": Case("RUN/.lock a symbolic link", linked_lock, (".lock", "symbolic link")),
    "too-many-shown-prompts": Case(
        "more shown prompts than the held-out text offers",
        too_many_shown_prompts,
        ("data.shown_prompts", "10000000"),
    ),
    "sequence-beyond-the-text": Case(
        "a text sequence longer than the training text",
        sequence_beyond_the_text,
        ("data.sequence_length", "100000000", "less than one sequence"),
    ),
    "changed-real-text": Case(
        "real text edited under finished generations",
        changed_real_text,
        ("the real data changed", "<tmp>/books", "sha256"),
    ),
    "out-of-memory": Case(
        "a generation that runs out of memory",
        out_of_memory,
        ("generation 0 ran out of memory", "16381952 bytes", "train.batch_size"),
    ),
    "sweep-equal-values": Case(
        "sweep axis whose values give the same run",
        sweep_equal_values,
        ("sweep.yaml", "axis 'sampling.temperature'", "1 and 1.0", "same run"),
    ),
    "sweep-axis-on-name": Case(
        "sweep axis on a key that changes no result",
        sweep_axis_on_name,
        ("sweep.yaml", "axis 'name'", "first and second", "does not change what a run computes"),
    ),
    "sweep-in-use": Case(
        "sweep folder in use by another sweep",
        sweep_in_use,
        ("sweep folder '<tmp>/sweep'", "in use by process <pid>"),
    ),
    "sweep-out-file": Case(
        "sweep --out is a file", sweep_out_is_a_file, ("--out '<tmp>/sweep'", "a file", "folder")
    ),
    "nightly-date": Case(
        "nightly --date not on the calendar",
        nightly_date_off_the_calendar,
        ("--date '2026-13-45'", "YYYY-MM-DD"),
    ),
    "nightly-output-file": Case(
        "suite output is a file",
        nightly_output_is_a_file,
        ("nightly.yaml", "key 'output'", "'<tmp>/nightly'", "a file"),
    ),
    "compare-out-in-run": Case(
        "compare --out inside a run folder",
        compare_out_in_a_run,
        ("--out '<tmp>/run/comparison'", "run directory '<tmp>/run'"),
    ),
    "pretrained-folder-missing": Case(
        "model.pretrained a folder that is not there",
        pretrained_folder_missing,
        ("model.pretrained", "'<tmp>/opt'", "no such folder", "save_pretrained"),
    ),
    "pretrained-folder-malformed": Case(
        "model.pretrained a folder save_pretrained did not write",
        pretrained_folder_malformed,
        ("model.pretrained", "model.safetensors", "tokenizer.json", "save_pretrained(folder)"),
    ),
    "pretrained-offline": Case(
        "model.pretrained a hub id missing from the cache, offline",
        pretrained_offline,
        ("'facebook/opt-125m'", "HF_HUB_OFFLINE", "HF_HOME", "save_pretrained"),
    ),
    "prompt-beyond-positions": Case(
        "prompt and continuation longer than a pretrained model reads",
        prompt_beyond_positions,
        ("data.prompt_length", "data.sequence_length", "272 tokens", "256 positions"),
    ),
    "pretrained-init-without-weights": Case(
        "train.init_from pretrained for a model without pretrained weights",
        pretrained_init_without_weights,
        ("train.init_from", "'gpt'", "scratch or previous"),
    ),
    "beams-with-temperature": Case(
        "sampling.temperature with beam search",
        beams_with_temperature,
        ("sampling.temperature", "sampling.beams is 5", "draws nothing"),
    ),
}


def _normalise(text: str, tmp: Path) -> str:
    """Stable text for the document: no temporary paths, PIDs, hosts, torch versions,
    memory sizes or JSON columns (they move with the digits of recorded times)."""
    text = text.replace(str(tmp), "<tmp>")
    text = re.sub(r"process \d+ on \S+;", "process <pid> on <host>;", text)
    text = re.sub(r"the [\d.]+ \w+ of memory here", "the <memory> of memory here", text)
    text = re.sub(r"(not valid JSON: .*?), column \d+\)", r"\1, column <n>)", text)
    return re.sub(r"torch \S+ sees", "torch <version> sees", text)


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Run every case once through the CLI: case id -> (exit code, normalised stderr)."""
    results = {}
    for case_id, case in CASES.items():
        tmp = tmp_path_factory.mktemp(case_id)
        with pytest.MonkeyPatch.context() as monkeypatch:
            arguments = case.arrange(tmp, monkeypatch)
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(arguments)
        results[case_id] = (code, _normalise(err.getvalue().strip(), tmp))
    while _HELD_LOCKS:
        _HELD_LOCKS.pop().release()
    return results


@pytest.mark.parametrize("case_id", list(CASES))
def test_one_sentence_and_exit_2(messages, case_id: str) -> None:
    code, text = messages[case_id]
    assert code == 2, text
    assert text.startswith("error: ") and "\n" not in text, text
    assert "Traceback" not in text
    for word in CASES[case_id].words:
        assert word in text, f"{word!r} missing from: {text}"


def render(messages: dict[str, tuple[int, str]]) -> str:
    lines = [
        "# What collapse-lab says about bad input",
        "",
        "Generated by `make errors-doc` from the cases in `tests/test_bad_inputs.py`, which also",
        "fails when this table and the messages disagree. Every case exits with code 2 and prints",
        "one line on stderr (`--debug` adds the traceback). `<tmp>` stands for the folder the test",
        "worked in.",
        "",
        "| case | message |",
        "|---|---|",
    ]
    for case_id, case in CASES.items():
        text = messages[case_id][1].replace("|", "\\|")
        lines.append(f"| {case.title} | {text} |")
    return "\n".join(lines) + "\n"


def test_errors_doc_matches_the_messages(messages) -> None:
    expected = render(messages)
    if os.environ.get(WRITE_DOC_VARIABLE):
        DOC.write_text(expected)
    assert DOC.read_text() == expected, "docs/errors.md is stale: run `make errors-doc`"
