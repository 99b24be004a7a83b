"""Config validation: every mistake is one sentence naming the source and the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lab.cli import main
from lab.config import config_from_dict, load_config
from lab.errors import ConfigError
from lab.experiment import OBSERVER_SECTIONS, config_digest
from lab.rundir.directory import MANIFEST_FILE, RunDirectory
from tests.conftest import SMALL_CHAINS_EXPERIMENT, TINY_EXPERIMENT

ROOT = Path(__file__).resolve().parents[1]
BEFORE = Path(__file__).resolve().parent / "configs_before_own_models"


def test_valid_config_loads_with_defaults(write_config) -> None:
    config = load_config(write_config())
    assert config.generations == 3
    assert config.model.channels == (16, 32)
    assert config.judge.min_accuracy == 0.95
    assert config.metrics.covered_share_fraction == 0.5


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (
            {"train": {"max_epoch": 2, "batch_size": 8}},
            ["'train.max_epoch'", "did you mean 'train.max_epochs'"],
        ),
        ({"generations": "three"}, ["'generations'", "must be an integer", "'three'"]),
        ({"generations": -1}, ["'generations'", ">= 1"]),
        ({"regime": "recycle"}, ["'regime'", "'replace'"]),
        ({"model": {"kind": "flow"}}, ["'model.kind'", "'vae'", "'diffusion'"]),
        (
            {"model": {"kind": "vae", "latent": 4}},
            ["'model.latent'", "did you mean 'model.latent_dim'"],
        ),
        ({"train": {"batch_size": 8}}, ["'train.max_epochs'", "'train.max_steps'", "exactly one"]),
        (
            {"metrics": {"covered_share_fraction": 1.5}},
            ["'metrics.covered_share_fraction'", "<= 1"],
        ),
        ({"model": {"kind": "vae", "channels": [16, 0]}}, ["'model.channels[1]'", ">= 1"]),
    ],
)
def test_bad_values_name_file_and_key(write_config, changes: dict, words: list[str]) -> None:
    path = write_config(changes)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for word in words:
        assert word in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("train.max_epoch=2", ["--set 'train.max_epoch=2'", "did you mean 'train.max_epochs'"]),
        ("generations=many", ["--set 'generations=many'", "must be an integer"]),
        ("generations", ["--set 'generations'", "KEY=VALUE"]),
        ("seed=[1", ["--set 'seed=[1'", "not valid YAML"]),
        ("name.first=x", ["--set 'name.first=x'", "holds a value"]),
    ],
)
def test_bad_overrides_name_the_override(write_config, override: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(), [override])
    for word in words:
        assert word in str(caught.value)


def test_overrides_are_parsed_as_yaml_and_validated(write_config) -> None:
    config = load_config(
        write_config(), ["train.max_steps=5", "model.channels=[8, 8]", "data.name=mnist"]
    )
    assert config.train.max_steps == 5
    assert config.model.channels == (8, 8)
    assert config.data.root == "data"  # the section of the dataset the override names


def test_yaml_syntax_error_names_line(tmp_path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ngenerations: [1\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: is not valid YAML at line \d+"):
        load_config(path)


def test_cli_prints_one_sentence_without_traceback(write_config, capsys) -> None:
    path = write_config({"train": {"max_epochz": 2}})
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1
    assert "'train.max_epochz'" in err


def test_cli_bad_set_exits_2(write_config, capsys) -> None:
    assert main(["run", str(write_config()), "--set", "train.lr=fast"]) == 2
    err = capsys.readouterr().err
    assert "--set 'train.lr=fast'" in err and "must be a number" in err


def test_resolved_config_round_trips(write_config) -> None:
    config = load_config(write_config())
    again = load_config(write_config({}, name="again.yaml"))
    assert config.digest() == again.digest()
    assert yaml.safe_load(yaml.safe_dump(config.as_dict()))["model"]["channels"] == [16, 32]


def test_a_file_extends_its_base_and_states_only_what_differs(tmp_path) -> None:
    """`base:` merges sections key by key; the extending file wins; lists are replaced."""
    experiments = Path(__file__).parent.parent / "experiments"
    biased = load_config(experiments / "mnist5k_biased.yaml")
    replace = load_config(experiments / "mnist5k_replace.yaml")
    assert biased.sampling.temperature == 0.7 and replace.sampling.temperature == 1.0
    assert biased.model == replace.model and biased.train == replace.train
    (tmp_path / "base.yaml").write_text(
        yaml.safe_dump({**_tiny(), "model": {"kind": "vae", "latent_dim": 8, "channels": [4, 8]}})
    )
    (tmp_path / "child.yaml").write_text(
        yaml.safe_dump({"base": "base.yaml", "name": "child", "model": {"channels": [2]}})
    )
    child = load_config(tmp_path / "child.yaml")
    assert child.name == "child" and child.model.latent_dim == 8 and child.model.channels == (2,)


@pytest.mark.parametrize(
    ("base", "words"),
    [
        ("missing.yaml", ["child.yaml: key 'base' names 'missing.yaml'", "is not a file"]),
        ("child.yaml", ["key 'base' makes a cycle", "child.yaml -> ", "remove one of these"]),
        (["a.yaml"], ["key 'base' must be the path of the experiment file this one extends"]),
    ],
)
def test_a_bad_base_is_one_sentence(tmp_path, base, words: list[str]) -> None:
    (tmp_path / "child.yaml").write_text(yaml.safe_dump({**_tiny(), "base": base}))
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "child.yaml")
    for word in words:
        assert word in str(raised.value)


def test_an_error_in_an_inherited_key_names_the_base_file(tmp_path) -> None:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({**_tiny(), "generations": -1}))
    (tmp_path / "child.yaml").write_text(yaml.safe_dump({"base": "base.yaml", "name": "child"}))
    with pytest.raises(ConfigError, match=r"^\S*base\.yaml: key 'generations' must be >= 1"):
        load_config(tmp_path / "child.yaml")


def _tiny() -> dict:
    return dict(TINY_EXPERIMENT)


def test_a_relative_cache_dir_belongs_to_the_config_files_repository(tmp_path, monkeypatch):
    """`eval` from any folder finds the judge `run` trained: cache_dir is relative to the
    repository holding the experiment file, not to the current folder (it was ./cache)."""
    repository = tmp_path / "lab"
    (repository / "experiments").mkdir(parents=True)
    (repository / "pyproject.toml").write_text("")
    experiment = repository / "experiments" / "tiny.yaml"
    experiment.write_text(yaml.safe_dump(_tiny()))  # cache_dir: the default, "cache"
    monkeypatch.chdir(repository)
    assert load_config("experiments/tiny.yaml").cache_dir == "cache"  # spelled as before
    elsewhere = tmp_path / "images"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(experiment).cache_dir == str(repository.resolve() / "cache")
    assert load_config(experiment, ["cache_dir=mine"]).cache_dir == "mine"  # typed here
    loose = tmp_path / "loose.yaml"  # in no repository: relative to the current folder
    loose.write_text(yaml.safe_dump(_tiny()))
    assert load_config(loose).cache_dir == "cache"


def test_a_run_resumed_from_another_folder_is_the_same_config(tmp_path) -> None:
    """cache_dir then reads as an absolute path; the cache is found by content, so the run
    directory must not call that a different config."""
    config = load_config(_write(tmp_path / "tiny.yaml", _tiny()))
    moved = load_config(_write(tmp_path / "moved.yaml", {**_tiny(), "cache_dir": "/elsewhere"}))
    assert moved.digest() == config.digest()
    run_dir = tmp_path / "run"
    for opened in (config, moved):
        with RunDirectory.open(
            run_dir, opened.as_dict(), opened.digest(), OBSERVER_SECTIONS
        ) as run:
            run.bind()
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["cache_dir"] == "/elsewhere"


def _write(path: Path, experiment: dict) -> Path:
    path.write_text(yaml.safe_dump(experiment))
    return path


@pytest.mark.parametrize(
    ("stored", "experiment", "overrides"),
    [
        ("demo.yaml", "demo.yaml", ["generations=2"]),
        ("demo_text.yaml", "demo_text.yaml", ["generations=2"]),
        ("gaussian.yaml", "gaussian.yaml", ["generations=301"]),
        ("celeba_dcgan_tiny.yaml", "celeba_dcgan_tiny.yaml", []),
    ],
)
def test_a_config_stored_before_domains_owned_their_sections_reads_the_same(
    stored: str, experiment: str, overrides: list[str]
) -> None:
    """Run folders made before keep their meaning: the image sections a text or vector config
    held, and the keys of other datasets an image data section held, are dropped on reading
    (none of them was ever read by those runs); what is left is today's config."""
    old = yaml.safe_load((BEFORE / stored).read_text())
    current = load_config(ROOT / "experiments" / experiment, [*overrides, "cache_dir=cache"])
    assert config_from_dict(old).as_dict() == current.as_dict()
    assert config_from_dict(old).digest() == current.digest()


