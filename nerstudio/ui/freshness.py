"""Keep the model fresh: a training run in the background after every N newly labelled sentences.

Model ▸ Keep the model fresh (a checkable action) and Model ▸ Retrain every N labelled
sentences… are stored in the project file (meta ``keep_fresh``, ``keep_fresh_every``), so the
choice travels with the project. The counter is the number of labelled train and dev sentences
(what a run learns from) minus the number when it last started (meta ``keep_fresh_baseline``:
set when the choice is switched on and after each background run that finished).

When the counter reaches N and no run is going (none in the Train view, no train curve, no run
of another process still marked running), a run starts with the size-aware defaults
(``TrainConfig()``, one core kept for the app) from the active model's folder when its tags are
the project's (else the default base model). It runs through the Train view's own ``start``, so
the Train tab shows it live, its Train button waits for it, and on success the view makes the run
active as it does for any run, unless it scored worse than the active run on the project's own
dev split (``usecases.publish_decision``, the rule every run follows: a run never silently
replaces a better model); the window then refreshes suggestions and the active-learning order
(:class:`nerstudio.ui.active.ModelRefresher`). A run that waited for the Train view (a run, a
train curve, an evaluation) starts when the view becomes idle. The status bar shows
"Retraining in the background: step x/y" with a Cancel button. A cancelled or failed run changes
neither the active model nor the counter's start (the project is as it was, bar the run's row in
the runs list, marked cancelled); the next attempt waits for another N sentences.
"""
from __future__ import annotations

import dataclasses
import sqlite3

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QInputDialog, QLabel, QToolButton

from ..core.domain import LABELLED
from ..core.errors import NerStudioError

KEEP_FRESH_KEY = "keep_fresh"
EVERY_KEY = "keep_fresh_every"
BASELINE_KEY = "keep_fresh_baseline"
DEFAULT_EVERY = 25     # newly labelled sentences per background run
MAX_EVERY = 100_000
CHECK_DELAY_MS = 400   # labelling bursts are counted once they pause this long


def project_tags(store) -> list[str]:
    """The tags a run on this project trains (as ``TrainingData.from_sentences`` makes them)."""
    from ..core.training.data import run_tags

    return run_tags(store.label_set().names)


def run_to_continue(store, active_run: int | None) -> str | None:
    """The active run's folder when its model was trained on exactly the project's tags (the
    next run continues from it: incremental.py), else None (a run from the base model)."""
    from ..core.runs import model_dir

    if active_run is None:
        return None
    try:
        run = store.run(active_run)
        folder = model_dir(store, active_run)
    except (NerStudioError, sqlite3.Error):
        return None
    tags = run.get("labels") or []
    if not folder.is_dir() or sorted(tags) != sorted(project_tags(store)):
        return None
    return str(folder.parent)  # the run's folder, its model inside


def labelled_count(store) -> int:
    """Labelled (or reviewed) sentences a run learns from: train, dev and those in no split
    (``runs.snapshot`` trains on them too)."""
    return sum(store.count(split=split, status=LABELLED)
               for split in ("train", "dev", "unassigned"))


