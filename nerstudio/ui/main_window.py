"""The main window: sentence list on the left, token editor on the right.

Every edit is written to the project file the moment it is made (there is no Save). Long work
(import, export) runs on a :class:`Worker` thread with its own store connection."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QComboBox, QFileDialog,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMainWindow,
                               QMessageBox, QProgressDialog, QPushButton, QScrollArea, QSplitter,
                               QTableView, QTabWidget, QVBoxLayout, QWidget)

from ..core.errors import NerStudioError
from ..core.store import ProjectStore
from .import_dialog import ExportDialog, ImportDialog, run_export, run_import
from .label_manager import LabelManager
from .sentence_model import SentenceListModel
from .token_editor import TokenEditor, readable_text_colour
from .workers import Worker

ALL = "(all)"
MAX_RECENT = 8


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.settings = settings or QSettings("nerstudio", "nerstudio")
        self.store: ProjectStore | None = None
        self.model: SentenceListModel | None = None
        self.current_id: int | None = None
        self.workers: list[Worker] = []
        self.setWindowTitle("nerstudio")
        self.resize(1200, 750)
        self._build()
        self._build_menus()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/splitter")
        if state is not None:
            self.splitter.restoreState(state)

    # -- building -------------------------------------------------------------------------------
    def _build(self) -> None:
        left = QWidget()
        lv = QVBoxLayout(left)
        filters = QHBoxLayout()
        self.split_filter = QComboBox()
        self.split_filter.addItems([ALL, "train", "dev", "test", "unassigned"])
        self.status_filter = QComboBox()
        self.status_filter.addItems([ALL, "unlabelled", "labelled", "reviewed"])
        self.label_filter = QComboBox()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search text…")
        self.search.setClearButtonEnabled(True)
        for w in (self.split_filter, self.status_filter, self.label_filter):
            w.currentIndexChanged.connect(self.apply_filters)
            filters.addWidget(w)
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        lv.addLayout(filters)
        lv.addWidget(self.search)
        self.table = QTableView()
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        lv.addWidget(self.table)

        right = QWidget()
        rv = QVBoxLayout(right)
        self.palette_row = QHBoxLayout()
        self.label_buttons = QButtonGroup(self)
        self.label_buttons.setExclusive(True)
        rv.addLayout(self.palette_row)
        self.editor = TokenEditor()
        self.editor.edited.connect(self.save_spans)
        self.editor.suggestion_accepted.connect(self.accept_suggestion)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.editor)
        rv.addWidget(scroll, 1)
        self.sentence_info = QLabel()
        rv.addWidget(self.sentence_info)
        actions = QHBoxLayout()
        self.done_button = QPushButton("Mark labelled and next  (Enter)")
        self.done_button.clicked.connect(self.mark_done_and_next)
        self.accept_button = QPushButton("Accept suggestions  (A)")
        self.accept_button.clicked.connect(self.accept_all_suggestions)
        self.reject_button = QPushButton("Reject suggestions  (R)")
        self.reject_button.clicked.connect(self.reject_suggestions)
        for b in (self.done_button, self.accept_button, self.reject_button):
            actions.addWidget(b)
        rv.addLayout(actions)

        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setSizes([450, 750])
        from .playground import Playground
        from .train_view import TrainView

        self.train_view = TrainView(self)
        self.playground = Playground(self)
        self.train_view.run_finished.connect(lambda _id: self.load_active_model())
        self.tabs = QTabWidget()
        self.tabs.addTab(self.splitter, "Annotate")
        self.tabs.addTab(self.train_view, "Train")
        self.tabs.addTab(self.playground, "Playground")
        self.setCentralWidget(self.tabs)
        self.status = QLabel()
        self.statusBar().addWidget(self.status, 1)
        self._status_timer = QTimer(self, singleShot=True, interval=150)
        self._status_timer.timeout.connect(self._update_status_now)

        for key in range(1, 10):
            QShortcut(QKeySequence(str(key)), self, lambda k=key: self.pick_label(k - 1))
        for key in (Qt.Key_Return, Qt.Key_Enter):
            QShortcut(QKeySequence(key), self, self.mark_done_and_next)
        QShortcut(QKeySequence("A"), self, self.accept_all_suggestions)
        QShortcut(QKeySequence("R"), self, self.reject_suggestions)

    def _build_menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        self._action(file, "&New project…", self.new_project, QKeySequence.New)
        self._action(file, "&Open project…", self.open_project_dialog, QKeySequence.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self._action(file, "Open &demo project", self.open_demo)
        file.addSeparator()
        self.import_action = self._action(file, "&Import…", self.import_dialog, "Ctrl+I")
        self.export_action = self._action(file, "&Export…", self.export_dialog, "Ctrl+E")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.Quit)
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.undo, QKeySequence("Ctrl+Z"))
        self.redo_action = self._action(edit, "&Redo", self.redo, QKeySequence("Ctrl+Shift+Z"))
        edit.addSeparator()
        self._action(edit, "&Labels…", self.manage_labels, "Ctrl+L")
        model = self.menuBar().addMenu("&Model")
        self.preannotate_action = self._action(model, "&Pre-annotate unlabelled sentences",
                                               self.preannotate, "Ctrl+P")
        self._refresh_recent()
        self._enable(False)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda *_: slot())
        menu.addAction(action)
        return action

    def _enable(self, on: bool) -> None:
        for a in (self.import_action, self.export_action, self.undo_action, self.redo_action,
                  self.preannotate_action):
            a.setEnabled(on)

    # -- projects -------------------------------------------------------------------------------
    def open_project(self, path: str | Path) -> None:
        path = Path(path)
        try:
            store = ProjectStore(path)
        except NerStudioError as exc:
            QMessageBox.warning(self, "nerstudio", str(exc))
            return
        if self.store is not None:
            self.store.close()
        self.store = store
        self.model = SentenceListModel(store, self)
        self.table.setModel(self.model)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for col, width in ((1, 60), (2, 80), (3, 60)):
            # fixed widths: ResizeToContents would re-measure every loaded row on each edit
            header.setSectionResizeMode(col, QHeaderView.Interactive)
            header.resizeSection(col, width)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.setWindowTitle(f"nerstudio — {store.meta('name') or path.stem}")
        self._remember(path)
        self._enable(True)
        self.reload_labels()
        if self.model.rowCount():
            self.table.selectRow(0)
        self.update_status()
        self.train_view.refresh_runs()
        self.load_active_model()

    def active_model_dir(self) -> str | None:
        from ..core.runs import model_dir

        run_id = self.store.meta("active_run") if self.store else None
        if run_id is None:
            return None
        try:
            return str(model_dir(self.store, run_id))
        except NerStudioError:
            return None

    def load_active_model(self) -> None:
        folder = self.active_model_dir()
        run_id = self.store.meta("active_run") if self.store else None
        self.playground.set_model(folder, f"run {run_id}" if folder else "")

    def preannotate(self) -> Worker | None:
        from ..core.inference import Predictor
        from ..core.preannotate import preannotate

        folder = self.active_model_dir()
        if folder is None:
            QMessageBox.information(self, "Pre-annotate", "No active model yet: train one in the "
                                    "Train tab (or make a finished run active).")
            return None
        progress = QProgressDialog("Pre-annotating…", "Cancel", 0, 100, self)
        progress.setWindowModality(Qt.WindowModal)
        progress.setMinimumDuration(300)

        def run(project, model, run_id, *, progress, should_stop, emit):
            return preannotate(project, Predictor(model), run_id, on_progress=progress,
                               should_stop=should_stop)

        worker = Worker(run, str(self.store.path), folder, self.store.meta("active_run"))
        worker.progressed.connect(lambda d, t: (progress.setMaximum(max(t, 1)), progress.setValue(d)))
        progress.canceled.connect(worker.cancel)

        def finished(n):
            progress.close()
            self.model.refresh()
            self.show_sentence(self.current_id)
            self.statusBar().showMessage(f"Suggestions for {n} sentences", 5000)

        worker.finished.connect(finished)
        worker.failed.connect(lambda r: (progress.close(), QMessageBox.warning(self, "Pre-annotate", r)))
        return self._start(worker)

    def _remember(self, path: Path) -> None:
        recent = [p for p in self.recent_projects() if p != str(path.resolve())]
        self.settings.setValue("recent", [str(path.resolve())] + recent[:MAX_RECENT - 1])
        self._refresh_recent()

    def recent_projects(self) -> list[str]:
        value = self.settings.value("recent") or []
        return [value] if isinstance(value, str) else list(value)

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_projects():
            self._action(self.recent_menu, p, lambda p=p: self.open_project(p))
        self.recent_menu.setEnabled(bool(self.recent_projects()))

    def new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New project", "", "nerstudio project (*.nerproj)")
        if not path:
            return
        if not path.endswith(".nerproj"):
            path += ".nerproj"
        try:
            ProjectStore.create(path, labels=["PER", "ORG", "LOC", "MISC"]).close()
        except NerStudioError as exc:
            QMessageBox.warning(self, "nerstudio", str(exc))
            return
        self.open_project(path)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", "nerstudio project (*.nerproj)")
        if path:
            self.open_project(path)

    def open_demo(self, folder: Path | None = None) -> Path:
        from .app import data_dir
        from .demo import create_demo_project

        folder = folder or data_dir()
        path = folder / "demo.nerproj"
        if not path.exists():
            create_demo_project(path)
        self.open_project(path)
        return path

    # -- labels ---------------------------------------------------------------------------------
    def reload_labels(self) -> None:
        labels = self.store.label_set().labels
        for b in self.label_buttons.buttons():
            self.label_buttons.removeButton(b)
            b.deleteLater()
        while self.palette_row.count():
            item = self.palette_row.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        active = self.editor.active_label
        for i, label in enumerate(labels):
            fg = readable_text_colour(label.colour)
            b = QPushButton(f"{i + 1}  {label.name}" if i < 9 else label.name)
            b.setObjectName(f"label-{label.name}")
            b.setCheckable(True)
            b.setStyleSheet(f"QPushButton {{ background:{label.colour}; color:{fg}; padding:4px 10px;"
                            f" border:2px solid {label.colour}; border-radius:4px }}"
                            f" QPushButton:checked {{ border:2px solid palette(highlight);"
                            f" font-weight:bold }}")
            b.clicked.connect(lambda _c=False, n=label.name: self.set_active_label(n))
            self.label_buttons.addButton(b)
            self.palette_row.addWidget(b)
        self.palette_row.addStretch()
        names = [l.name for l in labels]
        self.set_active_label(active if active in names else (names[0] if names else None))
        self.editor.colours = {l.name: l.colour for l in labels}
        self.label_filter.blockSignals(True)
        self.label_filter.clear()
        self.label_filter.addItems([ALL] + names)
        self.label_filter.blockSignals(False)

    def set_active_label(self, name: str | None) -> None:
        self.editor.active_label = name
        for b in self.label_buttons.buttons():
            b.setChecked(b.objectName() == f"label-{name}")

    def pick_label(self, index: int) -> None:
        if self.store is None:
            return
        names = self.store.label_set().names
        if index < len(names):
            self.set_active_label(names[index])

    def manage_labels(self) -> None:
        if self.store is None:
            return
        dialog = LabelManager(self.store, self)
        dialog.exec()
        if dialog.changed:
            self.after_bulk_change()

    def after_bulk_change(self) -> None:
        """Labels or data changed under us: reload everything that shows them."""
        keep = self.current_id
        self.reload_labels()
        self.model.refresh()
        self.show_sentence(keep)
        self.update_status()

    # -- list and editor ------------------------------------------------------------------------
    def apply_filters(self) -> None:
        if self.model is None or self.store is None:
            return
        value = lambda c: None if c.currentText() in (ALL, "") else c.currentText()  # noqa: E731
        self.model.set_filters(value(self.split_filter), value(self.status_filter),
                               value(self.label_filter), self.search.text().strip() or None)
        if self.model.rowCount():
            self.table.selectRow(0)

    def _row_changed(self, current, _previous) -> None:
        if current.isValid():
            self.show_sentence(self.model.rows[current.row()].id)

    def show_sentence(self, sentence_id: int | None) -> None:
        self.current_id = sentence_id
        if sentence_id is None or self.store is None:
            self.editor.set_sentence(None)
            return
        sentence = self.store.sentence(sentence_id)
        suggestions = self.store.predictions(sentence_id) if sentence.status == "unlabelled" else []
        self.editor.set_sentence(sentence, suggestions)
        self.sentence_info.setText(f"#{sentence.id} · {sentence.split} · {sentence.status} · "
                                   f"{len(sentence.spans)} entities"
                                   + (f" · {len(suggestions)} suggestions" if suggestions else ""))

    def save_spans(self, spans, status: str | None = None) -> None:
        """An edit from the token editor: committed now, one undo step."""
        if self.current_id is None:
            return
        try:
            self.store.set_spans(self.current_id, spans, status)
        except NerStudioError as exc:
            QMessageBox.warning(self, "nerstudio", str(exc))
        self._refresh_current()

    def _refresh_current(self) -> None:
        self.show_sentence(self.current_id)
        self.model.update_row(self.current_id)
        self.update_status()

    def mark_done_and_next(self) -> None:
        if self.current_id is None:
            return
        sentence = self.store.sentence(self.current_id)
        if sentence.status == "unlabelled":
            self.store.set_status(self.current_id, "labelled")
        self.model.update_row(self.current_id)
        self.update_status()
        self.go_to_next_unlabelled()

    def go_to_next_unlabelled(self) -> None:
        row = self.model.row_of(self.current_id)
        start = 0 if row is None else row + 1
        i = start
        while True:
            while i >= self.model.rowCount() and self.model.canFetchMore():
                self.model.fetchMore()
            if i >= self.model.rowCount():
                return
            if self.model.rows[i].status == "unlabelled":
                self.table.selectRow(i)
                return
            i += 1

    def accept_suggestion(self, span) -> None:
        sentence = self.store.sentence(self.current_id)
        spans = [s for s in sentence.spans if s.end <= span.start or s.start >= span.end]
        self.save_spans(sorted(spans + [span]))

    def accept_all_suggestions(self) -> None:
        if self.current_id is None:
            return
        suggestions = [sp for sp, _ in self.store.predictions(self.current_id)]
        if suggestions:
            self.save_spans(suggestions, status="labelled")

    def reject_suggestions(self) -> None:
        if self.current_id is not None:
            self.store.clear_predictions(self.current_id)
            self._refresh_current()

    def undo(self) -> None:
        self._jump(self.store.undo() if self.store else None)

    def redo(self) -> None:
        self._jump(self.store.redo() if self.store else None)

    def _jump(self, sentence_id: int | None) -> None:
        if sentence_id is None:
            self.statusBar().showMessage("Nothing to undo or redo", 2000)
            return
        row = self.model.row_of(sentence_id)
        if row is not None and sentence_id != self.current_id:
            self.table.selectRow(row)
        else:
            self.current_id = sentence_id
        self._refresh_current()

    def update_status(self) -> None:
        """Refresh the status bar soon (coalesced: a burst of edits costs one query)."""
        self._status_timer.start()

    def _update_status_now(self) -> None:
        if self.store is None:
            self.status.setText("No project open")
            return
        summary = self.store.summary()
        total = sum(n for n, _ in summary["splits"].values())
        parts = [f"{total} sentences"]
        for split in ("train", "dev", "test", "unassigned"):
            if split in summary["splits"]:
                n, labelled = summary["splits"][split]
                parts.append(f"{split} {labelled}/{n} labelled")
        parts.append(" ".join(f"{k} {v}" for k, v in summary["entities"].items()))
        self.status.setText("  ·  ".join(parts))

    # -- import / export ------------------------------------------------------------------------
    def import_dialog(self) -> None:
        dialog = ImportDialog(self)
        if dialog.exec():
            self.start_import(**dialog.values())

    def start_import(self, path: str, fmt: str | None = None, split: str | None = None,
                     ratios=None) -> Worker:
        progress = QProgressDialog("Importing…", "Cancel", 0, 0, self)
        progress.setWindowModality(Qt.WindowModal)
        progress.setMinimumDuration(300)
        worker = Worker(run_import, str(self.store.path), path, fmt, split, ratios)
        worker.progressed.connect(lambda done, _t: progress.setLabelText(f"Importing… {done} sentences"))
        progress.canceled.connect(worker.cancel)

        def finished(n):
            progress.close()
            self.after_bulk_change()
            self.statusBar().showMessage(f"Imported {n} sentences from {Path(path).name}", 5000)

        def failed(reason):
            progress.close()
            QMessageBox.warning(self, "Import", reason)

        worker.finished.connect(finished)
        worker.failed.connect(failed)
        return self._start(worker)

    def export_dialog(self) -> None:
        dialog = ExportDialog(self)
        if dialog.exec():
            values = dialog.values()
            worker = Worker(run_export, str(self.store.path), **values)
            worker.finished.connect(lambda n: self.statusBar().showMessage(
                f"Exported {n} sentences to {values['path']}", 5000))
            worker.failed.connect(lambda r: QMessageBox.warning(self, "Export", r))
            self._start(worker)

    def _start(self, worker: Worker) -> Worker:
        self.workers.append(worker)
        worker.thread.finished.connect(lambda: self.workers.remove(worker)
                                       if worker in self.workers else None)
        return worker.start()

    # -- closing --------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        if self.train_view.worker is not None:
            self.train_view.worker.cancel()
            self.train_view.worker.wait(60000)
        self.train_view._warm.wait(60000)
        for w in list(self.workers) + list(self.playground._workers):
            w.cancel()
            w.wait(5000)
        if self.store is not None:
            self.model = None
            self.store.close()
            self.store = None
        super().closeEvent(event)
