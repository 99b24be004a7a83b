"""Real prose as bytes, split into the text generation 0 may train on and the held-out text
every generation is measured against. A missing or unreadable file is one DataError naming
it and saying where it goes.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from lab.errors import DataError

# Between two documents of one split, as between paragraphs.
DOCUMENT_SEPARATOR = b"\n\n"
TEXT_SUFFIX = ".txt"
# The folder of wikitext-2's raw files under data.root, as wikitext-2-raw-v1.zip unpacks.
WIKITEXT_FOLDER = "wikitext-2-raw"
WIKITEXT_FILES = {"train": "wiki.train.raw", "valid": "wiki.valid.raw", "test": "wiki.test.raw"}


@dataclass(frozen=True)
class Corpus:
    """A corpus's training and held-out text, and where it came from (for the manifest)."""

    source: str
    train: bytes
    heldout: bytes


def pydoc_corpus(heldout_fraction: float, split_seed: int) -> Corpus:
    """The Python reference manual of this Python's standard library, split by document."""
    source = f"pydoc_data.topics of Python {platform.python_version()}"
    return _split(_pydoc_topics(), heldout_fraction, split_seed, source)


def text_files_corpus(root: str, heldout_fraction: float, split_seed: int) -> Corpus:
    """Every .txt file under `root`, one document each."""
    folder = Path(root)
    documents = _text_files(folder)
    source = f"{len(documents)} {TEXT_SUFFIX} files under {folder}"
    return _split(documents, heldout_fraction, split_seed, source)


def _split(documents: list[bytes], fraction: float, seed: int, source: str) -> Corpus:
    train, heldout = split_documents(documents, fraction, seed, source)
    return Corpus(source, train, heldout)


def split_documents(
    documents: list[bytes], fraction: float, seed: int, source: str
) -> tuple[bytes, bytes]:
    """(training text, held-out text): whole documents, taken in an order fixed by `seed`,
    are held out until they hold at least `fraction` of the bytes; the rest train, in their
    original order."""
    if len(documents) < 2:
        raise DataError(
            f"{source} holds {len(documents)} document(s), but the held-out text must be whole "
            "documents other than the training ones; add at least one more document."
        )
    order = torch.randperm(len(documents), generator=torch.Generator().manual_seed(seed))
    wanted = fraction * sum(len(document) for document in documents)
    heldout: set[int] = set()
    held = 0
    for index in order.tolist()[:-1]:  # the last document in the order always trains
        if held >= wanted:
            break
        heldout.add(index)
        held += len(documents[index])
    train = [d for i, d in enumerate(documents) if i not in heldout]
    kept = [d for i, d in enumerate(documents) if i in heldout]
    return DOCUMENT_SEPARATOR.join(train), DOCUMENT_SEPARATOR.join(kept)


def _pydoc_topics() -> list[bytes]:
    try:
        from pydoc_data import topics
    except ImportError:
        raise DataError(
            "data.name 'pydoc' reads the Python reference manual from the standard library's "
            "pydoc_data package, which this Python lacks; install the full standard library "
            "(e.g. Debian's libpython3-stdlib) or choose another data.name."
        ) from None
    return [topics.topics[key].encode() for key in sorted(topics.topics)]


def _text_files(folder: Path) -> list[bytes]:
    if not folder.is_dir():
        raise DataError(
            f"data.root '{folder}' is not a folder; for data.name 'textfiles' set it to a folder "
            f"of {TEXT_SUFFIX} files."
        )
    files = sorted(path for path in folder.rglob(f"*{TEXT_SUFFIX}") if path.is_file())
    if not files:
        raise DataError(
            f"data.root '{folder}' holds no {TEXT_SUFFIX} file (subfolders included); put the "
            "text there, one document per file."
        )
    return [_read_utf8(path) for path in files]


def wikitext_corpus(root: str, heldout_split: str) -> Corpus:
    """wikitext-2's training file, and the split it holds out ("valid" or "test")."""
    folder = Path(root) / WIKITEXT_FOLDER
    paths = [folder / WIKITEXT_FILES[split] for split in ("train", heldout_split)]
    for path in paths:
        if not path.is_file():
            names = ", ".join(WIKITEXT_FILES.values())
            raise DataError(
                f"wikitext-2 file '{path}' is missing; unpack wikitext-2-raw-v1.zip so that "
                f"{names} lie in '{folder}', or set data.root to the folder that holds "
                f"{WIKITEXT_FOLDER}/."
            )
    train, heldout = (_read_utf8(path) for path in paths)
    return Corpus(f"wikitext-2 raw files in {folder}", train, heldout)


def _read_utf8(path: Path) -> bytes:
    """A file's bytes, which must be UTF-8 text (the metrics decode the words in them)."""
    try:
        data = path.read_bytes()
        data.decode("utf-8")
    except OSError as err:
        raise DataError(f"'{path}' cannot be read ({err.strerror or err}).") from None
    except UnicodeDecodeError as err:
        raise DataError(
            f"'{path}' is not UTF-8 text (byte {err.start} is {data[err.start]:#04x}); convert it "
            "to UTF-8, e.g. with iconv, or remove it."
        ) from None
    return data
