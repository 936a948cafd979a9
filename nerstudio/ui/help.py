"""Help: the keyboard-and-mouse sheet and About.

The sheet is generated from the window's real QActions (their text and shortcuts), so it cannot
drift from what the keys do; only the mouse gestures, which are not actions, are listed here.
About names the versions a bug report needs; torch and transformers are imported only when About
opens (they take seconds to load)."""
from __future__ import annotations

import platform

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel,
                               QMessageBox, QTableWidget, QTableWidgetItem, QVBoxLayout)

from .text import escape

MOUSE_GESTURES = (
    ("Click a token", "Label it with the active label"),
    ("Drag across tokens", "Label the span with the active label"),
    ("Shift+click", "Extend from the last clicked token to this one (a span)"),
    ("Click a labelled span", "Relabel it with the active label; with its own label, remove it"),
    ("Click a dashed suggestion", "Make its words gold with the active label (with its own "
     "label: accept it; with another: retype it)"),
    ("Right-click a dashed suggestion", "Reject that suggestion (the others stay; not an undo "
     "step: pre-annotating brings it back)"),
    ("Click a label button", "Make it the active label"),
)


def _keys(action) -> str:
    return ", ".join(s.toString(QKeySequence.NativeText) for s in action.shortcuts())


def shortcut_rows(window) -> list[tuple[str, str, str]]:
    """(keys or gesture, what it does, where) for the sheet, from the window's actions."""
    rows = []
    numbered = [a for a in getattr(window, "label_actions", []) if a.shortcuts()]
    here = [a for a in getattr(window, "label_here_actions", []) if a.shortcuts()]
    for action in window.annotate_actions:
        if action.shortcuts() and action not in numbered and action not in here:
            rows.append((_keys(action), action.text().replace("&", ""), "Annotate"))
    if numbered:  # one row for 1-9, from the actions' own keys
        rows.append((f"{_keys(numbered[0])} … {_keys(numbered[-1])}",
                     "Pick the label with that number (the palette's order)", "Annotate"))
    if here:
        rows.append((f"{_keys(here[0])} … {_keys(here[-1])}",
                     "Pick that label and click the token under the mouse pointer (label it, "
                     "retype its span or suggestion; on a span with that label: remove it): a "
                     "label and a click in one key", "Annotate"))
    for gesture, what in MOUSE_GESTURES:
        rows.append((gesture, what, "Annotate (mouse)"))
    seen = set(window.annotate_actions)
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        for action in menu.actions():
            if action in seen or action.isSeparator() or not action.shortcuts():
                continue
            seen.add(action)
            rows.append((_keys(action), action.text().replace("&", "").rstrip("…"),
                         menu_action.text().replace("&", "") + " menu"))
    return rows


class ShortcutSheet(QDialog):
    """Every key and mouse gesture, non-modal so it can stay open while labelling."""

    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Keyboard and mouse")
        self.setObjectName("shortcut-sheet")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Keys / mouse", "Does", "Where"])
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeToContents)
        note = QLabel("Annotation keys work while the sentence list or the editor has the "
                      "focus (not while typing in the search box).")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(780, 520)
        self.refresh()

    def refresh(self) -> None:
        rows = shortcut_rows(self.window_)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeRowsToContents()

    def texts(self) -> list[tuple[str, ...]]:
        return [tuple(self.table.item(r, c).text() for c in range(3))
                for r in range(self.table.rowCount())]


def about_text() -> str:
    """Versions and the device (torch imported here, lazily), one per line."""
    import PySide6
    from PySide6 import QtCore

    from .. import __version__

    lines = [f"nerstudio {__version__}",
             f"Python {platform.python_version()} ({platform.system()} {platform.machine()})",
             f"Qt {QtCore.qVersion()}, PySide6 {PySide6.__version__}"]
    try:
        import torch

        lines.append(f"torch {torch.__version__}")
        from .train_view import describe_device

        lines.append(f"device: {describe_device()}")
    except Exception as exc:  # noqa: BLE001  (missing or broken torch: say so)
        lines.append(f"torch: not available ({exc})")
    try:
        import transformers

        lines.append(f"transformers {transformers.__version__}")
    except Exception as exc:  # noqa: BLE001
        lines.append(f"transformers: not available ({exc})")
    return "\n".join(lines)


def show_about(parent) -> None:
    text = about_text()
    html = ("<h3>nerstudio</h3><p>Label tokens, train a named-entity model and try it, offline."
            "</p><p>" + escape(text).replace("\n", "<br>") + "</p>")
    QMessageBox.about(parent, "About nerstudio", html)

