"""Nothing wrong is ever accepted (issue 26): a folder that is not a run is left untouched,
NaN and diverged generations fail `check`, changed real data is refused, a lost manifest is
recovered from what the files prove, readers go through the hashes, an edited config.yaml
is not another run, and the smaller cases (a name that is a path, a linked lock, too many
shown prompts, a sequence longer than the text, running out of memory)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from lab.cli import main
from lab.domains.text.files import text_files
from lab.rundir.directory import CONFIG_FILE, MANIFEST_FILE, METRICS_FILE
from lab.rundir.manifest import PREVIOUS_MANIFEST_FILE
from tests.conftest import SMALL_CHAINS_EXPERIMENT
from tests.text_fixtures import write_text_files

# A text run on a folder of .txt files (which a test can edit), small enough for seconds.
TEXT = {
    "name": "tiny_textfiles",
    "generations": 2,
    "samples_per_generation": 24,
    "seed": 3,
    "data": {"name": "textfiles", "sequence_length": 32, "prompt_length": 16, "shown_prompts": 2},
    "model": {"kind": "gpt", "layers": 1, "heads": 2, "width": 16},
    "train": {"max_steps": 10, "batch_size": 8, "lr": 0.01},
    "sampling": {"batch_size": 24},
}
# Far beyond any learning rate that trains: the first steps turn the weights NaN.
EXPLODING_LR = 1.0e30


def _text_config(folder: Path, **changes: object) -> Path:
    books = folder / "books"
    if not books.is_dir():
        write_text_files(books)
    config = {**TEXT, **changes}
    config["data"] = {**TEXT["data"], "root": str(books)}
    path = folder / "text.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config, run folder) of a finished tiny text run, for the tests that only read it."""
    root = tmp_path_factory.mktemp("text_run")
    config = _text_config(root)
    run_dir = root / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    return config, run_dir


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    return copy


