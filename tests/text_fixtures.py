"""Tiny text corpora in their real on-disk formats: wikitext-2's raw files and a folder of
.txt files."""

from __future__ import annotations

from pathlib import Path

from lab.domains.text.corpora import WIKITEXT_FILES, WIKITEXT_FOLDER

_PARAGRAPH = (
    " The {name} is a tactical role @-@ playing game of {count} @,@ 000 players , released in "
    "{year} for the <unk> console ; its sequel , {name} II , sold better in Japan ( 戦場 ) . \n"
)


def wikitext_article(index: int) -> str:
    """One article as wikitext-2's raw files hold it: a title line, section headings, and
    paragraphs with the dataset's ` @-@ ` and ` @,@ ` joins, each line after a blank one."""
    name = f"Valkyria Chronicles {index}"
    lines = [" \n", f" = {name} = \n", " \n"]
    for section in ("Gameplay", "Reception"):
        lines += [f" = = {section} = = \n", " \n"]
        for paragraph in range(3):
            lines += [_PARAGRAPH.format(name=name, count=index + paragraph, year=2000 + index)]
            lines += [" \n"]
    return "".join(lines)


def write_wikitext(root: Path, articles: dict[str, int] | None = None) -> Path:
    """<root>/wikitext-2-raw/wiki.{train,valid,test}.raw with `articles[split]` articles each
    (train 12, valid and test 2 by default); returns the folder."""
    counts = articles or {"train": 12, "valid": 2, "test": 2}
    folder = root / WIKITEXT_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    first = 0
    for split, file_name in WIKITEXT_FILES.items():
        text = "".join(wikitext_article(first + i) for i in range(counts[split]))
        (folder / file_name).write_text(text, encoding="utf-8")
        first += counts[split]
    return folder


def write_text_files(folder: Path, count: int = 6) -> list[Path]:
    """A folder (with a subfolder) of `count` UTF-8 .txt documents of different sizes."""
    paths = []
    for index in range(count):
        where = folder / ("chapter" if index % 2 else "") / f"doc{index}.txt"
        where.parent.mkdir(parents=True, exist_ok=True)
        sentence = f"Document {index} tells of the lighthouse keeper and the tide. "
        where.write_text(sentence * (20 + 10 * index), encoding="utf-8")
        paths.append(where)
    (folder / "notes.md").write_text("not a .txt file, so not a document")
    return paths
