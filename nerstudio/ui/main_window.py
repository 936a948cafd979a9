"""The main window: sentence list on the left, token editor on the right.

Every edit is written to the project file the moment it is made (there is no Save). The window
owns a :class:`ProjectSession` while a project is open (``window.session``; ``window.store`` is
its store) and follows the session's events: ``labels_changed`` rebuilds the palette, the label
filter and the editor's colours; ``sentence_changed`` updates that row, the editor when it shows
it, and the status bar; ``sentences_changed`` reloads the list. A timer polls the session so a
commit from another window or process shows up within a second. Long work (import, export,
pre-annotation) runs on a :class:`Worker` thread with its own store connection.

Annotation keys are QActions on the sentence list and the editor pane (shortcut context
``WidgetWithChildrenShortcut``): they fire only while focus is there, never in the search box,
the filter boxes or another tab, and they are enabled and disabled as one group.

Start-up: the Train view (pyqtgraph, most of the window's build time) is built the first time its
tab is shown or anything asks for ``window.train_view``; torch is imported on a worker thread
shortly after the window shows (``warm_up``), so the first Train click does not wait for it.
The session's store runs no WAL checkpoint inside a click (``autocheckpoint=False``): the window
checkpoints from a worker thread once edits have stopped for CHECKPOINT_IDLE_MS, or at once when
the -wal file passes WAL_CHECKPOINT_BYTES."""
from __future__ import annotations

import dataclasses
import operator
import os
import sqlite3
from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QComboBox, QFileDialog,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMainWindow,
                               QProgressDialog, QPushButton, QScrollArea, QSizePolicy,
                               QSplitter, QStackedWidget, QTableView, QTabWidget, QVBoxLayout,
                               QWidget)

from ..core.errors import (NerStudioError, ProjectBusyError, ReadOnlyProjectError,
                           StaleEditError, StoreError)
from ..core.heap import freeze_heap
from ..core.session import WAL_CHECKPOINT_BYTES, ProjectSession, checkpoint_file
from ..core.store import ProjectStore
from .active import ACTIVE_ORDER, FILE_ORDER, order_state
from .import_dialog import (ExportDialog, ImportDialog, new_labels_question, run_export,
                            run_import)
from .label_manager import LabelManager
from .sentence_model import SentenceListModel
from .text import ask, inform, plural, rich, safe_colour, status_text, warn
from .token_editor import TokenEditor, readable_text_colour
from .workers import Worker

ALL = "(all)"
LIKELY_ERRORS = "likely errors"  # the status filter's entry for the review's flagged sentences
MAX_RECENT = 8
BUSY_TIMEOUT_S = 2.0   # a click waits at most this long for another process's write lock
POLL_MS = 1000         # how often another process's commits are looked for
CHECKPOINT_IDLE_MS = 2000  # the WAL is checkpointed once edits have stopped this long
WARM_UP_DELAY_MS = 300     # torch is imported (on a worker thread) this long after the window shows
_span_start = operator.attrgetter("start")


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _warm_up(**_kw) -> None:
    """Worker function: import what a training run or a prediction needs (seconds; C extensions
    hold the GIL while they load), so neither waits for it later."""
    from .playground import import_ml

    import_ml(training=True)


class _OneLine(QWidget):
    """Holds a one-line QLabel whose text changes often (the sentence info, on every click)
    without re-laying out the window. Why: QLabel.setText asks every layout above it to redo
    itself, and the tab widget up there then repaints the whole window (several ms per click,
    most of a click's cost on a normal sentence). This widget has a fixed height and no layout,
    so the request stops here; the label is simply kept as wide as it."""

    def __init__(self, label: QLabel):
        super().__init__()
        self.label = label
        label.setParent(self)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self._fit_height()

    def _fit_height(self) -> None:
        m = self.label.contentsMargins()
        self.setFixedHeight(self.label.fontMetrics().height() + m.top() + m.bottom())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.label.setGeometry(self.rect())

    def event(self, event) -> bool:
        if event.type() == QEvent.LayoutRequest:  # the label's font or style may have changed
            self._fit_height()
        return super().event(event)


