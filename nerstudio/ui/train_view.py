"""The Train view: base model and hyperparameters, Train / Cancel, live loss and F1 charts
(pyqtgraph), per-label scores and an entity-type confusion matrix, and the runs history.

Training runs on a :class:`Worker` thread (one CPU core left to the GUI), on a snapshot of the
project, so the user keeps annotating while it trains. Events arrive as signals on the GUI thread.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView,
                               QLabel, QMessageBox, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from ..core.heap import freeze_heap
from ..core.runs import model_dir, train_project
from ..core.training import (Cancelled, Evaluation, Failed, Finished, Started, Step, TrainConfig)
from .workers import Worker

TOOLTIPS = {
    "learning_rate": "AdamW learning rate; 2e-5 to 5e-5 is usual for BERT fine-tuning",
    "batch_size": "sentences per optimizer step (8-16 in the reference recipe)",
    "epochs": "passes over the training sentences",
    "seed": "seeds batch order, initialisation and dropout: same seed, same run",
    "weight_decay": "decoupled AdamW weight decay (not on biases and LayerNorm)",
    "warmup_ratio": "fraction of steps with a linear warm-up from 0",
    "gradient_accumulation": "optimizer step every N batches (effective batch = N x batch)",
    "mixed_precision": "auto: bf16 or fp16 on a GPU that supports it, fp32 on the CPU",
    "eval_every": "evaluate on dev (and checkpoint) every epoch, or every N steps",
}


def run_training(project, config, resume_run=None, *, progress, should_stop, emit):
    """Worker function: the project's training run, events forwarded to the GUI."""
    return train_project(project, config, emit, should_stop, resume_run=resume_run)


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
    return f"{cfg.get('model_type', '?')}, {n} layers, ~{params:.0f}M parameters, {cased}"


def _warm_up(**_kw) -> str:
    """Import what a run needs (C extensions hold the GIL while they load), name the device."""
    import seqeval.metrics  # noqa: F401  (pulls in scikit-learn)
    import transformers  # noqa: F401
    from transformers import AutoModelForTokenClassification, Trainer  # noqa: F401

    return describe_device()


def describe_device() -> str:
    import torch

    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        return f"GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "GPU: Apple MPS"
    n = os.cpu_count() or 1
    return f"CPU: {n} cores ({max(1, n - 1)} used for training, one kept for the app)"


