"""Real text for the language-model runs: the offline Python manual split by document,
wikitext-2's raw files and a folder of .txt files, cut into byte sequences; and what is
said when they are missing, unreadable or too small."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lab.config import load_config
from lab.domains.text.corpora import DOCUMENT_SEPARATOR, split_documents
from lab.domains.text.sequences import cut, load_real_text, shown_prompts
from lab.domains.text.settings import PydocText, TextFilesText, WikitextText
from lab.errors import ConfigError, DataError
from tests.text_fixtures import write_text_files, write_wikitext

GPT_RUN = {
    "samples_per_generation": 20,
    "model": {"kind": "gpt", "layers": 1, "heads": 2, "width": 16},
    "train": {"max_steps": 2, "batch_size": 8},
}


def _config(write_config, data: dict, **changes):
    return load_config(write_config({**GPT_RUN, "data": data, **changes}))


def test_cut_drops_the_incomplete_end() -> None:
    ids = np.frombuffer(b"abcdefgh", dtype=np.uint8)
    assert cut(ids, 3).tolist() == [list(b"abc"), list(b"def")]


def test_documents_are_held_out_whole_until_the_fraction_is_reached() -> None:
    documents = [bytes([65 + i]) * (10 * (i + 1)) for i in range(6)]  # 10, 20, ... 60 bytes
    train, heldout = split_documents(documents, 0.25, seed=0, source="six documents")
    train_parts, held_parts = train.split(DOCUMENT_SEPARATOR), heldout.split(DOCUMENT_SEPARATOR)
    assert sorted(train_parts + held_parts) == sorted(documents)  # every document, once, whole
    assert sum(map(len, held_parts)) >= 0.25 * 210
    smaller = [part for part in held_parts if part != held_parts[-1]]
    assert sum(map(len, smaller)) < 0.25 * 210  # stopped as soon as the fraction was reached
    assert train_parts == [d for d in documents if d in train_parts]  # original order kept
    assert split_documents(documents, 0.25, 0, "") == (train, heldout)
    with pytest.raises(DataError, match="holds 1 document"):
        split_documents(documents[:1], 0.25, 0, "one file")


def test_the_python_manual_is_split_by_document(write_config) -> None:
    from pydoc_data import topics

    corpus = PydocText().read()
    documents = [topics.topics[key].encode() for key in sorted(topics.topics)]
    held = [document for document in documents if document in corpus.heldout]
    assert corpus.heldout == DOCUMENT_SEPARATOR.join(held)  # whole documents, in order
    assert not any(document in corpus.train for document in held)
    # 0.185 with split_seed 0: at least heldout_fraction 0.1 by construction, 0.315 under 0.5.
    assert 0.1 <= len(corpus.heldout) / (len(corpus.heldout) + len(corpus.train)) < 0.5


def test_wikitext_reads_the_train_file_and_holds_out_the_test_file(tmp_path, write_config):
    folder = write_wikitext(tmp_path)
    config = _config(write_config, {"name": "wikitext2", "root": str(tmp_path)})
    real = load_real_text(config)
    train_text = (folder / "wiki.train.raw").read_bytes()
    test_text = (folder / "wiki.test.raw").read_bytes()
    assert real.heldout_text == test_text
    assert real.available == len(train_text) // 128
    for row in real.train:  # each training sequence is a piece of the training file
        assert bytes(row.numpy()) in train_text
    assert torch.equal(real.heldout, cut(np.frombuffer(test_text, dtype=np.uint8), 128))
    for prompt in real.shown_prompts:  # shown prompts start a line of held-out text
        text = bytes(prompt.numpy())
        assert text in test_text and text[:1].isupper()
    valid = _config(
        write_config,
        {"name": "wikitext2", "root": str(tmp_path), "heldout_split": "valid"},
    )
    assert load_real_text(valid).heldout_text == (folder / "wiki.valid.raw").read_bytes()


def test_a_missing_wikitext_file_says_where_it_goes(tmp_path) -> None:
    folder = write_wikitext(tmp_path)
    (folder / "wiki.test.raw").unlink()
    with pytest.raises(DataError) as raised:
        WikitextText(root=str(tmp_path)).read()
    message = str(raised.value)
    assert f"'{folder / 'wiki.test.raw'}' is missing" in message
    assert "wikitext-2-raw-v1.zip" in message and "data.root" in message


def test_a_folder_of_text_files_is_one_document_per_file(tmp_path) -> None:
    files = write_text_files(tmp_path / "books")
    corpus = TextFilesText(root=str(tmp_path / "books")).read()
    documents = {path.read_bytes() for path in files}
    parts = corpus.train.split(DOCUMENT_SEPARATOR) + corpus.heldout.split(DOCUMENT_SEPARATOR)
    assert set(parts) == documents and len(parts) == len(files)
    assert corpus.source.startswith("6 .txt files under")


@pytest.mark.parametrize(
    ("arrange", "words"),
    [
        (lambda root: None, "is not a folder"),
        (lambda root: root.mkdir(), "holds no .txt file"),
        (lambda root: write_text_files(root)[2].write_bytes(b"caf\xe9 au lait"), "not UTF-8"),
    ],
)
def test_a_bad_folder_of_text_files_is_one_sentence(tmp_path, arrange, words) -> None:
    root = tmp_path / "books"
    arrange(root)
    with pytest.raises(DataError, match=words):
        TextFilesText(root=str(root)).read()


def test_more_sequences_than_the_text_holds_is_a_config_error(tmp_path, write_config) -> None:
    write_wikitext(tmp_path)
    config = _config(
        write_config,
        {"name": "wikitext2", "root": str(tmp_path)},
        samples_per_generation=10_000,
    )
    with pytest.raises(ConfigError, match=r"'samples_per_generation' is 10000, but the train"):
        load_real_text(config)


def test_prompts_start_lines_when_they_can() -> None:
    text = b"intro text\nAlpha line here\n  Beta line here\nlower line\nGamma line"
    prompts = [bytes(p.numpy()) for p in shown_prompts(text, 2, 5)]
    assert prompts == [b"Alpha", b"Gamma"]
    assert len(shown_prompts(b"no capitals at all", 3, 4)) == 3
