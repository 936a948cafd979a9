"""The main window's widgets: the Annotate page (filters, search, order, the sentence list;
the palette, the token editor, the flag line, the sentence line and its buttons), the tabs, the
welcome page and the status bar.

Why a module of its own: building the widgets is long and touches nothing else; it is a mixin
of :class:`~nerstudio.ui.main_window.MainWindow` (``MainWindow._build`` runs these steps in this
order, which is also the widgets' focus order), so every widget stays a window attribute
(``window.table``, ``window.editor``, ``window.done_button``, ...)."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QComboBox, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QScrollArea, QSizePolicy, QSplitter,
                               QStackedWidget, QTableView, QTabWidget, QVBoxLayout, QWidget)

from .active import ACTIVE_ORDER, FILE_ORDER
from .token_editor import TokenEditor
from .window_labelling import ALL, LIKELY_ERRORS


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


class WidgetsMixin:
    """Builds the window's widgets (a mixin of MainWindow: ``self`` is the window)."""

    def _build(self) -> None:
        left = self._build_list_pane()
        right = self._build_editor_pane()
        self._build_pages(left, right)
        self._build_status_bar()
        self._build_annotate_actions()

    def _build_list_pane(self) -> QWidget:
        """The left side: the filters, the search box, the order choice and the sentence list."""
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
        return left

    def _build_editor_pane(self) -> QWidget:
        """The right side (``editor_pane``): the palette, the token editor, the likely-error
        line, the sentence line and the Mark labelled / Accept / Reject buttons."""
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
        self.editor.suggestion_rejected.connect(self.reject_suggestion)
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
        self.accept_button = QPushButton("Accept suggestions and next  (A)")
        self.reject_button = QPushButton("Reject suggestions  (R)")
        for b in (self.done_button, self.accept_button, self.reject_button):
            buttons.addWidget(b)
        rv.addLayout(buttons)
        return right

    def _build_pages(self, left: QWidget, right: QWidget) -> None:
        """The Annotate page (a splitter), the tabs (the Train tab a placeholder until first
        used) and the welcome page, stacked as the central widget."""
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

    def _build_status_bar(self) -> None:
        """The status line, the model refresher's and Keep fresh's widgets, the read-only badge."""
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
