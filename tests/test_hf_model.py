"""A pretrained Hugging Face causal language model in the loop (`model.kind: hf_causal_lm`),
on the tiny OPT of tests/hf_fixtures.py: two generations through `collapse-lab run` with the
paper's decoding (beam search, repetition penalty), a kill during beam-search sampling
resumed to identical bytes, where each generation's weights start, and what is refused."""

from __future__ import annotations

import csv
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from lab.cli import main
from lab.config import config_from_dict, load_config
from lab.domains.text.files import text_files
from lab.errors import ConfigError
from lab.generators.build import read_checkpoint
from lab.rundir.directory import METRICS_FILE
from models.hf_causal_lm import _loaded
from tests.hf_fixtures import VOCABULARY
from tests.run_processes import launch_run
from tests.test_text_run import COLUMNS
from tests.text_fixtures import write_text_files

SAMPLES, LENGTH, PROMPT, SHOWN = 16, 24, 8, 2
LR = 1e-3
DEMO_TEXT = Path(__file__).resolve().parents[1] / "experiments" / "demo_text.yaml"


def _experiment(root: Path, pretrained: Path, **changes: object) -> Path:
    """A tiny run of the OPT on a folder of .txt files, written as `root`/opt.yaml."""
    corpus = root / "corpus"
    if not corpus.exists():
        write_text_files(corpus)
    experiment = {
        "name": "tiny_opt",
        "generations": 2,
        "samples_per_generation": SAMPLES,
        "seed": 3,
        "regime": "replace",
        "data": {
            "name": "textfiles",
            "root": str(corpus),
            "sequence_length": LENGTH,
            "prompt_length": PROMPT,
            "shown_prompts": SHOWN,
        },
        "model": {"kind": "hf_causal_lm", "pretrained": str(pretrained)},
        "train": {"max_steps": 3, "batch_size": 8, "lr": LR},
        "sampling": {"batch_size": 8, "beams": 3, "repetition_penalty": 2.0},
        **changes,
    }
    path = root / "opt.yaml"
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    return path


def _outputs(run_dir: Path) -> dict[str, bytes]:
    files = [run_dir / METRICS_FILE, *sorted(run_dir.glob("samples/*"))]
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, tiny_opt: Path) -> tuple[Path, Path]:
    """(config, run directory) of two uninterrupted generations."""
    root = tmp_path_factory.mktemp("opt")
    config = _experiment(root, tiny_opt)
    run_dir = root / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    return config, run_dir


@pytest.mark.slow
def test_the_opt_fine_tunes_for_two_generations(finished) -> None:
    """The text columns, measured in the model's own tokens; samples stored as its ids."""
    _, run_dir = finished
    with open(run_dir / METRICS_FILE) as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == COLUMNS and [row["generation"] for row in rows] == ["0", "1"]
    assert all(float(row["heldout_perplexity"]) > 1 for row in rows)
    stored = np.load(run_dir / text_files(1)["samples"])
    sequences = stored["sequences"]
    assert sequences.dtype == np.int32 and sequences.shape == (SAMPLES, LENGTH)
    assert sequences.min() >= 0 and sequences.max() < VOCABULARY
    assert stored["shown_prompts"].shape == (SHOWN, PROMPT)
    shown = (run_dir / text_files(1)["shown"]).read_text()
    assert "continued by generation 1" in shown and "lighthouse" in shown  # decoded prompts
    prompt = str(stored["shown_prompts_text"][0])  # the report shows text, not token ids
    assert prompt.startswith("Document") and prompt in (run_dir / "report.html").read_text()


@pytest.mark.slow
def test_a_kill_during_beam_search_resumes_to_identical_bytes(finished, tmp_path) -> None:
    """Killed between the beam searches of generation 1's samples and its shown prompts."""
    config, clean = finished
    run_dir = tmp_path / "killed"
    process = launch_run(config, run_dir, kill_at="continued:1")
    _, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, err
    process = launch_run(config, run_dir)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert _outputs(run_dir) == _outputs(clean)


def _largest_change(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[name] - b[name]).abs().max()) for name in b)


