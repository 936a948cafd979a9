"""CoNLL: one token a line, whitespace-separated columns with the tag last, a blank line between
sentences, ``-DOCSTART-`` lines between documents. Middle columns (POS, chunk) are kept so that an
export reproduces the file line for line."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import ImportFormatError
from ..iob import spans_to_tags
from ..store import DocumentStart, ProjectStore
from ._io import read_lines, split_from_name, tagged_sentences
from .safety import atomic_file

LABELLED = ("labelled", "reviewed")


def read_conll(path: str | Path, scheme: str = "auto", split: str | None = None) -> Iterator:
    path = Path(path)
    split = split or split_from_name(path)
    return tagged_sentences(_records(path, split), path, scheme)


def _records(path: Path, split: str):
    rows, lines, docs, seen_any = [], [], 0, False

    def sentence():
        cols = [r[1:-1] for r in rows] if len(rows[0]) > 2 else None
        return (list(lines), [r[0] for r in rows], [r[-1] for r in rows],
                {"split": split, "columns": cols})

    for number, line in read_lines(path):
        fields = line.split()
        if not fields:
            if rows:
                yield sentence()
                rows, lines = [], []
            continue
        seen_any = True
        if fields[0] == "-DOCSTART-":
            if rows:
                yield sentence()
                rows, lines = [], []
            docs += 1
            yield DocumentStart(f"{path.name}#{docs}", line.strip())
            continue
        if len(fields) < 2:
            raise ImportFormatError("expected a token and a tag separated by whitespace, found "
                                    f"{len(fields)} column", path, number)
        if rows and len(fields) != len(rows[0]):
            raise ImportFormatError(f"expected {len(rows[0])} columns like the line before, "
                                    f"found {len(fields)}", path, number)
        rows.append(fields)
        lines.append(number)
    if rows:
        yield sentence()
    if not seen_any:
        raise ImportFormatError("empty file: no sentences", path)


def write_conll(store: ProjectStore, path: str | Path, split: str | None = None,
                include_unlabelled: bool = False) -> int:
    """IOB2 CoNLL. Documents become ``-DOCSTART-`` blocks when they came from one. CoNLL has no
    status: every sentence in it reads back as gold, so unlabelled ones are left out unless
    ``include_unlabelled`` (written atomically: see safety.atomic_file)."""
    n = 0
    status = None if include_unlabelled else LABELLED
    with atomic_file(path) as f:
        first = True
        for (_id, _name, header), sentences in store.iter_documents(split=split, status=status):
            blocks = [header] if header else []
            for s in sentences:
                tags = spans_to_tags(s.spans, len(s.tokens))
                cols = s.columns or [[] for _ in s.tokens]
                blocks.append("\n".join(" ".join([w, *c, t])
                                        for w, c, t in zip(s.words, cols, tags)))
                n += 1
            if blocks:
                f.write(("" if first else "\n\n") + "\n\n".join(blocks))
                first = False
        if not first:
            f.write("\n")
    return n