class MainWindow(QMainWindow):
    session_changed = Signal(object)   # the new ProjectSession, or None

    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.settings = settings or QSettings("nerstudio", "nerstudio")
        self.session: ProjectSession | None = None
        self.model: SentenceListModel | None = None
        self.current_id: int | None = None
        self.read_only = False
        self._shown = None                 # the Sentence the editor shows, as read from the file
        self._shown_suggestions: list = []  # the suggestions the editor shows (none when hidden)
        self._own_edit: int | None = None  # the sentence save_spans is writing (see there)
        self._replaced: dict[str, str | None] = {}  # label renames/merges/deletes not yet applied
        self.workers: list[Worker] = []
        self._shortcut_sheet = None
        self._train_view = None            # built on first use (see the train_view property)
        self._warm: Worker | None = None   # the start-up import of torch (warm_up)
        self.warmed = False                # ... has finished (or failed)
        self._checkpointer: Worker | None = None  # the last WAL checkpoint's worker
        self._checkpointing = False        # ... is running
        self._checkpoint_again = False     # writes came while it ran
        self.last_checkpoint = None        # SQLite's (busy, log, checkpointed) of the last one
        self.review_overrides: dict = {}   # TrainConfig fields for the review (tests: a tiny model)
        self.review_worker: Worker | None = None  # the latest Find likely label errors
        self.setWindowTitle("nerstudio")
        self.resize(1200, 750)
        self._build()
        self._build_menus()
        self._poll_timer = QTimer(self, interval=POLL_MS)
        self._poll_timer.timeout.connect(self.poll_file)
        self._checkpoint_timer = QTimer(self, singleShot=True, interval=CHECKPOINT_IDLE_MS)
        self._checkpoint_timer.timeout.connect(self.checkpoint)
        self._warm_timer = QTimer(self, singleShot=True, interval=WARM_UP_DELAY_MS)
        self._warm_timer.timeout.connect(self.warm_up)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/splitter")
        if state is not None:
            self.splitter.restoreState(state)
        self._update_actions()

    @property
    def store(self) -> ProjectStore | None:
        """The open project's store (``session.store``), or None."""
        return self.session.store if self.session is not None else None

    # -- building -------------------------------------------------------------------------------
    def _build(self) -> None:
        left = QWidget()
        lv = QVBoxLayout(left)
        filters = QHBoxLayout()
        self.split_filter = QComboBox()
        self.split_filter.addItems([ALL, "train", "dev", "test", "unassigned"])
        self.status_filter = QComboBox()
        self.status_filter.addItems([ALL, "unlabelled", "labelled", "reviewed", LIKELY_ERRORS])
        self.label_filter = QComboBox()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search text…")
        self.search.setClearButtonEnabled(True)
        self.filter_captions = []
        for caption, w in (("S&plit", self.split_filter), ("S&tatus", self.status_filter),
                           ("&Label", self.label_filter)):
            label = QLabel(caption)
            label.setBuddy(w)
            self.filter_captions.append(label)
            w.currentIndexChanged.connect(lambda _i: self.apply_filters())
            filters.addWidget(label)
            filters.addWidget(w, 1)
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(lambda: self.apply_filters())
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        lv.addLayout(filters)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        self.order_combo = QComboBox()
        self.order_combo.setObjectName("order")
        self.order_combo.addItems([FILE_ORDER, ACTIVE_ORDER])
        self.order_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.order_caption = QLabel("&Order")
        self.order_caption.setBuddy(self.order_combo)
        self.order_combo.currentIndexChanged.connect(lambda _i: self._order_chosen())
        # a person who picks an order goes on annotating in it: Enter / A act on the list
        self.order_combo.activated.connect(lambda _i: QTimer.singleShot(0, self.table.setFocus))
        search_row.addWidget(self.order_caption)
        search_row.addWidget(self.order_combo)
        lv.addLayout(search_row)
        self.table = QTableView()
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        lv.addWidget(self.table)

        right = self.editor_pane = QWidget()
        rv = QVBoxLayout(right)
        self.palette_row = QHBoxLayout()
        self.label_buttons = QButtonGroup(self)
        self.label_buttons.setExclusive(True)
        rv.addLayout(self.palette_row)
        self.editor = TokenEditor()
        self.editor.setFocusPolicy(Qt.StrongFocus)
        self.editor.edited.connect(self.save_spans)
        self.editor.suggestion_accepted.connect(self.accept_suggestion)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.editor)
        rv.addWidget(scroll, 1)
        self.review_info = QLabel()  # the shown sentence's likely label errors (or hidden)
        self.review_info.setObjectName("review-info")
        self.review_info.setTextFormat(Qt.PlainText)  # words and tags from the file: plain text
        self.review_info.setWordWrap(True)
        self.review_info.setStyleSheet("QLabel#review-info { background:#fff4e5; color:#5a3a00;"
                                       " border:1px solid #f0b45a; border-radius:3px;"
                                       " padding:4px 8px }")
        self.review_info.hide()
        rv.addWidget(self.review_info)
        self.sentence_info = QLabel()
        self.sentence_info.setTextFormat(Qt.PlainText)
        rv.addWidget(_OneLine(self.sentence_info))  # (see there: rewritten on every click)
        buttons = QHBoxLayout()
        self.done_button = QPushButton("Mark labelled and next  (Enter)")
        self.accept_button = QPushButton("Accept suggestions  (A)")
        self.reject_button = QPushButton("Reject suggestions  (R)")
        for b in (self.done_button, self.accept_button, self.reject_button):
            buttons.addWidget(b)
        rv.addLayout(buttons)

        self.splitter = self.annotate_page = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setSizes([450, 750])
        from .playground import Playground

        self.playground = Playground(self)  # cheap (a few ms): built now
        # the Train view is not: a placeholder page until it is first shown or asked for
        self._train_placeholder = QWidget()
        self._train_placeholder.setObjectName("train-placeholder")
        self.tabs = QTabWidget()
        self.tabs.addTab(self.splitter, "Annotate")
        self.tabs.addTab(self._train_placeholder, "Train")
        self.tabs.addTab(self.playground, "Playground")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.welcome = self._build_welcome()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.tabs)
        self.setCentralWidget(self.pages)
        self.status = QLabel()
        self.status.setTextFormat(Qt.PlainText)
        self.statusBar().addWidget(self.status, 1)
        self.read_only_badge = QLabel("read-only")
        self.read_only_badge.setObjectName("read-only-badge")
        self.read_only_badge.setStyleSheet("QLabel { background:#b00020; color:white; "
                                           "padding:1px 8px; border-radius:3px; font-weight:bold }")
        self.read_only_badge.setToolTip("This project file cannot be written: it is open for "
                                        "reading only, and editing is switched off.")
        self.read_only_badge.hide()
        from .active import ModelRefresher
        from .freshness import KeepFresh

        self.refresher = ModelRefresher(self)
        self.refresher.refreshed.connect(lambda _run: self._order_refreshed())
        self.refresher.state_changed.connect(self._update_order_choice)
        self.keep_fresh = KeepFresh(self)
        self.keep_fresh.changed.connect(self._update_fresh_action)
        for w in (self.refresher.label, self.keep_fresh.label, self.keep_fresh.cancel_button):
            self.statusBar().addPermanentWidget(w)
        self.statusBar().addPermanentWidget(self.read_only_badge)
        self._status_timer = QTimer(self, singleShot=True, interval=150)
        self._status_timer.timeout.connect(self._update_status_now)
        self._build_annotate_actions()

    @property
    def train_view(self):
        """The Train view, built on first use: the first time its tab is shown or anything asks
        for it. It takes the placeholder's place in the tabs and follows the current session."""
        if self._train_view is None:
            from .train_view import TrainView

            view = self._train_view = TrainView(self)
            view.run_finished.connect(lambda _id: self.load_active_model())
            view.became_idle.connect(self.keep_fresh.train_view_idle)
            index = self.tabs.indexOf(self._train_placeholder)
            current = self.tabs.currentIndex() == index
            blocked = self.tabs.blockSignals(True)  # the same tab stays current: no news
            try:
                self.tabs.insertTab(index, view, "Train")
                if current:
                    self.tabs.setCurrentIndex(index)
                self.tabs.removeTab(index + 1)
            finally:
                self.tabs.blockSignals(blocked)
            self._train_placeholder.deleteLater()
            self._train_placeholder = None
            if self.session is not None:
                view.set_session(self.session)
        return self._train_view

    def _tab_changed(self, index: int) -> None:
        if self._train_view is None and self.tabs.widget(index) is self._train_placeholder:
            self.train_view  # noqa: B018 - builds it, in the placeholder's place
        self._update_actions()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._warm is None and not self._warm_timer.isActive():
            self._warm_timer.start()  # once the window has painted, not on its way up

    def warm_up(self) -> Worker:
        """Import torch on a worker thread (started once, shortly after the window shows; now
        when called): the GUI thread never imports it, and the first Train click or prediction
        does not wait for it. Then freeze the heap (torch's objects leave the GC's scans)."""
        self._warm_timer.stop()
        if self._warm is None:
            self._warm = Worker(_warm_up)
            self._warm.finished.connect(lambda _r: self._warmed_up())
            self._warm.failed.connect(lambda _r: self._warmed_up())
            self._warm.start()
        return self._warm

    def _warmed_up(self) -> None:
        self.warmed = True
        freeze_heap()

    def _build_welcome(self) -> QWidget:
        """What an empty window shows: what to do next, with buttons that do it."""
        page = QWidget()
        page.setObjectName("welcome")
        v = QVBoxLayout(page)
        v.addStretch(2)
        title = QLabel("Open a project, create one, or try the demo")
        title.setObjectName("welcome-title")
        title.setAlignment(Qt.AlignCenter)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        title.setFont(font)
        v.addWidget(title)
        hint = QLabel("A project is one .nerproj file: your sentences, labels, model suggestions "
                      "and training runs. Import CoNLL, JSONL, doccano, Label Studio or plain text "
                      "into it from File > Import.")
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignCenter)
        v.addWidget(hint)
        from .demo import data_location

        where = QLabel(f"Try the demo: 40 sentences, half of them labelled, kept at "
                       f"{data_location() / 'demo.nerproj'}")
        where.setObjectName("welcome-demo-path")
        where.setTextFormat(Qt.PlainText)
        where.setWordWrap(True)
        where.setAlignment(Qt.AlignCenter)
        v.addWidget(where)
        row = QHBoxLayout()
        row.addStretch()
        self.welcome_buttons = {}
        for key, text, slot in (("open", "Open project…", self.open_project_dialog),
                                ("new", "New project…", self.new_project),
                                ("demo", "Try the demo", self.open_demo)):
            b = QPushButton(text)
            b.setObjectName(f"welcome-{key}")
            b.setMinimumWidth(150)
            b.clicked.connect(lambda _checked=False, f=slot: f())
            self.welcome_buttons[key] = b
            row.addWidget(b)
        row.addStretch()
        v.addLayout(row)
        v.addStretch(3)
        return page

    def _annotate_action(self, text: str, slot, keys, tip: str = "") -> QAction:
        """An Annotate-view key: live only while focus is in the sentence list or the editor pane
        (not the search box, the filters or another tab)."""
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        action.setStatusTip(tip)
        action.setToolTip(tip or text)
        action.triggered.connect(lambda *_: slot())
        self.table.addAction(action)
        self.editor_pane.addAction(action)
        return action

    def _build_annotate_actions(self) -> None:
        self.done_action = self._annotate_action(
            "Mark labelled and next", self.mark_done_and_next, [Qt.Key_Return, Qt.Key_Enter],
            "Mark this sentence labelled and go to the next unlabelled one")
        self.accept_action = self._annotate_action(
            "Accept all suggestions", self.accept_all_suggestions, ["A"],
            "Add the shown model suggestions that do not overlap a gold span; mark labelled")
        self.reject_action = self._annotate_action(
            "Reject suggestions", self.reject_suggestions, ["R"],
            "Remove this sentence's model suggestions")
        self.undo_action = self._annotate_action("&Undo", self.undo, ["Ctrl+Z"],
                                                 "Undo the last edit (kept across restarts)")
        self.redo_action = self._annotate_action("&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"],
                                                 "Redo the last undone edit")
        self.label_actions = [self._annotate_action(
            f"Pick label {k}", lambda k=k: self.pick_label(k - 1), [str(k)],
            f"Make the label in position {k} the active one") for k in range(1, 10)]
        self.accept_model_action = self._annotate_action(
            "Likely error: take the model's label", lambda: self.resolve_flags(True), ["M"],
            "Give the suspected tokens of this sentence the model's label (one undo step) and go "
            "to the next likely error")
        self.keep_label_action = self._annotate_action(
            "Likely error: keep my label", lambda: self.resolve_flags(False), ["K"],
            "Keep this sentence's labels as they are (the flags go) and go to the next likely "
            "error")
        self.edit_actions = [self.done_action, self.accept_action, self.reject_action,
                             self.undo_action, self.redo_action, self.accept_model_action,
                             self.keep_label_action]
        self.annotate_actions = self.edit_actions + self.label_actions
        for button, action in ((self.done_button, self.done_action),
                               (self.accept_button, self.accept_action),
                               (self.reject_button, self.reject_action)):
            button.clicked.connect(lambda _checked=False, a=action: a.trigger())
            button.setToolTip(action.statusTip())
            action.changed.connect(lambda b=button, a=action: b.setEnabled(a.isEnabled()))

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
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        self.labels_action = self._action(edit, "&Labels…", self.manage_labels, "Ctrl+L")
        annotate = self.menuBar().addMenu("&Annotate")
        for a in (self.done_action, self.accept_action, self.reject_action):
            annotate.addAction(a)
        annotate.addSeparator()
        for a in (self.accept_model_action, self.keep_label_action):
            annotate.addAction(a)
        annotate.addSeparator()
        for a in self.label_actions:
            annotate.addAction(a)
        model = self.menuBar().addMenu("&Model")
        self.train_action = self._action(model, "&Train…", self.show_training, "Ctrl+T")
        self.preannotate_action = self._action(model, "&Pre-annotate unlabelled sentences",
                                               self.preannotate, "Ctrl+P")
        model.addSeparator()
        self.fresh_action = self._action(model, "&Keep the model fresh",
                                         lambda: self.keep_fresh.set_enabled(
                                             self.fresh_action.isChecked()))
        self.fresh_action.setCheckable(True)
        self.fresh_every_action = self._action(model, "Retrain &every … labelled sentences…",
                                               lambda: self.keep_fresh.ask_every())
        model.addSeparator()
        self.review_action = self._action(model, "Find likely label &errors…", self.find_errors)
        model.setToolTipsVisible(True)
        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = self._action(help_menu, "&Keyboard and mouse…",
                                             self.show_shortcuts, QKeySequence.HelpContents)
        self.about_action = self._action(help_menu, "&About nerstudio", self.show_about)
        self._refresh_recent()

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda *_: slot())
        menu.addAction(action)
        return action

    def _update_actions(self) -> None:
        """Enable each group for what can be done now: editing needs a writable project and the
        Annotate tab; label keys need a project and the Annotate tab."""
        has = self.session is not None
        writable = has and not self.read_only
        annotating = has and self.tabs.currentWidget() is self.annotate_page
        for a in self.edit_actions:
            a.setEnabled(writable and annotating)
        for a in self.label_actions:
            a.setEnabled(annotating)
        for a in (self.import_action, self.labels_action, self.preannotate_action):
            a.setEnabled(writable)
        self.export_action.setEnabled(has)
        self._update_fresh_action()
        self._update_review_action()
        self.pages.setCurrentWidget(self.tabs if has else self.welcome)

    # -- projects -------------------------------------------------------------------------------
    def open_project(self, path: str | Path, read_only: bool = False) -> None:
        """Open ``path`` (read-only when asked, or when the file or its folder is not writable);
        the store waits at most BUSY_TIMEOUT_S for another process's write lock."""
        path = Path(path)
        read_only = read_only or (path.exists() and not _writable(path))
        try:
            try:
                session = ProjectSession.open(path, read_only=read_only,
                                              busy_timeout=BUSY_TIMEOUT_S, autocheckpoint=False)
            except ReadOnlyProjectError:
                read_only = True
                session = ProjectSession.open(path, read_only=True, busy_timeout=BUSY_TIMEOUT_S)
        except (NerStudioError, sqlite3.Error) as exc:
            warn(self, "nerstudio", str(exc))
            return
        self._close_session()
        self.session = session
        self.read_only = read_only or session.read_only
        session.follow(self, labels_changed=self.reload_labels,
                       label_replaced=self._label_replaced,
                       sentence_changed=self._sentence_changed,
                       sentences_changed=self._sentences_changed,
                       active_model_changed=self._active_model_changed,
                       order_changed=self._order_refreshed,  # e.g. a terminal's preannotate
                       flags_changed=self._sentences_changed,  # a terminal's review
                       written=self._wrote)
        self.model = SentenceListModel(session.store, self)
        self.table.setModel(self.model)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for col, width in ((1, 50), (2, 125), (3, 55)):
            # fixed widths: ResizeToContents would re-measure every loaded row on each edit
            header.setSectionResizeMode(col, QHeaderView.Interactive)
            header.resizeSection(col, width)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self._update_title()
        self.read_only_badge.setVisible(self.read_only)
        self._remember(path)
        self._update_actions()
        self.reload_labels()
        if self.model.rowCount():
            self.table.selectRow(0)
        else:
            self.show_sentence(None)
        self.update_status()
        self._give_views_the_session(session)
        self.load_active_model()
        self._poll_timer.start()
        self.table.setFocus()
        if self.read_only:
            self.statusBar().showMessage("Opened read-only: editing is switched off", 8000)

    def _give_views_the_session(self, session) -> None:
        """The Train and Playground views follow the session's events themselves (a Train view
        not built yet gets the session when it is)."""
        for view in (self._train_view, self.playground):
            if view is not None:
                view.set_session(session)
        self.keep_fresh.set_session(session)
        self.session_changed.emit(session)

    def _close_session(self) -> None:
        if self.session is None:
            return
        self._poll_timer.stop()
        self._checkpoint_timer.stop()  # closing the store checkpoints (the last connection)
        old, self.session = self.session, None
        self.refresher.cancel()
        self.model = None
        blocked = self.order_combo.blockSignals(True)  # the next project starts in file order
        self.order_combo.setCurrentText(FILE_ORDER)
        self.order_combo.blockSignals(blocked)
        self.status_filter.setEnabled(True)
        self.table.setModel(None)
        self.current_id, self._shown, self._shown_suggestions = None, None, []
        self._give_views_the_session(None)
        old.unsubscribe(self)
        old.close()

    def _active_model_changed(self, _run_id=None) -> None:
        self.load_active_model()

    def _update_title(self) -> None:
        if self.session is None:
            self.setWindowTitle("nerstudio")
            return
        store = self.session.store
        name = store.meta("name") or store.path.stem
        # window titles are always plain text; "[*]" is Qt's modified-marker placeholder
        title = f"{name} — {store.path}".replace("[*]", "[ *]")
        self.setWindowTitle(f"{title}{'  [read-only]' if self.read_only else ''} — nerstudio")

    def active_model_dir(self) -> str | None:
        folder = self.session.active_model_dir() if self.session is not None else None
        return str(folder) if folder is not None else None

    def load_active_model(self) -> None:
        """The active model changed (or a project opened): the playground loads it, the
        active-learning order is re-ranked with it in the background when it is from another
        model, and the choices that need a model follow."""
        folder = self.active_model_dir()
        run_id = self.session.active_run if self.session is not None else None
        self.playground.set_model(folder, f"run {run_id}" if folder else "")
        if folder is not None:
            self.refresher.request()
        self._update_order_choice()
        self._update_review_action()

    # -- active learning order ------------------------------------------------------------------
    def active_order_on(self) -> bool:
        return self.order_combo.currentText() == ACTIVE_ORDER

    def _update_order_choice(self) -> None:
        """The Order choice is offered when the active model has ranked the unlabelled sentences;
        otherwise it is disabled, its tooltip saying why (and File order is shown)."""
        session = self.session
        ok, why = order_state(self.store, session.active_run if session is not None else None,
                              self.active_model_dir() if session is not None else None)
        combo = self.order_combo
        combo.setEnabled(ok)
        combo.setToolTip(why)
        combo.setStatusTip(why)
        if not ok and self.active_order_on():
            combo.setCurrentText(FILE_ORDER)  # (_order_chosen lists the file order again)

    def _order_chosen(self) -> None:
        active = self.active_order_on()
        self.status_filter.setEnabled(not active)
        self.status_filter.setToolTip(
            "The Active learning order lists unlabelled sentences only: choose File order to "
            "filter by status" if active else "")
        self.apply_filters(keep=self.current_id)
        if active and self.model is not None and self.model.rowCount() == 0:
            self.statusBar().showMessage("No unlabelled sentence is left in the active-learning "
                                         "order", 5000)

    def _order_refreshed(self) -> None:
        """A new order (or new suggestions) is stored: the choice, and the list when it shows it."""
        self._update_order_choice()
        if self.active_order_on():
            self._sentences_changed()

    # -- keep the model fresh -------------------------------------------------------------------
    def _update_fresh_action(self) -> None:
        writable = self.session is not None and not self.read_only
        on = writable and self.keep_fresh.enabled()
        for a in (self.fresh_action, self.fresh_every_action):
            a.setEnabled(writable)
        blocked = self.fresh_action.blockSignals(True)
        self.fresh_action.setChecked(on)
        self.fresh_action.blockSignals(blocked)
        n = self.keep_fresh.every() if self.session is not None else 25
        self.fresh_every_action.setText(f"Retrain &every {n} labelled sentences…")
        tip = (f"Start a training run in the background after every {n} newly labelled "
               "sentences; its model becomes the active one when it finishes")
        self.fresh_action.setToolTip(tip)
        self.fresh_action.setStatusTip(tip)

    # -- likely label errors --------------------------------------------------------------------
    def _update_review_action(self) -> None:
        """Find likely label errors needs a writable project and a trained model; the status
        filter's "likely errors" entry needs flags to list."""
        reason = None
        if self.session is None:
            reason = "Open a project first"
        elif self.read_only:
            reason = "The project is open read-only"
        elif self.active_model_dir() is None:
            reason = ("Needs a trained model: train one in the Train tab (or make a finished "
                      "run active) first")
        self.review_action.setEnabled(reason is None)
        tip = reason or ("Train models on parts of the labelled sentences and flag the tokens "
                         "whose label the held-out model disagrees with (needs about 50 labelled "
                         "sentences)")
        self.review_action.setToolTip(tip)
        self.review_action.setStatusTip(tip)
        flagged = self._flagged_ids()
        index = self.status_filter.findText(LIKELY_ERRORS)
        item = self.status_filter.model().item(index)
        if item is not None:
            item.setEnabled(bool(flagged) or self.status_filter.currentIndex() == index)
        self.status_filter.setItemData(
            index, f"{len(flagged)} sentences with likely label errors, most suspicious first"
            if flagged else "No likely label errors: Model ▸ Find likely label errors… (needs "
            "a trained model)", Qt.ToolTipRole)

    def _flagged_ids(self) -> list[int]:
        if self.store is None or not hasattr(self.store, "flagged_sentence_ids"):
            return []
        try:
            return list(self.store.flagged_sentence_ids())
        except (NerStudioError, sqlite3.Error):
            return []

    def _flags_of(self, sentence_id: int | None) -> list:
        if sentence_id is None or self.store is None or not hasattr(self.store, "review_flags"):
            return []
        try:
            return list(self.store.review_flags(sentence_id))
        except (NerStudioError, sqlite3.Error):
            return []

    def _show_flags(self, sentence) -> None:
        """The shown sentence's likely label errors: a line under the editor ("word: given
        B-ORG → model B-LOC") and a mark under those tokens. Plain text throughout."""
        flags = self._flags_of(sentence.id) if sentence is not None else []
        self.editor.set_marked({f[1] for f in flags})
        if not flags:
            if self.review_info.isVisible():
                self.review_info.hide()
            return
        parts = []
        for _sid, index, given, predicted, _score in flags:
            word = sentence.tokens[index].text if 0 <= index < len(sentence.tokens) else "?"
            parts.append(f"{word}: given {given} → model {predicted}")
        head = ("Likely label error" if len(flags) == 1 else
                f"Likely label error 1 of {len(flags)}")
        text = f"{head}:  {parts[0]}    M: take the model's label · K: keep mine"
        if len(flags) > 1:
            text += "\nThen:  " + ";  ".join(parts[1:])
        self.review_info.setText(text)
        self.review_info.show()

    def resolve_flags(self, accept: bool) -> None:
        """M / K on a sentence with likely label errors: the first open flag (the line above
        the buttons) takes the model's tag (one undoable edit) or keeps the gold as it is;
        either way that flag goes. Once the sentence has none left, the likely-errors list
        moves to the next one."""
        if self.current_id is None or self.store is None:
            return
        flags = self._flags_of(self.current_id)
        if not flags:
            self.statusBar().showMessage("No likely label error on this sentence", 3000)
            return
        if not self._can_edit():
            return
        sid, flag = self.current_id, flags[0]
        word = self._shown.tokens[flag[1]].text if self._shown is not None and \
            flag[1] < len(self._shown.tokens) else "?"
        if not self._write(self.session.resolve_flag, sid, flag[1], accept,
                           expected_version=self._version()):
            self._update_review_action()
            return
        self.statusBar().showMessage(
            (f"{word}: took the model's {flag[3]} (Ctrl+Z undoes it)" if accept else
             f"{word}: kept your {flag[2]}"), 5000)
        self._update_review_action()
        if self._flags_of(sid):
            return  # the next flag of this sentence is shown
        if self.status_filter.currentText() == LIKELY_ERRORS and not self.active_order_on():
            self._go_to_next_listed(lambda row: bool(self._flags_of(row.id)),
                                    "No likely label error further down this list")

    def review_running(self) -> bool:
        """A label-error review is training its k models (one training at a time)."""
        return self.review_worker is not None and self.review_worker.thread.isRunning()

    def training_running(self) -> str | None:
        """What is training now (the Train view's run, curve or evaluation, or a background
        run), or None."""
        view = self._train_view
        if view is not None and view.busy():
            return "The Train view is busy"
        if self.keep_fresh.worker is not None:
            return "A background run (Keep the model fresh) is training"
        from ..core.slot import holder  # another process (a terminal's train or review)

        busy = self.session is not None and holder(self.session.path)
        return f"{busy[0].upper()}{busy[1:]} is training on this project" if busy else None

    def find_errors(self) -> Worker | None:
        """Model ▸ Find likely label errors…: the k-fold review on a worker thread, with
        progress and Cancel (a cancelled review leaves the project as it was)."""
        from .review_view import start_review

        return start_review(self)

    def show_training(self) -> None:
        """Model > Train: the Train tab, or what to do first when no project is open."""
        if self.session is None:
            inform(self, "Train", "No project is open. Training uses a project's labelled "
                   "sentences: open a project, create one, or try the demo first.")
            return
        self.tabs.setCurrentWidget(self.train_view)

    def preannotate(self) -> Worker | None:
        """Model > Pre-annotate: the active model's suggestions for the unlabelled sentences
        (``usecases.suggest``, as ``nerstudio preannotate``)."""
        if self.session is None or self.read_only:
            return None
        if self.active_model_dir() is None:
            inform(self, "Pre-annotate", "No active model yet: train one in the Train tab (or "
                   "make a finished run active).")
            return None
        progress = QProgressDialog("Pre-annotating…", "Cancel", 0, 100, self)
        progress.setWindowModality(Qt.WindowModal)
        progress.setMinimumDuration(300)

        def run(project, run_id, *, progress, should_stop, emit):
            from ..core.usecases import suggest
            from .playground import import_ml

            import_ml()  # one thread at a time imports torch (a concurrent import half-fails)
            return suggest(project, str(run_id), on_progress=progress, should_stop=should_stop)

        session = self.session
        worker = Worker(run, str(self.store.path), session.active_run)
        worker.progressed.connect(lambda d, t: (progress.setMaximum(max(t, 1)), progress.setValue(d)))
        progress.canceled.connect(worker.cancel)

        def finished(done):
            from ..core.preannotate import skipped_text

            progress.close()
            if self.session is session:
                session.notify_sentences_changed()
                self._order_refreshed()  # pre-annotation ranks the sentences as well
            line = f"Suggestions for {plural(done.sentences, 'sentence')}"
            if done.skipped:  # the model knows labels this project lacks: say so, not silently
                line += f"; {skipped_text(done.skipped)}"
            self.statusBar().showMessage(line, 15000 if done.skipped else 5000)

        worker.finished.connect(finished)
        worker.failed.connect(lambda r: (progress.close(), warn(self, "Pre-annotate", r)))
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
            # a menu item's "&" is a mnemonic: double it so a path shows as it is
            self._action(self.recent_menu, p.replace("&", "&&"), lambda p=p: self.open_project(p))
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
            warn(self, "nerstudio", str(exc))
            return
        self.open_project(path)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", "nerstudio project (*.nerproj)")
        if path:
            self.open_project(path)

    def open_demo(self, folder: Path | None = None) -> Path:
        """Open the demo project, creating it on first use in the app-data folder
        (``demo.demo_path()``: ~/.local/share/nerstudio/demo.nerproj on Linux)."""
        from .demo import demo_path
        from .demo import create_demo_project

        path = folder / "demo.nerproj" if folder is not None else demo_path()
        if not path.exists():
            create_demo_project(path)
        self.open_project(path)
        return path

    # -- labels ---------------------------------------------------------------------------------
    def _label_replaced(self, old: str, new: str | None) -> None:
        self._replaced[old] = new

    def reload_labels(self) -> None:
        """``labels_changed``: the palette, the editor's colours and the label filter. A renamed
        (or merged) label stays active and filtered under its new name; a deleted one falls back
        to the first label / (all)."""
        if self.session is None:
            return
        replaced, self._replaced = self._replaced, {}
        follow = lambda name: replaced.get(name, name) if name in replaced else name  # noqa: E731
        labels = self.store.label_set().labels
        names = [l.name for l in labels]
        for b in self.label_buttons.buttons():
            self.label_buttons.removeButton(b)
        while self.palette_row.count():
            widget = self.palette_row.takeAt(0).widget()
            if widget is not None:
                widget.hide()
                widget.setParent(None)  # gone from the window now, not at the next loop
                widget.deleteLater()
        active = follow(self.editor.active_label)
        for i, label in enumerate(labels):
            colour = safe_colour(label.colour)
            fg = readable_text_colour(colour)
            shown = label.name.replace("&", "&&")  # "&" would be a mnemonic
            b = QPushButton(f"{i + 1}  {shown}" if i < 9 else shown)
            b.setObjectName(f"label-{label.name}")
            b.setProperty("label", label.name)
            b.setCheckable(True)
            b.setToolTip(rich(f"{label.name}" + (f"  (key {i + 1})" if i < 9 else "")))
            b.setStyleSheet(f"QPushButton {{ background:{colour}; color:{fg}; padding:4px 10px;"
                            f" border:2px solid {colour}; border-radius:4px }}"
                            f" QPushButton:checked {{ border:2px solid palette(highlight);"
                            f" font-weight:bold }}")
            b.clicked.connect(lambda _c=False, n=label.name: self.set_active_label(n))
            self.label_buttons.addButton(b)
            self.palette_row.addWidget(b)
        self.palette_row.addStretch()
        self.set_active_label(active if active in names else (names[0] if names else None))
        self.editor.colours = {l.name: safe_colour(l.colour) for l in labels}
        # the label filter: keep (or follow) the selected label; (all) when it is gone
        current = self.label_filter.currentText() if self.label_filter.currentIndex() > 0 else None
        current = follow(current)
        if current not in names:
            current = None
        self.label_filter.blockSignals(True)
        self.label_filter.clear()
        self.label_filter.addItems([ALL] + names)
        self.label_filter.setCurrentIndex(names.index(current) + 1 if current else 0)
        self.label_filter.blockSignals(False)
        if self.model is not None and self.model.filters.get("label") != current:
            self.apply_filters(keep=self.current_id)
        elif self.current_id is not None:
            self.show_sentence(self.current_id)
        self.update_status()

    def set_active_label(self, name: str | None) -> None:
        self.editor.active_label = name
        for b in self.label_buttons.buttons():
            b.setChecked(b.property("label") == name)

    def pick_label(self, index: int) -> None:
        if self.store is None:
            return
        names = self.store.label_set().names
        if index < len(names):
            self.set_active_label(names[index])

    def manage_labels(self) -> None:
        if self.session is None:
            return
        dialog = LabelManager(self.session, self)
        dialog.exec()

    def after_bulk_change(self) -> None:
        """Data changed under us (an import, the playground's Add to dataset): tell the session,
        whose ``sentences_changed`` reloads every view."""
        if self.session is not None:
            self.session.notify_sentences_changed()

    # -- list and editor ------------------------------------------------------------------------
    def _filter_values(self) -> dict:
        def value(combo):
            return combo.currentText() if combo.currentIndex() > 0 and combo.currentText() else None

        status, ids = value(self.status_filter), None
        if self.active_order_on() and self.store is not None:
            status, ids = None, self.store.active_order  # unlabelled ones, most informative first
        elif status == LIKELY_ERRORS:
            status = None
            ids = self._flagged_ids
        return dict(split=value(self.split_filter), status=status,
                    label=value(self.label_filter), search=self.search.text().strip() or None,
                    ids=ids)

    def apply_filters(self, keep: int | None = None) -> None:
        """Filter the list; select ``keep`` when it is still listed, else the first row."""
        if self.model is None or self.store is None:
            return
        try:
            self.model.set_filters(**self._filter_values())
        except StoreError:  # a label gone in another window: back to all labels
            self.label_filter.blockSignals(True)
            self.label_filter.setCurrentIndex(0)
            self.label_filter.blockSignals(False)
            self.model.set_filters(**self._filter_values())
        self._select(keep)

    def _select(self, sentence_id: int | None) -> None:
        row = self.model.row_of(sentence_id) if sentence_id is not None else None
        if row is None and self.model.rowCount():
            row = 0
        if row is None:
            self.show_sentence(None)
            return
        if self.table.currentIndex().row() == row:
            self.show_sentence(self.model.rows[row].id)
        else:
            self.table.selectRow(row)

    def _row_changed(self, current, _previous) -> None:
        if current.isValid() and self.model is not None and current.row() < len(self.model.rows):
            self.show_sentence(self.model.rows[current.row()].id)

    def show_sentence(self, sentence_id: int | None) -> None:
        """Show what the file holds for ``sentence_id``: spans, status, and the model's
        suggestions while the sentence is unlabelled."""
        self.current_id = sentence_id
        sentence = None
        if sentence_id is not None and self.store is not None:
            try:
                sentence = self.store.sentence(sentence_id)
            except StoreError:  # deleted in another window
                sentence = None
        if sentence is None:
            self.current_id, self._shown, self._shown_suggestions = None, None, []
            self.editor.set_sentence(None)
            self._show_flags(None)
            self.sentence_info.setText("No sentence matches these filters" if self.model is not
                                       None and not self.model.rowCount() else "")
            self._update_actions()
            return
        suggestions = self.store.predictions(sentence_id) if sentence.status == "unlabelled" else []
        self._shown, self._shown_suggestions = sentence, suggestions
        self.editor.set_sentence(sentence, suggestions)
        self._show_flags(sentence)
        self._show_info(sentence, suggestions)

    def _show_info(self, sentence, suggestions) -> None:
        info = [f"#{sentence.id}", sentence.split, status_text(sentence.status, bool(suggestions)),
                plural(len(sentence.spans), "entity", "entities")]
        if suggestions:
            info.append(plural(len(suggestions), "suggestion"))
        self.sentence_info.setText(" · ".join(info))

    def _sentence_changed(self, sentence_id: int) -> None:
        """``sentence_changed``: that row, the editor when it shows it, the status bar."""
        if self.model is not None:
            try:
                self.model.update_row(sentence_id)
            except StoreError:
                pass
        if sentence_id == self.current_id and sentence_id != self._own_edit:
            self.show_sentence(sentence_id)
        self.update_status()

    def _sentences_changed(self) -> None:
        """``sentences_changed``: reload the list (in place when the same rows are listed, so
        the selection and scroll position stay), the editor and the status bar."""
        if self.model is None:
            return
        self._update_review_action()
        keep = self.current_id
        try:
            reset = self.model.reload()
        except StoreError:
            self.apply_filters(keep=keep)
            return
        if reset and keep is not None and self.model.row_of(keep) is None and \
                self._still_exists(keep):
            # it no longer matches the filters (another window labelled it): keep it in the
            # editor rather than yank the user to another sentence
            self.table.clearSelection()
            self.show_sentence(keep)
        elif reset:
            self._select(keep)
        else:
            self.show_sentence(keep)
        self.update_status()

    def _still_exists(self, sentence_id: int) -> bool:
        try:
            self.store.sentence_row(sentence_id)
            return True
        except (NerStudioError, sqlite3.Error, TypeError, IndexError):
            return False

    # -- WAL checkpoints ------------------------------------------------------------------------
    def _wrote(self) -> None:
        """``written``: checkpoint once the edits stop, or now when the WAL has grown large."""
        if self.session is None or self.read_only:
            return
        if self.session.wal_bytes() > WAL_CHECKPOINT_BYTES:
            self.checkpoint()
        else:
            self._checkpoint_timer.start()  # (re)started: fires CHECKPOINT_IDLE_MS after the last

    def checkpoint(self) -> Worker | None:
        """A PASSIVE checkpoint of the open project on a worker thread, with a connection of
        its own: it takes no lock a click needs (the GUI's store has SQLite's automatic one
        switched off, see ProjectStore ``autocheckpoint``). One at a time."""
        self._checkpoint_timer.stop()
        if self.session is None or self.read_only:
            return None
        if self._checkpointing:
            self._checkpoint_again = True  # writes during this one: another when it ends
            return None
        self._checkpointing = True
        # (kept referenced after it ends: it must not be freed while it emits)
        worker = self._checkpointer = Worker(checkpoint_file, str(self.store.path))
        worker.finished.connect(self._checkpointed)
        worker.failed.connect(lambda _reason: self._checkpointed(None))
        return worker.start()

    def _checkpointed(self, result) -> None:
        self._checkpointing = False
        self.last_checkpoint = result
        if self._checkpoint_again and self.session is not None:
            self._checkpoint_again = False
            self._checkpoint_timer.start()

    def poll_file(self) -> bool:
        """The timer: pick up commits from another window or process (the session emits)."""
        if self.session is None:
            return False
        if not self.read_only and not self._checkpointing and \
                self.session.wal_bytes() > WAL_CHECKPOINT_BYTES:
            self.checkpoint()  # grown by writes that did not come through the session
        try:
            return self.session.poll()
        except (NerStudioError, sqlite3.Error):
            return False

    # -- editing --------------------------------------------------------------------------------
    def _version(self):
        return getattr(self._shown, "version", None)

    def _can_edit(self) -> bool:
        if self.session is None or self.current_id is None:
            return False
        if self.read_only:
            warn(self, "Read-only project", f"{self.store.path} is open read-only: the edit was "
                 "not saved. Open a writable copy to edit it.")
            self.show_sentence(self.current_id)
            return False
        return True

    def _write(self, fn, *args, **kw) -> bool:
        """Run one write through the session; when the file refuses it, say why in a dialog and
        show what the file holds (the session re-emits ``sentence_changed`` either way)."""
        try:
            fn(*args, **kw)
            return True
        except StaleEditError as exc:
            title, text = "Changed elsewhere", (
                f"This sentence was changed in another window or program, so your edit was not "
                f"applied; it now shows the saved version.\n\n{exc}")
        except ReadOnlyProjectError as exc:
            title, text = "Read-only project", f"The project cannot be written: {exc}"
        except ProjectBusyError as exc:
            title, text = "Project busy", (f"Another program is writing to the project; your "
                                           f"edit was not saved. Try again.\n\n{exc}")
        except (NerStudioError, sqlite3.Error) as exc:
            title, text = "Edit not saved", str(exc)
        if self.current_id is not None:
            self.show_sentence(self.current_id)
        warn(self, title, text)
        return False

    def save_spans(self, spans, status: str | None = None) -> bool:
        """An edit from the token editor: committed now, one undo step. Once written, the
        editor is updated from ``spans`` and the new version: re-reading a 50,000-token sentence
        after every click cost 0.2-0.3 s and two full garbage collections. A refused edit shows
        what the file holds (``_write``)."""
        if not self._can_edit():
            return False
        sid, shown = self.current_id, self._shown
        if not self._write(self._set_own_spans, sid, spans, status,
                           expected_version=self._version()):
            return False
        self._show_own_edit(sid, shown, spans)
        return True

    def _set_own_spans(self, sentence_id: int, spans, status, **kw) -> None:
        """``session.set_spans`` while ``_sentence_changed`` leaves the editor to save_spans."""
        self._own_edit = sentence_id
        try:
            self.session.set_spans(sentence_id, spans, status, **kw)
        except (NerStudioError, sqlite3.Error):
            raise  # _write says why and shows what the file holds
        except BaseException:
            self._own_edit = None
            self.show_sentence(self.current_id)
            raise
        finally:
            self._own_edit = None

    def _show_own_edit(self, sentence_id: int, shown, spans) -> None:
        """Show the sentence as our own edit left it: the file holds exactly ``spans``; only its
        version and status are read back (tokens, text and columns cannot change in an edit)."""
        if sentence_id != self.current_id:
            return
        if shown is None or shown.id != sentence_id:
            self.show_sentence(sentence_id)
            return
        try:
            version, status = self.store.sentence_version(sentence_id)
            suggestions = (self._shown_suggestions if status == shown.status else
                           self.store.predictions(sentence_id) if status == "unlabelled" else [])
        except (NerStudioError, sqlite3.Error):
            self.show_sentence(sentence_id)
            return
        sentence = dataclasses.replace(shown, spans=sorted(spans, key=_span_start),
                                       status=status, version=version)
        self._shown, self._shown_suggestions = sentence, suggestions
        self.editor.set_sentence(sentence, suggestions)
        self._show_flags(sentence)  # the edit settled the sentence's flags in the file
        self._show_info(sentence, suggestions)

    def mark_done_and_next(self) -> None:
        if not self._can_edit():
            return
        if self._shown is not None and self._shown.status == "unlabelled":
            if not self._write(self.session.set_status, self.current_id, "labelled",
                               expected_version=self._version()):
                return
        self.go_to_next_unlabelled()

    def go_to_next_unlabelled(self) -> None:
        """The next unlabelled sentence below this one in the list; in the Active learning
        order the most informative one left, from the top (a refreshed order may have ranked
        sentences above this one); in the likely-errors list, the next one whose flags are
        still open."""
        if self.status_filter.currentText() == LIKELY_ERRORS and not self.active_order_on():
            self._go_to_next_listed(lambda row: bool(self._flags_of(row.id)),
                                    "No likely label error further down this list")
            return
        self._go_to_next_listed(lambda row: row.status == "unlabelled",
                                "No unlabelled sentence further down this list")

    def _go_to_next_listed(self, wanted, none_left: str) -> None:
        if self.active_order_on():
            i = 0
        else:
            row = self.model.row_of(self.current_id)
            i = row + 1 if row is not None else self._first_row_after(self.current_id)
        while True:
            while i >= self.model.rowCount() and self.model.canFetchMore():
                self.model.fetchMore()
            if i >= self.model.rowCount():
                self.statusBar().showMessage(none_left, 4000)
                return
            if wanted(self.model.rows[i]) and self.model.rows[i].id != self.current_id:
                # _select, not selectRow: the row may be the selected one while the editor shows
                # a sentence the filter no longer lists (after an undo), and must still move
                self._select(self.model.rows[i].id)
                return
            i += 1

    def _first_row_after(self, sentence_id: int | None) -> int:
        """Where the list goes on from a sentence it does not list (an undo brought it back
        under a filter that hides it): the first listed row after it in file order, else 0."""
        if sentence_id is None or self.active_order_on():
            return 0
        while True:
            for i, r in enumerate(self.model.rows):
                if r.id > sentence_id:
                    return i
            if not self.model.canFetchMore():
                return 0
            self.model.fetchMore()

    def accept_suggestion(self, span) -> None:
        if not self._can_edit() or self._shown is None:
            return
        spans = [s for s in self._shown.spans if s.end <= span.start or s.start >= span.end]
        self._write(self.session.set_spans, self.current_id, sorted(spans + [span]),
                    expected_version=self._version())

    def accept_all_suggestions(self) -> None:
        """``A``: add the suggestions the editor SHOWS (an unlabelled sentence's) that overlap no
        gold span; gold is never replaced, hidden suggestions are never applied."""
        if self.current_id is None or self._shown is None:
            return
        if self._shown.status != "unlabelled" or not self._shown_suggestions:
            self.statusBar().showMessage("No suggestions shown for this sentence", 3000)
            return
        if not self._can_edit():
            return
        taken = list(self._shown.spans)
        for sp, _score in sorted(self._shown_suggestions, key=lambda s: (s[0].start, s[0].end)):
            if all(sp.end <= t.start or sp.start >= t.end for t in taken):
                taken.append(sp)
        self._write(self.session.set_spans, self.current_id, sorted(taken), "labelled",
                    expected_version=self._version())

    def reject_suggestions(self) -> None:
        if self.current_id is None or not self._shown_suggestions or not self._can_edit():
            return
        self._write(self.session.clear_predictions, self.current_id)

    def undo(self) -> None:
        self._undo_redo("undo")

    def redo(self) -> None:
        self._undo_redo("redo")

    def _undo_redo(self, which: str) -> None:
        if self.session is None:
            return
        if self.read_only:
            self.statusBar().showMessage("Read-only project: nothing can be undone", 3000)
            return
        result = []
        if self._write(lambda: result.append(getattr(self.session, which)())):
            self._jump(result[0])

    def _jump(self, sentence_id: int | None) -> None:
        if sentence_id is None:
            self.statusBar().showMessage("Nothing to undo or redo", 2000)
            return
        row = self.model.row_of(sentence_id)
        if row is not None and sentence_id != self.current_id:
            self.table.selectRow(row)
        elif sentence_id != self.current_id:
            self.show_sentence(sentence_id)

    def update_status(self) -> None:
        """Refresh the status bar soon (coalesced: a burst of edits costs one query)."""
        self._status_timer.start()

    def _update_status_now(self) -> None:
        if self.store is None:
            self.status.setText("No project open")
            return
        try:
            summary = self.store.summary()
        except (NerStudioError, sqlite3.Error):
            return
        total = sum(n for n, _ in summary["splits"].values())
        parts = [plural(total, "sentence")]
        for split in ("train", "dev", "test", "unassigned"):
            if split in summary["splits"]:
                n, labelled = summary["splits"][split]
                parts.append(f"{split} {labelled}/{n} labelled")
        parts.append(" ".join(f"{k} {v}" for k, v in summary["entities"].items()))
        if self.read_only:
            parts.insert(0, "READ-ONLY")
        self.status.setText("  ·  ".join(p for p in parts if p))

    # -- help -----------------------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        from .help import ShortcutSheet

        if self._shortcut_sheet is None:
            self._shortcut_sheet = ShortcutSheet(self)
        self._shortcut_sheet.refresh()
        self._shortcut_sheet.show()
        self._shortcut_sheet.raise_()
        self._shortcut_sheet.activateWindow()  # Escape closes it at once

    def show_about(self) -> None:
        from .help import show_about

        show_about(self)

    # -- import / export ------------------------------------------------------------------------
    import_worker: Worker | None = None  # the latest import's worker
    import_report = None  # the latest import's ImportReport
    import_report_box = None  # the box that showed it, when it had something to tell

    def import_dialog(self) -> None:
        if self.session is None or self.read_only:
            return
        dialog = ImportDialog(self)
        if dialog.exec():
            self.start_import(**dialog.values())

    def start_import(self, path: str, fmt: str | None = None, split: str | None = None,
                     ratios=None, add_labels: bool = False) -> Worker:
        """Import off the GUI thread. A file that brings labels the project does not have is
        read but not written: the user is asked ("Add them?"), and only Yes imports it (a
        second worker, :attr:`import_worker`). The report (new labels, repaired tags, skipped
        records) is shown when the import ends."""
        progress = QProgressDialog("Importing…", "Cancel", 0, 0, self)
        progress.setWindowModality(Qt.WindowModal)
        progress.setMinimumDuration(300)
        session = self.session
        worker = Worker(run_import, str(self.store.path), path, fmt, split, ratios,
                        add_labels=add_labels)
        self.import_worker = worker
        worker.progressed.connect(lambda done, _t: progress.setLabelText(f"Importing… {done} sentences"))
        progress.canceled.connect(worker.cancel)

        def finished(result):
            progress.close()
            n, report = result
            if n is None:  # new labels: nothing written yet
                if self.session is not session:  # another project is open now: drop it
                    return
                if ask(self, "Import", new_labels_question(report)):
                    self.start_import(path, fmt, split, ratios, add_labels=True)
                else:
                    self.statusBar().showMessage(f"Nothing imported from {Path(path).name}",
                                                 5000)
                return
            if self.session is session:
                session.notify_sentences_changed()
            self.statusBar().showMessage(
                f"Imported {plural(n, 'sentence')} from {Path(path).name}; "
                + "; ".join(report.lines()), 10000)
            self.show_import_report(Path(path).name, n, report)

        def failed(reason):
            progress.close()
            warn(self, "Import", reason)

        worker.finished.connect(finished)
        worker.failed.connect(failed)
        return self._start(worker)

    def show_import_report(self, name: str, n: int, report) -> None:
        """What the import added besides sentences, in a box that does not block (kept as
        :attr:`import_report_box`); nothing to tell, no box."""
        from PySide6.QtWidgets import QMessageBox

        self.import_report = report
        if not report.notable:
            return
        box = QMessageBox(QMessageBox.Information, "Import",
                          rich(f"Imported {plural(n, 'sentence')} from {name}.\n\n"
                               + "\n".join(report.lines())), QMessageBox.Ok, self)
        box.setModal(False)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.show()
        self.import_report_box = box

    def export_dialog(self) -> None:
        if self.session is None:
            return
        dialog = ExportDialog(self)
        if dialog.exec():
            values = dialog.values()
            target = Path(values["path"])
            if target.is_file() or (target.is_dir() and any(target.iterdir())):
                # typed or picked: either way an existing output is replaced only when confirmed
                if not ask(self, "Export", f"{target} already exists. Replace it?"):
                    return
                values["force"] = True
            worker = Worker(run_export, str(self.store.path), **values)
            worker.finished.connect(lambda n: self.statusBar().showMessage(
                f"Exported {plural(n, 'sentence')} to {values['path']}", 5000))
            worker.failed.connect(lambda r: warn(self, "Export", r))
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
        self._poll_timer.stop()
        self._warm_timer.stop()
        self._checkpoint_timer.stop()
        view = self._train_view  # (not built: nothing of it to stop)
        if view is not None and view.worker is not None:
            view.worker.cancel()
            view.worker.wait(60000)
        for warm in (getattr(view, "_warm", None), self._warm, self._checkpointer):
            if warm is not None:
                warm.wait(60000)
        for w in list(self.workers) + list(getattr(self.playground, "_workers", [])):
            w.cancel()
            w.wait(5000)
        if self._shortcut_sheet is not None:
            self._shortcut_sheet.close()
        self._close_session()
        super().closeEvent(event)
