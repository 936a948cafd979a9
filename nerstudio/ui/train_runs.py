"""The Train view's runs history: the runs list (following the session's ``runs_changed``) with
its buttons, and what the project file recorded for a selected run: its loss and F1 curves, best
dev scores, test scores and settings, also after a restart.

Kept apart from the live run because a past run is read back from the store, never from a
worker's events. Every string that comes from the project (run and model names, error reasons)
is shown as plain text. :class:`TrainRuns` is a mixin of
:class:`~nerstudio.ui.train_view.TrainView`; the buttons call the view's run actions
(``train_run_actions``) and ``overlay_selected`` (``train_charts``).
"""
from __future__ import annotations

import json

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import (QAbstractItemView, QGroupBox, QHBoxLayout, QHeaderView, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

from ..core import runs as runs_module
from ..core.errors import NerStudioError
from .safe_text import rich_plain
from .train_charts import evaluation

RUN_COLUMNS = ["run", "base model", "started", "duration", "best dev F1", "status", "active",
               "test F1"]


def _run_cells(run: dict, active) -> list[str]:
    """One run's row in the runs list."""
    status = run["status"] + (f": {run['error']}" if run.get("error") else "")
    dur = f"{run['duration_s'] / 60:.1f} min" if run.get("duration_s") else ""
    f1 = f"{run['best_f1']:.4f}" if run.get("best_f1") is not None else ""
    test = (run.get("evaluations") or {}).get("test") or {}
    test_f1 = f"{test['f1']:.4f}" if test.get("f1") is not None else ""
    return [str(run["id"]), run["base_model"], run["created_at"], dur, f1, status,
            "●" if run["id"] == active else "", test_f1]


def _settings_rows(run_id: int, run: dict) -> list[tuple[str, str]]:
    """A run's record and its config as (setting, value) rows."""
    rows = [("run", str(run_id)), ("status", run["status"]),
            ("base model", run["base_model"]), ("device", run.get("device") or ""),
            ("started", run.get("created_at") or ""), ("finished", run.get("finished_at") or ""),
            ("output folder", run.get("output_dir") or "")]
    if run.get("error"):
        rows.append(("error", run["error"]))
    config = run.get("config") or {}
    rows += [(k, json.dumps(v) if isinstance(v, (dict, list)) else str(v))
             for k, v in config.items()]
    return rows


class TrainRuns:
    """The runs list and a selected run's recorded results (a TrainView mixin)."""

    def _build_runs_box(self) -> QGroupBox:
        """The "Runs" group: the list and one button per run action."""
        self.runs = QTableWidget(0, 8)
        self.runs.setHorizontalHeaderLabels(RUN_COLUMNS)
        self.runs.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.runs.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.runs.verticalHeader().hide()
        self.runs.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.runs.horizontalHeader().setStretchLastSection(True)
        self.runs.itemSelectionChanged.connect(self._selection_changed)
        run_buttons = self._run_buttons()
        runs_box = QGroupBox("Runs")
        rv = QVBoxLayout(runs_box)
        rv.addWidget(self.runs)
        rv.addLayout(run_buttons)
        return runs_box

    def _run_buttons(self) -> QHBoxLayout:
        """One button per action on the selected runs, kept as ``run_<first word>_button``."""
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
        return run_buttons

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

    def refresh_runs(self) -> None:
        """The runs list from the store, newest first; the selected runs stay selected."""
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
                for c, v in enumerate(_run_cells(run, active)):
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

    def _selected_one(self, what: str) -> int | None:
        runs = self.selected_runs()
        if not runs:
            self._say(what, "Select a run in the runs list first.")
            return None
        return runs[0]

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
        self.evals = [evaluation(m) for m in store.run_metrics(run_id, "eval")]
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

    def _show_settings(self, run_id: int) -> None:
        """The run's recorded settings in the Settings tab."""
        rows = _settings_rows(run_id, self.store().run(run_id))
        self.run_settings.setRowCount(len(rows))
        for r, (k, v) in enumerate(rows):
            self.run_settings.setItem(r, 0, QTableWidgetItem(k))
            self.run_settings.setItem(r, 1, QTableWidgetItem(v))