def test_a_folder_that_is_not_a_run_is_refused_untouched(tmp_path, capsys) -> None:
    folder = tmp_path / "userdir"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / ".important.tmp-999999").write_text("mine too")
    config = tmp_path / "chains.yaml"
    config.write_text(yaml.safe_dump(SMALL_CHAINS_EXPERIMENT))
    assert main(["run", str(config), "--run-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "not a collapse-lab run directory and nothing in it was touched" in err
    assert "removed" not in err
    assert sorted(p.name for p in folder.iterdir()) == [".important.tmp-999999", "notes.txt"]


def test_a_folder_of_a_run_stopped_before_binding_is_still_taken(tmp_path) -> None:
    """Its lock and a half-written config.yaml are the lab's: the run goes on there."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".lock").write_text("")
    (folder / f".{CONFIG_FILE}.tmp-999999").write_text("name: half")
    config = tmp_path / "chains.yaml"
    config.write_text(yaml.safe_dump(SMALL_CHAINS_EXPERIMENT))
    assert main(["run", str(config), "--run-dir", str(folder)]) == 0
    assert (folder / METRICS_FILE).is_file()


def test_a_diverged_text_run_is_flagged_and_fails_check(tmp_path, capsys) -> None:
    """train.lr 1e30: the loss turns NaN, the generation says it diverged, and `check` fails
    every threshold on it (--max, --min, and the run's own max_increase)."""
    config = _text_config(tmp_path, train={**TEXT["train"], "lr": EXPLODING_LR})
    config_text = yaml.safe_load(config.read_text())
    config_text["check"] = {"max_increase": {"heldout_perplexity": 1.5}}
    config.write_text(yaml.safe_dump(config_text))
    run_dir = tmp_path / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    records = json.loads((run_dir / MANIFEST_FILE).read_text())["generations"]
    assert [record["metrics"]["diverged"] for record in records] == [1, 1]
    assert "NaN" in records[0]["diverged"] or "not finite" in records[0]["diverged"]
    capsys.readouterr()
    for flag in ("--max", "--min"):
        assert main(["check", str(run_dir), flag, "heldout_perplexity=100"]) == 1
        out = capsys.readouterr().out
        assert "heldout_perplexity: generation 0 diverged" in out and "also generation 1" in out
    assert main(["check", str(run_dir)]) == 1  # the config's own max_increase
    assert "check.max_increase.heldout_perplexity" in capsys.readouterr().out


def test_check_fails_an_empty_or_nan_cell(tmp_path, capsys) -> None:
    from tests.fake_runs import make_run

    rows = [
        {"generation": 0, "fid": 10.0, "recall": 0.5},
        {"generation": 1, "fid": float("nan"), "recall": 0.4},
        {"generation": 2, "fid": None, "recall": 0.3},
    ]
    run_dir = make_run(tmp_path / "run", rows, grids=False)
    assert main(["check", str(run_dir), "--max", "fid=100"]) == 1
    out = capsys.readouterr().out
    assert "fid: generation 1 is NaN, which fails every threshold" in out
    assert "also generation 2" in out
    assert main(["check", str(run_dir), "--min", "recall=0.2"]) == 0  # a column that holds


def test_changed_text_is_refused_under_finished_generations(text_run, tmp_path, capsys):
    """A text file edited, a generation's samples gone, the run resumed: the redone
    generation would train and be measured on other text, so the run refuses, naming the
    files and both hashes, and records nothing new."""
    config, run_dir = text_run
    copy = _copy(run_dir, tmp_path)
    books = Path(yaml.safe_load(config.read_text())["data"]["root"])
    before = json.loads((copy / MANIFEST_FILE).read_text())
    (copy / text_files(1)["samples"]).unlink()
    kept = tmp_path / "books_as_they_were"
    shutil.copytree(books, kept)
    first = sorted(books.rglob("*.txt"))[0]
    try:
        first.write_text(first.read_text().replace("lighthouse", "harbour"))
        capsys.readouterr()
        assert main(["run", str(config), "--run-dir", str(copy)]) == 2
    finally:
        shutil.rmtree(books)
        shutil.copytree(kept, books)
    err = capsys.readouterr().err
    recorded = before["real_data"]["sha256"]
    assert "the real data changed since this run's generations were made" in err
    assert recorded in err and str(books) in err
    after = json.loads((copy / MANIFEST_FILE).read_text())
    assert after["real_data"] == before["real_data"] and after["real_text"] == before["real_text"]


def test_a_lost_manifest_is_recovered_from_the_previous_one(tmp_path, capsys, caplog) -> None:
    config = tmp_path / "chains.yaml"
    config.write_text(yaml.safe_dump(SMALL_CHAINS_EXPERIMENT))
    run_dir = tmp_path / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    expected = (run_dir / METRICS_FILE).read_bytes()
    (run_dir / MANIFEST_FILE).unlink()
    capsys.readouterr()
    assert main(["status", str(run_dir)]) == 0
    assert f"{MANIFEST_FILE} is missing: `run` resumes from {PREVIOUS_MANIFEST_FILE}" in (
        capsys.readouterr().out
    )
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    assert f"resuming from {PREVIOUS_MANIFEST_FILE}" in caplog.text
    assert (run_dir / METRICS_FILE).read_bytes() == expected
    records = json.loads((run_dir / MANIFEST_FILE).read_text())["generations"]
    assert len(records) == SMALL_CHAINS_EXPERIMENT["generations"]


def test_files_no_manifest_vouches_for_are_refused_not_restarted(tmp_path, capsys) -> None:
    config = tmp_path / "chains.yaml"
    config.write_text(yaml.safe_dump(SMALL_CHAINS_EXPERIMENT))
    run_dir = tmp_path / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    (run_dir / MANIFEST_FILE).unlink()
    (run_dir / PREVIOUS_MANIFEST_FILE).unlink()
    kept = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*") if p.is_file())
    capsys.readouterr()
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 2
    assert "so no generation can count as finished" in capsys.readouterr().err
    assert main(["status", str(run_dir)]) == 2
    assert "none of its generations can be vouched for" in capsys.readouterr().err
    now = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*") if p.is_file())
    assert now == kept


def test_readers_refuse_swapped_samples(text_run, tmp_path, capsys) -> None:
    _, run_dir = text_run
    copy = _copy(run_dir, tmp_path)
    first, second = (copy / text_files(g)["samples"] for g in (0, 1))
    first_bytes = first.read_bytes()
    first.write_bytes(second.read_bytes())
    second.write_bytes(first_bytes)
    capsys.readouterr()
    assert main(["report", str(copy)]) == 2
    assert "does not match its sha256" in capsys.readouterr().err


def test_eval_refuses_a_runs_sample_file_that_changed(tmp_path, capsys) -> None:
    """A file a run's manifest lists is scored only while it is what the run wrote."""
    from lab.rundir.results import verify_run_file
    from tests.fake_runs import make_run

    run_dir = make_run(tmp_path / "run", [{"generation": 0, "fid": 1.0}])
    grid = next(run_dir.glob("grids/*.png"))
    verify_run_file(grid)  # as written: accepted
    grid.write_bytes(grid.read_bytes() + b"\0")
    from lab.errors import RunDirError

    with pytest.raises(RunDirError, match="does not match its sha256"):
        verify_run_file(grid)


def test_an_edited_config_is_not_another_run(text_run, tmp_path, capsys) -> None:
    _, run_dir = text_run
    copy = _copy(run_dir, tmp_path)
    stored = yaml.safe_load((copy / CONFIG_FILE).read_text())
    (copy / CONFIG_FILE).write_text(yaml.safe_dump({**stored, "seed": 5}, sort_keys=False))
    capsys.readouterr()
    assert main(["compare", str(run_dir), str(copy), "--out", str(tmp_path / "out")]) == 2
    assert "is not the config this run was made with" in capsys.readouterr().err
    observed = {**stored, "check": {"max": {"heldout_perplexity": 1000.0}}}
    (copy / CONFIG_FILE).write_text(yaml.safe_dump(observed, sort_keys=False))
    assert main(["check", str(copy)]) == 0  # a threshold only observes: the same run


def test_a_name_that_is_a_path_is_refused(tmp_path, capsys) -> None:
    config = tmp_path / "chains.yaml"
    config.write_text(yaml.safe_dump({**SMALL_CHAINS_EXPERIMENT, "name": ".."}))
    assert main(["run", str(config)]) == 2
    assert "key 'name' is '..', a path rather than a name" in capsys.readouterr().err


def test_a_linked_lock_is_not_followed(tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    outside = tmp_path / "elsewhere" / "lock"
    (run_dir / ".lock").symlink_to(outside)
    config = tmp_path / "chains.yaml"
    config.write_text(yaml.safe_dump(SMALL_CHAINS_EXPERIMENT))
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 2
    assert "is a symbolic link" in capsys.readouterr().err
    assert not outside.exists() and not outside.parent.exists()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"shown_prompts": 10**6}, ("'data.shown_prompts' is 1000000", "lower it")),
        ({"sequence_length": 10**8, "prompt_length": 16}, ("'data.sequence_length'",)),
    ],
)
def test_text_sizes_the_text_cannot_meet_name_their_key(tmp_path, capsys, data, words) -> None:
    config = _text_config(tmp_path)
    raw = yaml.safe_load(config.read_text())
    raw["data"].update(data)
    config.write_text(yaml.safe_dump(raw))
    assert main(["run", str(config), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert all(word in err for word in words), err
    assert "samples_per_generation" not in err


# What torch's CPU allocator raises when a text model of 8,000-byte sequences meets a 4 GB
# address-space limit (`ulimit -v 4000000`, measured by hand: it took two minutes to get
# there, too long for a test), word for word.
ALLOCATOR_FAILURE = (
    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 16381952 bytes. Error code 12 (Cannot allocate memory)"
)


def test_running_out_of_memory_is_one_sentence(tmp_path, monkeypatch, capsys) -> None:
    from lab.training import trained

    def exhausted(*args: object, **kwargs: object) -> None:
        raise RuntimeError(ALLOCATOR_FAILURE)

    monkeypatch.setattr(trained, "train_generation", exhausted)
    config = _text_config(tmp_path)
    run_dir = tmp_path / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: generation 0 ran out of memory (it asked for 16381952 bytes more); lower "
        "train.batch_size or sampling.batch_size, or make the model or its data smaller."
    )
    failure = json.loads((run_dir / MANIFEST_FILE).read_text())["last_failure"]
    assert failure["during"] == "generation 0" and "ran out of memory" in failure["error"]


def test_changed_images_are_refused_under_finished_generations(tmp_path, capsys) -> None:
    """The same for images: a folder of faces edited (its decoded-image cache then redone)
    under a run with finished generations."""
    import numpy as np
    from PIL import Image

    faces = tmp_path / "faces"
    faces.mkdir()
    noise = np.random.default_rng(0)
    for index in range(40):
        pixels = noise.integers(0, 256, (20, 20, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(faces / f"{index:02d}.png")
    experiment = {
        "name": "faces",
        "generations": 2,
        "samples_per_generation": 16,
        "seed": 0,
        "data": {"name": "faces", "root": str(faces), "image_size": 16, "heldout_fraction": 0.25},
        "model": {"kind": "dcgan", "latent_dim": 4, "generator_width": 2, "discriminator_width": 2},
        "train": {"max_steps": 2, "batch_size": 8, "lr": 0.0002},
        "judge": {
            "max_epochs": 1,
            "batch_size": 8,
            "width": 2,
            "feature_dim": 8,
            "min_accuracy": 0,
        },
        "metrics": {"precision_recall_k": 2, "density_coverage_k": 2},
        "cache_dir": str(tmp_path / "cache"),
    }
    experiment["judge"]["min_accuracy"] = 0  # random faces: no judge learns them
    config = tmp_path / "faces.yaml"
    config.write_text(yaml.safe_dump(experiment))
    run_dir = tmp_path / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    (run_dir / "samples" / "gen_001.npz").unlink()
    Image.fromarray(np.zeros((20, 20, 3), dtype=np.uint8)).save(faces / "00.png")
    capsys.readouterr()
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "the real data changed" in err and f"data.name 'faces' in '{faces}'" in err
