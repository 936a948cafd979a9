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
the -wal file passes WAL_CHECKPOINT_BYTES.

The window's methods live in mixins, one module each (MainWindow inherits them all, so every
method and widget is still a window attribute): ``window_widgets`` (building the widgets),
``window_menus`` (the Annotate keys, the menus and when they are live), ``window_files`` (new /
open / recent / demo, import and export), ``window_labelling`` (the palette, the list and what
the editor shows, the session's events), ``window_editing`` (edits, Accept all, Undo, moving
on), ``window_flags`` (likely label errors: M / K) and ``window_model`` (the active-learning
order, Keep fresh, Train, Pre-annotate). This module keeps the window's life: the session
(open, close), the cross-process poll, WAL checkpoints, the start-up warm-up and closing."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtWidgets import QHeaderView, QMainWindow

from ..core.errors import NerStudioError, ReadOnlyProjectError
from ..core.heap import freeze_heap
from ..core.session import WAL_CHECKPOINT_BYTES, ProjectSession, checkpoint_file
from ..core.store import ProjectStore
from .active import FILE_ORDER
from .sentence_model import SentenceListModel
from .text import warn
from .window_editing import EditingMixin
from .window_files import MAX_RECENT, FilesMixin
from .window_flags import FlagsMixin
from .window_labelling import ALL, LIKELY_ERRORS, LabellingMixin
from .window_menus import MenusMixin
from .window_model import ModelMixin
from .window_widgets import WidgetsMixin
from .workers import Worker

__all__ = ["ALL", "LIKELY_ERRORS", "MAX_RECENT", "MainWindow"]

BUSY_TIMEOUT_S = 2.0   # a click waits at most this long for another process's write lock
POLL_MS = 1000         # how often another process's commits are looked for
CHECKPOINT_IDLE_MS = 2000  # the WAL is checkpointed once edits have stopped this long
WARM_UP_DELAY_MS = 300     # torch is imported (on a worker thread) this long after the window shows


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _warm_up(**_kw) -> None:
    """Worker function: import what a training run or a prediction needs (seconds; C extensions
    hold the GIL while they load), so neither waits for it later."""
    from .playground import import_ml

    import_ml(training=True)


class MainWindow(WidgetsMixin, MenusMixin, FilesMixin, LabellingMixin, EditingMixin, FlagsMixin,
                 ModelMixin, QMainWindow):
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

    # -- start-up -------------------------------------------------------------------------------
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

    # -- WAL checkpoints and the cross-process poll ---------------------------------------------
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

    # -- workers and closing --------------------------------------------------------------------
    def _start(self, worker: Worker) -> Worker:
        self.workers.append(worker)
        worker.thread.finished.connect(lambda: self.workers.remove(worker)
                                       if worker in self.workers else None)
        return worker.start()

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