@pytest.mark.slow
@pytest.mark.parametrize("init_from", [None, "previous", "scratch"])
def test_where_each_generation_starts(tmp_path, tiny_opt, init_from) -> None:
    """One Adam step moves every weight by at most train.lr. From the pretrained weights
    (init_from unset: pretrained, for a model that has them) each generation ends within lr
    of them; from the previous generation's (previous), within lr of those and further from
    the pretrained; from fresh weights (scratch), far from both."""
    changes = {"train": {"max_steps": 1, "batch_size": 8, "lr": LR}}
    if init_from is not None:
        changes["train"]["init_from"] = init_from
    config = _experiment(tmp_path, tiny_opt, sampling={"batch_size": 8}, **changes)
    run_dir = tmp_path / "run"
    assert main(["run", str(config), "--run-dir", str(run_dir)]) == 0
    first, second = (
        {
            name.removeprefix("network."): tensor
            for name, tensor in read_checkpoint(
                (run_dir / text_files(g)["checkpoint"]).read_bytes()
            ).state_dict.items()
        }
        for g in (0, 1)
    )
    pretrained = load_file(tiny_opt / "model.safetensors")
    if init_from is None:
        assert _largest_change(first, pretrained) <= 1.01 * LR
        assert _largest_change(second, pretrained) <= 1.01 * LR
    elif init_from == "previous":
        assert _largest_change(first, pretrained) <= 1.01 * LR
        assert _largest_change(second, first) <= 1.01 * LR
        assert _largest_change(second, pretrained) > 1.5 * LR
    else:
        assert _largest_change(first, pretrained) > 10 * LR
        assert _largest_change(second, first) > 10 * LR


def test_demo_text_with_only_its_model_section_replaced(tmp_path, tiny_opt, capsys) -> None:
    """experiments/demo_text.yaml with {kind: hf_causal_lm, pretrained: FOLDER} as its model
    is a valid experiment whose every other key is the demo's. Its 2,900 sequences of 128
    tokens are more than the manual holds in BPE tokens (about 1.8 bytes each with the tiny
    tokenizer), which is one sentence naming the count, before a run folder is made."""
    demo = yaml.safe_load(DEMO_TEXT.read_text())
    replaced = {**demo, "model": {"kind": "hf_causal_lm", "pretrained": str(tiny_opt)}}
    path = tmp_path / "demo_text_opt.yaml"
    path.write_text(yaml.safe_dump(replaced, sort_keys=False))
    ours, theirs = load_config(path).as_dict(), load_config(DEMO_TEXT).as_dict()
    assert ours.pop("model") == {"kind": "hf_causal_lm", "pretrained": str(tiny_opt)} | {
        "weight_decay": 0.0
    }
    theirs.pop("model")
    assert ours == theirs
    assert main(["run", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "'samples_per_generation' is 2900" in error and "128 tokens; lower it" in error
    assert not (tmp_path / "run" / "config.yaml").exists()  # the folder was not bound


@pytest.mark.slow
def test_a_finished_runs_config_reads_back_after_its_model_folder_moved(finished, tmp_path) -> None:
    """The folder is checked when an experiment file loads, not when a run is read back
    (status, report, compare), so a run still reports after its model moved."""
    _, run_dir = finished
    stored = yaml.safe_load((run_dir / "config.yaml").read_text())
    stored["model"]["pretrained"] = str(tmp_path / "moved")
    assert config_from_dict(stored).model.pretrained == str(tmp_path / "moved")
    (tmp_path / "moved.yaml").write_text(yaml.safe_dump(stored))
    with pytest.raises(ConfigError, match="no such folder"):
        load_config(tmp_path / "moved.yaml")


def test_a_hub_id_that_cannot_be_downloaded_is_one_sentence() -> None:
    def unreachable(name: str) -> None:
        raise OSError(f"We couldn't connect to 'https://huggingface.co' to load {name}")

    with pytest.raises(ConfigError) as raised:
        _loaded("facebook/opt-125m", unreachable)
    message = str(raised.value)
    assert (
        "'facebook/opt-125m'" in message and "HF_HOME" in message and "save_pretrained" in message
    )
    assert message.count(". ") == 0 and message.endswith(".")