class KeepFresh(QObject):
    """The window's background retraining (``window.keep_fresh``)."""

    changed = Signal()            # the status text changed
    started = Signal(object)      # the background run's Worker
    done = Signal(object)         # (run_id, final event), or a failure reason (str)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.worker = None                 # the background run's Worker, while it runs
        self.run_id: int | None = None
        self.config_overrides: dict = {}   # TrainConfig fields set on top of the defaults
        self._start_count: int | None = None  # labelled count when the running run started
        self._snoozed_at: int | None = None   # after a cancel / failure: wait N from here
        self._step = (0, 0)
        self._session = None
        self._check_timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self.check)
        self.label = QLabel()
        self.label.setObjectName("keep-fresh-status")
        self.label.setTextFormat(Qt.PlainText)
        self.label.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("keep-fresh-cancel")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Cancel the background run: the active model stays as it is")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()

    # -- the project --------------------------------------------------------------------------
    @property
    def store(self):
        return self.window.store

    def set_session(self, session) -> None:
        if session is self._session:
            return
        if self._session is not None:
            self._session.unsubscribe(self)
        self._session = session
        self._snoozed_at = None
        if session is not None:
            session.follow(self, sentence_changed=self._labelling,
                           sentences_changed=self._labelling_many)
            if self.enabled():
                QTimer.singleShot(0, self.check)
        self.update_text()

    def _labelling(self, _sentence_id=None) -> None:
        if self.enabled():
            self._check_timer.start()

    def _labelling_many(self) -> None:
        self._labelling()

    def train_view_idle(self) -> None:
        """The Train view finished a run, a train curve or an evaluation: a run that waited
        for it ("waits: the Train view is busy") starts now, without another label."""
        if self.enabled() and self.worker is None:
            self._check_timer.start()

    def _meta(self, key, default=None):
        try:
            return self.store.meta(key, default) if self.store is not None else default
        except (NerStudioError, sqlite3.Error):
            return default

    def enabled(self) -> bool:
        return bool(self._meta(KEEP_FRESH_KEY, False))

    def every(self) -> int:
        try:
            return max(1, int(self._meta(EVERY_KEY, DEFAULT_EVERY)))
        except (TypeError, ValueError):
            return DEFAULT_EVERY

    def count(self) -> int:
        return labelled_count(self.store)

    def since(self) -> int:
        """Newly labelled train/dev sentences since the counter last started."""
        try:
            now = self.count()
        except (NerStudioError, sqlite3.Error):
            return 0
        base = self._meta(BASELINE_KEY, None)
        return max(0, now - (int(base) if base is not None else now))

    def _set_meta(self, key, value) -> bool:
        try:
            self.store.set_meta(key, value)
            return True
        except (NerStudioError, sqlite3.Error) as exc:
            from .text import warn

            warn(self.window, "Keep the model fresh", f"The setting was not saved: {exc}")
            return False

    def set_enabled(self, on: bool) -> None:
        """Switch it on (the count starts now) or off (a running background run goes on)."""
        if self.store is None:
            return
        if on and not self.enabled():
            self._set_meta(BASELINE_KEY, self.count())
        self._set_meta(KEEP_FRESH_KEY, bool(on))
        self._snoozed_at = None
        if on:
            self.window.statusBar().showMessage(
                f"A run starts in the background after every {self.every()} newly labelled "
                "sentences", 6000)
            QTimer.singleShot(0, lambda: self.window.train_view)  # built now, not mid-labelling
        self.update_text()
        self.check()

    def ask_every(self) -> None:
        """Model ▸ Retrain every N…: ask for N."""
        if self.store is None:
            return
        n, ok = QInputDialog.getInt(self.window, "Keep the model fresh",
                                    "Start a background run after this many newly labelled "
                                    "sentences:", self.every(), 1, MAX_EVERY)
        if ok:
            self._set_meta(EVERY_KEY, int(n))
            self.update_text()
            self.check()

    # -- starting -----------------------------------------------------------------------------
    def busy_reason(self) -> str | None:
        """Why no background run can start now (a run is going), or None."""
        if self.worker is not None:
            return "a background run is going"
        if self.window.review_running():
            return "Find likely label errors is running"
        view = self.window._train_view
        if view is not None and view.busy():
            return "the Train view is busy"
        from ..core.slot import busy  # another process's run, review or train curve

        return busy(self.store.path)

    def due(self) -> bool:
        if self.store is None or self.window.read_only or not self.enabled():
            return False
        since = self.since()
        if self._snoozed_at is not None:
            try:
                since = min(since, self.count() - self._snoozed_at)
            except (NerStudioError, sqlite3.Error):
                return False
        return since >= self.every()

    def check(self) -> bool:
        """Start a background run when one is due and none is going; True when one started."""
        self.update_text()
        if not self.due() or self.busy_reason() is not None:
            return False
        view = self.window.train_view
        try:
            if view.cannot_train(self.store):
                return False
        except (NerStudioError, sqlite3.Error):
            return False
        return self.start() is not None

    def config(self):
        from ..core.training import TrainConfig

        run = run_to_continue(self.store, self._meta("active_run"))
        config = TrainConfig(keep_core_free=True)
        if run is not None:
            config = dataclasses.replace(config, continue_from=run)
        return dataclasses.replace(config, **self.config_overrides)

    def start(self):
        """Start the run now, through the Train view (which shows it and makes it active)."""
        view = self.window.train_view
        start_count = self.count()
        worker = view.start(self.config(), background=True)
        if worker is None:
            return None
        self.worker, self.run_id, self._start_count, self._step = worker, None, start_count, (0, 0)
        worker.event.connect(self._event)
        worker.finished.connect(self._finished)
        worker.failed.connect(self._failed)
        self.cancel_button.show()
        self.update_text()
        self.started.emit(worker)
        return worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.label.setText("Cancelling the background run…")

    # -- the run ------------------------------------------------------------------------------
    def _event(self, e) -> None:
        name = type(e).__name__
        if name == "Started":
            self._step = (0, e.total_steps)
        elif name == "Step":
            self._step = (e.step, e.total_steps)
        else:
            return
        self.update_text()

    def _finished(self, result) -> None:
        run_id, event = result
        self.worker, self.run_id = None, run_id
        self.cancel_button.hide()
        finished = type(event).__name__ == "Finished"
        if finished:  # the labels it learnt from count as used (also when it scored worse)
            self._drop_checkpoints(run_id)
            if self._start_count is not None and self.store is not None:
                try:
                    self.store.set_meta(BASELINE_KEY, self._start_count)
                except (NerStudioError, sqlite3.Error):
                    pass
            self._snoozed_at = None
        if not finished:
            self._snooze()
            what = ("was cancelled" if type(event).__name__ == "Cancelled" else
                    f"failed ({getattr(event, 'reason', 'no reason given')})")
            self.window.statusBar().showMessage(
                f"Background run {run_id} {what}: the active model is unchanged", 15000)
        elif self._meta("active_run") == run_id:  # (not: it scored worse, the view said so)
            refresher = getattr(self.window, "refresher", None)
            if refresher is not None:  # new suggestions and a new order from the new model
                refresher.request(suggestions=True)
            self.window.statusBar().showMessage(
                f"Background run {run_id} finished: its model is now the active one", 8000)
        self.update_text()
        self.done.emit(result)

    def _drop_checkpoints(self, run_id) -> None:
        """A finished background run's resume checkpoints go (its model folder stays): a
        session of keep-fresh runs kept 540 MB of them per run and filled the disk."""
        from ..core.runs import model_dir, run_folder
        from ..core.training.checkpoints import drop_checkpoints

        try:
            drop_checkpoints(run_folder(self.store, run_id), model_dir(self.store, run_id))
        except (NerStudioError, sqlite3.Error, OSError):
            pass  # they stay: a later run is not affected

    def _failed(self, reason: str) -> None:
        self.worker = None
        self.cancel_button.hide()
        self.window.statusBar().showMessage(
            f"Background run failed ({reason}): the active model is unchanged", 15000)
        self._snooze()
        self.update_text()
        self.done.emit(reason)

    def _snooze(self) -> None:
        try:
            self._snoozed_at = self.count()
        except (NerStudioError, sqlite3.Error):
            self._snoozed_at = None

    # -- the status bar -----------------------------------------------------------------------
    def update_text(self) -> None:
        if self.worker is not None:
            step, total = self._step
            text = ("Retraining in the background: step " + (f"{step}/{total}" if total else
                                                              "0 (loading the model)"))
            tip = ("A background run of Model ▸ Keep the model fresh; keep annotating. The Train "
                   "tab shows it live. Cancel leaves the active model as it is.")
        elif self.store is not None and self.enabled():
            text = f"Keep fresh: {self.since()}/{self.every()} newly labelled"
            tip = (f"A run starts in the background after {self.every()} newly labelled train or "
                   "dev sentences (Model ▸ Keep the model fresh).")
            reason = self.busy_reason() if self.since() >= self.every() else None
            if reason:
                text += f" · waits: {reason}"
        else:
            text, tip = "", ""
        self.label.setText(text)
        self.label.setToolTip(tip)
        self.label.setVisible(bool(text))
        self.changed.emit()