class TrainView(QWidget):
    run_finished = Signal(int)   # run id, after a finished run (to refresh the playground)

    def __init__(self, window):
        super().__init__()
        self.window = window
        self.worker: Worker | None = None
        self.run_id: int | None = None
        self.loss_x, self.loss_y, self.dev_loss, self.evals = [], [], [], []
        self._build()

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        d = TrainConfig()
        form = QFormLayout()
        self.base_model = QComboBox()
        self.base_model.setEditable(True)
        self.base_model.addItems(["embedded", "bert-base-cased", "bert-base-uncased",
                                  "distilbert-base-uncased", "roberta-base"])
        self.base_model.setToolTip("'embedded' works offline; a hub name needs the network; "
                                   "or browse to a local folder")
        browse = QPushButton("Folder…")
        browse.clicked.connect(self._browse_model)
        row = QHBoxLayout()
        row.addWidget(self.base_model, 1)
        row.addWidget(browse)
        form.addRow("Base model", row)
        self.model_info = QLabel()
        form.addRow("", self.model_info)
        self.base_model.currentTextChanged.connect(
            lambda t: self.model_info.setText(describe_model(t.strip())))
        self.model_info.setText(describe_model("embedded"))
        self.lr = self._spin(QDoubleSpinBox(), d.learning_rate, 1e-7, 1e-2, 7, 1e-5)
        self.batch = self._spin(QSpinBox(), d.batch_size, 1, 1024)
        self.epochs = self._spin(QDoubleSpinBox(), d.epochs, 0.1, 100, 1, 1)
        self.seed = self._spin(QSpinBox(), d.seed, 0, 2**31 - 1)
        self.wd = self._spin(QDoubleSpinBox(), d.weight_decay, 0, 1, 3, 0.01)
        self.warmup = self._spin(QDoubleSpinBox(), d.warmup_ratio, 0, 0.5, 2, 0.05)
        self.accum = self._spin(QSpinBox(), d.gradient_accumulation, 1, 256)
        self.precision = QComboBox()
        self.precision.addItems(["auto", "no", "bf16", "fp16"])
        self.eval_every = QComboBox()
        self.eval_every.setEditable(True)
        self.eval_every.addItems(["epoch", "100", "500"])
        for label, key, w in (("Learning rate", "learning_rate", self.lr),
                              ("Batch size", "batch_size", self.batch), ("Epochs", "epochs", self.epochs),
                              ("Seed", "seed", self.seed), ("Weight decay", "weight_decay", self.wd),
                              ("Warm-up ratio", "warmup_ratio", self.warmup),
                              ("Gradient accumulation", "gradient_accumulation", self.accum),
                              ("Mixed precision", "mixed_precision", self.precision),
                              ("Evaluate every", "eval_every", self.eval_every)):
            w.setToolTip(TOOLTIPS[key])
            form.addRow(label, w)
        self.device = QLabel("(checking…)")
        form.addRow("Device", self.device)
        self.warm_up()

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress_text = QLabel("Idle")
        settings = QGroupBox("Run")
        sv = QVBoxLayout(settings)
        sv.addLayout(form)
        sv.addLayout(buttons)
        sv.addWidget(self.progress)
        sv.addWidget(self.progress_text)
        sv.addStretch()

        pg.setConfigOptions(antialias=True)
        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.addLegend()
        self.loss_plot.setLabel("bottom", "step")
        self.train_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#3d7bd9", width=2), name="train")
        self.dev_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#e07b39", width=2), symbol="o",
                                             name="dev")
        self.f1_plot = pg.PlotWidget(title="Dev scores")
        self.f1_plot.addLegend()
        self.f1_plot.setLabel("bottom", "step")
        self.f1_plot.setYRange(0, 1)
        self.f1_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#2a9d55", width=2), symbol="o", name="F1")
        self.p_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#8e6bd1", width=1), symbol="t", name="precision")
        self.r_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#c94f7c", width=1), symbol="s", name="recall")
        self.overlays = []
        self.per_label = QTableWidget(0, 4)
        self.per_label.setHorizontalHeaderLabels(["label", "precision", "recall", "F1"])
        self.confusion = QTableWidget(0, 0)
        tables = QTabWidget()
        tables.addTab(self.per_label, "Per label")
        tables.addTab(self.confusion, "Confusion (gold rows, predicted columns)")
        charts = QWidget()
        grid = QGridLayout(charts)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.f1_plot, 0, 1)
        grid.addWidget(tables, 1, 0, 1, 2)

        self.runs = QTableWidget(0, 7)
        self.runs.setHorizontalHeaderLabels(["run", "base model", "started", "duration", "best dev F1",
                                             "status", "active"])
        self.runs.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.runs.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        run_buttons = QHBoxLayout()
        for text, slot in (("Overlay selected", self.overlay_selected), ("Resume", self.resume),
                           ("Make active", self.make_active), ("Open folder", self.open_folder),
                           ("Export…", self.export_run)):
            b = QPushButton(text)
            b.setObjectName("run-" + text.split()[0].lower().rstrip("…"))
            b.clicked.connect(slot)
            run_buttons.addWidget(b)
        runs_box = QGroupBox("Runs")
        rv = QVBoxLayout(runs_box)
        rv.addWidget(self.runs)
        rv.addLayout(run_buttons)

        right = QSplitter()
        right.setOrientation(pg.QtCore.Qt.Vertical)
        right.addWidget(charts)
        right.addWidget(runs_box)
        right.setSizes([500, 200])
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
        self._warm.finished.connect(self.device.setText)
        self._warm.finished.connect(lambda _t: freeze_heap())
        self._warm.failed.connect(lambda r: self.device.setText(f"unknown ({r})"))
        return self._warm.start()

    def _spin(self, w, value, lo, hi, decimals=None, step=None):
        w.setRange(lo, hi)
        if decimals is not None:
            w.setDecimals(decimals)
        if step is not None:
            w.setSingleStep(step)
        w.setValue(value)
        return w

    def _browse_model(self):
        path = QFileDialog.getExistingDirectory(self, "Base model folder")
        if path:
            self.base_model.setCurrentText(path)

    def config(self) -> TrainConfig:
        return TrainConfig(base_model=self.base_model.currentText().strip() or "embedded",
                           learning_rate=self.lr.value(), batch_size=self.batch.value(),
                           epochs=self.epochs.value(), seed=self.seed.value(),
                           weight_decay=self.wd.value(), warmup_ratio=self.warmup.value(),
                           gradient_accumulation=self.accum.value(),
                           mixed_precision=self.precision.currentText(),
                           eval_every=self.eval_every.currentText().strip(), keep_core_free=True)

    # -- running --------------------------------------------------------------------------------
    def start(self, config: TrainConfig | None = None, resume_run: int | None = None) -> Worker | None:
        if self.window.store is None or self.worker is not None:
            return None
        self._reset_charts()
        self.worker = Worker(run_training, str(self.window.store.path), config or self.config(),
                             resume_run)
        self.worker.event.connect(self.on_event)
        self.worker.finished.connect(self._done)
        self.worker.failed.connect(self._failed)
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_text.setText("Loading the model and the data…")
        self.worker.start()
        QTimer.singleShot(500, self.refresh_runs)
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.progress_text.setText("Cancelling at the next step…")

    def on_event(self, e) -> None:
        if isinstance(e, Started):
            self.progress.setRange(0, e.total_steps)
            self.progress_text.setText(f"Training on {e.device_name}: {e.train_sentences} train / "
                                       f"{e.dev_sentences} dev sentences")
            self.refresh_runs()
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
            xs = [v.step for v in self.evals]
            self.dev_curve.setData(xs, [v.loss for v in self.evals])
            self.f1_curve.setData(xs, [v.f1 for v in self.evals])
            self.p_curve.setData(xs, [v.precision for v in self.evals])
            self.r_curve.setData(xs, [v.recall for v in self.evals])
            self.show_scores(e)
        elif isinstance(e, (Finished, Cancelled, Failed)):
            self.progress_text.setText({Finished: "Finished", Cancelled: "Cancelled: resume it "
                                        "from the runs list", Failed: "Failed"}[type(e)] +
                                       (f": {e.reason}" if isinstance(e, Failed) else ""))

    def show_scores(self, e: Evaluation) -> None:
        self.per_label.setRowCount(len(e.per_label))
        for r, (label, s) in enumerate(sorted(e.per_label.items())):
            for c, v in enumerate([label, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}"]):
                self.per_label.setItem(r, c, QTableWidgetItem(v))
        names = sorted({k for k in e.confusion} | {p for row in e.confusion.values() for p in row})
        names = [n for n in names if n != "O"] + ["O"]
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
        if isinstance(event, Failed):
            QMessageBox.warning(self, "Training failed", event.reason)
        if isinstance(event, Finished):
            if self.window.store.meta("active_run") is None:
                self.window.store.set_meta("active_run", run_id)
            self.run_finished.emit(run_id)
        self.refresh_runs()

    def _failed(self, reason: str) -> None:
        self._idle()
        QMessageBox.warning(self, "Training failed", reason)
        self.refresh_runs()

    def _idle(self) -> None:
        self.worker = None
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _reset_charts(self) -> None:
        self.loss_x, self.loss_y, self.evals = [], [], []
        for curve in (self.train_curve, self.dev_curve, self.f1_curve, self.p_curve, self.r_curve):
            curve.setData([], [])

    # -- runs history ---------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        store = self.window.store
        if store is None:
            return
        runs = store.runs()
        active = store.meta("active_run")
        self.runs.setRowCount(len(runs))
        for r, run in enumerate(reversed(runs)):
            status = run["status"] + (f": {run['error']}" if run.get("error") else "")
            dur = f"{run['duration_s'] / 60:.1f} min" if run.get("duration_s") else ""
            f1 = f"{run['best_f1']:.4f}" if run.get("best_f1") is not None else ""
            for c, v in enumerate([str(run["id"]), run["base_model"], run["created_at"], dur, f1,
                                   status, "●" if run["id"] == active else ""]):
                item = QTableWidgetItem(v)
                if c == 5 and run.get("error"):
                    item.setToolTip(run["error"])
                self.runs.setItem(r, c, item)

    def selected_runs(self) -> list[int]:
        rows = {i.row() for i in self.runs.selectedIndexes()}
        return [int(self.runs.item(r, 0).text()) for r in sorted(rows)]

    def overlay_selected(self) -> None:
        for curve in self.overlays:
            self.f1_plot.removeItem(curve)
        self.overlays = []
        colours = ["#999999", "#d4a017", "#17a2b8", "#6c757d"]
        for i, run_id in enumerate(self.selected_runs()):
            evals = self.window.store.run_metrics(run_id, "eval")
            curve = self.f1_plot.plot([m["step"] for m in evals], [m["f1"] for m in evals],
                                      pen=pg.mkPen(colours[i % len(colours)], width=1,
                                                   style=pg.QtCore.Qt.DashLine),
                                      symbol="x", name=f"run {run_id} F1")
            self.overlays.append(curve)

    def resume(self) -> None:
        runs = self.selected_runs()
        if runs:
            self.start(resume_run=runs[0])

    def make_active(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        try:
            model_dir(self.window.store, runs[0])
        except Exception as exc:  # noqa: BLE001 - a StoreError: no final model
            QMessageBox.warning(self, "Runs", str(exc))
            return
        self.window.store.set_meta("active_run", runs[0])
        self.refresh_runs()
        self.run_finished.emit(runs[0])

    def open_folder(self) -> None:
        runs = self.selected_runs()
        if runs:
            folder = self.window.store.run(runs[0]).get("output_dir")
            if folder:
                QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    def export_run(self, target: str | None = None) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        try:
            source = model_dir(self.window.store, runs[0])
        except Exception as exc:  # noqa: BLE001
            QMessageBox.warning(self, "Runs", str(exc))
            return
        target = target or QFileDialog.getExistingDirectory(self, "Export the model to")
        if target:
            dest = Path(target) / f"nerstudio-run-{runs[0]}"
            shutil.copytree(source, dest, dirs_exist_ok=True)
            self.window.statusBar().showMessage(f"Exported the model to {dest}", 5000)
