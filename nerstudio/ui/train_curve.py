"""The Train view's "Will more data help?": trains on growing shares of the train split in a
worker (``usecases.train_curve``, core/curve.py; nothing recorded in the project) and plots dev
F1 per share in the "More data?" tab, with a verdict.

A concern of its own because it has its own worker, events and chart, yet shares the view's
progress bar, Cancel button and training slot with a run. :class:`TrainCurve` is a mixin of
:class:`~nerstudio.ui.train_view.TrainView`; it uses the view's ``cannot_train``, ``config``,
``_idle`` and ``_say``.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ..core.curve import DEFAULT_FRACTIONS, CurvePoint, CurveStarted, verdict
from ..core.training import Step, TrainConfig
from .train_charts import plot, tab_page
from .train_jobs import run_curve
from .workers import Worker

TITLE = "Will more data help?"


class TrainCurve:
    """The train curve: its tab, its worker and its events (a TrainView mixin)."""

    def _build_curve_tab(self) -> QWidget:
        """The "More data?" tab: dev F1 by share of the train split, and the verdict."""
        self.curve_plot = plot("Dev F1 by share of the train split", "dev F1")
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
        return tab_page((self.curve_plot, 1), self.curve_verdict)

    def start_curve(self, config: TrainConfig | None = None,
                    fractions=DEFAULT_FRACTIONS) -> Worker | None:
        """Train on growing shares of the train split (a worker; Cancel stops it) and chart
        dev F1 per share. Nothing is written to the project."""
        store = self.store()
        if store is None:
            self._say(TITLE, "No project is open. Open or create one first.")
            return None
        if self.worker is not None or self.curve_worker is not None:
            return None
        reason = self.cannot_train(store)
        if reason:
            self._say(TITLE, reason)
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
        """A share starts, a training step, or a share's dev F1 (a new point on the chart)."""
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
        """The verdict and each share's dev F1 (a cancelled curve says how far it got)."""
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
        self._say(TITLE, reason, "warning")
