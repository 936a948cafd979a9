"""The main window's actions and menus: the Annotate keys (QActions on the sentence list and the
editor pane, live only while focus is there: Enter, A, R, Ctrl+Z, 1-9, Alt+1-9, M, K), the menu bar
(File, Edit, Annotate, Model, Help), which of them are enabled now, and the Help menu's windows.

Why a module of its own: what the keys and menus are, and when they are live, is read and
changed apart from what they do; it is a mixin of :class:`~nerstudio.ui.main_window.MainWindow`
(``self`` is the window), so ``window.done_action``, ``window.annotate_actions`` and the rest are
window attributes as before."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence


class MenusMixin:
    """The window's QActions and menu bar (a mixin of MainWindow: ``self`` is the window)."""

    def _annotate_action(self, text: str, slot, keys, tip: str = "",
                         repeat: bool = True) -> QAction:
        """An Annotate-view key: live only while focus is in the sentence list or the editor pane
        (not the search box, the filters or another tab). ``repeat=False`` for a key that moves
        on or writes: held down, it must not label sentences the user never saw."""
        action = QAction(text, self)
        action.setAutoRepeat(repeat)
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
            "Mark this sentence labelled and go to the next unlabelled one", repeat=False)
        self.accept_action = self._annotate_action(
            "Accept all suggestions and next", self.accept_all_suggestions, ["A"],
            "Add the shown model suggestions that do not overlap a gold span, mark labelled and "
            "go to the next unlabelled sentence", repeat=False)
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
        self.label_here_actions = [self._annotate_action(
            f"Pick label {k} and click the token under the pointer",
            lambda k=k: self.label_here(k - 1), [f"Alt+{k}"],
            f"Make the label in position {k} the active one and click the token under the mouse "
            "pointer: a label and a click in one key", repeat=False) for k in range(1, 10)]
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
        self.annotate_actions = self.edit_actions + self.label_actions + self.label_here_actions
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
        for a in self.edit_actions + self.label_here_actions:
            a.setEnabled(writable and annotating)
        for a in self.label_actions:
            a.setEnabled(annotating)
        for a in (self.import_action, self.labels_action, self.preannotate_action):
            a.setEnabled(writable)
        self.export_action.setEnabled(has)
        self._update_fresh_action()
        self._update_review_action()
        self.pages.setCurrentWidget(self.tabs if has else self.welcome)

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
