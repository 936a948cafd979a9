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

The class is made of parts, one concern each, over one connection: labels (``store_labels``),
imports (``store_import``), sentences and edits (``store_sentences``), the undo history
(``store_history``), model output: suggestions, order and flags (``store_model``), runs and
statistics (``store_runs``); ``store_common`` holds what they share.
"""
from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from . import openfiles
from .errors import ProjectBusyError, ReadOnlyProjectError, StoreError, cannot_write
from .schema import migrations
from .store_common import (  # noqa: F401  (re-exported)
    _SENTENCE_COLUMNS,
    DocumentStart,
    ReviewFlag,
    SentenceRow,
    _check_project_file,  # noqa: F401  (tests patch it here)
    _connect_read_only,
    _ImportBatch,
    _move_aside_leftovers,
    _place_new_file,
)
from .store_history import HistoryPart
from .store_import import ImportPart
from .store_labels import LabelsPart
from .store_model import ModelOutputPart
from .store_runs import RunsPart
from .store_sentences import SentencesPart


class ProjectStore(LabelsPart, ImportPart, SentencesPart, HistoryPart, ModelOutputPart,
                   RunsPart):
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
            _move_aside_leftovers(path)
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
