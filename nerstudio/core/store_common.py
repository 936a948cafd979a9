"""What the parts of the project store share: row types, the import's staging tables, and
small helpers (see ``store.py``, whose ``ProjectStore`` is made of the parts in
``store_*.py``, one concern each, over one connection)."""
from __future__ import annotations

import json
import os
import random
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.request import pathname2url

from sqlite_utils import Database

from . import openfiles
from .domain import DEFAULT_COLOURS, SPLITS, STATUSES, Label, LabelSet, Sentence, Span, Token
from .errors import (ProjectBusyError, ReadOnlyProjectError, StaleEditError, StoreError,
                     TagError, cannot_write)
from .flag_rules import accept_tag, open_flags
from .iob import check_spans
from .procs import HAS_PROC as _HAS_PROC
from .procs import process_start as _process_start
from .schema import APPLICATION_ID, migrations

_SENTENCE_COLUMNS = ("id", "document_id", "position", "text", "tokens", "starts", "columns",
                     "split", "status", "version")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_HOST = socket.gethostname()
# edits.undone: 0 = applied, 1 = undone (redo branch), 2 = refused as stale and dropped from history
_APPLIED, _UNDONE, _DROPPED = 0, 1, 2


@dataclass(frozen=True)
class DocumentStart:
    """Importers yield this between sentences to begin a new document (CoNLL ``-DOCSTART-``)."""

    name: str
    header: str | None = None


@dataclass(frozen=True)
class SentenceRow:
    """What the sentence list shows, without loading tokens."""

    id: int
    text: str
    split: str
    status: str
    n_entities: int
    has_predictions: bool


class ReviewFlag(NamedTuple):
    """A token the label-error review suspects (issue #15): the gold tag given, the tag the
    out-of-fold model predicts, and cleanlab's label quality (lower = likelier an error)."""

    sentence_id: int
    token_index: int
    given: str
    predicted: str
    score: float


@dataclass
class _ImportBatch:
    """An import read and checked into TEMP tables, so the write lock is held only to copy it."""

    documents: int = 0
    sentences: int = 0
    labels: list[str] = field(default_factory=list)  # new labels, in order of first use
    refuse_reimport: bool = False  # refuse a file all of whose sentences the project has


# Staging tables of an import (1-based ``i`` / ``doc`` / ``sent`` numbers within the import).
_STAGING = (
    "DROP TABLE IF EXISTS temp.import_documents",
    "DROP TABLE IF EXISTS temp.import_sentences",
    "DROP TABLE IF EXISTS temp.import_spans",
    "CREATE TEMP TABLE import_documents (i INTEGER PRIMARY KEY, name, source, header)",
    "CREATE TEMP TABLE import_sentences (i INTEGER PRIMARY KEY, doc, position, text, tokens, "
    "starts, columns, split, status, n_entities)",
    'CREATE TEMP TABLE import_spans (sent, start, "end", label)',
)


def _span_key(span: Span) -> tuple:
    return span.start, span.end, span.label


def _spans_fit(spans: list[Span], n_tokens: int) -> bool:
    """Spans sorted by start lie inside ``n_tokens`` tokens without overlapping: one pass, where
    ``check_spans`` builds a tag per token (50,000 of them for a click on a long sentence)."""
    end = 0
    for span in spans:
        if span.start < end:
            return False
        end = span.end
    return end <= n_tokens


def _tokens_from_row(text: str, tokens_json: str, starts_json: str) -> list[Token]:
    return [Token(w, s, s + len(w)) for w, s in zip(json.loads(tokens_json), json.loads(starts_json))]


_STARTS: dict[int, str] = {}  # this process's start time, by pid (read once, not per edit)


def _own_start() -> str:
    pid = os.getpid()  # (a forked child has its own)
    if pid not in _STARTS:
        _STARTS[pid] = _process_start(pid) or ""
    return _STARTS[pid]


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot change the file. ``mode=ro`` first; a WAL file in a folder we
    cannot write (no -shm can be made) needs ``immutable=1`` (which then ignores a -wal file)."""
    uri = "file:" + pathname2url(str(path.absolute()))
    con = sqlite3.connect(uri + "?mode=ro", uri=True)
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.OperationalError:  # "unable to open database file": no -shm possible
        con.close()
    return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True)


def _check_project_file(path: Path) -> None:
    """Refuse, without writing a byte, a file that is not a healthy nerstudio project: empty,
    not SQLite, another application's database, or damaged (``PRAGMA quick_check``).

    Everything here goes through SQLite, never a raw ``open()``: closing a raw descriptor of
    the file would drop this process's SQLite locks on it (see ``openfiles``), and another
    process closing the project would then delete the WAL an open window still writes to."""
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a nerstudio project")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StoreError(f"{path}: cannot be read ({exc.strerror})") from exc
    if not os.access(path, os.R_OK):
        raise StoreError(f"{path}: cannot be read (permission denied)")
    if size == 0:
        raise StoreError(f"{path}: is empty, not a nerstudio project")
    try:
        con = _connect_read_only(path)
        try:
            _check_ours(con, path)
            problem = con.execute("PRAGMA quick_check(1)").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
            raise StoreError(f"{path}: cannot be opened ({exc})") from exc
        if _not_sqlite(exc) and not _has_sqlite_header(path):
            raise StoreError(f"{path}: not a nerstudio project (not an SQLite file)") from exc
        raise StoreError(f"{path}: the project file is damaged ({exc})") from exc
    if problem != "ok":
        problem = " ".join(problem.split())  # one line
        raise StoreError(f"{path}: the project file is damaged (integrity check: {problem})")


def _not_sqlite(exc: sqlite3.DatabaseError) -> bool:
    """SQLite's word that the file is no database (SQLITE_NOTADB): not SQLite, or damaged."""
    return getattr(exc, "sqlite_errorcode", None) == 26 or "not a database" in str(exc)


