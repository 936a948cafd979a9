"""CoNLL: one token a line, whitespace-separated columns with the tag last, a blank line between
sentences, ``-DOCSTART-`` lines between documents. Middle columns (POS, chunk) are kept so that an
export reproduces the file line for line."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from ..domain import LABELLED, SPLITS
from ..errors import ImportFormatError
from ..iob import spans_to_tags
from ..store import DocumentStart, ProjectStore
from ._io import read_lines, split_from_name, tagged_sentences
from .safety import ExportTargetError, atomic_file, check_not_project


def read_conll(path: str | Path, scheme: str = "auto", split: str | None = None,
               report=None) -> Iterator:
    path = Path(path)
    split = split or split_from_name(path)
    return tagged_sentences(_records(path, split), path, scheme, report=report)


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
                                    f"{len(fields)} column in {_shown(line)}", path, number)
        if rows and len(fields) != len(rows[0]):
            raise ImportFormatError(f"expected {len(rows[0])} columns like the line before, "
                                    f"found {len(fields)} in {_shown(line)}", path, number)
        rows.append(fields)
        lines.append(number)
    if rows:
        yield sentence()
    if not seen_any:
        raise ImportFormatError("empty file: no sentences", path)


def _shown(line: str, limit: int = 80) -> str:
    """The line as Python writes it (invisible characters escaped), cut to ``limit``."""
    return repr(line if len(line) <= limit else line[:limit] + "…")


def is_folder_target(path: str | Path, split: str | None) -> bool:
    """A CoNLL export of every split to a folder (an existing one, or a path ending in ``/``)
    writes one file per split; with ``split`` it is always one file."""
    return split is None and (Path(path).is_dir() or str(path).endswith(("/", os.sep)))


def folder_files(path: str | Path) -> dict[str, Path]:
    """The files a folder export writes, by split: train.txt, dev.txt, test.txt, unassigned.txt
    (names the importer reads the split back from)."""
    return {split: Path(path) / f"{split}.txt" for split in SPLITS}


def check_folder_export(project, path: str | Path, force: bool) -> None:
    """The folder exists or can be made; none of its split files exists unless ``force``; none
    of them is the project (or its side files / runs)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ExportTargetError(f"{path}: is a file; a CoNLL export of every split is a folder")
    parent = folder.absolute().parent
    if not folder.exists() and not parent.is_dir():
        raise ExportTargetError(f"{path}: no such folder {parent}")
    if not os.access(folder if folder.exists() else parent, os.W_OK | os.X_OK):
        raise ExportTargetError(f"{path}: cannot write there (permission denied)")
    check_not_project(project, folder)
    for f in folder_files(folder).values():
        check_not_project(project, f)
        if f.exists() and not force:
            raise ExportTargetError(f"{f}: already exists; use --force to overwrite it")


def write_conll_folder(store: ProjectStore, path: str | Path,
                       include_unlabelled: bool = False) -> dict[str, int]:
    """One CoNLL file per split that has sentences to write (see :func:`folder_files`); returns
    sentences per file name. Every file is written beside its target and all are renamed only
    when all are complete; a split file of an older export that this one does not write (the
    split is empty now) is removed, so the folder reads back as the project is."""
    folder = Path(path)
    folder.mkdir(exist_ok=True)
    status = None if include_unlabelled else LABELLED
    wanted = {split: f for split, f in folder_files(folder).items()
              if store.count(split=split, status=status)}
    counts = {}
    with ExitStack() as stack:
        for split, f in wanted.items():
            out = stack.enter_context(atomic_file(f))
            counts[f.name] = _write_blocks(store, out, split, status)
    for split, f in folder_files(folder).items():
        if split not in wanted:
            f.unlink(missing_ok=True)
    return counts


def write_conll(store: ProjectStore, path: str | Path, split: str | None = None,
                include_unlabelled: bool = False) -> int:
    """IOB2 CoNLL. Documents become ``-DOCSTART-`` blocks when they came from one. CoNLL has no
    status: every sentence in it reads back as gold, so unlabelled ones are left out unless
    ``include_unlabelled`` (written atomically: see safety.atomic_file). To a folder (see
    :func:`is_folder_target`): one file per split, :func:`write_conll_folder`."""
    if is_folder_target(path, split):
        return sum(write_conll_folder(store, path, include_unlabelled).values())
    status = None if include_unlabelled else LABELLED
    with atomic_file(path) as f:
        return _write_blocks(store, f, split, status)


def _write_blocks(store: ProjectStore, f, split: str | None, status) -> int:
    n = 0
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