def test_an_old_run_folder_resumes_and_opens(tmp_path, capsys) -> None:
    """A finished run whose config.yaml holds the retired sections (as every run folder did)
    is the same config to `run` (nothing to do, config.yaml rewritten in today's form), and
    status, check, compare and report open it."""
    config = tmp_path / "chains.yaml"
    config.write_text(yaml.safe_dump(SMALL_CHAINS_EXPERIMENT))
    run_dir = tmp_path / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    stored = yaml.safe_load((run_dir / "config.yaml").read_text())
    retired = yaml.safe_load((BEFORE / "gaussian.yaml").read_text())
    old = {**stored, **{key: retired[key] for key in ("judge", "metrics")}}
    old["sampling"] = retired["sampling"]
    (run_dir / "config.yaml").write_text(yaml.safe_dump(old, sort_keys=False))
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text())
    manifest["config_digest"] = config_digest(old)  # as the lab that wrote it computed it
    (run_dir / MANIFEST_FILE).write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["status", str(run_dir)]) == 0
    assert main(["check", str(run_dir), "--max", "mean_w2=1000"]) == 0
    assert main(["compare", str(run_dir), "--out", str(tmp_path / "compare")]) == 0
    assert main(["report", str(run_dir)]) == 0
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    assert "all 6 generations are complete; nothing to do" in capsys.readouterr().out
    assert "judge" not in yaml.safe_load((run_dir / "config.yaml").read_text())


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (
            {"data": {"name": "pydoc"}, "model": {"kind": "gpt"}, "metrics": {"kid": True}},
            ["'metrics'", "images experiments only", "text data"],
        ),
        (
            {"data": {"name": "pydoc"}, "model": {"kind": "gpt"}, "sampling": {"grid_rows": 4}},
            ["'sampling.grid_rows'", "images experiments only"],
        ),
        (
            {
                "data": {"name": "gaussian"},
                "model": {"kind": "gaussian"},
                "train": None,
                "sampling": {"batch_size": 10},
            },
            ["'sampling.batch_size'", "images and text experiments only", "vectors data"],
        ),
        (
            {"data": {"name": "mnist5k", "root": "/data"}},
            ["'data.root'", "'celeba', 'faces', 'mnist'"],
        ),
        ({"data": {"name": "celeba", "pad_to": 32}}, ["'data.pad_to'", "'mnist', 'mnist5k'"]),
        (
            {"data": {"name": "mnist5k"}, "model": {"kind": "gpt"}},
            ["'model.kind'", "'gpt'", "images"],
        ),
        ({"model": {"class_path": "no dots"}}, ["'model.class_path'", "package.module.Class"]),
    ],
)
def test_a_key_of_another_domain_or_dataset_says_who_takes_it(
    write_config, changes: dict, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(changes))
    for word in words:
        assert word in str(raised.value)
