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
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import fields
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView,
                               QLabel, QMessageBox, QProgressBar, QPushButton, QSizePolicy,
                               QSpinBox, QSplitter, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from ..core import usecases
from ..core import runs as runs_module
from ..core.curve import DEFAULT_FRACTIONS, CurvePoint, CurveStarted, verdict
from ..core.errors import NerStudioError
from ..core.evaluation import (SplitEvaluated, SplitEvaluationStarted, evaluate_run,
                               labelled_count)
from ..core.heap import freeze_heap
from ..core.runs import model_dir, runs_dir
from ..core.session import ProjectSession
from ..core.training import (Cancelled, Evaluation, Failed, Finished, Started, Step, TrainConfig)
from .playground import import_ml
from .safe_text import rich_plain
from .session_view import SessionView
from .workers import Worker

def knob_help(name: str) -> str:
    """The field's help text from TrainConfig's metadata (the CLI shows the same)."""
    return TRAIN_KNOBS[name].metadata["help"]


TRAIN_KNOBS = {f.name: f for f in fields(TrainConfig)}


def _gui_threads() -> int:
    return max(1, (os.cpu_count() or 1) - 1)  # one core kept for the app


def run_training(project, config, resume_run=None, *, progress, should_stop, emit):
    """Worker function: the train use case (the project's training slot, the run, its test
    scores, the publish decision: ``usecases.train``, as ``nerstudio train`` runs it)."""
    import_ml(training=True)
    return usecases.train(project, config, emit, should_stop, resume_run,
                          threads=_gui_threads())


def run_training_processes(project, config, processes, resume_run=None, *, progress,
                           should_stop, emit):
    """Worker function for "Use all N GPUs": ``nerstudio train --processes N`` in a subprocess
    (PyTorch DDP through torchrun, as on the command line); rank 0's events arrive as JSON lines
    and are emitted as the same typed events a local run emits, Cancel stops every rank. The
    launched command takes the training slot itself."""
    from ..core.training.distributed import stream_processes

    def launch(project, config, emit, should_stop):
        return stream_processes(project, config, processes, resume_run, emit, should_stop)

    return usecases.train(project, config, emit, should_stop, resume_run, slot=False,
                          run=launch, threads=_gui_threads())


