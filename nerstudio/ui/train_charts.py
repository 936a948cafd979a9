"""The Train view's charts and score tables: loss and dev-score curves (pyqtgraph), the tabs
below them (per-label scores, test scores, entity-type confusion, settings, "More data?"), and
other runs' curves overlaid dashed.

Kept apart from the runs list and the training itself because both fill the same charts: a
live run through its events, a past run from what the project file recorded.
:class:`TrainCharts` is a mixin of :class:`~nerstudio.ui.train_view.TrainView`; it reads the
view's ``selected_runs`` and ``store`` for the overlays.
"""
from __future__ import annotations

from dataclasses import fields

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from ..core.training import Evaluation

OVERLAY_COLOURS = ["#999999", "#d4a017", "#17a2b8", "#6c757d"]

NO_RUN_SHOWN = "Select a run in the runs list to see its charts, or train one."


def plot(title: str, y_label: str | None = None) -> pg.PlotWidget:
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


def evaluation(m: dict) -> Evaluation:
    """An Evaluation back from its stored ``run_metrics`` row."""
    names = {f.name for f in fields(Evaluation)}
    return Evaluation(**{k: v for k, v in m.items() if k in names})


def _score_table() -> QTableWidget:
    """A read-only table of precision, recall, F1 and support per label (dev or test)."""
    table = QTableWidget(0, 5)
    table.setHorizontalHeaderLabels(["label", "precision", "recall", "F1", "support"])
    table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    return table


def _settings_table() -> QTableWidget:
    """A read-only two-column table: a run's recorded settings."""
    table = QTableWidget(0, 2)
    table.setHorizontalHeaderLabels(["setting", "value"])
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    return table


def tab_page(*widgets) -> QWidget:
    """A tab's page: the widgets one above the other; one given as (widget, stretch) takes
    the spare height."""
    page = QWidget()
    box = QVBoxLayout(page)
    box.setContentsMargins(2, 2, 2, 2)
    for w in widgets:
        widget, stretch = w if isinstance(w, tuple) else (w, 0)
        box.addWidget(widget, stretch)
    return page


class TrainCharts:
    """The charts and the tables under them (a TrainView mixin)."""

    def _build_charts(self) -> QWidget:
        """The caption, loss and dev-score charts side by side, the tabs below them."""
        pg.setConfigOptions(antialias=True)
        self.loss_plot = plot("Loss")
        self.train_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#3d7bd9", width=2),
                                               name="train")
        self.dev_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#e07b39", width=2),
                                             symbol="o", name="dev")
        self.f1_plot = plot("Dev scores")
        self.f1_plot.setYRange(0, 1)
        self.f1_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#2a9d55", width=2), symbol="o",
                                          name="F1")
        self.p_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#8e6bd1", width=1), symbol="t",
                                         name="precision")
        self.r_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#c94f7c", width=1), symbol="s",
                                         name="recall")
        self.tables = self._build_tables()
        self.showing = QLabel(NO_RUN_SHOWN)
        self.showing.setTextFormat(Qt.PlainText)
        charts = QWidget()
        grid = QGridLayout(charts)
        grid.addWidget(self.showing, 0, 0, 1, 2)
        grid.addWidget(self.loss_plot, 1, 0)
        grid.addWidget(self.f1_plot, 1, 1)
        grid.addWidget(self.tables, 2, 0, 1, 2)
        grid.setRowStretch(1, 3)
        grid.setRowStretch(2, 2)
        return charts

    def _build_tables(self) -> QTabWidget:
        """Per label, Test, Confusion, Settings and "More data?" tabs."""
        self.per_label = _score_table()
        self.confusion = QTableWidget(0, 0)
        self.confusion.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.run_settings = _settings_table()
        self.test_table = _score_table()
        self.test_caption = QLabel()
        self.test_caption.setTextFormat(Qt.PlainText)
        self.test_caption.setWordWrap(True)
        self.test_tab = tab_page(self.test_caption, (self.test_table, 1))
        self.curve_tab = self._build_curve_tab()
        tables = QTabWidget()
        tables.addTab(self.per_label, "Per label")
        tables.addTab(self.test_tab, "Test")
        tables.addTab(self.confusion, "Confusion (gold rows, predicted columns)")
        tables.addTab(self.run_settings, "Settings")
        tables.addTab(self.curve_tab, "More data?")
        tables.setMinimumHeight(190)  # header and 4+ label rows without scrolling
        return tables

    def _plot_evals(self) -> None:
        xs = [v.step for v in self.evals]
        self.dev_curve.setData(xs, [v.loss for v in self.evals])
        self.f1_curve.setData(xs, [v.f1 for v in self.evals])
        self.p_curve.setData(xs, [v.precision for v in self.evals])
        self.r_curve.setData(xs, [v.recall for v in self.evals])

    def show_scores(self, e: Evaluation) -> None:
        """One evaluation's scores per label and its confusion of entity types (O last)."""
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

    def _clear_overlays(self) -> None:
        for plot_widget, curve in self.overlays:
            plot_widget.removeItem(curve)
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
