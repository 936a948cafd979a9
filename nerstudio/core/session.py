"""The project session: the GUI thread's store plus the events views subscribe to.

Why: views (Annotate, Train, Playground, the label manager) must follow label, sentence and run
changes by themselves instead of the main window calling each view's refresh by hand (napari's
pattern: a Qt-free model emits events, the Qt layer listens). Every user action that changes the
project goes through this object, so the matching event always fires. Qt-free: callbacks run
synchronously on the calling (GUI) thread; workers report back to the GUI thread first and then
call ``notify_*``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import StoreError
from .store import ProjectStore


class Event:
    """A list of callbacks, called in order with the emit() arguments."""

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callable] = []

    def connect(self, callback: Callable) -> Callable:
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args) -> None:
        for callback in list(self._callbacks):
            callback(*args)


class ProjectSession:
    """One open project on the GUI thread. Owns the store; emits:

    - ``labels_changed()``: a label was added, renamed, recoloured, reordered, merged or deleted;
    - ``sentence_changed(sentence_id)``: one sentence's spans or status changed (edit, undo, redo);
    - ``sentences_changed()``: many sentences may have changed (import, merge, delete, another
      process wrote to the file);
    - ``runs_changed()``: a run was created, finished, failed or deleted;
    - ``active_model_changed(run_id | None)``.
    """

    def __init__(self, store: ProjectStore):
        self.store = store
        self.labels_changed = Event("labels_changed")
        self.sentence_changed = Event("sentence_changed")
        self.sentences_changed = Event("sentences_changed")
        self.runs_changed = Event("runs_changed")
        self.active_model_changed = Event("active_model_changed")

    @classmethod
    def open(cls, path: str | Path) -> "ProjectSession":
        return cls(ProjectStore(path))

    @property
    def path(self) -> Path:
        return self.store.path

    def close(self) -> None:
        self.store.close()

    # -- labels -----------------------------------------------------------------------------------
    def add_label(self, name: str, colour: str | None = None) -> None:
        self.store.add_label(name, colour)
        self.labels_changed.emit()

    def rename_label(self, old: str, new: str) -> int:
        n = self.store.rename_label(old, new)
        self.labels_changed.emit()
        self.sentences_changed.emit()
        return n

    def recolour_label(self, name: str, colour: str) -> None:
        self.store.recolour_label(name, colour)
        self.labels_changed.emit()

    def reorder_labels(self, names: list[str]) -> None:
        self.store.reorder_labels(names)
        self.labels_changed.emit()

    def merge_labels(self, source: str, target: str) -> int:
        n = self.store.merge_labels(source, target)
        self.labels_changed.emit()
        self.sentences_changed.emit()
        return n

    def delete_label(self, name: str) -> int:
        n = self.store.delete_label(name)
        self.labels_changed.emit()
        self.sentences_changed.emit()
        return n

    # -- annotation -------------------------------------------------------------------------------
    def set_spans(self, sentence_id: int, spans, status: str | None = None, **kw) -> None:
        try:
            self.store.set_spans(sentence_id, spans, status, **kw)
        finally:  # also on a refused (stale) edit: the view must show what the file holds
            self.sentence_changed.emit(sentence_id)

    def set_status(self, sentence_id: int, status: str, **kw) -> None:
        try:
            self.store.set_status(sentence_id, status, **kw)
        finally:
            self.sentence_changed.emit(sentence_id)

    def clear_predictions(self, sentence_id: int) -> None:
        self.store.clear_predictions(sentence_id)
        self.sentence_changed.emit(sentence_id)

    def undo(self) -> int | None:
        sid = self.store.undo()
        if sid is not None:
            self.sentence_changed.emit(sid)
        return sid

    def redo(self) -> int | None:
        sid = self.store.redo()
        if sid is not None:
            self.sentence_changed.emit(sid)
        return sid

    def notify_sentences_changed(self) -> None:
        """After an import or pre-annotation worker finished (or the file changed on disk)."""
        self.sentences_changed.emit()

    # -- runs and the active model ----------------------------------------------------------------
    def notify_runs_changed(self) -> None:
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
        from .runs import model_dir

        if run_id is not None:
            folder = model_dir(self.store, run_id)
            if not folder.is_dir():
                raise StoreError(f"run {run_id}: its model folder {folder} is missing "
                                 "(moved or deleted?)")
        self.store.set_meta("active_run", run_id)
        self.active_model_changed.emit(run_id)