def gpu_count() -> int:
    """CUDA devices this machine has (0 without CUDA); called on the warm-up worker."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def run_evaluation(project, run_id, split="test", *, progress, should_stop, emit):
    """Worker function: score a past run on a split (stored with the run)."""
    import_ml(training=True)
    return run_id, evaluate_run(project, run_id, split, progress, should_stop,
                                threads=_gui_threads())


def run_curve(project, config, fractions=DEFAULT_FRACTIONS, *, progress, should_stop, emit):
    """Worker function: the train curve in the training slot (nothing recorded in the project)."""
    import_ml(training=True)
    return usecases.train_curve(project, fractions, config, emit, should_stop)


def describe_model(name: str) -> str:
    """Parameters and cased/uncased for a local model folder (or the embedded one)."""
    from ..core.training.engine import resolve_base_model

    try:
        path = Path(resolve_base_model(name))
    except Exception:  # noqa: BLE001
        return "embedded model package missing"
    cfg_file = path / "config.json"
    if not cfg_file.exists():
        return "hub model: details once downloaded" if "/" in name or not path.exists() else \
            "no config.json in this folder"
    cfg = json.loads(cfg_file.read_text())
    h, n, v = cfg.get("hidden_size", 0), cfg.get("num_hidden_layers", 0), cfg.get("vocab_size", 0)
    params = (12 * h * h * n + v * h) / 1e6
    tok = {}
    tok_file = path / "tokenizer_config.json"
    if tok_file.exists():
        tok = json.loads(tok_file.read_text())
    cased = "uncased" if tok.get("do_lower_case", "uncased" in str(cfg.get("_name_or_path", ""))) \
        else "cased"
    size = f"~{params:.0f}M" if params >= 1 else "<1M"
    return f"{cfg.get('model_type', '?')}, {n} layers, {size} parameters, {cased}"


def _warm_up(**_kw) -> tuple[str, int]:
    """Import what a run needs (C extensions hold the GIL while they load), name the device
    and count the GPUs."""
    import_ml(training=True)
    return describe_device(), gpu_count()


def describe_device() -> str:
    import torch

    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        return f"GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "GPU: Apple MPS"
    n = os.cpu_count() or 1
    return f"CPU: {n} cores ({max(1, n - 1)} used for training, one kept for the app)"


def _plot(title: str, y_label: str | None = None) -> pg.PlotWidget:
    """A chart whose legend sits below the plot area (in the plot's own layout), so it never
    covers a curve; curves added with ``name=`` join it, removed ones leave it."""
    widget = pg.PlotWidget(title=title)
    item = widget.getPlotItem()
    legend = pg.LegendItem(colCount=3)
    item.layout.addItem(legend, 4, 1)
    item.legend = legend
    item.setLabel("bottom", "step")
    if y_label:
        item.setLabel("left", y_label)
    return widget


def _run_folder(store, run: dict) -> Path:
    """A run's folder (stored relative to the project file's folder by newer versions)."""
    resolve = getattr(runs_module, "run_folder", None)
    if resolve is not None:
        return resolve(store, run)
    folder = Path(run.get("output_dir") or "")
    return folder if folder.is_absolute() else Path(store.path).parent / folder


def _evaluation(m: dict) -> Evaluation:
    """An Evaluation back from its stored ``run_metrics`` row."""
    names = {f.name for f in fields(Evaluation)}
    return Evaluation(**{k: v for k, v in m.items() if k in names})


OVERLAY_COLOURS = ["#999999", "#d4a017", "#17a2b8", "#6c757d"]


class TrainView(SessionView, QWidget):
    run_finished = Signal(int)   # run id, after a finished run (to refresh the playground)
    became_idle = Signal()       # no run, curve or evaluation going (keep-fresh may start)

    def __init__(self, window):
        super().__init__()
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
        self.overlays: list[tuple[pg.PlotWidget, object]] = []
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
            self.showing.setText("Select a run in the runs list to see its charts, or train one.")
            self.progress_text.setText("Idle")
        if self.curve_worker is None:  # the last project's curve does not stay on show
            self.curve_points = []
            self.curve_line.setData([], [])
            self.curve_verdict.setText("")
        self.refresh_runs()
        if session is not None and self.worker is None:
            self._show_latest()

    def _show_latest(self) -> None:
        """On opening a project: the active run's results (else the newest run's), selected."""
        store = self.store()
        runs = store.runs() if store is not None else []
        if not runs:
            return
        active = store.meta("active_run")
        run_id = active if any(r["id"] == active for r in runs) else runs[-1]["id"]
        self.select_run(run_id)

    def select_run(self, run_id: int) -> None:
        """Select the run's row (which shows it, as a click would)."""
        for r in range(self.runs.rowCount()):
            item = self.runs.item(r, 0)
            if item is not None and item.text() == str(run_id):
                self.runs.setCurrentCell(r, 0)
                self.runs.selectRow(r)
                if self.shown_run != run_id:
                    self.show_run(run_id)
                return

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
        form = QFormLayout()
        self.base_model = QComboBox()
        self.base_model.setEditable(True)
        self.base_model.addItems(["embedded", "bert-base-cased", "bert-base-uncased",
                                  "distilbert-base-uncased", "roberta-base"])
        self.base_model.setToolTip("'embedded' works offline; a hub name needs the network; "
                                   "or browse to a local folder")
        browse = QPushButton("Folder…")
        browse.clicked.connect(lambda _=False: self._browse_model())
        row = QHBoxLayout()
        row.addWidget(self.base_model, 1)
        row.addWidget(browse)
        form.addRow("Base model", row)
        self.model_info = QLabel()
        self.model_info.setTextFormat(Qt.PlainText)
        self.model_info.setWordWrap(True)
        form.addRow("", self.model_info)
        self.base_model.currentTextChanged.connect(
            lambda t: self.model_info.setText(describe_model(t.strip())))
        self.model_info.setText(describe_model("embedded"))
        self.knobs = self._add_knobs(form)
        (self.lr, self.batch, self.epochs, self.seed, self.wd, self.warmup, self.patience,
         self.accum, self.precision, self.eval_every) = (self.knobs[name] for name in (
            "learning_rate", "batch_size", "epochs", "seed", "weight_decay", "warmup_ratio",
            "early_stopping_patience", "gradient_accumulation", "mixed_precision",
            "eval_every"))
        # what "auto" will be for this project, shown before the run starts (and kept current)
        self.auto_info = QLabel("")
        self.auto_info.setObjectName("auto-info")
        self.auto_info.setTextFormat(Qt.PlainText)
        self.auto_info.setWordWrap(True)
        form.addRow("", self.auto_info)
        self._auto_timer = QTimer(self)
        self._auto_timer.setSingleShot(True)
        self._auto_timer.setInterval(100)  # a burst of edits costs one count
        self._auto_timer.timeout.connect(self.show_auto_values)
        for w in self.knobs.values():
            if hasattr(w, "valueChanged"):
                w.valueChanged.connect(lambda _v: self._auto_timer.start())
        self.device = QLabel("(checking…)")
        self.device.setTextFormat(Qt.PlainText)
        self.device.setWordWrap(True)
        form.addRow("Device", self.device)
        self.gpus = 0
        self.all_gpus = QCheckBox()
        self.all_gpus.setObjectName("all-gpus")
        self.all_gpus.setToolTip(
            "Train with one process per GPU (PyTorch DistributedDataParallel through torchrun, "
            "as `nerstudio train PROJECT --processes N`). The batch size is the global batch, "
            "so it must divide by the number of GPUs; Cancel stops every process.")
        self.all_gpus.setVisible(False)
        form.addRow("", self.all_gpus)
        self.warm_up()

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(lambda _=False: self.start())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda _=False: self.cancel())
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        self.curve_button = QPushButton("Will more data help?")
        self.curve_button.setToolTip(
            "train on 25, 50, 75 and 100 % of the labelled train sentences with these settings "
            "and chart dev F1 for each: still rising at 100 % means labelling more will likely "
            "help. Nothing is recorded in the project; Cancel stops it.")
        self.curve_button.clicked.connect(lambda _=False: self.start_curve())
        self.progress = QProgressBar()
        self.progress_text = QLabel("Idle")
        self.progress_text.setTextFormat(Qt.PlainText)
        self.progress_text.setWordWrap(True)
        settings = QGroupBox("Run")
        sv = QVBoxLayout(settings)
        sv.addLayout(form)
        sv.addLayout(buttons)
        sv.addWidget(self.curve_button)
        sv.addWidget(self.progress)
        sv.addWidget(self.progress_text)
        sv.addStretch()

        pg.setConfigOptions(antialias=True)
        self.loss_plot = _plot("Loss")
        self.train_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#3d7bd9", width=2), name="train")
        self.dev_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#e07b39", width=2), symbol="o",
                                             name="dev")
        self.f1_plot = _plot("Dev scores")
        self.f1_plot.setYRange(0, 1)
        self.f1_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#2a9d55", width=2), symbol="o", name="F1")
        self.p_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#8e6bd1", width=1), symbol="t", name="precision")
        self.r_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#c94f7c", width=1), symbol="s", name="recall")
        self.per_label = QTableWidget(0, 5)
        self.per_label.setHorizontalHeaderLabels(["label", "precision", "recall", "F1", "support"])
        self.per_label.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.per_label.verticalHeader().hide()
        self.per_label.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.confusion = QTableWidget(0, 0)
        self.confusion.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.run_settings = QTableWidget(0, 2)
        self.run_settings.setHorizontalHeaderLabels(["setting", "value"])
        self.run_settings.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.run_settings.horizontalHeader().setStretchLastSection(True)
        self.run_settings.verticalHeader().hide()
        self.run_settings.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.test_table = QTableWidget(0, 5)
        self.test_table.setHorizontalHeaderLabels(["label", "precision", "recall", "F1", "support"])
        self.test_table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.test_table.verticalHeader().hide()
        self.test_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.test_caption = QLabel()
        self.test_caption.setTextFormat(Qt.PlainText)
        self.test_caption.setWordWrap(True)
        self.test_tab = QWidget()
        tv = QVBoxLayout(self.test_tab)
        tv.setContentsMargins(2, 2, 2, 2)
        tv.addWidget(self.test_caption)
        tv.addWidget(self.test_table, 1)
        self.curve_plot = _plot("Dev F1 by share of the train split", "dev F1")
        self.curve_plot.getPlotItem().setLabel("bottom", "% of the labelled train sentences")
        self.curve_plot.setYRange(0, 1)
        self.curve_plot.setXRange(0, 100)
        # its size hint (pyqtgraph's 640 x 480) would grow the tabs and squash the charts above
        self.curve_plot.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Ignored)
        self.curve_plot.setMinimumHeight(140)
        self.curve_line = self.curve_plot.plot([], [], pen=pg.mkPen("#2a9d55", width=2),
                                               symbol="o")
        self.curve_verdict = QLabel("Will more data help? Click the button under Train: it "
                                    "trains on growing shares of the train split and shows "
                                    "whether dev F1 is still rising.")
        self.curve_verdict.setTextFormat(Qt.PlainText)
        self.curve_verdict.setWordWrap(True)
        self.curve_tab = QWidget()
        cv = QVBoxLayout(self.curve_tab)
        cv.setContentsMargins(2, 2, 2, 2)
        cv.addWidget(self.curve_plot, 1)
        cv.addWidget(self.curve_verdict)
        self.tables = QTabWidget()
        self.tables.addTab(self.per_label, "Per label")
        self.tables.addTab(self.test_tab, "Test")
        self.tables.addTab(self.confusion, "Confusion (gold rows, predicted columns)")
        self.tables.addTab(self.run_settings, "Settings")
        self.tables.addTab(self.curve_tab, "More data?")
        self.tables.setMinimumHeight(190)  # header and 4+ label rows without scrolling
        self.showing = QLabel("Select a run in the runs list to see its charts, or train one.")
        self.showing.setTextFormat(Qt.PlainText)
        charts = QWidget()
        grid = QGridLayout(charts)
        grid.addWidget(self.showing, 0, 0, 1, 2)
        grid.addWidget(self.loss_plot, 1, 0)
        grid.addWidget(self.f1_plot, 1, 1)
        grid.addWidget(self.tables, 2, 0, 1, 2)
        grid.setRowStretch(1, 3)
        grid.setRowStretch(2, 2)

        self.runs = QTableWidget(0, 8)
        self.runs.setHorizontalHeaderLabels(["run", "base model", "started", "duration", "best dev F1",
                                             "status", "active", "test F1"])
        self.runs.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.runs.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.runs.verticalHeader().hide()
        self.runs.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.runs.horizontalHeader().setStretchLastSection(True)
        self.runs.itemSelectionChanged.connect(self._selection_changed)
        run_buttons = QHBoxLayout()
        for text, slot, tip in (
                ("Overlay selected", self.overlay_selected,
                 "draw the selected runs' loss and F1 curves (dashed) over the charts"),
                ("Resume", self.resume, "continue a cancelled or failed run from its checkpoint"),
                ("Evaluate on test", self.evaluate_selected,
                 "score the run's model on the labelled test sentences (precision, recall, F1 "
                 "per label; shown in the Test tab and stored with the run)"),
                ("Make active", self.make_active, "use this run's model in the playground and "
                 "for pre-annotation"),
                ("Open folder", self.open_folder, "show the run's folder in the file manager"),
                ("Export…", self.export_run, "copy the run's model folder elsewhere")):
            b = QPushButton(text)
            b.setObjectName("run-" + text.split()[0].lower().rstrip("…"))
            b.setToolTip(tip)
            b.clicked.connect(lambda _=False, f=slot: f())
            run_buttons.addWidget(b)
            setattr(self, "run_" + text.split()[0].lower().rstrip("…") + "_button", b)
        runs_box = QGroupBox("Runs")
        rv = QVBoxLayout(runs_box)
        rv.addWidget(self.runs)
        rv.addLayout(run_buttons)

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

    def warm_up(self) -> Worker:
        """Import torch (seconds) on a worker thread at start-up, naming the device: the GUI
        thread never imports it, and Train starts without that wait."""
        self._warm = Worker(_warm_up)
        self._warm.finished.connect(self._warmed)
        self._warm.finished.connect(lambda _t: freeze_heap())
        self._warm.failed.connect(lambda r: self.device.setText(f"unknown ({r})"))
        return self._warm.start()

    def _warmed(self, result) -> None:
        text, gpus = result
        self.device.setText(text)
        self.offer_gpus(gpus)

    def offer_gpus(self, gpus: int) -> None:
        """More than one GPU: offer to train on all of them (one process each, DDP)."""
        self.gpus = gpus
        self.all_gpus.setText(f"Use all {gpus} GPUs")
        # a frozen app has no `python -m nerstudio` to start the processes with
        self.all_gpus.setVisible(gpus > 1 and not getattr(sys, "frozen", False))

    def processes(self) -> int:
        """Processes the next run uses: every GPU when "Use all N GPUs" is ticked."""
        return self.gpus if self.gpus > 1 and self.all_gpus.isChecked() else 1

    def _spin(self, w, value, lo, hi, decimals=None, step=None):
        w.setRange(lo, hi)
        if decimals is not None:
            w.setDecimals(decimals)
        if step is not None:
            w.setSingleStep(step)
        w.setValue(value)
        return w

    def _add_knobs(self, form: QFormLayout) -> dict:
        """The form's rows, generated from TrainConfig's metadata (``form`` fields, in the
        dataclass's order): a spin box for a number ("auto" below its range for an auto
        field), a list for choices, an editable list for ``suggestions``; the label and
        tooltip are the metadata's. Returns {field name: widget}."""
        knobs = {}
        for name, f in TRAIN_KNOBS.items():
            m = f.metadata
            if not m.get("form"):
                continue
            if m["choices"] or m["suggestions"]:
                w = QComboBox()
                w.setEditable(bool(m["suggestions"]))
                w.addItems(list(m["choices"] or m["suggestions"]))
                w.setCurrentText(str(f.default))
            else:
                w = self._knob_spin(name)
            w.setToolTip(knob_help(name))
            form.addRow(m["label"], w)
            knobs[name] = w
        return knobs

    def _knob_value(self, name: str):
        w = self.knobs[name]
        if isinstance(w, QComboBox):
            return w.currentText().strip()
        return self._auto_value(w) if TRAIN_KNOBS[name].default is None else w.value()

    def _knob_spin(self, name: str):
        """A spin box for a TrainConfig field, with the range, step and decimals its metadata
        gives; an "auto" field (default None) gets one more value below its range that reads
        "auto"."""
        f = TRAIN_KNOBS[name]
        m = f.metadata
        is_int = m["kind"] is int
        w = QSpinBox() if is_int else QDoubleSpinBox()
        step = m["step"] or (1 if is_int else 10 ** -(m["decimals"] or 2))
        lo, hi = m["lo"], m["hi"]
        if f.default is None:
            return self._auto_spin(w, None, lo - step, hi, m["decimals"], step)
        return self._spin(w, f.default, lo, hi, m["decimals"], step)

    def _auto_spin(self, w, value, lo, hi, decimals=None, step=None):
        """A spin box whose minimum reads "auto" (the config's None)."""
        w.setSpecialValueText("auto")
        return self._spin(w, lo if value is None else value, lo, hi, decimals, step)

    @staticmethod
    def _auto_value(w):
        return None if w.value() == w.minimum() else w.value()

    def _browse_model(self):
        path = QFileDialog.getExistingDirectory(self, "Base model folder")
        if path:
            self.base_model.setCurrentText(path)

    def _recount(self, *_args) -> None:
        self._auto_timer.start()

    def show_auto_values(self) -> None:
        """"auto: batch 8, lr 0.0001, 18 epochs, ... for 180 train sentences": the values the
        next run will use for every field left on auto (the engine resolves the same way)."""
        session = self._session
        config = self.config()
        auto = config.auto_fields()
        if session is None or not auto:
            self.auto_info.setText("")
            return
        n_train, _dev = usecases.train_sizes(session.store, config)
        resolved = config.resolved(max(1, n_train))
        names = {"batch_size": "batch", "learning_rate": "lr", "epochs": "epochs",
                 "warmup_ratio": "warm-up", "early_stopping_patience": "early-stop patience"}
        values = ", ".join(f"{names[k]} {getattr(resolved, k):g}" for k in auto)
        self.auto_info.setText(f"auto, for {n_train} train sentences: {values}")

    def config(self) -> TrainConfig:
        """The form's values (every field it shows, from TrainConfig's metadata); the app keeps
        one core free for itself."""
        return TrainConfig(base_model=self.base_model.currentText().strip() or "embedded",
                           keep_core_free=True,
                           **{name: self._knob_value(name) for name in self.knobs})

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
        rules (``usecases.cannot_train``, ``slot.holder``), said as a sentence."""
        from ..core.slot import holder

        reason = usecases.cannot_train(store)
        if reason is None:
            busy = holder(store.path)
            reason = busy and (f"{busy} is training on this project: one training at a time. "
                               "Wait for it or cancel it, then train")
        return reason and reason[0].upper() + reason[1:] + "."

    def start(self, config: TrainConfig | None = None, resume_run: int | None = None
              ) -> Worker | None:
        """Start a run (or resume one): ``usecases.train`` in a worker; a finished run becomes
        the active model unless the publish rule says it scores worse (``_done``)."""
        store = self.store()
        if store is None:
            self._say("Train", "No project is open. Open or create one first (File ▸ Open "
                      "project…, File ▸ New project… or File ▸ Open demo project).")
            return None
        if self.worker is not None:
            return None
        if self.curve_worker is not None:
            self._say("Train", "The train curve is running: wait for it, or cancel it first.")
            return None
        if getattr(self.window, "review_running", lambda: False)():
            self._say("Train", "Find likely label errors is training its models: wait for it, "
                      "or cancel it first (one training at a time).")
            return None
        if getattr(self.window, "read_only", False):
            self._say("Train", "The project is open read-only: a run is recorded in the project "
                      "file, so training needs it writable.")
            return None
        if resume_run is None:
            reason = self.cannot_train(store)
            if reason:
                self._say("Train", reason)
                return None
        else:
            try:
                status = store.run(resume_run)["status"]
            except NerStudioError as exc:
                self._say("Resume", str(exc), "warning")
                return None
            if status in ("finished", "running"):
                self._say("Resume", f"Run {resume_run} is {status}: only a cancelled or failed "
                          "run can be resumed.")
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

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.progress_text.setText("Cancelling at the next step…")
        elif self.curve_worker is not None:
            self.curve_worker.cancel()
            self.progress_text.setText("Stopping the train curve at the next step…")

    def on_event(self, e) -> None:
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

    def _plot_evals(self) -> None:
        xs = [v.step for v in self.evals]
        self.dev_curve.setData(xs, [v.loss for v in self.evals])
        self.f1_curve.setData(xs, [v.f1 for v in self.evals])
        self.p_curve.setData(xs, [v.precision for v in self.evals])
        self.r_curve.setData(xs, [v.recall for v in self.evals])

    def show_scores(self, e: Evaluation) -> None:
        self.per_label.setRowCount(len(e.per_label))
        for r, (label, s) in enumerate(sorted(e.per_label.items())):
            support = s.get("support")
            for c, v in enumerate([label, f"{s['precision']:.3f}", f"{s['recall']:.3f}",
                                   f"{s['f1']:.3f}", "" if support is None else str(support)]):
                self.per_label.setItem(r, c, QTableWidgetItem(v))
        names = sorted({k for k in e.confusion} | {p for row in e.confusion.values() for p in row})
        names = [n for n in names if n != "O"] + ["O"] if names else []
        self.confusion.setRowCount(len(names))
        self.confusion.setColumnCount(len(names))
        self.confusion.setHorizontalHeaderLabels(names)
        self.confusion.setVerticalHeaderLabels(names)
        for r, g in enumerate(names):
            for c, p in enumerate(names):
                n = e.confusion.get(g, {}).get(p, 0)
                self.confusion.setItem(r, c, QTableWidgetItem(str(n) if n else ""))

    def _done(self, result) -> None:
        run_id, event = result
        self.run_id = run_id
        self._idle()
        self._runs_changed()
        if run_id is not None:  # None: a launch that failed before its run row existed
            self.select_run(run_id)  # as recorded: the curves, the best evaluation, settings
        if isinstance(event, Failed):
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
        self._say("Training failed", reason, "warning")
        self._runs_changed()

    def _idle(self) -> None:
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

    def _reset_charts(self) -> None:
        self.loss_x, self.loss_y, self.evals = [], [], []
        for curve in (self.train_curve, self.dev_curve, self.f1_curve, self.p_curve, self.r_curve):
            curve.setData([], [])
        self.per_label.setRowCount(0)
        self.test_table.setRowCount(0)
        self.test_caption.setText("")
        self.confusion.setRowCount(0)
        self.confusion.setColumnCount(0)
        self.run_settings.setRowCount(0)

    # -- runs history ---------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        store = self.store()
        if store is None:
            self.runs.setRowCount(0)
            return
        reconcile = getattr(runs_module, "reconcile", None)
        if reconcile is not None and self.worker is None:
            try:  # a 'running' run whose process died (a crash, a kill) becomes 'interrupted'
                reconcile(store)
            except NerStudioError:
                pass
        runs = store.runs()
        active = store.meta("active_run")
        keep = set(self.selected_runs())
        self.runs.blockSignals(True)
        try:
            self.runs.clearSelection()
            self.runs.setRowCount(len(runs))
            for r, run in enumerate(reversed(runs)):
                status = run["status"] + (f": {run['error']}" if run.get("error") else "")
                dur = f"{run['duration_s'] / 60:.1f} min" if run.get("duration_s") else ""
                f1 = f"{run['best_f1']:.4f}" if run.get("best_f1") is not None else ""
                test = (run.get("evaluations") or {}).get("test") or {}
                test_f1 = f"{test['f1']:.4f}" if test.get("f1") is not None else ""
                for c, v in enumerate([str(run["id"]), run["base_model"], run["created_at"], dur,
                                       f1, status, "●" if run["id"] == active else "", test_f1]):
                    item = QTableWidgetItem(v)
                    if c in (1, 5):  # may be long: the whole text on hover, shown literally
                        item.setToolTip(rich_plain(v))
                    self.runs.setItem(r, c, item)
                if run["id"] in keep:  # the same runs stay selected (rows move as runs come)
                    self.runs.selectionModel().select(
                        self.runs.model().index(r, 0),
                        QItemSelectionModel.Select | QItemSelectionModel.Rows)
        finally:
            self.runs.blockSignals(False)

    def selected_runs(self) -> list[int]:
        rows = {i.row() for i in self.runs.selectedIndexes()}
        return [int(self.runs.item(r, 0).text()) for r in sorted(rows) if self.runs.item(r, 0)]

    def _selection_changed(self) -> None:
        """A run picked in the list: show what was recorded for it (unless one is training)."""
        if self.worker is not None:
            return
        row = self.runs.currentRow()
        ids = self.selected_runs()
        if row < 0 or self.runs.item(row, 0) is None:
            return
        run_id = int(self.runs.item(row, 0).text())
        if run_id in ids:
            self.show_run(run_id)

    def show_run(self, run_id: int) -> None:
        """A past run's loss and F1 curves, per-label scores, confusion and settings, as
        recorded in the project file."""
        store = self.store()
        try:
            run = store.run(run_id)
        except NerStudioError as exc:
            self._say("Runs", str(exc), "warning")
            return
        self._reset_charts()
        self.shown_run = run_id
        train = store.run_metrics(run_id, "train")
        self.loss_x = [m["step"] for m in train]
        self.loss_y = [m["loss"] for m in train]
        self.train_curve.setData(self.loss_x, self.loss_y)
        self.evals = [_evaluation(m) for m in store.run_metrics(run_id, "eval")]
        self._plot_evals()
        caption = f"Run {run_id} ({run['status']}), base model {run['base_model']}"
        if self.evals:
            best = max(self.evals, key=lambda v: v.f1)
            self.show_scores(best)
            caption += f": scores at step {best.step} (best dev F1 {best.f1:.3f})"
        else:
            caption += ": no evaluation recorded"
        self.showing.setText(caption)
        self._show_settings(run_id)
        self._show_test(run)

    def _show_test(self, run: dict) -> None:
        """The run's stored test scores per label (and the micro average), or why there are
        none."""
        metrics = (run.get("evaluations") or {}).get("test")
        if not metrics:
            self.test_table.setRowCount(0)
            self.test_caption.setText(
                f"Run {run['id']} has not been scored on the test split"
                + (": select it and click Evaluate on test (it needs labelled test sentences)."
                   if run["status"] == "finished" else " (only a finished run has a model)."))
            return
        rows = sorted(metrics.get("per_label", {}).items())
        support = sum(int(r.get("support") or 0) for _label, r in rows)
        rows.append(("all (micro avg)", {"precision": metrics["precision"],
                                         "recall": metrics["recall"], "f1": metrics["f1"],
                                         "support": support}))
        self.test_table.setRowCount(len(rows))
        for r, (label, m) in enumerate(rows):
            for c, v in enumerate([label, f"{m['precision']:.3f}", f"{m['recall']:.3f}",
                                   f"{m['f1']:.3f}", str(m.get("support", ""))]):
                self.test_table.setItem(r, c, QTableWidgetItem(v))
        self.test_caption.setText(
            f"Run {run['id']} on {metrics.get('sentences', '?')} labelled test sentences "
            f"(scored {metrics.get('evaluated_at', '?')}): F1 {metrics['f1']:.3f}, precision "
            f"{metrics['precision']:.3f}, recall {metrics['recall']:.3f}")

    def evaluate_selected(self) -> Worker | None:
        """Score the selected run on the labelled test sentences, in a worker."""
        run_id = self._selected_one("Evaluate on test")
        store = self.store()
        if run_id is None or store is None:
            return None
        if self.eval_worker is not None:
            return None
        if self.worker is not None:
            self._say("Evaluate on test", "A run is training: evaluate once it has finished "
                      "(a finished run is scored on the test split by itself).")
            return None
        if getattr(self.window, "read_only", False):
            self._say("Evaluate on test", "The project is open read-only: test scores are "
                      "stored with the run in the project file, so it needs to be writable.")
            return None
        if store.run(run_id)["status"] != "finished":
            self._say("Evaluate on test", f"Run {run_id} did not finish: only a finished run "
                      "has a model to evaluate.", "warning")
            return None
        if not labelled_count(store, "test"):
            self._say("Evaluate on test", "The test split has no labelled sentence yet. Move "
                      "some labelled sentences to the test split (they are then never trained "
                      "on) and evaluate again.")
            return None
        self.eval_worker = Worker(run_evaluation, str(store.path), run_id, "test")
        self.eval_worker.progressed.connect(self._eval_progress)
        self.eval_worker.finished.connect(self._evaluated)
        self.eval_worker.failed.connect(self._eval_failed)
        self.run_evaluate_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress_text.setText(f"Scoring run {run_id} on the test split…")
        return self.eval_worker.start()

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
        self._say("Evaluate on test", reason, "warning")

    # -- will more data help? -------------------------------------------------------------------
    def start_curve(self, config: TrainConfig | None = None,
                    fractions=DEFAULT_FRACTIONS) -> Worker | None:
        """Train on growing shares of the train split (a worker; Cancel stops it) and chart
        dev F1 per share. Nothing is written to the project."""
        store = self.store()
        if store is None:
            self._say("Will more data help?", "No project is open. Open or create one first.")
            return None
        if self.worker is not None or self.curve_worker is not None:
            return None
        reason = self.cannot_train(store)
        if reason:
            self._say("Will more data help?", reason)
            return None
        self.curve_points = []
        self.curve_fractions = list(fractions)
        self.curve_line.setData([], [])
        self.curve_verdict.setText("Training on growing shares of the train split…")
        self.tables.setCurrentWidget(self.curve_tab)
        self.curve_worker = Worker(run_curve, str(store.path), config or self.config(),
                                   tuple(fractions))
        self.curve_worker.event.connect(self._curve_event)
        self.curve_worker.finished.connect(self._curve_done)
        self.curve_worker.failed.connect(self._curve_failed)
        self.train_button.setEnabled(False)
        self.curve_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, len(self.curve_fractions))
        self.progress.setValue(0)
        self.progress_text.setText("Train curve: loading the model and the data…")
        return self.curve_worker.start()

    def _curve_event(self, e) -> None:
        if isinstance(e, CurveStarted):
            self._curve_at = e
            self.progress.setValue(e.index)
            self.progress_text.setText(f"Train curve {e.index + 1}/{e.total}: training on "
                                       f"{e.fraction * 100:g} % ({e.n_train} sentences)…")
        elif isinstance(e, Step) and self._curve_at is not None:
            at = self._curve_at
            self.progress_text.setText(f"Train curve {at.index + 1}/{at.total}: "
                                       f"{at.fraction * 100:g} % ({at.n_train} sentences), step "
                                       f"{e.step}/{e.total_steps}")
        elif isinstance(e, CurvePoint):
            self.curve_points.append(e.as_dict())
            self._plot_curve()
            self.progress.setValue(e.index + 1)

    def _plot_curve(self) -> None:
        self.curve_line.setData([p["fraction"] * 100 for p in self.curve_points],
                                [p["dev_f1"] for p in self.curve_points])

    def _curve_done(self, points) -> None:
        cancelled = self.curve_worker is not None and self.curve_worker.cancelled
        self._idle()
        self._curve_at = None
        self.curve_points = list(points)
        self._plot_curve()
        line = verdict(self.curve_points)
        if cancelled and len(self.curve_points) < len(self.curve_fractions):
            line = f"Stopped after {len(self.curve_points)} of {len(self.curve_fractions)} " \
                   f"shares. {line}"
        table = "; ".join(f"{p['fraction'] * 100:g} % ({p['n_train']}): dev F1 "
                          f"{p['dev_f1']:.3f}" for p in self.curve_points)
        self.curve_verdict.setText(line + (f"\n{table}" if table else ""))
        self.progress_text.setText("Train curve done" if not cancelled else
                                   "Train curve stopped")

    def _curve_failed(self, reason: str) -> None:
        self._idle()
        self._curve_at = None
        self.curve_verdict.setText(f"The train curve failed: {reason}")
        self.progress_text.setText("Train curve failed")
        self._say("Will more data help?", reason, "warning")

    def _show_settings(self, run_id: int) -> None:
        store = self.store()
        run = store.run(run_id)
        rows = [("run", str(run_id)), ("status", run["status"]),
                ("base model", run["base_model"]), ("device", run.get("device") or ""),
                ("started", run.get("created_at") or ""), ("finished", run.get("finished_at") or ""),
                ("output folder", run.get("output_dir") or "")]
        if run.get("error"):
            rows.append(("error", run["error"]))
        config = run.get("config") or {}
        rows += [(k, json.dumps(v) if isinstance(v, (dict, list)) else str(v))
                 for k, v in config.items()]
        self.run_settings.setRowCount(len(rows))
        for r, (k, v) in enumerate(rows):
            self.run_settings.setItem(r, 0, QTableWidgetItem(k))
            self.run_settings.setItem(r, 1, QTableWidgetItem(v))

    def _clear_overlays(self) -> None:
        for plot, curve in self.overlays:
            plot.removeItem(curve)
        self.overlays = []

    def overlay_selected(self) -> None:
        """The selected runs' train loss and dev F1, dashed, over the current charts."""
        store = self.store()
        self._clear_overlays()
        if store is None:
            return
        for i, run_id in enumerate(self.selected_runs()):
            pen = pg.mkPen(OVERLAY_COLOURS[i % len(OVERLAY_COLOURS)], width=1, style=Qt.DashLine)
            train = store.run_metrics(run_id, "train")
            evals = store.run_metrics(run_id, "eval")
            loss = self.loss_plot.plot([m["step"] for m in train], [m["loss"] for m in train],
                                       pen=pen, name=f"run {run_id} loss")
            f1 = self.f1_plot.plot([m["step"] for m in evals], [m["f1"] for m in evals], pen=pen,
                                   symbol="x", name=f"run {run_id} F1")
            self.overlays += [(self.loss_plot, loss), (self.f1_plot, f1)]

    def _selected_one(self, what: str) -> int | None:
        runs = self.selected_runs()
        if not runs:
            self._say(what, "Select a run in the runs list first.")
            return None
        return runs[0]

    def resume(self) -> None:
        run_id = self._selected_one("Resume")
        if run_id is not None:
            self.start(resume_run=run_id)

    def make_active(self) -> None:
        run_id = self._selected_one("Make active")
        if run_id is None:
            return
        try:  # refuses a run with no final model, or whose model folder has gone
            self._acting_session().set_active_run(run_id)
        except NerStudioError as exc:
            self._say("Make active", str(exc), "warning")
            return
        self._runs_changed()
        self.run_finished.emit(run_id)

    def _model_folder(self, run_id: int, what: str) -> Path | None:
        """The run's saved model folder, or None after telling the user why not."""
        try:
            folder = model_dir(self.store(), run_id)
        except NerStudioError as exc:
            self._say(what, str(exc), "warning")
            return None
        if not folder.is_dir():
            self._say(what, f"Run {run_id}: its model folder {folder} is missing (moved or "
                      "deleted?).", "warning")
            return None
        return folder

    def open_folder(self) -> None:
        run_id = self._selected_one("Open folder")
        if run_id is None:
            return
        run = self.store().run(run_id)
        if run["status"] == "finished":
            folder = self._model_folder(run_id, "Open folder")
            if folder is None:
                return
            folder = folder.parent
        else:
            folder = _run_folder(self.store(), run)
            if not run.get("output_dir") or not folder.is_dir():
                self._say("Open folder", f"Run {run_id} has no folder on disk (yet).", "warning")
                return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def export_run(self) -> Path | None:
        """Copy the selected run's model folder to ``<chosen folder>/nerstudio-run-N``."""
        run_id = self._selected_one("Export")
        if run_id is None:
            return None
        source = self._model_folder(run_id, "Export")
        if source is None:
            return None
        target = QFileDialog.getExistingDirectory(self, "Export the model to")
        if not target:
            return None
        dest = (Path(target) / f"nerstudio-run-{run_id}").resolve()
        store = self.store()
        for inside in (runs_dir(Path(store.path)).resolve(), source.resolve().parent):
            if dest == inside or inside in dest.parents:
                self._say("Export", f"{dest} is inside the project's runs ({inside}): choose a "
                          "folder outside it.", "warning")
                return None
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            if QMessageBox.question(self, "Export", rich_plain(
                    f"{dest} already exists and is not empty. Replace it with run {run_id}'s "
                    "model?")) != QMessageBox.Yes:
                return None
        partial = dest.with_name(dest.name + ".partial")
        try:
            if partial.exists():
                shutil.rmtree(partial)
            shutil.copytree(source, partial)
            if dest.is_dir():
                shutil.rmtree(dest)
            elif dest.exists():
                dest.unlink()
            partial.rename(dest)
        except OSError as exc:
            self._say("Export", f"Could not export to {dest}: {exc}", "warning")
            return None
        self.window.statusBar().showMessage(f"Exported run {run_id}'s model to {dest}", 8000)
        return dest