def _has_sqlite_header(path: Path) -> bool:
    """Whether the file starts like an SQLite file (a damaged project) or not (another kind of
    file). Read raw only when no store of this process has the file open (see ``openfiles``):
    SQLite refused it, so no connection of ours holds it unless a store does."""
    if openfiles.is_open_project(path):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def _move_aside_leftovers(path: Path) -> list[Path]:
    """Rename a ``-wal`` / ``-shm`` / ``-journal`` file left beside ``path`` by a project that
    was deleted while open (or after a crash): SQLite would replay that log into the new file
    and mix the old project's pages into it. Moved aside (``NAME-wal.left-over-<time>``), never
    deleted: it may be all that is left of someone's work."""
    import time

    moved = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in ("-wal", "-shm", "-journal"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            new = Path(f"{old}.left-over-{stamp}-{uuid.uuid4().hex[:6]}")
            os.replace(old, new)
            moved.append(new)
    return moved


def _place_new_file(tmp: Path, path: Path) -> None:
    """Give the finished file ``tmp`` the name ``path``, never replacing a file that appeared
    there meanwhile (a hard link fails if it exists; without hard links, check then rename)."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise StoreError(f"{path}: already exists") from None
    except OSError:  # no hard links here (FAT, some network shares)
        pass
    if path.exists():
        raise StoreError(f"{path}: already exists")
    try:
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create it ({exc.strerror or exc})") from exc


def _check_ours(con: sqlite3.Connection, path: Path) -> None:
    """Ours: our application_id, or (made before it was set) nerstudio migration rows."""
    app_id = con.execute("PRAGMA application_id").fetchone()[0]
    if app_id == APPLICATION_ID:
        return
    if app_id == 0 and con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
    ).fetchone() and con.execute(
            "SELECT 1 FROM _sqlite_migrations WHERE migration_set = ? LIMIT 1",
            (migrations.name,)).fetchone():
        return
    raise StoreError(f"{path}: not a nerstudio project (an SQLite file of another application)")


def _filters(split, status) -> tuple[str, list]:
    where, params = "", []
    if split:
        where += " AND s.split = ?"
        params.append(split)
    if status:
        status = [status] if isinstance(status, str) else list(status)
        where += f" AND s.status IN ({', '.join('?' * len(status))})"
        params += status
    return where, params


def _fts_query(text: str) -> str:
    """User words to an FTS5 query that cannot be a syntax error: each word quoted, ANDed."""
    words = [w.replace('"', '""') for w in text.split()]
    return " ".join(f'"{w}"' for w in words) or '""'


def _draw_split(rng: random.Random, ratios: tuple[float, float, float]) -> str:
    total = sum(ratios)
    x = rng.random() * total
    if x < ratios[0]:
        return "train"
    return "dev" if x < ratios[0] + ratios[1] else "test"


__all__ = [  # every name: the parts of the store read them with one import
    'json',
    'os',
    'random',
    'socket',
    'sqlite3',
    'uuid',
    'Callable',
    'Iterable',
    'Iterator',
    'contextmanager',
    'dataclass',
    'field',
    'Path',
    'NamedTuple',
    'pathname2url',
    'Database',
    'openfiles',
    'DEFAULT_COLOURS',
    'SPLITS',
    'STATUSES',
    'Label',
    'LabelSet',
    'Sentence',
    'Span',
    'Token',
    'ProjectBusyError',
    'ReadOnlyProjectError',
    'StaleEditError',
    'StoreError',
    'TagError',
    'cannot_write',
    'accept_tag',
    'open_flags',
    'check_spans',
    'APPLICATION_ID',
    'migrations',
    '_SENTENCE_COLUMNS',
    '_SQLITE_MAGIC',
    '_HOST',
    '_APPLIED',
    '_UNDONE',
    '_DROPPED',
    'DocumentStart',
    'SentenceRow',
    'ReviewFlag',
    '_ImportBatch',
    '_STAGING',
    '_span_key',
    '_spans_fit',
    '_tokens_from_row',
    '_HAS_PROC',
    '_STARTS',
    '_own_start',
    '_process_start',
    '_connect_read_only',
    '_check_project_file',
    '_not_sqlite',
    '_has_sqlite_header',
    '_place_new_file',
    '_check_ours',
    '_filters',
    '_fts_query',
    '_draw_split',
]
