"""The project store: one SQLite file per labelling project.

Why SQLite: one file a user can copy, WAL so the GUI reads while a worker writes, and transactions
so that every user action (an edit, an import, a label merge) lands whole or not at all. Each thread
opens its own :class:`ProjectStore` (sqlite3 connections are not shared across threads).

Gold spans live in ``spans`` (token indices, label id), model predictions in ``predictions`` (kept
apart, with scores). Every annotation edit records its before/after state in ``edits``, so undo and
redo survive a restart.

Integrity (issue #12): a file is checked read-only before anything writes to it (ours by
``application_id``, not damaged by ``quick_check``); an unwritable project opens read-only; a write
waits ``busy_timeout`` for another process's lock, then raises ProjectBusyError; an import holds the
lock only to copy rows it has already read; ``sentences.version`` refuses edits made on a stale view;
undo/redo act on this instance's own edits (``origin``) and refuse a step whose sentence changed
since; label ids are never reused and merges are remembered, so old edits never land on a new label.
"""
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
    skip_duplicates: bool = False  # refuse a file all of whose sentences the project has


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


_HAS_PROC = Path("/proc/self/stat").exists()
_STARTS: dict[int, str] = {}  # this process's start time, by pid (read once, not per edit)


def _own_start() -> str:
    pid = os.getpid()  # (a forked child has its own)
    if pid not in _STARTS:
        _STARTS[pid] = _process_start(pid) or ""
    return _STARTS[pid]


def _process_start(pid: int) -> str | None:
    """The process's start time (from /proc, so a reused pid is not taken for it); None when
    there is no such live process (a zombie counts as dead). Without /proc: "" when alive."""
    if not _HAS_PROC:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except OSError:  # PermissionError: another user's live process
            pass
        return ""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].decode().split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


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


