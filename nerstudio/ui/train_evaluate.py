"""The Train view's "Evaluate on test": scores a past finished run on the project's labelled
test sentences in a worker (core/evaluation.py); the scores are stored with the run and shown
in the Test tab and the runs list's test F1.

A run that finishes is scored on test by its own worker; this is for a past run (one trained
before the test split had labelled sentences, or by an older version). It has its own worker,
so it may go on while nothing else trains and shares the progress bar only when the bar is
free. :class:`TrainEvaluate` is a mixin of :class:`~nerstudio.ui.train_view.TrainView`.
"""
from __future__ import annotations

from ..core.evaluation import labelled_count
from .train_jobs import run_evaluation
from .workers import Worker

TITLE = "Evaluate on test"


class TrainEvaluate:
    """Scoring the selected past run on test (a TrainView mixin)."""

    def evaluate_selected(self) -> Worker | None:
        """Score the selected run on the labelled test sentences, in a worker."""
        run_id = self._selected_one(TITLE)
        store = self.store()
        if run_id is None or store is None:
            return None
        if self.eval_worker is not None:
            return None
        refusal = self._cannot_evaluate(store, run_id)
        if refusal:
            self._say(TITLE, *refusal)
            return None
        self.eval_worker = Worker(run_evaluation, str(store.path), run_id, "test")
        self.eval_worker.progressed.connect(self._eval_progress)
        self.eval_worker.finished.connect(self._evaluated)
        self.eval_worker.failed.connect(self._eval_failed)
        self.run_evaluate_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress_text.setText(f"Scoring run {run_id} on the test split…")
        return self.eval_worker.start()

    def _cannot_evaluate(self, store, run_id: int) -> tuple[str, str] | None:
        """Why the run cannot be scored on test now, as the message box's (text, kind)."""
        if self.worker is not None:
            return ("A run is training: evaluate once it has finished (a finished run is "
                    "scored on the test split by itself)."), "information"
        if getattr(self.window, "read_only", False):
            return ("The project is open read-only: test scores are stored with the run in "
                    "the project file, so it needs to be writable."), "information"
        if store.run(run_id)["status"] != "finished":
            return (f"Run {run_id} did not finish: only a finished run has a model to "
                    "evaluate."), "warning"
        if not labelled_count(store, "test"):
            return ("The test split has no labelled sentence yet. Move some labelled sentences "
                    "to the test split (they are then never trained on) and evaluate "
                    "again."), "information"
        return None

    def _eval_progress(self, done: int, total: int) -> None:
        if self.worker is None and self.curve_worker is None:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _eval_finished(self) -> None:
        self.eval_worker = None
        self.run_evaluate_button.setEnabled(True)
        if self.worker is None and self.curve_worker is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.became_idle.emit()

    def _evaluated(self, result) -> None:
        """The scores are in the project: the runs list's test F1, and the run's Test tab."""
        run_id, metrics = result
        self._eval_finished()
        self.progress_text.setText(f"Run {run_id}: test F1 {metrics['f1']:.3f} on "
                                   f"{metrics['sentences']} sentences")
        self._runs_changed()
        if self.worker is None:
            self.select_run(run_id)
            self.show_run(run_id)
            self.tables.setCurrentWidget(self.test_tab)

    def _eval_failed(self, reason: str) -> None:
        self._eval_finished()
        self.progress_text.setText("Evaluation failed")
        self._say(TITLE, reason, "warning")
