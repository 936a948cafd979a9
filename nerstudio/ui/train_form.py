"""The Train view's left column: the base model, the hyperparameter form generated from
:class:`TrainConfig`'s field metadata, what "auto" will be, the device, "Use all N GPUs", and the
Train / Cancel / "Will more data help?" buttons with the progress bar.

The form is generated, not written out, so that the command line's options and these rows can
never disagree: each row's label, tooltip, range, step and choices come from the field's
metadata. :class:`TrainForm` is a mixin of :class:`~nerstudio.ui.train_view.TrainView`; it reads
the view's ``_session`` and connects the buttons to the view's ``start``, ``cancel`` and
``start_curve``.
"""
from __future__ import annotations

import sys
from dataclasses import fields

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox,
                               QVBoxLayout)

from ..core import usecases
from ..core.heap import freeze_heap
from ..core.training import TrainConfig
from . import train_jobs
from .workers import Worker

TRAIN_KNOBS = {f.name: f for f in fields(TrainConfig)}

BASE_MODELS = ["embedded", "bert-base-cased", "bert-base-uncased", "distilbert-base-uncased",
               "roberta-base"]


def knob_help(name: str) -> str:
    """The field's help text from TrainConfig's metadata (the CLI shows the same)."""
    return TRAIN_KNOBS[name].metadata["help"]


def _plain_label(text: str = "") -> QLabel:
    """A wrapping label that shows its text literally (model names and reasons come from
    outside the app)."""
    label = QLabel(text)
    label.setTextFormat(Qt.PlainText)
    label.setWordWrap(True)
    return label


def _spin(w, value, lo, hi, decimals=None, step=None):
    w.setRange(lo, hi)
    if decimals is not None:
        w.setDecimals(decimals)
    if step is not None:
        w.setSingleStep(step)
    w.setValue(value)
    return w


def _auto_spin(w, value, lo, hi, decimals=None, step=None):
    """A spin box whose minimum reads "auto" (the config's None)."""
    w.setSpecialValueText("auto")
    return _spin(w, lo if value is None else value, lo, hi, decimals, step)


def _auto_value(w):
    return None if w.value() == w.minimum() else w.value()


def _knob_spin(name: str):
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
        return _auto_spin(w, None, lo - step, hi, m["decimals"], step)
    return _spin(w, f.default, lo, hi, m["decimals"], step)


def _add_knobs(form: QFormLayout) -> dict:
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
            w = _knob_spin(name)
        w.setToolTip(knob_help(name))
        form.addRow(m["label"], w)
        knobs[name] = w
    return knobs


class TrainForm:
    """The settings a run starts from, and the buttons that start it (a TrainView mixin)."""

    def _build_form(self) -> QFormLayout:
        """Base model, the generated knobs, "auto" values, device and "Use all N GPUs"; starts
        the warm-up that names the device."""
        form = QFormLayout()
        self._add_base_model(form)
        self.knobs = _add_knobs(form)
        (self.lr, self.batch, self.epochs, self.seed, self.wd, self.warmup, self.patience,
         self.accum, self.precision, self.eval_every) = (self.knobs[name] for name in (
            "learning_rate", "batch_size", "epochs", "seed", "weight_decay", "warmup_ratio",
            "early_stopping_patience", "gradient_accumulation", "mixed_precision",
            "eval_every"))
        self._add_auto_info(form)
        self.device = _plain_label("(checking…)")
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
        return form

    def _add_base_model(self, form: QFormLayout) -> None:
        """The editable base-model list, "Folder…", and a line describing the chosen model."""
        self.base_model = QComboBox()
        self.base_model.setEditable(True)
        self.base_model.addItems(BASE_MODELS)
        self.base_model.setToolTip("'embedded' works offline; a hub name needs the network; "
                                   "or browse to a local folder")
        browse = QPushButton("Folder…")
        browse.clicked.connect(lambda _=False: self._browse_model())
        row = QHBoxLayout()
        row.addWidget(self.base_model, 1)
        row.addWidget(browse)
        form.addRow("Base model", row)
        self.model_info = _plain_label()
        form.addRow("", self.model_info)
        self.base_model.currentTextChanged.connect(
            lambda t: self.model_info.setText(train_jobs.describe_model(t.strip())))
        self.model_info.setText(train_jobs.describe_model("embedded"))

    def _add_auto_info(self, form: QFormLayout) -> None:
        """What "auto" will be for this project, shown before the run starts and kept current
        (a burst of edits costs one count)."""
        self.auto_info = _plain_label()
        self.auto_info.setObjectName("auto-info")
        form.addRow("", self.auto_info)
        self._auto_timer = QTimer(self)
        self._auto_timer.setSingleShot(True)
        self._auto_timer.setInterval(100)
        self._auto_timer.timeout.connect(self.show_auto_values)
        for w in self.knobs.values():
            if hasattr(w, "valueChanged"):
                w.valueChanged.connect(lambda _v: self._auto_timer.start())

    def _build_run_box(self, form: QFormLayout) -> QGroupBox:
        """The "Run" group: the form, Train / Cancel, "Will more data help?", the progress."""
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
        self.progress_text = _plain_label("Idle")
        settings = QGroupBox("Run")
        sv = QVBoxLayout(settings)
        sv.addLayout(form)
        sv.addLayout(buttons)
        sv.addWidget(self.curve_button)
        sv.addWidget(self.progress)
        sv.addWidget(self.progress_text)
        sv.addStretch()
        return settings

    def warm_up(self) -> Worker:
        """Import torch (seconds) on a worker thread at start-up, naming the device: the GUI
        thread never imports it, and Train starts without that wait."""
        self._warm = Worker(train_jobs.warm_up)
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

    def _knob_value(self, name: str):
        w = self.knobs[name]
        if isinstance(w, QComboBox):
            return w.currentText().strip()
        return _auto_value(w) if TRAIN_KNOBS[name].default is None else w.value()

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
