"""Model ▸ Find likely label errors…: the k-fold review (``core.review.review_project``) on a
worker thread, with progress and Cancel.

The review trains k models, each on the labelled sentences minus one fold (and that again with
another split: k × repeats models), and flags the tokens of the held-out folds whose gold tag
the models disagree with (cleanlab's label quality). It
starts from the base model the active run was trained from (not the active model itself, which
has seen every fold's gold), or the default base model when that was one of this project's own
runs. The flags are suggestions: the status filter's "likely errors" entry lists them, M takes
the model's label (one undoable edit), K keeps yours. A cancelled or failed review leaves the
project as it was (the core writes flags only once every fold is done).
"""
from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog

from .text import inform, plural, warn
from .workers import Worker

REVIEW_FOLDS = 5


def run_review(project, config, k, base_model_given=False, *, progress, should_stop, emit):
    """Worker function: the review use case (the training slot, the base-model rule), as
    ``nerstudio review`` runs it; its events (folds, training steps) go to the dialog."""
    from ..core import usecases
    from .playground import import_ml

    import_ml(training=True)
    return usecases.review(project, config, k, emit, should_stop,
                           base_model_given=base_model_given)


class _Progress:
    """The dialog's line and bar from the review's events: folds, and each fold's steps."""

    PER_FOLD = 100

    def __init__(self, k: int):
        self.fold, self.k = 0, k

    def line_and_value(self, event) -> tuple[str | None, int | None]:
        name = type(event).__name__
        if name == "FoldStarted":
            self.fold, self.k = event.index, event.total
            return (f"Model {event.index + 1} of {event.total}: training on "
                    f"{plural(event.n_train, 'sentence')}, judging {event.n_held_out}…",
                    self.fold * self.PER_FOLD)
        if name == "FoldDone":
            return None, (event.index + 1) * self.PER_FOLD
        if name == "Step" and getattr(event, "total_steps", 0):
            return None, self.fold * self.PER_FOLD + int(
                self.PER_FOLD * min(event.step, event.total_steps) / event.total_steps)
        if isinstance(event, str):
            return event, None
        return None, None


def start_review(window) -> Worker | None:
    """Start the review in a worker behind a non-modal progress dialog (the user keeps
    annotating), unless something refuses it; a second click shows the running one's dialog."""
    from ..core.review import DEFAULT_REPEATS
    from ..core.training import TrainConfig

    session = window.session
    if session is None or window.read_only:
        return None
    if not _may_start(window):
        return None
    store = session.store
    overrides = getattr(window, "review_overrides", {})
    config = dataclasses.replace(TrainConfig(keep_core_free=True), **overrides)
    progress = _progress_dialog(window)
    worker = Worker(run_review, str(store.path), config, REVIEW_FOLDS, "base_model" in overrides)
    window.review_worker = worker
    window.review_progress = progress
    _follow_progress(worker, progress, _Progress(REVIEW_FOLDS * DEFAULT_REPEATS))
    cancel = _cancel_on_request(worker, progress)
    _report_at_end(window, session, worker, progress, cancel)
    return window._start(worker)


def _may_start(window) -> bool:
    """False after saying why not: no trained model yet, a review already running (its
    dialog is shown again), or another training (one training at a time)."""
    if window.active_model_dir() is None:
        inform(window, "Find likely label errors", "The review needs a trained model: train one "
               "in the Train tab (or make a finished run active) first.")
        return False
    if window.review_running():
        window.review_progress.show()
        window.review_progress.raise_()
        return False
    busy = window.training_running()
    if busy:
        inform(window, "Find likely label errors", f"{busy}: the review trains models too, one "
               "training at a time. Run it once that is done (or cancel it).")
        return False
    return True


def _progress_dialog(window) -> QProgressDialog:
    """The review's dialog: non-modal (minutes long), closed by the review's end only."""
    progress = QProgressDialog("Finding likely label errors: training on parts of the labelled "
                               "sentences…", "Cancel", 0, 0, window)
    progress.setObjectName("review-progress")
    progress.setWindowTitle("Find likely label errors")
    progress.setWindowModality(Qt.NonModal)  # minutes long: the user keeps annotating
    progress.setMinimumDuration(300)
    progress.setMinimumWidth(460)
    progress.setAutoClose(False)  # the last fold's end is not the review's: cleanlab follows
    progress.setAutoReset(False)
    return progress


def _follow_progress(worker: Worker, progress: QProgressDialog, state: _Progress) -> None:
    """The dialog's line and bar follow the review's events."""
    progress.setMaximum(state.k * _Progress.PER_FOLD)

    def on_event(event):
        line, value = state.line_and_value(event)
        if line:
            progress.setLabelText(f"Finding likely label errors… {line}")
        if value is not None:
            progress.setMaximum(state.k * _Progress.PER_FOLD)
            progress.setValue(value)

    worker.event.connect(on_event)


def _cancel_on_request(worker: Worker, progress: QProgressDialog):
    """The dialog's Cancel stops the worker; returns the slot (disconnected at the end)."""
    def cancel():
        worker.cancel()
        progress.setLabelText("Cancelling: the project stays as it was…")

    progress.canceled.connect(cancel)
    return cancel


def _report_at_end(window, session, worker: Worker, progress: QProgressDialog, cancel) -> None:
    """At the review's end: close the dialog, let a waiting background run go, and say what
    the review found (or that it was cancelled, or why it failed)."""
    def close_progress():
        # closing a QProgressDialog emits canceled(): not a user's cancel, so disconnect first
        progress.canceled.disconnect(cancel)
        progress.close()
        if window.review_worker is worker:
            window.review_worker = None  # (its thread may still be winding down)
        window.keep_fresh.train_view_idle()  # a background run that waited for the review

    def finished(result):
        close_progress()
        if window.session is not session:
            return
        if worker.cancelled or result is None:
            _say_cancelled(window)
            return
        _show_flags(window, session, result)

    def failed(reason):
        close_progress()
        if worker.cancelled:
            _say_cancelled(window)
            return
        warn(window, "Find likely label errors", reason)

    worker.finished.connect(finished)
    worker.failed.connect(failed)


def _say_cancelled(window) -> None:
    window.statusBar().showMessage("Review cancelled: nothing in the project changed", 6000)


def _show_flags(window, session, result) -> None:
    """A finished review: the list shows the likely errors (in file order), or the user
    hears there are none."""
    session.notify_sentences_changed()
    flagged = window._flagged_ids()
    window._update_review_action()
    if not flagged:
        inform(window, "Find likely label errors", "No likely label errors: the held-out "
               "models agree with your labels.")
        return
    n_tokens = _count_tokens(result)
    window.statusBar().showMessage(
        f"Likely label errors in {plural(len(flagged), 'sentence')}"
        + (f" ({plural(n_tokens, 'token')})" if n_tokens else "")
        + ": M takes the model's label, K keeps yours", 10000)
    if window.active_order_on():
        window.order_combo.setCurrentText("File order")
    window.status_filter.setCurrentText("likely errors")
    window.table.setFocus()


def _count_tokens(result) -> int | None:
    if isinstance(result, int):
        return result
    for name in ("n_flags", "flags", "flagged_tokens"):
        value = getattr(result, name, None)
        if isinstance(value, int):
            return value
        if isinstance(value, (list, tuple)):
            return len(value)
    if isinstance(result, (list, tuple)):
        return len(result)
    return None
