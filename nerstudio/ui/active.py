"""The active-learning order (and suggestions) kept in step with the active model.

When the active model changes (a run finished, a run made active, another process changed it, a
project opened whose stored order is from another model), :class:`ModelRefresher` ranks the
unlabelled sentences with it on a :class:`Worker` thread (``core.usecases.rank``),
or, after a background run (``request(suggestions=True)``), pre-annotates them
(``core.usecases.suggest``, which stores the order as well). One refresh at a time: a
request during one cancels it and starts again with the newest model. Failures are a line in the
status bar, never a dialog (this work was not asked for by a click). Nothing here touches gold.
"""
from __future__ import annotations

import sqlite3

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel

from ..core.errors import NerStudioError
from .text import plural
from .workers import Worker

ACTIVE_ORDER = "Active learning (most informative first)"
FILE_ORDER = "File order"
NO_MODEL_REASON = ("The active-learning order needs a trained model: train one in the Train tab "
                   "(or make a finished run active).")


def refresh_worker_fn(project, run_id, suggestions, *, progress, should_stop, emit):
    """Worker function: rank the unlabelled sentences with run ``run_id``'s model (and, with
    ``suggestions``, store its suggestions too: ``usecases.suggest``); returns how many
    sentences were scored."""
    from ..core import usecases
    from .playground import import_ml

    import_ml()  # one thread at a time imports torch
    if suggestions:
        return usecases.suggest(project, str(run_id), on_progress=progress,
                                should_stop=should_stop).sentences
    return usecases.rank(project, str(run_id), on_progress=progress, should_stop=should_stop)


def order_state(store, active_run: int | None, model_dir: str | None) -> tuple[bool, str]:
    """(can the active-learning order be chosen, the line saying what it is or why not)."""
    if store is None:
        return False, "Open a project first."
    if active_run is None or model_dir is None:
        return False, NO_MODEL_REASON
    try:
        ranked_by = store.active_order_run()
    except (AttributeError, NerStudioError, sqlite3.Error):
        return False, "This version of the project store has no active-learning order."
    if ranked_by is None:
        return False, (f"Ranking the unlabelled sentences with run {active_run}'s model… (it "
                       "runs in the background; the order can be chosen when it is done)")
    text = (f"Unlabelled sentences, most informative first: ranked by run {ranked_by}'s "
            "uncertainty, similar sentences spread out. Enter goes to the next in this order.")
    if ranked_by != active_run:
        text += f" (re-ranking with run {active_run}'s model in the background)"
    return True, text


class ModelRefresher(QObject):
    """The window's background ranking (``window.refresher``)."""

    refreshed = Signal(object)   # run id whose order (and suggestions) are now stored
    state_changed = Signal()

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.worker: Worker | None = None
        self._want_suggestions = False
        self._pending = False
        self._running: tuple | None = None  # (run id, suggestions) of the running refresh
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._run)
        self.label = QLabel()
        self.label.setObjectName("order-status")
        self.label.setTextFormat(Qt.PlainText)
        self.label.hide()

    def request(self, suggestions: bool = False) -> None:
        """Refresh soon (coalesced): the order, and with ``suggestions`` the suggestions too."""
        self._want_suggestions |= suggestions
        self._pending = True
        self._timer.start()

    def _target(self):
        session = self.window.session
        if session is None or self.window.read_only:
            return None, None
        return session.active_run, self.window.active_model_dir()

    def _up_to_date(self, run_id) -> bool:
        try:
            return self.window.store.active_order_run() == run_id
        except (AttributeError, NerStudioError, sqlite3.Error):
            return True  # no order in this store: nothing to refresh

    def _run(self) -> None:
        if not self._pending:
            return
        run_id, folder = self._target()
        suggestions = self._want_suggestions
        if run_id is None or folder is None or (not suggestions and self._up_to_date(run_id)):
            self._pending = self._want_suggestions = False
            self._show("")
            return
        if self.worker is not None:
            if self._running == (run_id, suggestions or self._running[1]):
                self._pending = self._want_suggestions = False
                return  # the running one already does it
            self.worker.cancel()  # restarted with the newest model when it ends
            return
        self._pending = self._want_suggestions = False
        session = self.window.session
        worker = self.worker = Worker(refresh_worker_fn, str(session.store.path), run_id,
                                      suggestions)
        self._running = (run_id, suggestions)
        what = "Refreshing suggestions" if suggestions else "Ranking sentences for active learning"
        self._show(f"{what} with run {run_id}…")
        worker.progressed.connect(
            lambda d, t: self._show(f"{what} with run {run_id}: {d}/{t}"))
        worker.finished.connect(lambda n: self._done(worker, session, run_id, suggestions, n))
        worker.failed.connect(lambda reason: self._done(worker, session, run_id, suggestions,
                                                        None, reason))
        self.window._start(worker)
        self.state_changed.emit()

    def _done(self, worker, session, run_id, suggestions, n, reason=None) -> None:
        if worker is not self.worker:
            return
        self.worker, self._running = None, None
        cancelled = worker.cancelled
        if reason is not None:
            self._show(f"Could not rank sentences with run {run_id}: {reason}", error=True)
        elif cancelled:
            self._show("")
            if self._pending:  # a newer model asked for it meanwhile
                self._want_suggestions |= suggestions
        else:
            self._show("")
            if self.window.session is session:
                if suggestions:
                    session.notify_sentences_changed()
                self.window.statusBar().showMessage(
                    ("Suggestions and the active-learning order" if suggestions else
                     "The active-learning order") + f" refreshed with run {run_id}"
                    + (f" ({plural(n, 'sentence')})" if isinstance(n, int) else ""), 6000)
                self.refreshed.emit(run_id)
        self.state_changed.emit()
        if self._pending and self.window.session is session:
            self._timer.start()

    def _show(self, text: str, error: bool = False) -> None:
        self.label.setText(text)
        self.label.setToolTip(text)
        self.label.setStyleSheet("QLabel { color: #b00020 }" if error else "")
        self.label.setVisible(bool(text))

    def cancel(self) -> None:
        self._pending = False
        if self.worker is not None:
            self.worker.cancel()
