"""Every bad input is one sentence (file, field, fix) and exit code 2, never a traceback.

The same cases generate docs/errors.md: the test fails when the document and the messages
drift apart. Regenerate it with `make errors-doc` after changing a message on purpose.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from lab.cli import main
from lab.config import load_config
from lab.data.celeba import ATTR_FILE, IMAGE_DIR
from lab.rundir.directory import RunDirectory
from lab.rundir.locks import RunLock
from tests.celeba_fixtures import write_tiny_celeba
from tests.conftest import TINY_EXPERIMENT
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
    RunDirectory.open(tmp / "run", other.as_dict(), other.digest()).close()
    return _run(tmp)


def unwritable_run_dir(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    (tmp / "a-file").write_text("")
    return ["run", str(_config(tmp)), "--run-dir", str(tmp / "a-file" / "run")]


def disk_full(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    return _run(tmp)


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


_HELD_LOCKS: list[RunLock] = []


def run_dir_in_use(tmp: Path, _: pytest.MonkeyPatch) -> list[str]:
    lock = RunLock(tmp / "run")  # a second open file description conflicts like a second process
    lock.acquire()
    _HELD_LOCKS.append(lock)
    return _run(tmp)


def cuda_absent(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    return _run(tmp, {"train": {"max_steps": 5, "accelerator": "cuda"}})


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
    "wikitext-missing": Case(
        "wikitext-2 file missing", missing_wikitext_file, ("wiki.test.raw", "wikitext-2-raw/")
    ),
}


def _normalise(text: str, tmp: Path) -> str:
    """Stable text for the document: no temporary paths, PIDs, hosts or torch versions."""
    text = text.replace(str(tmp), "<tmp>")
    text = re.sub(r"process \d+ on \S+;", "process <pid> on <host>;", text)
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
