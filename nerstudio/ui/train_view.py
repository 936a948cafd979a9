"""The Train view: base model and hyperparameters, Train / Cancel, live loss and F1 charts
(pyqtgraph), per-label scores and an entity-type confusion matrix, and the runs history.

Training runs on a :class:`Worker` thread (one CPU core left to the GUI), on a snapshot of the
project, so the user keeps annotating while it trains. Events arrive as signals on the GUI thread.

A finished run's model becomes the active one (through the project session, so the playground
follows). Selecting a past run in the runs list shows what was recorded for it in the project
file: its loss and F1 curves, per-label scores, confusion matrix and settings, also after a
restart. The list follows the session's ``runs_changed``. Every string that comes from the
project or a model (run and model names, error reasons) is shown as plain text.

Test scores (issue #14 item 4): when a run finishes and the project has labelled test sentences,
the same worker scores the saved model on them (core/evaluation.py) before it ends; "Evaluate on
test" does it for a past run. The "Test" tab shows them per label for the selected run, the runs
list its test F1. "Will more data help?" trains on growing shares of the train split in a worker
(core/curve.py, nothing recorded in the project) and plots dev F1 per share with a verdict.

This module holds the view itself (its state, the project session, starting, following and
ending a run); each other concern is a mixin in a module of its own: ``train_form`` (the form
generated from TrainConfig's metadata), ``train_charts`` (charts and score tables),
``train_runs`` (the runs list and a past run's record), ``train_run_actions`` (Resume, Make
active, Open folder, Export), ``train_evaluate`` (Evaluate on test), ``train_curve`` (Will more
data help?); ``train_jobs`` holds the functions the workers run.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QSplitter, QWidget

from ..core import usecases
from ..core.curve import DEFAULT_FRACTIONS, CurveStarted
from ..core.errors import NerStudioError
from ..core.evaluation import SplitEvaluated, SplitEvaluationStarted
from ..core.session import ProjectSession
from ..core.training import Cancelled, Evaluation, Failed, Finished, Started, Step, TrainConfig
from .safe_text import rich_plain
from .session_view import SessionView
from .train_charts import NO_RUN_SHOWN, TrainCharts
from .train_curve import TrainCurve
from .train_evaluate import TrainEvaluate
from .train_form import TRAIN_KNOBS, TrainForm
from .train_jobs import describe_device, run_training, run_training_processes
from .train_run_actions import RunActions
from .train_runs import TrainRuns
from .workers import Worker

# TRAIN_KNOBS: the form's fields (tests); describe_device: Help ▸ About names the device
__all__ = ["TRAIN_KNOBS", "TrainView", "describe_device"]


class TrainView(SessionView, TrainForm, TrainCharts, TrainCurve, TrainRuns, TrainEvaluate,
                RunActions, QWidget):
    run_finished = Signal(int)   # run id, after a finished run (to refresh the playground)
    became_idle = Signal()       # no run, curve or evaluation going (keep-fresh may start)

    def __init__(self, window):
        super().__init__()
        self._background = False  # the running run is Keep the model fresh's
        self.window = window
        self.worker: Worker | None = None
        self.eval_worker: Worker | None = None    # "Evaluate on test" of a past run
        self.curve_worker: Worker | None = None   # "Will more data help?"
        self.curve_points: list[dict] = []
        self.curve_fractions: list[float] = list(DEFAULT_FRACTIONS)
        self._curve_at: CurveStarted | None = None
        self.run_id: int | None = None
        self.shown_run: int | None = None   # the past run on the charts (None: live or none)
        self.loss_x, self.loss_y, self.dev_loss, self.evals = [], [], [], []
        self.overlays: list[tuple[QWidget, object]] = []  # (chart, dashed curve)
        self._session = None
        self._build()

    # -- the project session --------------------------------------------------------------------
    def set_session(self, session) -> None:
        """Follow this project session (None: no project): its runs and active model."""
        if session is self._session:
            return
        if self._session is not None:
            self._session.unsubscribe(self)
        self._session = session
        if session is not None:
            session.follow(self, runs_changed=self.refresh_runs,
                           active_model_changed=self._active_changed,
                           # the auto values depend on how many sentences are labelled
                           sentence_changed=self._recount, sentences_changed=self._recount)
        self.show_auto_values()
        if self.worker is None:  # another project: nothing of the last one stays on show
            self._clear_overlays()
            self._reset_charts()
            self.shown_run = None
            self.showing.setText(NO_RUN_SHOWN)
            self.progress_text.setText("Idle")
        if self.curve_worker is None:  # the last project's curve does not stay on show
            self.curve_points = []
            self.curve_line.setData([], [])
            self.curve_verdict.setText("")
        self.refresh_runs()
        if session is not None and self.worker is None:
            self._show_latest()

    def _acting_session(self):
        """The session to act through: the window's, or (before the window has one) a
        throwaway one over its store, so the same checks apply."""
        s = self.session()
        if s is None and self.store() is not None:
            s = ProjectSession(self.store())
        return s

    def _runs_changed(self) -> None:
        s = self.session()
        if s is not None:
            s.notify_runs_changed()
        else:
            self.refresh_runs()

    def _active_changed(self, _run_id=None) -> None:
        self.refresh_runs()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.session() is not None:
            self.refresh_runs()
        super().showEvent(event)

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        """The "Run" settings on the left; on the right the charts over the runs list."""
        settings = self._build_run_box(self._build_form())
        charts = self._build_charts()
        runs_box = self._build_runs_box()
        right = QSplitter()
        right.setOrientation(Qt.Vertical)
        right.addWidget(charts)
        right.addWidget(runs_box)
        right.setSizes([520, 200])
        outer = QHBoxLayout(self)
        split = QSplitter()
        split.addWidget(settings)
        split.addWidget(right)
        split.setSizes([330, 900])
        outer.addWidget(split)

    def _say(self, title: str, text: str, kind: str = "information") -> None:
        """A message box whose text (which may hold a run name or an error reason from the
        project file) shows literally."""
        getattr(QMessageBox, kind)(self, title, rich_plain(text))

    # -- running --------------------------------------------------------------------------------
    def busy(self) -> bool:
        """A run, a train curve or an evaluation is going (each trains or predicts)."""
        return any(w is not None for w in (self.worker, self.curve_worker, self.eval_worker))

    def cannot_train(self, store) -> str | None:
        """Why a new run would have nothing to learn from, or cannot start now (another
        training holds the project's slot, in this window or another process): the core's
        rules (``usecases.cannot_train``, ``slot.busy``), said as a sentence."""
        from ..core.slot import busy

        reason = usecases.cannot_train(store)
        if reason is None:
            held = busy(store.path)
            reason = held and held + ": one training at a time. Wait for it or cancel it, then train"
        return reason and reason[0].upper() + reason[1:] + "."

    def start(self, config: TrainConfig | None = None, resume_run: int | None = None,
              background: bool = False) -> Worker | None:
        """Start a run (or resume one): ``usecases.train`` in a worker; a finished run becomes
        the active model unless the publish rule says it scores worse (``_done``).
        ``background``: a run nobody clicked for (Keep the model fresh), whose failure is a line
        in the status bar and the view, not a dialog that stops the labelling."""
        store = self.store()
        if store is None:
            self._say("Train", "No project is open. Open or create one first (File ▸ Open "
                      "project…, File ▸ New project… or File ▸ Open demo project).")
            return None
        if self.worker is not None:
            return None
        refusal = self._cannot_start(store, resume_run)
        if refusal:
            self._say(*refusal)
            return None
        self._reset_charts()
        self._clear_overlays()
        self.shown_run = None
        self.showing.setText(f"Resuming run {resume_run}…" if resume_run is not None
                             else "Training a new run…")
        config, processes = config or self.config(), self.processes()
        self.worker = (Worker(run_training_processes, str(store.path), config, processes,
                              resume_run) if processes > 1 else
                       Worker(run_training, str(store.path), config, resume_run))
        self._background = background
        self.worker.event.connect(self.on_event)
        self.worker.finished.connect(self._done)
        self.worker.failed.connect(self._failed)
        self.train_button.setEnabled(False)
        self.curve_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress_text.setText("Loading the model and the data…")
        self.worker.start()  # its Started event lists the new run (its row exists by then)
        return self.worker

    def _cannot_start(self, store, resume_run: int | None) -> tuple[str, ...] | None:
        """Why Train (or Resume) cannot start now, as the message box's (title, text[, kind]):
        another training in this window, a read-only project, nothing to learn from, or a run
        that cannot be resumed."""
        if self.curve_worker is not None:
            return "Train", "The train curve is running: wait for it, or cancel it first."
        if getattr(self.window, "review_running", lambda: False)():
            return "Train", ("Find likely label errors is training its models: wait for it, or "
                             "cancel it first (one training at a time).")
        if getattr(self.window, "read_only", False):
            return "Train", ("The project is open read-only: a run is recorded in the project "
                             "file, so training needs it writable.")
        if resume_run is None:
            reason = self.cannot_train(store)
            return ("Train", reason) if reason else None
        try:
            status = store.run(resume_run)["status"]
        except NerStudioError as exc:
            return "Resume", str(exc), "warning"
        if status in ("finished", "running"):
            return "Resume", (f"Run {resume_run} is {status}: only a cancelled or failed run "
                              "can be resumed.")
        return None

    def cancel(self) -> None:
        """Stop the run or the train curve at its next step (a cancelled run can be resumed)."""
        if self.worker is not None:
            self.worker.cancel()
            self.progress_text.setText("Cancelling at the next step…")
        elif self.curve_worker is not None:
            self.curve_worker.cancel()
            self.progress_text.setText("Stopping the train curve at the next step…")

    def on_event(self, e) -> None:
        """A live run's event (on the GUI thread): the progress line, the charts, the scores."""
        if isinstance(e, Started):
            self.progress.setRange(0, e.total_steps)
            self.progress_text.setText(f"Training on {e.device_name}: {e.train_sentences} train / "
                                       f"{e.dev_sentences} dev sentences")
            self._runs_changed()
        elif isinstance(e, Step):
            self.loss_x.append(e.step)
            self.loss_y.append(e.loss)
            self.train_curve.setData(self.loss_x, self.loss_y)
            self.progress.setValue(e.step)
            eta = f"{e.eta_s / 60:.1f} min" if e.eta_s == e.eta_s else "?"
            self.progress_text.setText(f"step {e.step}/{e.total_steps} · epoch {e.epoch:.2f} · "
                                       f"{e.sentences_per_s:.0f} sentences/s · ETA {eta}")
        elif isinstance(e, Evaluation):
            self.evals.append(e)
            self._plot_evals()
            self.show_scores(e)
        elif isinstance(e, SplitEvaluationStarted):
            self.progress.setRange(0, 0)
            self.progress_text.setText(f"Run {e.run_id} finished; scoring it on "
                                       f"{e.sentences} labelled {e.split} sentences…")
        elif isinstance(e, SplitEvaluated):
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.progress_text.setText(f"Run {e.run_id} finished: {e.split} F1 "
                                       f"{e.metrics['f1']:.3f} (the Test tab has each label)")
        elif isinstance(e, str):
            self.progress_text.setText(e)
        elif isinstance(e, (Finished, Cancelled, Failed)):
            if isinstance(e, Finished):  # early stopping ends before the planned last step
                self.progress.setValue(self.progress.maximum())
            self.progress_text.setText({Finished: "Finished", Cancelled: "Cancelled: resume it "
                                        "from the runs list", Failed: "Failed"}[type(e)] +
                                       (f": {e.reason}" if isinstance(e, Failed) else ""))

    def _done(self, result) -> None:
        """The run's worker ended: show the run as recorded; a finished one becomes the active
        model unless the publish rule says it scores worse."""
        run_id, event = result
        self.run_id = run_id
        self._idle()
        self._runs_changed()
        if run_id is not None:  # None: a launch that failed before its run row existed
            self.select_run(run_id)  # as recorded: the curves, the best evaluation, settings
        if isinstance(event, Failed) and not self._background:
            self._say("Training failed", event.reason, "warning")
        if isinstance(event, Finished):
            if result.publish:  # the publish rule (usecases.publish_decision)
                self._activate(run_id)
            else:
                self.window.statusBar().showMessage(
                    f"Run {run_id} finished; {result.why_not}: the active model stays (Make "
                    "active in the runs list to use it anyway)", 10000)
        self._runs_changed()

    def _activate(self, run_id: int) -> None:
        """A finished run's model is the one the user wants to try: make it the active one."""
        try:
            self._acting_session().set_active_run(run_id)
        except NerStudioError as exc:
            self._say("Runs", str(exc), "warning")
        self.run_finished.emit(run_id)
        self.window.statusBar().showMessage(
            f"Run {run_id} finished; its model is now the active one (Playground tab)", 8000)

    def _failed(self, reason: str) -> None:
        self._idle()
        self.showing.setText("The run failed")
        if not self._background:
            self._say("Training failed", reason, "warning")
        self._runs_changed()

    def _idle(self) -> None:
        """No run or curve going: the buttons are back; keep-fresh hears the view is free."""
        self.worker = None
        self.curve_worker = None
        self.train_button.setEnabled(True)
        self.curve_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        if self.eval_worker is None:
            # queued: the slots that end a run (make it active, keep-fresh's own) run first
            QTimer.singleShot(0, self.became_idle.emit)
