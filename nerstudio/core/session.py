"""The project session: the GUI thread's store plus the events views subscribe to.

Why: views (Annotate, Train, Playground, the label manager) must follow label, sentence and run
changes by themselves instead of the main window calling each view's refresh by hand (napari's
pattern: a Qt-free model emits events, the Qt layer listens). Every user action that changes the
project goes through this object, so the matching event always fires. Qt-free: callbacks run
synchronously on the calling (GUI) thread; workers report back to the GUI thread first and then
call ``notify_*``.
"""
from __future__ import annotations

import inspect
import os
import sqlite3
import weakref
from collections.abc import Callable
from pathlib import Path
from urllib.request import pathname2url

from .errors import StoreError
from .labels import valid_colour, valid_label_name
from .store import ProjectStore

# The GUI's store does not checkpoint inside its commits (``autocheckpoint=False``); the window
# checkpoints when idle, and at once when the -wal file has grown past this many bytes.
WAL_CHECKPOINT_BYTES = 16 * 2**20


def checkpoint_file(path: str | Path, busy_timeout: float = 5.0, **_worker) -> tuple:
    """A PASSIVE WAL checkpoint of the project file ``path``, from a connection of its own (run
    it on a worker thread): it copies what it can of the -wal file into the project file and
    takes no write lock, so it never blocks a writer (the GUI's next click just appends to the
    WAL meanwhile). Returns SQLite's row (busy, frames in the WAL, frames checkpointed): every
    frame was copied when the last two are equal, and the next write then starts the WAL over.
    ``**_worker``: the progress/should_stop/emit a Worker passes (unused). A file that cannot be
    opened (moved, deleted) raises StoreError."""
    uri = "file:" + pathname2url(str(Path(path).absolute())) + "?mode=rw"  # never creates a file
    try:
        con = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
        try:
            return tuple(con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot checkpoint ({exc})") from exc


class Event:
    """Callbacks called in order with the emit() arguments, held weakly.

    Why weak: a view subscribes to the session of the project it shows; a view that is closed
    and garbage-collected must not be kept alive, nor called, by the session it followed. A
    bound method is held through its object (``weakref.WeakMethod``); any other callable is
    held strongly, and goes with its ``owner`` when one is given (held weakly too). Each
    subscription belongs to an owner (a bound method's object, or the ``owner`` passed), so
    :meth:`disconnect_owner` (and ``ProjectSession.unsubscribe``) removes all of a view's
    subscriptions at once, instead of a hand-written disconnect per callback."""

    def __init__(self, name: str):
        self.name = name
        self._subs: list[tuple[Callable[[], object], Callable[[], Callable | None]]] = []

    def connect(self, callback: Callable, owner: object = None) -> Callable:
        if owner is None and inspect.ismethod(callback):
            owner = callback.__self__
        get_owner = weakref.ref(owner) if owner is not None else (lambda: _NO_OWNER)
        if inspect.ismethod(callback):
            get_callback = weakref.WeakMethod(callback)
        else:
            get_callback = (lambda cb=callback: cb)
        self._subs.append((get_owner, get_callback))
        return callback

    def disconnect(self, callback: Callable) -> None:
        """Remove ``callback`` (every subscription of it)."""
        self._subs = [(o, c) for o, c in self._subs if c() is not None and c() != callback]

    def disconnect_owner(self, owner: object) -> None:
        self._subs = [(o, c) for o, c in self._subs if o() is not None and o() is not owner]

    def __len__(self) -> int:
        """Live subscriptions (the dead are dropped here)."""
        self._subs = [(o, c) for o, c in self._subs if o() is not None and c() is not None]
        return len(self._subs)

    def emit(self, *args) -> None:
        for get_owner, get_callback in list(self._subs):
            callback = get_callback()
            if get_owner() is None or callback is None:
                continue  # collected; dropped at the next __len__ / disconnect
            callback(*args)


_NO_OWNER = object()  # a plain function subscribed without an owner: lives as long as the event


class ProjectSession:
    """One open project on the GUI thread. Owns the store; emits:

    - ``labels_changed()``: a label was added, renamed, recoloured, reordered, merged or deleted;
    - ``sentence_changed(sentence_id)``: one sentence's spans or status changed (edit, undo, redo);
    - ``sentences_changed()``: many sentences may have changed (import, merge, delete, another
      process wrote to the file);
    - ``runs_changed()``: a run was created, finished, failed or deleted;
    - ``active_model_changed(run_id | None)``;
    - ``label_replaced(old, new | None)``: just before the ``labels_changed`` of a rename
      (``new``), merge (the target) or delete (None), so a view showing ``old`` (a filter, the
      active label) can follow it;
    - ``order_changed()``: the stored Active learning order (or the suggestions) changed;
    - ``flags_changed()``: the label-error review's flags changed (a review stored new ones).

    :meth:`follow` subscribes an owner to several events at once and :meth:`unsubscribe`
    removes all of its subscriptions (callbacks are held weakly: see :class:`Event`).

    ``poll()`` (call it on a timer) emits the same events when another process or connection
    committed to the file. ``written()`` fires after each of this session's own writes (the
    window checkpoints the WAL once they have stopped for a while).
    """

    def __init__(self, store: ProjectStore):
        self.store = store
        self.labels_changed = Event("labels_changed")
        self.label_replaced = Event("label_replaced")
        self.sentence_changed = Event("sentence_changed")
        self.sentences_changed = Event("sentences_changed")
        self.runs_changed = Event("runs_changed")
        self.active_model_changed = Event("active_model_changed")
        self.order_changed = Event("order_changed")
        self.flags_changed = Event("flags_changed")
        self.written = Event("written")
        self._own_writes = False
        self._data_version = self.data_version()
        self._signature = None
        if self._data_version is not None:
            self._note_signature()

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False,
             busy_timeout: float | None = None,
             autocheckpoint: bool | None = None) -> "ProjectSession":
        """Open ``path``. ``read_only``, ``busy_timeout`` (seconds) and ``autocheckpoint`` are
        passed on to the store when it supports them (the GUI opens with a short busy timeout so
        a click never hangs, and without SQLite's automatic checkpoint, which would run inside a
        click: it checkpoints with :func:`checkpoint_file` when idle)."""
        kw = {"read_only": read_only or None, "busy_timeout": busy_timeout,
              "autocheckpoint": autocheckpoint}
        return cls(ProjectStore(path, **_supported(ProjectStore, kw)))

    @property
    def path(self) -> Path:
        return self.store.path

    def _events(self) -> list[Event]:
        return [v for v in vars(self).values() if isinstance(v, Event)]

    def follow(self, owner: object, **callbacks: Callable) -> None:
        """``session.follow(view, runs_changed=view.refresh_runs, ...)``: subscribe ``owner``'s
        callbacks by event name (an unknown name is a bug: AttributeError)."""
        for name, callback in callbacks.items():
            event = getattr(self, name)
            if not isinstance(event, Event):
                raise AttributeError(f"ProjectSession has no event {name!r}")
            event.connect(callback, owner)

    def unsubscribe(self, owner: object) -> None:
        """Remove every subscription of ``owner`` (a view leaving this session)."""
        for event in self._events():
            event.disconnect_owner(owner)

    @property
    def read_only(self) -> bool:
        return bool(getattr(self.store, "read_only", False))

    def close(self) -> None:
        self.store.close()

    def wal_bytes(self) -> int:
        """The size of the project's -wal file (0 when there is none)."""
        try:
            return os.stat(f"{self.store.path}-wal").st_size
        except OSError:
            return 0

    # -- labels -----------------------------------------------------------------------------------
    @staticmethod
    def _check_name(name: str) -> None:
        reason = valid_label_name(name)
        if reason:
            raise StoreError(reason)

    def add_label(self, name: str, colour: str | None = None) -> None:
        self._check_name(name)
        if colour is not None and not valid_colour(colour):
            raise StoreError(f"invalid colour {colour!r}: expected #rrggbb")
        self.store.add_label(name, colour)
        self._note_own_write()
        self.labels_changed.emit()

    def rename_label(self, old: str, new: str) -> int:
        self._check_name(new)
        n = self.store.rename_label(old, new)
        self._note_own_write()
        self.label_replaced.emit(old, new)
        self.labels_changed.emit()
        self.sentences_changed.emit()
        return n

    def recolour_label(self, name: str, colour: str) -> None:
        if not valid_colour(colour):
            raise StoreError(f"invalid colour {colour!r}: expected #rrggbb")
        self.store.recolour_label(name, colour)
        self._note_own_write()
        self.labels_changed.emit()

    def reorder_labels(self, names: list[str]) -> None:
        self.store.reorder_labels(names)
        self._note_own_write()
        self.labels_changed.emit()

    def merge_labels(self, source: str, target: str) -> int:
        n = self.store.merge_labels(source, target)
        self._note_own_write()
        self.label_replaced.emit(source, target)
        self.labels_changed.emit()
        self.sentences_changed.emit()
        return n

    def delete_label(self, name: str) -> int:
        n = self.store.delete_label(name)
        self._note_own_write()
        self.label_replaced.emit(name, None)
        self.labels_changed.emit()
        self.sentences_changed.emit()
        return n

    # -- annotation -------------------------------------------------------------------------------
    def set_spans(self, sentence_id: int, spans, status: str | None = None, **kw) -> None:
        """``expected_version=`` (the version the view showed) refuses a stale edit with
        StaleEditError; it is dropped, as are other keywords set to None, when the store does
        not support it yet."""
        try:
            self.store.set_spans(sentence_id, spans, status,
                                 **_supported(self.store.set_spans, kw))
        finally:  # also on a refused (stale) edit: the view must show what the file holds
            self.sentence_changed.emit(sentence_id)
            self._note_own_write()

    def set_status(self, sentence_id: int, status: str, **kw) -> None:
        try:
            self.store.set_status(sentence_id, status, **_supported(self.store.set_status, kw))
        finally:
            self.sentence_changed.emit(sentence_id)
            self._note_own_write()

    def clear_predictions(self, sentence_id: int) -> None:
        try:
            self.store.clear_predictions(sentence_id)
        finally:
            self.sentence_changed.emit(sentence_id)
            self._note_own_write()

    def drop_prediction(self, sentence_id: int, span) -> None:
        try:
            self.store.drop_prediction(sentence_id, span)
        finally:
            self.sentence_changed.emit(sentence_id)
            self._note_own_write()

    def resolve_flag(self, sentence_id: int, token_index: int, accept: bool, **kw) -> bool:
        """A likely label error answered (issue #15): ``accept`` gives the token the model's tag
        (one undoable edit), else gold stays as it is; the flag goes either way."""
        try:
            return self.store.resolve_flag(sentence_id, token_index, accept,
                                           **_supported(self.store.resolve_flag, kw))
        finally:
            self.sentence_changed.emit(sentence_id)
            self._note_own_write()

    def undo(self) -> int | None:
        sid = self.store.undo()
        self._note_own_write()
        if sid is not None:
            self.sentence_changed.emit(sid)
        return sid

    def redo(self) -> int | None:
        sid = self.store.redo()
        self._note_own_write()
        if sid is not None:
            self.sentence_changed.emit(sid)
        return sid

    def notify_sentences_changed(self) -> None:
        """After an import or pre-annotation worker finished (or the file changed on disk)."""
        self._note_own_write()
        self.sentences_changed.emit()

    # -- other processes --------------------------------------------------------------------------
    def data_version(self) -> int | None:
        """SQLite's ``PRAGMA data_version`` on this store's connection: changes when another
        connection (another window, process or a worker thread) committed. None if unknown."""
        fn = getattr(self.store, "data_version", None)
        try:
            if fn is not None:
                return fn()
            return self.store._scalar("PRAGMA data_version")
        except Exception:  # noqa: BLE001  (a closed store: nothing to poll)
            return None

    def _content_signature(self) -> tuple:
        """Cheap summary of what views show (indexed maxima and counts, not a scan of spans):
        tells a foreign commit that changed sentences from one that only logged run metrics."""
        q = self.store._q
        labels = tuple(q("SELECT name, colour, position FROM labels ORDER BY id"))
        sentences = (q("SELECT max(id), count(*) FROM sentences")[0]
                     + q("SELECT max(id), count(*) FILTER (WHERE undone = 1) FROM edits")[0]
                     + q("SELECT max(rowid), count(*) FROM predictions")[0])
        runs = tuple(q("SELECT id, status FROM runs ORDER BY id"))
        active = self.store.meta("active_run")
        # an undo and a redo between two polls leave every count above as it was
        sentences += (self.store.changes() if hasattr(self.store, "changes") else None,)
        order = self.store.meta("active_order")  # its run, size and time: a new order moves it
        flags = (q("SELECT count(*), total(score), total(sentence_id), total(token_index) "
                   "FROM review_flags")[0]
                 if self.store._has_table("review_flags") else None)
        return labels, sentences, runs, active, order, flags

    def _note_own_write(self) -> None:
        """Our own commits do not change data_version; the next poll re-reads the signature so it
        does not mistake them for another process's (done there, not on the click's path)."""
        self._own_writes = True
        self.written.emit()

    def _note_signature(self) -> None:
        try:
            self._signature = self._content_signature()
        except Exception:  # noqa: BLE001
            pass

    def poll(self) -> bool:
        """Emit the events for what another connection committed since the last poll (call it
        about once a second from a timer). Returns True when anything views show changed."""
        version = self.data_version()
        if version is None:
            return False
        if version == self._data_version:
            if self._own_writes:
                self._own_writes = False
                self._note_signature()
            return False
        self._data_version = version
        self._own_writes = False
        try:
            signature = self._content_signature()
        except Exception:  # noqa: BLE001  (locked for a moment: try again next time)
            return False
        old, self._signature = self._signature, signature
        if old == signature:
            return False
        old = old or ((), (), (), None, None, None)
        if old[0] != signature[0]:
            self.labels_changed.emit()
        if old[0] != signature[0] or old[1] != signature[1]:
            self.sentences_changed.emit()
        if old[2] != signature[2]:
            self.runs_changed.emit()
        if old[3] != signature[3]:
            self.active_model_changed.emit(signature[3])
        if old[4] != signature[4]:
            self.order_changed.emit()
        if old[5] != signature[5]:
            self.flags_changed.emit()
        return True

    # -- runs and the active model ----------------------------------------------------------------
    def notify_runs_changed(self) -> None:
        self._note_own_write()
        self.runs_changed.emit()

    @property
    def active_run(self) -> int | None:
        return self.store.meta("active_run")

    def active_model_dir(self) -> Path | None:
        """The active run's model folder, or None when there is none (or it has gone)."""
        from .runs import model_dir

        run_id = self.active_run
        if run_id is None:
            return None
        try:
            folder = model_dir(self.store, run_id)
        except StoreError:
            return None
        return folder if folder.is_dir() else None

    def set_active_run(self, run_id: int | None) -> None:
        """Make a finished run's model the active one; refuses a run whose model folder is
        missing (moved or deleted) with a StoreError that says so."""
        from .usecases import activate

        activate(self.store, run_id)
        self._note_own_write()
        self.active_model_changed.emit(run_id)


def _supported(fn, kw: dict) -> dict:
    """``kw`` without None values and without names ``fn`` does not accept (the store gains
    ``read_only`` / ``busy_timeout`` / ``expected_version`` in a parallel change)."""
    kw = {k: v for k, v in kw.items() if v is not None}
    if not kw:
        return kw
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return kw
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kw
    return {k: v for k, v in kw.items() if k in params}