class ProjectStore:
    """A project file. Open one per thread; close it (or use ``with``) when done.

    ``read_only``: open for reading only (also chosen by itself when the file or its folder is
    not writable); every write then raises :class:`ReadOnlyProjectError`. ``busy_timeout``:
    seconds a write waits for another process's write lock before :class:`ProjectBusyError`;
    long for background writers and the CLI, short (about 2 s) for the GUI thread.
    ``autocheckpoint``: False turns off SQLite's automatic WAL checkpoint on this connection
    (``PRAGMA wal_autocheckpoint = 0``) for the GUI thread, which must then checkpoint when idle
    (``session.checkpoint_file``); closing the last connection still checkpoints."""

    def __init__(self, path: str | Path, create: bool = False, *, read_only: bool = False,
                 busy_timeout: float | None = 30.0, autocheckpoint: bool = True):
        self.path = Path(path)
        self.origin = uuid.uuid4().hex  # this instance's edits, for undo/redo
        self.busy_timeout = 30.0 if busy_timeout is None else busy_timeout
        self.autocheckpoint = autocheckpoint
        self._in_sessions = False
        self._together: _ImportBatch | None = None  # import_together() staging, when open
        exists = self.path.exists()
        if not create and not exists:
            raise StoreError(f"{self.path}: no such project (create it with 'nerstudio init')")
        fresh = create and (not exists or self.path.stat().st_size == 0)
        if not fresh:
            _check_project_file(self.path)  # read-only checks before anything writes
        self._read_only_reason = "opened for reading only" if read_only else (
            None if fresh else self._unwritable_reason())
        self.read_only = self._read_only_reason is not None
        self.db = None
        self._file_key = None
        try:
            if self.read_only:
                self._open_read_only()
            else:
                self._open_writable()
            self._file_key = openfiles.register(self.path)
        except BaseException as exc:
            if self.db is not None:
                self.db.close()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from exc
            raise

    def _unwritable_reason(self) -> str | None:
        if not os.access(self.path, os.W_OK):
            return "the file is not writable"
        if not os.access(self.path.absolute().parent, os.W_OK):
            return "its folder is not writable"
        return None

    def _open_writable(self) -> None:
        self.db = Database(self.path)
        self.db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        self.db.enable_wal()
        # NORMAL under WAL: a commit is in the WAL (in the OS) when set_spans returns, so
        # killing the app loses no edit and the file never corrupts; FULL would also survive
        # a power cut, at an fsync per click (milliseconds to tens of ms on a busy disk).
        self.db.execute("PRAGMA synchronous = NORMAL")
        if migrations.pending(self.db):
            self._migrate()
        if not self.autocheckpoint:  # (after an upgrade, which checkpoints as usual)
            # SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1000
            # pages: on the GUI thread that is inside a click (0.7 s seen on a 50,000-token
            # sentence). The window checkpoints from a connection of its own when idle instead.
            self.db.execute("PRAGMA wal_autocheckpoint = 0")
            # and when the WAL starts over after a checkpoint, its file is cut back to 4 MB (so
            # its size says how much was written since: the window checkpoints past 16 MB)
            self.db.execute(f"PRAGMA journal_size_limit = {4 * 2**20}")
        self.db.execute("PRAGMA foreign_keys = ON")
        self._version_column = "version"

    def _migrate(self) -> None:
        """All pending migrations in one write transaction (two processes opening an old file
        at once: the second waits, then finds nothing pending), foreign keys off for rebuilds."""
        self.db.execute("PRAGMA foreign_keys = OFF")
        try:
            with self.transaction():
                migrations.apply(self.db)
        except (RuntimeError, ValueError) as exc:  # a migration's own check failed: rolled back
            raise StoreError(f"{self.path}: cannot upgrade this project file ({exc}); "
                             "nothing was changed") from exc

    def _open_read_only(self) -> None:
        self.db = Database(_connect_read_only(self.path))
        self.db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        # a file of an older nerstudio cannot be upgraded read-only: read it as it is
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(sentences)").fetchall()}
        self._version_column = "version" if "version" in cols else "0"

    @classmethod
    def create(cls, path: str | Path, name: str | None = None, labels: Iterable[str] = (),
               *, busy_timeout: float = 30.0) -> "ProjectStore":
        """A new project file. It is made whole under a temporary name beside ``path`` and
        linked into place only then: a kill -9 while creating leaves no half-made file under
        the real name (which nerstudio would refuse as another application's, and 'init' as
        existing), at most a hidden ``.NAME.creating-*`` file."""
        path = Path(path)
        if path.exists():
            raise StoreError(f"{path}: already exists")
        folder = path.absolute().parent
        if not folder.is_dir():
            raise StoreError(f"{path}: cannot create it (no folder {folder})")
        if not os.access(folder, os.W_OK):
            raise StoreError(f"{path}: cannot create it (its folder is not writable)")
        tmp = path.with_name(f".{path.name}.creating-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            try:
                store = cls(tmp, create=True, busy_timeout=busy_timeout)
                try:
                    with store.transaction():
                        store.set_meta("name", name or path.stem)
                        for label in labels:
                            store._add_label(label)
                finally:
                    store.close()  # the last connection: SQLite folds the WAL into the file
            except StoreError as exc:
                raise type(exc)(str(exc).replace(str(tmp), str(path))) from exc
            wal = Path(f"{tmp}-wal")
            if wal.exists() and wal.stat().st_size:
                raise StoreError(f"{path}: cannot create it (the new file's log was not "
                                 "written back)")
            _place_new_file(tmp, path)
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        return cls(path, busy_timeout=busy_timeout)

    def close(self) -> None:
        """Close; a session registered by an edit is removed (its edits become undoable by the
        next opener). Best effort: if the file is busy, the dead pid says the same later."""
        if self._in_sessions and not self.read_only:
            try:
                self.db.execute("PRAGMA busy_timeout = 1000")
                with self.transaction():
                    self.db.execute("DELETE FROM sessions WHERE origin = ?", (self.origin,))
                self._in_sessions = False
            except StoreError:
                pass
        self.db.close()
        openfiles.unregister(self._file_key)
        self._file_key = None

    def __enter__(self) -> "ProjectStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _error(self, exc: sqlite3.Error) -> Exception:
        """The project error for an sqlite3 error; constraint and API misuse errors are bugs of
        the caller and pass unchanged."""
        if isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError,
                            sqlite3.InterfaceError)):
            return exc
        msg = str(exc).lower()
        if "locked" in msg or "busy" in msg:
            return ProjectBusyError(f"another nerstudio process is writing to {self.path}; "
                                    f"try again (waited {self.busy_timeout:g} s)")
        if "readonly" in msg or "read-only" in msg:
            return ReadOnlyProjectError(self._read_only_message())
        name = getattr(exc, "sqlite_errorname", "") or ""
        if (name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in msg
                or "not a database" in msg):
            return StoreError(f"{self.path}: the project file is damaged ({exc})")
        if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")) or "disk i/o" in msg \
                or "disk is full" in msg:
            return StoreError(self._write_failure(name or msg))
        return StoreError(f"{self.path}: {exc}")

    def _write_failure(self, name: str) -> str:
        """A full disk or a file size limit is no damage: the failed statement or transaction
        left the file as it was. SQLite says SQLITE_FULL for ENOSPC; EFBIG (a file size limit,
        ``ulimit -f``) comes as SQLITE_IOERR_WRITE (or _SHMOPEN, _SHMSIZE, _TRUNCATE: the -shm
        file), so a set limit is named as the likely cause; any other I/O error is said as such."""
        import errno

        try:
            import resource
            limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
            limit = None if limit == resource.RLIM_INFINITY else limit
        except ImportError:  # Windows: no such limit
            limit = None
        if "FULL" in name or "disk is full" in name:
            return cannot_write(self.path, errno.ENOSPC) + "; the change was not saved"
        if limit is not None and any(w in name for w in ("WRITE", "SHM", "TRUNCATE")):
            return (cannot_write(self.path, errno.EFBIG) + f" (a limit of {limit} bytes per "
                    "file is set: ulimit -f); the change was not saved")
        return f"{self.path}: disk I/O error ({name})"

    def _read_only_message(self) -> str:
        return (f"{self.path} is open read-only ({self._read_only_reason or 'not writable'}); "
                "nothing was changed")

    def data_version(self) -> int:
        """Changes when ANOTHER connection commits to the file: poll it (e.g. once a second) and
        reload the views when it moved."""
        return self._scalar("PRAGMA data_version")

    @contextmanager
    def transaction(self):
        """One user action: all of it commits, or none of it (nested calls become savepoints).

        The outermost one is ``BEGIN IMMEDIATE``: it takes the write lock first (waiting up to
        the busy timeout for another thread's write, e.g. a training run recording metrics). A
        plain deferred ``BEGIN`` that reads and then writes fails at once with "database is
        locked" when another connection committed in between, and SQLite gives no retry.
        sqlite3 errors leave as project errors (busy, read-only, damaged)."""
        if self.read_only:
            raise ReadOnlyProjectError(self._read_only_message())
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            yield
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.Error) and self._error(exc) is not exc:
                raise self._error(exc) from exc
            raise

    @contextmanager
    def _sqlite_errors(self):
        """sqlite3 errors raised in the block leave as project errors (see :meth:`_error`)."""
        try:
            yield
        except sqlite3.Error as exc:
            error = self._error(exc)
            if error is exc:
                raise
            raise error from exc

    def _q(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._sqlite_errors():
            return self.db.execute(sql, tuple(params)).fetchall()

    def _scalar(self, sql: str, params: Iterable = ()):
        rows = self._q(sql, params)
        return rows[0][0] if rows else None

    def _sentence_columns(self, alias: str = "") -> str:
        """The columns of a Sentence (``version`` reads as 0 in an old file opened read-only)."""
        cols = [f"{alias}{c}" for c in _SENTENCE_COLUMNS[:-1]]
        version = self._version_column
        return ", ".join(cols + [f"{alias}{version}" if version == "version" else version])

    # -- metadata -------------------------------------------------------------------------------
    def set_meta(self, key: str, value) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                            (key, json.dumps(value)))

    def meta(self, key: str, default=None):
        value = self._scalar("SELECT value FROM meta WHERE key = ?", [key])
        return default if value is None else json.loads(value)

    # -- labels ---------------------------------------------------------------------------------
    def label_set(self) -> LabelSet:
        return LabelSet([Label(n, c) for n, c in
                         self._q("SELECT name, colour FROM labels ORDER BY position, id")])

    def _label_ids(self) -> dict[str, int]:
        return dict(self._q("SELECT name, id FROM labels"))

    def _label_id(self, name: str) -> int:
        lid = self._scalar("SELECT id FROM labels WHERE name = ?", [name])
        if lid is None:
            raise StoreError(f"no label {name!r} in this project")
        return lid

    @staticmethod
    def _check_label_name(name: str) -> None:
        """At creation, rename and import: names end up in tags, files and widgets."""
        from .labels import valid_label_name

        reason = valid_label_name(name)
        if reason:
            raise StoreError(f"invalid label name {name!r}: {reason}")

    def _add_label(self, name: str, colour: str | None = None) -> int:
        self._check_label_name(name)
        count = self._scalar("SELECT count(*) FROM labels")
        colour = colour or DEFAULT_COLOURS[count % len(DEFAULT_COLOURS)]
        pos = self._scalar("SELECT coalesce(max(position), -1) + 1 FROM labels")
        return self.db.execute("INSERT INTO labels(name, colour, position) VALUES (?, ?, ?)",
                               (name, colour, pos)).lastrowid

    def add_label(self, name: str, colour: str | None = None) -> None:
        with self.transaction():
            if self._scalar("SELECT 1 FROM labels WHERE name = ?", [name]):
                raise StoreError(f"label {name!r} already exists")
            self._add_label(name, colour)

    def recolour_label(self, name: str, colour: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE labels SET colour = ? WHERE id = ?", (colour, self._label_id(name)))

    def reorder_labels(self, names: list[str]) -> None:
        if sorted(names) != sorted(self.label_set().names):
            raise StoreError("reorder must name every label exactly once")
        with self.transaction():
            for pos, name in enumerate(names):
                self.db.execute("UPDATE labels SET position = ? WHERE name = ?", (pos, name))

    def label_usage(self, name: str) -> int:
        """How many spans carry this label (what a rename/merge/delete will change)."""
        return self._scalar("SELECT count(*) FROM spans WHERE label_id = ?", [self._label_id(name)])

    def rename_label(self, old: str, new: str) -> int:
        """Rename a label; its spans follow (they reference the label row). Returns spans changed."""
        self._check_label_name(new)
        with self.transaction():
            lid = self._label_id(old)
            if self._scalar("SELECT 1 FROM labels WHERE name = ?", [new]):
                raise StoreError(f"label {new!r} already exists; merge instead")
            self.db.execute("UPDATE labels SET name = ? WHERE id = ?", (new, lid))
            self.db.execute("UPDATE predictions SET label = ? WHERE label = ?", (new, old))
            self._relabel_flags(old, new)
            return self._scalar("SELECT count(*) FROM spans WHERE label_id = ?", [lid])

    def merge_labels(self, source: str, target: str) -> int:
        """Relabel every ``source`` span as ``target`` and drop ``source``. Returns spans changed.
        The merge is recorded in ``label_redirects`` so that undo/redo of an older edit puts a
        ``source`` span under ``target`` instead of dropping it."""
        with self.transaction():
            src, dst = self._label_id(source), self._label_id(target)
            if src == dst:
                raise StoreError("cannot merge a label into itself")
            self.db.execute("UPDATE sentences SET version = version + 1 WHERE id IN "
                            "(SELECT sentence_id FROM spans WHERE label_id = ?)", (src,))
            changed = self.db.execute("UPDATE spans SET label_id = ? WHERE label_id = ?",
                                      (dst, src)).rowcount
            self.db.execute("UPDATE label_redirects SET new_id = ? WHERE new_id = ?", (dst, src))
            self.db.execute("INSERT OR REPLACE INTO label_redirects(old_id, new_id) VALUES (?, ?)",
                            (src, dst))
            self.db.execute("UPDATE predictions SET label = ? WHERE label = ?", (target, source))
            self._relabel_flags(source, target)
            self.db.execute("DELETE FROM labels WHERE id = ?", (src,))
            return changed

    def delete_label(self, name: str) -> int:
        """Delete a label and every span of it (those tokens become O). Returns spans removed.
        Undo/redo of an older edit drops that label's spans (its id is never reused)."""
        with self.transaction():
            lid = self._label_id(name)
            affected = [r[0] for r in self._q(
                "SELECT DISTINCT sentence_id FROM spans WHERE label_id = ?", [lid])]
            removed = self.db.execute("DELETE FROM spans WHERE label_id = ?", (lid,)).rowcount
            self.db.execute("DELETE FROM predictions WHERE label = ?", (name,))
            self._relabel_flags(name, None)
            self.db.execute("DELETE FROM labels WHERE id = ?", (lid,))
            self._refresh_entity_counts(affected)
            return removed

    def _relabel_flags(self, old: str, new: str | None) -> None:
        """Review flags name their tags ("B-PER"): a rename or merge rewrites ``old`` to ``new``
        (a flag left suggesting the tag it gives goes), a delete (``new`` None) drops the flags
        naming ``old``. So accepting a flag never meets an unknown label, nor a new label that
        took the old name. Inside the caller's transaction (issue #25)."""
        if not self._has_table("review_flags"):
            return
        tags = (f"B-{old}", f"I-{old}")
        if new is None:
            self.db.execute("DELETE FROM review_flags WHERE given IN (?, ?) OR predicted IN (?, ?)",
                            tags * 2)
            return
        for col in ("given", "predicted"):
            self.db.execute(f"UPDATE review_flags SET {col} = substr({col}, 1, 2) || ? "
                            f"WHERE {col} IN (?, ?)", (new, *tags))
        self.db.execute("DELETE FROM review_flags WHERE given = predicted")

    def _refresh_entity_counts(self, sentence_ids: list[int]) -> None:
        """After a bulk span change: recount, and bump ``version`` (open views are now stale)."""
        self.db.conn.executemany(
            "UPDATE sentences SET n_entities = (SELECT count(*) FROM spans WHERE sentence_id = ?),"
            " version = version + 1 WHERE id = ?",
            [(i, i) for i in sentence_ids])

    # -- import ---------------------------------------------------------------------------------
    last_duplicates: tuple[int, int] = (0, 0)  # (already there, read) by the latest import

    def import_items(self, items: Iterable[Sentence | DocumentStart], source: str = "",
                     split: str | None = None, ratios: tuple[float, float, float] | None = None,
                     seed: int = 42, on_progress: Callable[[int], None] | None = None,
                     chunk: int = 2000, skip_duplicates: bool = False) -> int:
        """Insert sentences (and document boundaries) from an importer, all or nothing.

        The whole stream is read and checked first into this connection's TEMP tables, without
        the write lock (an importer's ImportFormatError then leaves the project untouched, and
        memory stays flat); the rows are then copied in ONE short transaction, so a training
        run's metric writes or the GUI wait only for that copy (~0.3 s for CoNLL train), not for
        parsing. Inside :meth:`import_together` the copy waits for the end of the block (several
        files, one transaction). ``split`` overrides the source's splits;
        ``ratios`` assigns train/dev/test at random with ``seed``. ``on_progress(n)`` is called
        every ``chunk`` sentences read. ``skip_duplicates`` refuses a re-import: a file all of
        whose sentences the project already has (same text and tokens; see
        :meth:`_check_duplicates` and :attr:`last_duplicates`; inside :meth:`import_together`
        the block's own flag decides). Returns the number of sentences
        imported (inside :meth:`import_together`: staged)."""
        if self.read_only:
            raise ReadOnlyProjectError(self._read_only_message())
        if split is not None and split not in SPLITS:
            raise StoreError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
        with self._sqlite_errors():
            return self._import_items(items, source, split, ratios, seed, on_progress, chunk,
                                      skip_duplicates)

    def _import_items(self, items, source, split, ratios, seed, on_progress, chunk,
                      skip_duplicates=False) -> int:
        together = self._together
        if together is not None:  # staged now, copied when import_together's block ends
            before = (together.sentences, together.documents, len(together.labels))
            try:
                self._read_import(together, items, source, split, ratios, random.Random(seed),
                                  on_progress, chunk)
            except BaseException:  # this stream stages nothing, even if the block goes on
                self._unstage(together, *before)
                raise
            n = together.sentences - before[0]
        else:
            # inside a caller's transaction the staging rows join it; otherwise they are
            # committed to the temp tables chunk by chunk (that takes no lock on the project)
            self._staging_commits = not self.db.conn.in_transaction
            try:
                batch = self._begin_staging()
                batch.skip_duplicates = skip_duplicates
                self._read_import(batch, items, source, split, ratios, random.Random(seed),
                                  on_progress, chunk)
                n = self._write_import(batch)
            finally:
                self._drop_staging()
        if on_progress:
            on_progress(n)
        return n

    @contextmanager
    def import_together(self, skip_duplicates: bool = False):
        """Several imports (files) as one: each ``import_items`` call in the block only reads
        and checks its stream into the TEMP tables (no lock on the project); at the end of the
        block all of it is copied in ONE short transaction, or, if the block raised, nothing.

        Use this, not ``transaction()``, around a multi-file import: a transaction would hold
        the write lock while every file is parsed, and other writers (the GUI, a training run)
        would wait for all of it or give up with ProjectBusyError. ``skip_duplicates``: as
        :meth:`import_items`', for the whole block."""
        if self.read_only:
            raise ReadOnlyProjectError(self._read_only_message())
        if self._together is not None:
            raise StoreError("import_together() blocks cannot be nested")
        self._staging_commits = not self.db.conn.in_transaction
        try:
            with self._sqlite_errors():
                self._together = self._begin_staging()
                self._together.skip_duplicates = skip_duplicates
            yield
            batch, self._together = self._together, None
            self._write_import(batch)
        finally:
            self._together = None
            with self._sqlite_errors():
                self._drop_staging()

    def _unstage(self, batch: _ImportBatch, sentences: int, documents: int, labels: int) -> None:
        """Forget what one failed stream added to ``batch`` (its rows and its new labels)."""
        conn = self.db.conn
        conn.execute("DELETE FROM temp.import_spans WHERE sent > ?", (sentences,))
        conn.execute("DELETE FROM temp.import_sentences WHERE i > ?", (sentences,))
        conn.execute("DELETE FROM temp.import_documents WHERE i > ?", (documents,))
        if self._staging_commits and conn.in_transaction:
            conn.commit()  # temp tables only; an open transaction would swallow the final copy
        batch.sentences, batch.documents = sentences, documents
        del batch.labels[labels:]

    def _begin_staging(self) -> _ImportBatch:
        for sql in _STAGING:
            self.db.conn.execute(sql)
        return _ImportBatch()

    def _read_import(self, batch: _ImportBatch, items, source, split, ratios, rng, on_progress,
                     chunk) -> None:
        """Read the stream into TEMP tables (this connection's temp file, not the project: no
        lock on it, memory flat however large the input), ``chunk`` rows at a time, numbering
        on from what ``batch`` already holds."""
        conn = self.db.conn
        known = set(self._label_ids()) | set(batch.labels)
        sent_rows, span_rows, position, in_document, first = [], [], 0, False, batch.sentences
        for item in items:
            if isinstance(item, DocumentStart):
                batch.documents += 1
                conn.execute("INSERT INTO temp.import_documents VALUES (?, ?, ?, ?)",
                             (batch.documents, item.name, source, item.header))
                position, in_document = 0, True
                continue
            if not in_document:
                batch.documents += 1
                conn.execute("INSERT INTO temp.import_documents VALUES (?, ?, ?, NULL)",
                             (batch.documents, Path(source).name or "document", source))
                in_document = True
            batch.sentences += 1
            for span in item.spans:
                if span.label not in known:
                    self._check_label_name(span.label)
                    known.add(span.label)
                    batch.labels.append(span.label)
                span_rows.append((batch.sentences, span.start, span.end, span.label))
            sent_split = _draw_split(rng, ratios) if ratios is not None else split or item.split
            sent_rows.append((
                batch.sentences, batch.documents, position, item.text,
                json.dumps(item.words, ensure_ascii=False),
                json.dumps([t.start for t in item.tokens]),
                json.dumps(item.columns, ensure_ascii=False) if item.columns else None,
                sent_split, item.status, len(item.spans)))
            position += 1
            if len(sent_rows) >= chunk:
                self._stage(sent_rows, span_rows)
                if on_progress:
                    on_progress(batch.sentences - first)
        self._stage(sent_rows, span_rows)

    def _stage(self, sent_rows: list, span_rows: list) -> None:
        conn = self.db.conn
        conn.executemany("INSERT INTO temp.import_sentences VALUES (?,?,?,?,?,?,?,?,?,?)",
                         sent_rows)
        conn.executemany("INSERT INTO temp.import_spans VALUES (?,?,?,?)", span_rows)
        if self._staging_commits and conn.in_transaction:  # only the temp tables: no lock
            conn.commit()
        sent_rows.clear()
        span_rows.clear()

    def _write_import(self, batch: _ImportBatch) -> int:
        """Copy a staged import in one short transaction (ids are taken inside it: another
        process may have imported meanwhile); returns the sentences copied."""
        already = self._check_duplicates(batch.skip_duplicates)
        self.last_duplicates = (already, batch.sentences)
        with self.transaction():
            labels = self._label_ids()
            used = [r[0] for r in self._q("SELECT DISTINCT label FROM temp.import_spans")]
            # the labels the staged spans use (and one deleted meanwhile)
            for name in [n for n in batch.labels if n in used] + used:
                if name not in labels:
                    labels[name] = self._add_label(name)
            first_doc = self._scalar("SELECT coalesce(max(id), 0) FROM documents")
            first_sent = self._scalar("SELECT coalesce(max(id), 0) FROM sentences")
            self.db.execute(
                "INSERT INTO documents(id, name, source, header) SELECT ? + i, name, source,"
                " header FROM temp.import_documents ORDER BY i", (first_doc,))
            self.db.execute(
                "INSERT INTO sentences(id, document_id, position, text, tokens, starts, "
                "columns, split, status, n_entities) SELECT ? + i, ? + doc, position, text, "
                "tokens, starts, columns, split, status, n_entities "
                "FROM temp.import_sentences ORDER BY i", (first_sent, first_doc))
            self.db.execute(
                'INSERT INTO spans(sentence_id, start, "end", label_id) SELECT ? + sent, '
                'start, "end", (SELECT id FROM main.labels l WHERE l.name = p.label) '
                "FROM temp.import_spans p", (first_sent,))
        return batch.sentences

    def _check_duplicates(self, refuse_reimport: bool) -> int:
        """How many staged sentences the project already has (same text, tokens and offsets);
        they are imported all the same (a dataset's dev split may repeat a train sentence, and
        an import must bring the file exactly). ``refuse_reimport``: a file ALL of whose
        sentences are already there was imported before: refused in one line, nothing of the
        import written (``--allow-duplicates`` imports it again). Runs before the write lock is
        taken: a temp index on the staged text makes it one scan of the project's sentences."""
        conn = self.db.conn
        conn.execute("CREATE INDEX IF NOT EXISTS temp.import_sentences_text "
                     "ON import_sentences(text)")
        conn.execute("DROP TABLE IF EXISTS temp.import_duplicates")
        conn.execute("CREATE TEMP TABLE import_duplicates AS SELECT DISTINCT t.i FROM "
                     "main.sentences s JOIN temp.import_sentences t ON t.text = s.text "
                     "AND t.tokens = s.tokens AND t.starts = s.starts")
        per_source = conn.execute(
            "SELECT d.source, count(t.i), count(x.i) FROM temp.import_sentences t "
            "JOIN temp.import_documents d ON d.i = t.doc "
            "LEFT JOIN temp.import_duplicates x ON x.i = t.i GROUP BY d.source").fetchall()
        conn.execute("DROP TABLE temp.import_duplicates")
        if self._staging_commits and conn.in_transaction:  # temp tables only: no lock
            conn.commit()
        for source, n, dup in per_source:
            if refuse_reimport and n and dup == n:
                raise StoreError(f"{source or 'the import'}: all {n} of its sentences are "
                                 "already in the project (imported before?); nothing was "
                                 "imported (--allow-duplicates imports them again)")
        return sum(dup for _s, _n, dup in per_source)

    def _drop_staging(self) -> None:
        """Forget a staged import (after it was copied, or after a failure while reading)."""
        conn = self.db.conn
        if self._staging_commits and conn.in_transaction:
            conn.rollback()
        for sql in _STAGING[:3]:
            conn.execute(sql)

    # -- reading --------------------------------------------------------------------------------
    def _sentence_from_row(self, row, spans: list[Span]) -> Sentence:
        sid, _doc, _pos, text, toks, starts, cols, split, status, version = row
        return Sentence(tokens=_tokens_from_row(text, toks, starts), spans=spans, text=text,
                        split=split, status=status, id=sid,
                        columns=json.loads(cols) if cols else None, version=version)

    def _spans_of(self, sentence_id: int) -> list[Span]:
        return [Span(s, e, l) for s, e, l in self._q(
            'SELECT s.start, s."end", l.name FROM spans s JOIN labels l ON l.id = s.label_id '
            "WHERE s.sentence_id = ? ORDER BY s.start", [sentence_id])]

    def sentence(self, sentence_id: int) -> Sentence:
        rows = self._q(f"SELECT {self._sentence_columns()} FROM sentences WHERE id = ?",
                       [sentence_id])
        if not rows:
            raise StoreError(f"no sentence {sentence_id}")
        return self._sentence_from_row(rows[0], self._spans_of(sentence_id))

    def sentence_version(self, sentence_id: int) -> tuple[int, str]:
        """(version, status) of a sentence: what a view that just wrote its spans needs to
        know, without re-reading (and re-building) 50,000 tokens."""
        rows = self._q("SELECT version, status FROM sentences WHERE id = ?", [sentence_id])
        if not rows:
            raise StoreError(f"no sentence {sentence_id}")
        return rows[0]

    def iter_documents(self, split: str | None = None, status: Iterable[str] | None = None,
                       batch: int = 2000) -> Iterator[tuple[tuple[int, str, str | None], list[Sentence]]]:
        """Yield ``((doc_id, name, header), sentences)`` in file order, streaming in batches."""
        current, sents = None, []
        for doc, sent in self._iter_with_docs(split, status, batch):
            if current is not None and doc[0] != current[0]:
                yield current, sents
                sents = []
            current = doc
            sents.append(sent)
        if current is not None:
            yield current, sents

    def iter_sentences(self, split: str | None = None, status: Iterable[str] | None = None,
                       batch: int = 2000) -> Iterator[Sentence]:
        for _doc, sent in self._iter_with_docs(split, status, batch):
            yield sent

    def _iter_with_docs(self, split, status, batch):
        where, params = _filters(split, status)
        last = (-1, -1, -1)
        while True:
            rows = self._q(
                f"SELECT {self._sentence_columns('s.')}, d.name, d.header "
                "FROM sentences s JOIN documents d ON d.id = s.document_id "
                f"WHERE (s.document_id, s.position, s.id) > (?, ?, ?) {where} "
                "ORDER BY s.document_id, s.position, s.id LIMIT ?", [*last, *params, batch])
            if not rows:
                return
            ids = [r[0] for r in rows]
            spans: dict[int, list[Span]] = {i: [] for i in ids}
            for sid, s, e, l in self._q(
                    'SELECT s.sentence_id, s.start, s."end", l.name FROM spans s '
                    "JOIN labels l ON l.id = s.label_id WHERE s.sentence_id IN "
                    "(SELECT value FROM json_each(?)) ORDER BY s.sentence_id, s.start",
                    [json.dumps(ids)]):
                spans[sid].append(Span(s, e, l))
            for r in rows:
                yield (r[1], r[10], r[11]), self._sentence_from_row(r[:10], spans[r[0]])
            last = (rows[-1][1], rows[-1][2], rows[-1][0])

    def count(self, split: str | None = None, status: Iterable[str] | None = None,
              label: str | None = None, search: str | None = None) -> int:
        where, params = self._list_filters(split, status, label, search)
        return self._scalar(f"SELECT count(*) FROM sentences s WHERE 1 {where}", params)

    def split_changed_since(self, split: str, timestamp: str) -> bool:
        """Whether a sentence of ``split`` was added or edited after ``timestamp`` (as
        SQLite's ``datetime('now')`` writes it): two runs' dev scores compare only when not."""
        added = self._scalar("SELECT max(d.created_at) FROM documents d JOIN sentences s "
                             "ON s.document_id = d.id WHERE s.split = ?", [split])
        edited = self._scalar("SELECT max(e.created_at) FROM edits e JOIN sentences s "
                              "ON s.id = e.sentence_id WHERE s.split = ?", [split])
        return any(t is not None and t > timestamp for t in (added, edited))

    def existing_texts(self, texts: Iterable[str]) -> set[str]:
        """Which of ``texts`` some sentence of the project already has, exactly (the playground
        does not add a sentence twice)."""
        wanted = list(dict.fromkeys(texts))
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._q(
                f"SELECT DISTINCT text FROM sentences WHERE text IN ({marks})", chunk))
        return found

    def _list_filters(self, split, status, label, search):
        where, params = _filters(split, status)
        if label:
            where += " AND EXISTS (SELECT 1 FROM spans p WHERE p.sentence_id = s.id AND p.label_id = ?)"
            params.append(self._label_id(label))
        if search:
            where += (" AND s.id IN (SELECT rowid FROM sentences_fts WHERE sentences_fts MATCH ?)")
            params.append(_fts_query(search))
        return where, params

    def sentence_rows(self, offset: int, limit: int, split: str | None = None,
                      status: Iterable[str] | None = None, label: str | None = None,
                      search: str | None = None) -> list[SentenceRow]:
        """A page of the sentence list (for a lazily fetching list model)."""
        where, params = self._list_filters(split, status, label, search)
        rows = self._q(
            "SELECT s.id, s.text, s.split, s.status, s.n_entities, "
            "EXISTS (SELECT 1 FROM predictions p WHERE p.sentence_id = s.id) "
            f"FROM sentences s WHERE 1 {where} ORDER BY s.document_id, s.position, s.id "
            "LIMIT ? OFFSET ?", [*params, limit, offset])
        return [SentenceRow(i, t, sp, st, n, bool(p)) for i, t, sp, st, n, p in rows]

    def sentence_row(self, sentence_id: int) -> SentenceRow:
        """One row of the sentence list, by id (after an edit)."""
        rows = self._q("SELECT s.id, s.text, s.split, s.status, s.n_entities, "
                       "EXISTS (SELECT 1 FROM predictions p WHERE p.sentence_id = s.id) "
                       "FROM sentences s WHERE s.id = ?", [sentence_id])
        if not rows:
            raise StoreError(f"no sentence {sentence_id}")
        i, t, sp, st, n, p = rows[0]
        return SentenceRow(i, t, sp, st, n, bool(p))

    def search(self, query: str, limit: int = 100) -> list[int]:
        """Sentence ids whose text matches ``query`` (full-text, words ANDed)."""
        return [r[0] for r in self._q(
            "SELECT rowid FROM sentences_fts WHERE sentences_fts MATCH ? ORDER BY rank LIMIT ?",
            [_fts_query(query), limit])]

    # -- editing --------------------------------------------------------------------------------
    def _state(self, sentence_id: int) -> dict:
        status = self._scalar("SELECT status FROM sentences WHERE id = ?", [sentence_id])
        if status is None:
            raise StoreError(f"no sentence {sentence_id}")
        spans = self._q('SELECT start, "end", label_id FROM spans WHERE sentence_id = ? '
                        "ORDER BY start", [sentence_id])
        return {"spans": [list(s) for s in spans], "status": status}

    def _resolve(self, state: dict) -> dict:
        """An edit's recorded state in today's labels: a merged label's spans follow the merge
        target (``label_redirects``), a deleted label's spans are dropped (ids are never reused,
        so an id is either live, redirected or gone)."""
        live = {r[0] for r in self._q("SELECT id FROM labels")}
        redirects = dict(self._q("SELECT old_id, new_id FROM label_redirects"))
        spans = [[s, e, redirects.get(lid, lid)] for s, e, lid in state["spans"]]
        return {"spans": sorted(sp for sp in spans if sp[2] in live), "status": state["status"]}

    def _apply_state(self, sentence_id: int, state: dict) -> None:
        spans = self._resolve(state)["spans"]
        self.db.execute("DELETE FROM spans WHERE sentence_id = ?", (sentence_id,))
        self.db.conn.executemany(
            'INSERT INTO spans(sentence_id, start, "end", label_id) VALUES (?,?,?,?)',
            [(sentence_id, *s) for s in spans])
        self.db.execute("UPDATE sentences SET status = ?, n_entities = ?, version = version + 1, "
                        "updated_at = datetime('now') WHERE id = ?",
                        (state["status"], len(spans), sentence_id))
        if "flags" in state:  # an edit that settled or answered review flags (_record_edit)
            self.db.execute("DELETE FROM review_flags WHERE sentence_id = ?", (sentence_id,))
            self.db.conn.executemany(
                "INSERT INTO review_flags(sentence_id, token_index, given, predicted, score, "
                "version) SELECT ?, ?, ?, ?, ?, version FROM sentences WHERE id = ?",
                [(sentence_id, *flag, sentence_id) for flag in self._flags_by_name(state)])
        self._count_change()

    def _count_change(self) -> None:
        """One more change to sentences (edit, undo, redo, split): a counter other windows poll,
        since an undo and a redo between two polls leave every count and maximum as it was."""
        self.db.execute("INSERT INTO meta(key, value) VALUES ('changes', '1') ON CONFLICT(key) "
                        "DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def changes(self) -> int:
        """The change counter (see :meth:`_count_change`)."""
        return int(self._scalar("SELECT value FROM meta WHERE key = 'changes'") or 0)

    def _check_version(self, sentence_id: int, expected: int | None) -> None:
        """Refuse an edit made on a view older than the file (another window or process wrote
        the sentence since the view loaded it)."""
        version = self._scalar("SELECT version FROM sentences WHERE id = ?", [sentence_id])
        if version is None:
            raise StoreError(f"no sentence {sentence_id}")
        if expected is not None and version != expected:
            raise StaleEditError(f"sentence {sentence_id} was changed elsewhere since it was "
                                 "loaded; reload it and edit again (nothing was written)")

    def set_spans(self, sentence_id: int, spans: list[Span], status: str | None = None, *,
                  expected_version: int | None = None) -> None:
        """Replace a sentence's gold spans (one user edit: one transaction, one undo step).
        ``expected_version``: the ``Sentence.version`` the view showed; if the file holds
        another, :class:`StaleEditError` and nothing is written."""
        if status is not None and status not in STATUSES:
            raise StoreError(f"unknown status {status!r}")
        with self.transaction():
            self._check_version(sentence_id, expected_version)
            n_tokens = self._scalar(  # counted by SQLite: parsing 50,000 tokens took 0.4 s
                "SELECT json_array_length(tokens) FROM sentences WHERE id = ?", [sentence_id]) or 0
            spans = sorted(spans, key=_span_key)  # (Span's own order compares in Python: slow)
            if not _spans_fit(spans, n_tokens):
                try:
                    check_spans(spans, n_tokens)  # says which span and why
                except TagError as exc:
                    raise StoreError(f"sentence {sentence_id}: {exc}") from exc
            ids = self._label_ids()
            missing = {s.label for s in spans} - set(ids)
            if missing:
                raise StoreError(f"unknown label(s): {', '.join(sorted(missing))}")
            before = self._state(sentence_id)
            after = {"spans": [[s.start, s.end, ids[s.label]] for s in spans],
                     "status": status or before["status"]}
            self._record_edit(sentence_id, before, after)

    def set_status(self, sentence_id: int, status: str, *,
                   expected_version: int | None = None) -> None:
        """Set a sentence's status (an undo step); ``expected_version`` as in set_spans."""
        if status not in STATUSES:
            raise StoreError(f"unknown status {status!r}")
        with self.transaction():
            self._check_version(sentence_id, expected_version)
            before = self._state(sentence_id)
            self._record_edit(sentence_id, before, {**before, "status": status})

    def set_split(self, sentence_ids: Iterable[int], split: str) -> None:
        if split not in SPLITS:
            raise StoreError(f"unknown split {split!r}")
        with self.transaction():
            self.db.conn.executemany("UPDATE sentences SET split = ? WHERE id = ?",
                                     [(split, i) for i in sentence_ids])
            self._count_change()

    # -- undo history -----------------------------------------------------------------------------
    # Each store instance has an ``origin``; its edits carry it. undo/redo act on this origin's
    # edits; when it has none, on the edits of origins that are no longer live (closed, or a dead,
    # zombie or reused pid on this host; edits made before origins existed), so history survives
    # a restart or a crash but never reaches into another open window's work. A session on
    # another host counts as live (its pid cannot be checked). A step taken over from a dead
    # origin becomes this origin's. Undo/redo whose sentence changed since (its state is not the
    # edit's after/before) is refused with StaleEditError, and that step leaves the history.

    def _register_session(self) -> None:
        """This origin is live (pid + host): its edits are not undoable by other openers. Done
        at the first edit, not on open, so opening writes nothing; the first time, rows of dead
        processes on this host are removed (a missing row means "not live" just the same)."""
        if not self._in_sessions:
            live = set(self._live_origins())
            self.db.conn.executemany("DELETE FROM sessions WHERE origin = ?", [
                (o,) for (o,) in self._q("SELECT origin FROM sessions") if o not in live])
        self.db.execute("INSERT OR IGNORE INTO sessions(origin, pid, host, started) "
                        "VALUES (?, ?, ?, ?)",
                        (self.origin, os.getpid(), _HOST, _own_start()))
        self._in_sessions = True

    def _live_origins(self) -> list[str]:
        """Origins whose process still runs: on this host the pid is alive and started when the
        session was registered (not a reused pid); on another host we cannot tell: live."""
        live = []
        for origin, pid, host, started in self._q("SELECT origin, pid, host, started FROM sessions"):
            now = _process_start(pid) if host == _HOST else started
            if origin == self.origin or (now is not None and (not started or now == started)):
                live.append(origin)
        return live

    def _history_step(self, undone: int, newest: bool) -> tuple | None:
        """The edit undo (undone=0, newest first) or redo (undone=1, oldest first) acts on."""
        order = "DESC" if newest else "ASC"
        cols = "id, sentence_id, before, after"
        row = self._q(f"SELECT {cols} FROM edits WHERE origin = ? AND undone = ? "
                      f"ORDER BY id {order} LIMIT 1", [self.origin, undone])
        if not row:
            row = self._q(f"SELECT {cols} FROM edits WHERE undone = ? AND (origin IS NULL OR "
                          "origin NOT IN (SELECT value FROM json_each(?))) "
                          f"ORDER BY id {order} LIMIT 1",
                          [undone, json.dumps(self._live_origins())])
        return row[0] if row else None

    def _record_edit(self, sentence_id: int, before: dict, after: dict) -> None:
        """Apply ``after`` and record the step. The sentence's open review flags go with the
        edit (a flag is about the tags it was computed on) and are recorded in ``before``, so
        an undo brings them back."""
        if before == after:
            return
        if "flags" not in before:
            flags = self._open_flags(sentence_id)
            if flags:
                before, after = {**before, "flags": flags}, {**after, "flags": []}
        self._apply_state(sentence_id, after)
        self._register_session()
        self._end_redo_branch()
        self.db.execute("INSERT INTO edits(sentence_id, before, after, origin) VALUES (?, ?, ?, ?)",
                        (sentence_id, json.dumps(self._flags_by_id(before)),
                         json.dumps(self._flags_by_id(after)), self.origin))

    def _flags_by_id(self, state: dict) -> dict:
        """An edit's record of review flags names each tag by label id (["B", 3]), as its spans
        do, so that an undo after a rename, merge or delete brings a flag back under today's
        label, not under a name another label may have taken since."""
        if not state.get("flags"):
            return state
        ids = self._label_ids()

        def ref(tag):
            return [tag[:1], ids[tag[2:]]] if tag[2:] in ids else tag
        return {**state, "flags": [[tok, ref(given), ref(predicted), score]
                                   for tok, given, predicted, score in state["flags"]]}

    def _flags_by_name(self, state: dict) -> list[list]:
        """The flags of an edit's record as [token, given, predicted, score] in today's labels
        (see :meth:`_flags_by_id`; a merged label's id follows the merge, a flag naming a
        deleted label goes, a plain tag string, of older records, stays as it is)."""
        names = {lid: name for name, lid in self._label_ids().items()}
        redirects = dict(self._q("SELECT old_id, new_id FROM label_redirects"))

        def name(tag):
            if isinstance(tag, str):
                return tag
            label = names.get(redirects.get(tag[1], tag[1]))
            return None if label is None else f"{tag[0]}-{label}"
        out = []
        for tok, given, predicted, score in state["flags"]:
            given, predicted = name(given), name(predicted)
            if given is not None and predicted is not None and given != predicted:
                out.append([tok, given, predicted, score])
        return out

    def _end_redo_branch(self) -> None:
        """A new edit ends this origin's redo branch, and the one it inherits from dead origins
        (another live window keeps its own). Usually there is none: then no liveness check."""
        branch = {r[0] for r in self._q("SELECT DISTINCT origin FROM edits WHERE undone = 1")}
        if branch - {self.origin}:
            live = set(self._live_origins())
            branch = {o for o in branch if o == self.origin or o not in live}
        self.db.conn.executemany("DELETE FROM edits WHERE undone = 1 AND origin IS ?",
                                 [(o,) for o in branch])

    def _step(self, undo: bool) -> int | None:
        if self.read_only:
            raise ReadOnlyProjectError(self._read_only_message())
        with self.transaction():
            row = self._history_step(_APPLIED if undo else _UNDONE, newest=undo)
            if row is None:
                return None
            edit_id, sid, before, after = row
            expected, target = (after, before) if undo else (before, after)
            if self._state(sid) != self._resolve(json.loads(expected)):
                self.db.execute("UPDATE edits SET undone = ? WHERE id = ?", (_DROPPED, edit_id))
                stale = sid
            else:
                self._apply_state(sid, json.loads(target))
                self._register_session()
                self.db.execute("UPDATE edits SET undone = ?, origin = ? WHERE id = ?",
                                (_UNDONE if undo else _APPLIED, self.origin, edit_id))
                return sid
        raise StaleEditError(f"sentence {stale} was changed elsewhere since; cannot "
                             f"{'undo' if undo else 'redo'} that step (dropped from the history)")

    def undo(self) -> int | None:
        """Undo this origin's latest edit (see above); returns the sentence it touched, or None
        if there is nothing to undo. StaleEditError if the sentence changed since."""
        return self._step(undo=True)

    def redo(self) -> int | None:
        """Redo this origin's earliest undone edit; returns its sentence, or None."""
        return self._step(undo=False)

    def can_undo(self) -> bool:
        return not self.read_only and self._history_step(_APPLIED, newest=True) is not None

    def can_redo(self) -> bool:
        return not self.read_only and self._history_step(_UNDONE, newest=False) is not None

    # -- predictions ----------------------------------------------------------------------------
    def replace_predictions(self, run_id: int | None,
                            items: Iterable[tuple[int, list[tuple[int, int, str, float]],
                                                  tuple[float, float] | None]]) -> int:
        """Store a model's spans (token start, end, label, score) and the sentence's uncertainty
        (entropy, margin), replacing earlier predictions of those sentences. One transaction."""
        n = 0
        with self.transaction():
            for sid, spans, unc in items:
                self.db.execute("DELETE FROM predictions WHERE sentence_id = ?", (sid,))
                self.db.conn.executemany(
                    'INSERT INTO predictions(sentence_id, run_id, start, "end", label, score) '
                    "VALUES (?,?,?,?,?,?)", [(sid, run_id, *s) for s in spans])
                if unc is not None:
                    self.db.execute("INSERT OR REPLACE INTO uncertainty VALUES (?,?,?,?)",
                                    (sid, run_id, *unc))
                n += 1
        return n

    def predictions(self, sentence_id: int) -> list[tuple[Span, float]]:
        return [(Span(s, e, l), sc) for s, e, l, sc in self._q(
            'SELECT start, "end", label, score FROM predictions WHERE sentence_id = ? '
            "ORDER BY start", [sentence_id])]

    def clear_predictions(self, sentence_id: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM predictions WHERE sentence_id = ?", (sentence_id,))

    def most_uncertain(self, limit: int = 50) -> list[int]:
        """Unlabelled sentences, least confident first (lowest margin), for active learning."""
        return [r[0] for r in self._q(
            "SELECT u.sentence_id FROM uncertainty u JOIN sentences s ON s.id = u.sentence_id "
            "WHERE s.status = 'unlabelled' ORDER BY u.margin, u.entropy DESC LIMIT ?", [limit])]

    # -- active learning order (issue #15) -----------------------------------------------------
    def _has_table(self, name: str) -> bool:
        """False only for an older project opened read-only (not upgraded: no m005 tables)."""
        return bool(self._scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 [name]))

    def set_active_order(self, run_id: int | None, ordered_ids: Iterable[int],
                         scores: dict[int, float] | None = None) -> None:
        """Store the Active learning order (sentence ids, first = label next) computed with run
        ``run_id``'s model (None: a model folder that is not a run), replacing the old order.
        One transaction. ``scores``: each sentence's uncertainty, kept beside it."""
        scores = scores or {}
        with self.transaction():
            self.db.execute("DELETE FROM active_order")
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO active_order(sentence_id, position, score) "
                "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM sentences WHERE id = ?)",
                [(sid, pos, scores.get(sid), sid) for pos, sid in enumerate(ordered_ids)])
            info = {"run": run_id, "n": self._scalar("SELECT count(*) FROM active_order"),
                    "at": self._scalar("SELECT datetime('now')")}
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('active_order', ?)",
                            (json.dumps(info),))

    def active_order(self, limit: int | None = None) -> list[int]:
        """Unlabelled sentence ids in Active learning order (labelled ones drop out here, so an
        order stays usable while the user labels); [] when none was computed."""
        if not self._has_table("active_order"):
            return []
        return [r[0] for r in self._q(
            "SELECT a.sentence_id FROM active_order a JOIN sentences s ON s.id = a.sentence_id "
            "WHERE s.status = 'unlabelled' ORDER BY a.position LIMIT ?",
            [-1 if limit is None else limit])]

    def active_order_info(self) -> dict | None:
        """{"run": run id or None, "n": sentences ordered, "at": when} of the stored order, or
        None when no order was ever computed."""
        return self.meta("active_order")

    def active_order_run(self) -> int | None:
        """The run whose model computed the stored order (None: none, or not a run's model)."""
        info = self.active_order_info()
        return info.get("run") if info else None

    def active_score(self, sentence_id: int) -> float | None:
        """A sentence's uncertainty in the stored order (lower = less sure), or None."""
        if not self._has_table("active_order"):
            return None
        return self._scalar("SELECT score FROM active_order WHERE sentence_id = ?", [sentence_id])

    # -- label-error review (issue #15) --------------------------------------------------------
    def set_review_flags(self, run_id: int | None, flags: Iterable,
                         versions: dict[int, int] | None = None) -> int:
        """Replace the review's flags with ``flags``: (sentence_id, token_index, given_tag,
        predicted_tag, score) each, score = label quality (lower = likelier an error). Each flag
        belongs to the sentence's current version; ``versions`` ({sentence id: version} the
        review read) drops the flags of sentences changed since. One transaction; returns the
        number of flags stored."""
        rows = [tuple(f)[:5] for f in flags]
        versions = versions or {}
        with self.transaction():
            self.db.execute("DELETE FROM review_flags")
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO review_flags(sentence_id, token_index, given, predicted, "
                "score, version) SELECT ?, ?, ?, ?, ?, version FROM sentences WHERE id = ? "
                "AND (? IS NULL OR version = ?)",
                [(sid, int(tok), given, pred, float(score), sid, versions.get(sid),
                  versions.get(sid)) for sid, tok, given, pred, score in rows])
            n = self._scalar("SELECT count(*) FROM review_flags")
            info = {"run": run_id, "flags": n, "sentences": self._scalar(
                "SELECT count(DISTINCT sentence_id) FROM review_flags"),
                    "at": self._scalar("SELECT datetime('now')")}
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('review', ?)",
                            (json.dumps(info),))
        return n

    def review_info(self) -> dict | None:
        """{"run", "flags", "sentences", "at"} of the last stored review, or None."""
        return self.meta("review")

    _LIVE_FLAGS = ("FROM review_flags f JOIN sentences s ON s.id = f.sentence_id "
                   "AND s.version = f.version")

    def review_flags(self, sentence_id: int) -> list[ReviewFlag]:
        """The sentence's open flags, by token (none once the sentence changed since the review:
        a flag is about the tags it was computed on)."""
        if not self._has_table("review_flags"):
            return []
        return [ReviewFlag(*r) for r in self._q(
            "SELECT f.sentence_id, f.token_index, f.given, f.predicted, f.score "
            f"{self._LIVE_FLAGS} WHERE f.sentence_id = ? ORDER BY f.token_index", [sentence_id])]

    def flagged_sentence_ids(self, limit: int | None = None) -> list[int]:
        """Sentences with open flags, likeliest error first (lowest flag score)."""
        if not self._has_table("review_flags"):
            return []
        return [r[0] for r in self._q(
            f"SELECT f.sentence_id {self._LIVE_FLAGS} GROUP BY f.sentence_id "
            "ORDER BY min(f.score), f.sentence_id LIMIT ?", [-1 if limit is None else limit])]

    def _open_flags(self, sentence_id: int) -> list[list]:
        """The sentence's open flags as [token, given, predicted, score] (an edit's record)."""
        if not self._has_table("review_flags"):
            return []
        return [list(r) for r in self._q(
            f"SELECT f.token_index, f.given, f.predicted, f.score {self._LIVE_FLAGS} "
            "WHERE f.sentence_id = ? ORDER BY f.token_index", [sentence_id])]

    def resolve_flag(self, sentence_id: int, token_index: int, accept: bool, *,
                     expected_version: int | None = None) -> bool:
        """The user's answer to a flag; in both cases the flag goes, as one undo step that
        brings it back. ``accept``: the token takes the model's tag through the normal edit
        path (one transaction, version bumped); a type change at a span's first token relabels
        the whole span, a drop takes the span's next tokens flagged O along, and the tags are
        repaired to valid IOB2. Other flags of the sentence that the edit settled go too, the
        rest stay open (:func:`flag_rules.open_flags`). ``keep``: gold is left as it is. Returns whether gold
        changed. StaleEditError (and the flag dropped) when the sentence changed since the
        review."""
        from .iob import repair_iob2, spans_to_tags, tags_to_spans

        with self.transaction():
            row = self._q("SELECT f.given, f.predicted, f.version, s.version FROM review_flags f "
                          "JOIN sentences s ON s.id = f.sentence_id "
                          "WHERE f.sentence_id = ? AND f.token_index = ?",
                          [sentence_id, token_index])
            if not row:
                raise StoreError(f"sentence {sentence_id} has no flag on token {token_index}")
            _given, predicted, flag_version, version = row[0]
            self._check_version(sentence_id, expected_version)
            if flag_version == version:
                flags = self._open_flags(sentence_id)
                rest = [f for f in flags if f[0] != token_index]
                sentence = self.sentence(sentence_id)
                spans = list(sentence.spans)
                if accept:
                    tags = spans_to_tags(sentence.spans, len(sentence.tokens))
                    tags = repair_iob2(accept_tag(tags, token_index, predicted,
                                                   {f[0]: f[2] for f in rest}))
                    spans, rest = tags_to_spans(tags), open_flags(rest, tags)
                return self._set_spans_in_transaction(sentence_id, spans, (flags, rest))
            self.db.execute("DELETE FROM review_flags WHERE sentence_id = ? AND token_index = ?",
                            (sentence_id, token_index))
        raise StaleEditError(f"sentence {sentence_id} was changed since the review; its flag "
                             "is dropped (nothing else was written)")

    def _set_spans_in_transaction(self, sentence_id: int, spans: list[Span],
                                  flags: tuple[list, list] | None = None) -> bool:
        """set_spans' edit (one undo step) inside the caller's transaction; whether the spans
        changed. ``flags``: the sentence's open review flags before and after the edit, recorded
        with it (an edit that only answers a flag is still an undo step)."""
        ids = self._label_ids()
        missing = {s.label for s in spans} - set(ids)
        if missing:
            raise StoreError(f"unknown label(s): {', '.join(sorted(missing))}")
        before = self._state(sentence_id)
        after = {"spans": [[s.start, s.end, ids[s.label]] for s in sorted(spans, key=_span_key)],
                 "status": before["status"]}
        changed = before != after
        if flags is not None:
            before, after = {**before, "flags": flags[0]}, {**after, "flags": flags[1]}
        self._record_edit(sentence_id, before, after)
        return changed

    # -- training runs --------------------------------------------------------------------------
    def create_run(self, base_model: str, config: dict, tags: list[str], device: str | None = None,
                   output_dir: str | None = None) -> int:
        with self.transaction():
            return self.db.execute(
                "INSERT INTO runs(base_model, config, labels, device, output_dir) VALUES (?,?,?,?,?)",
                (base_model, json.dumps(config), json.dumps(tags), device, output_dir)).lastrowid

    _RUN_FIELDS = {"finished_at", "device", "status", "error", "output_dir", "best_checkpoint",
                   "best_f1", "final_metrics", "best_metrics", "duration_s", "config"}

    def update_run(self, run_id: int, **fields) -> None:
        unknown = set(fields) - self._RUN_FIELDS
        if unknown:
            raise StoreError(f"unknown run field(s): {', '.join(sorted(unknown))}")
        values = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in fields.items()}
        with self.transaction():
            self.db.execute(f"UPDATE runs SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                            (*values.values(), run_id))

    def add_run_metric(self, run_id: int, kind: str, step: int, epoch: float | None,
                       data: dict) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO run_metrics(run_id, kind, step, epoch, data) "
                            "VALUES (?,?,?,?,?)", (run_id, kind, step, epoch, json.dumps(data)))

    def delete_run_metrics(self, run_id: int, after_step: int | None = None) -> int:
        """Drop a run's metric rows after ``after_step`` (all when None): a run resumed from a
        checkpoint records those steps again. Returns the rows removed."""
        with self.transaction():
            return self.db.execute(
                "DELETE FROM run_metrics WHERE run_id = ? AND step > ?",
                (run_id, -2**63 if after_step is None else after_step)).rowcount

    def runs(self) -> list[dict]:
        return [self._run_dict(r) for r in self._q("SELECT * FROM runs ORDER BY id")]

    def run(self, run_id: int) -> dict:
        rows = self._q("SELECT * FROM runs WHERE id = ?", [run_id])
        if not rows:
            raise StoreError(f"no run {run_id}")
        return self._run_dict(rows[0])

    def _run_dict(self, row) -> dict:
        out = dict(zip([r[1] for r in self._q("PRAGMA table_info(runs)")], row))
        for k in ("config", "labels", "final_metrics", "best_metrics", "evaluations"):
            if out.get(k):
                out[k] = json.loads(out[k])
        out["evaluations"] = out.get("evaluations") or {}  # {split: metrics}; {} before m004
        return out

    def set_run_evaluation(self, run_id: int, split: str, metrics: dict) -> None:
        """Store a run's scores on ``split`` (replacing an earlier evaluation on that split;
        other splits' are kept)."""
        if split not in SPLITS:
            raise StoreError(f"unknown split {split!r}")
        with self.transaction():
            row = self._q("SELECT evaluations FROM runs WHERE id = ?", [run_id])
            if not row:
                raise StoreError(f"no run {run_id}")
            evaluations = json.loads(row[0][0]) if row[0][0] else {}
            evaluations[split] = metrics
            self.db.execute("UPDATE runs SET evaluations = ? WHERE id = ?",
                            (json.dumps(evaluations), run_id))

    def run_metrics(self, run_id: int, kind: str | None = None) -> list[dict]:
        sql = "SELECT kind, step, epoch, data FROM run_metrics WHERE run_id = ?"
        params = [run_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return [{"kind": k, "step": s, "epoch": e, **json.loads(d)}
                for k, s, e, d in self._q(sql + " ORDER BY id", params)]

    # -- statistics -----------------------------------------------------------------------------
    def summary(self) -> dict:
        """What the status bar shows, from indexes only (cheap enough after every edit):
        {"splits": {split: (sentences, labelled)}, "entities": {label: count}}."""
        splits = {sp: (n, lab) for sp, n, lab in self._q(
            "SELECT split, count(*), sum(status <> 'unlabelled') FROM sentences GROUP BY split")}
        counts = dict(self._q("SELECT label_id, count(*) FROM spans GROUP BY label_id"))
        ids = self._q("SELECT id, name FROM labels ORDER BY position, id")
        return {"splits": splits, "entities": {name: counts.get(i, 0) for i, name in ids}}

    def stats(self) -> dict:
        """Sentences, tokens and entities per split, entities per label and split."""
        out = {"name": self.meta("name"), "splits": {}, "labels": self.label_set().names}
        for split, n, labelled, toks in self._q(
                "SELECT split, count(*), sum(status <> 'unlabelled'), "
                "sum(json_array_length(tokens)) FROM sentences GROUP BY split"):
            out["splits"][split] = {"sentences": n, "labelled": labelled, "tokens": toks,
                                    "entities": 0, "per_label": {}}
        for split, label, n in self._q(
                "SELECT s.split, l.name, count(*) FROM spans p JOIN sentences s ON s.id = "
                "p.sentence_id JOIN labels l ON l.id = p.label_id GROUP BY s.split, l.name"):
            out["splits"][split]["per_label"][label] = n
            out["splits"][split]["entities"] += n
        return out


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
