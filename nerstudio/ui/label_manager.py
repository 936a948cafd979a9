"""Label manager: add, rename, recolour, reorder, merge and delete entity types.

It works through the :class:`ProjectSession`, so every view (palette, filter, editor, playground,
train view) follows a change by the session's ``labels_changed`` / ``sentences_changed`` events.
Rename, merge and delete rewrite existing annotations in one transaction, after a confirmation
that says how many spans change. Each button is connected through a lambda that drops Qt's
``clicked(bool)`` argument: the slots take no parameters, so a button can never pass ``False``
as a name, a colour or a merge target."""
from __future__ import annotations

import sqlite3

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QColorDialog, QDialog, QDialogButtonBox, QHBoxLayout,
                               QInputDialog, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout)

from ..core.errors import NerStudioError
from ..core.labels import valid_label_name
from ..core.session import ProjectSession
from .text import ask, plural, rich, safe_colour, warn


def swatch(colour: str) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(QColor(safe_colour(colour)))
    return QIcon(pix)


class LabelManager(QDialog):
    def __init__(self, session: ProjectSession, parent=None):
        super().__init__(parent)
        if not isinstance(session, ProjectSession):  # a bare store (scripts, old callers)
            session = ProjectSession(session)
        self.setWindowTitle("Labels")
        self.session = session
        self.store = session.store
        self.changed = False
        self.list = QListWidget()
        self.list.setObjectName("labels")
        buttons = QVBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for text, slot in (("Add…", self.add), ("Rename…", self.rename),
                           ("Colour…", self.recolour), ("Up", self.move_up),
                           ("Down", self.move_down), ("Merge into…", self.merge),
                           ("Delete", self.delete)):
            b = QPushButton(text)
            key = text.rstrip("…").lower().replace(" ", "-")
            b.setObjectName(key)
            b.clicked.connect(lambda _checked=False, f=slot: f())
            b.setAutoDefault(False)
            self.buttons[key] = b
            buttons.addWidget(b)
        buttons.addStretch()
        row = QHBoxLayout()
        row.addWidget(self.list)
        row.addLayout(buttons)
        close = QDialogButtonBox(QDialogButtonBox.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(close)
        self._select_next: str | None = None
        session.follow(self, labels_changed=self._labels_changed)
        self.finished.connect(lambda _r: session.unsubscribe(self))
        if session.read_only:
            for b in self.buttons.values():
                b.setEnabled(False)
            self.setWindowTitle("Labels (read-only project)")
        self.reload()

    def _labels_changed(self) -> None:
        self.changed = True
        self.reload(self._select_next or self.current())

    def reload(self, select: str | None = None) -> None:
        self.list.clear()
        for label in self.store.label_set().labels:
            n = self.store.label_usage(label.name)
            # list items are plain text; the count says what a rename/merge/delete will touch
            item = QListWidgetItem(swatch(label.colour), f"{label.name}   ({plural(n, 'span')})")
            item.setData(Qt.UserRole, label.name)
            item.setToolTip(rich(f"{label.name}: {plural(n, 'span')}"))
            self.list.addItem(item)
            if label.name == select:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)

    def current(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item else None

    def _run(self, fn, *args, select=None):
        """One change through the session; a refusal (bad name, read-only or busy file) is a
        message, never an exception out of a button's slot."""
        self._select_next = select
        try:
            return fn(*args)
        except (NerStudioError, sqlite3.Error) as exc:
            warn(self, "Labels", str(exc))
            return None
        finally:
            self._select_next = None

    def _confirm(self, text: str) -> bool:
        return ask(self, "Labels", text)

    def _ask_name(self, title: str, prompt: str, text: str = "") -> str | None:
        """A new label name, checked before the store sees it (None: cancelled or refused)."""
        name, ok = QInputDialog.getText(self, title, rich(prompt), text=text)
        if not ok:
            return None
        name = str(name).strip()
        reason = valid_label_name(name)
        if reason:
            warn(self, "Labels", f"Cannot use {name!r}: {reason}.")
            return None
        return name

    def add(self) -> None:
        name = self._ask_name("Add label", "Entity type (letters, digits, _ - . / : +), e.g. "
                              "PER or WORK_OF_ART:")
        if name is not None:
            self._run(self.session.add_label, name, select=name)

    def rename(self) -> None:
        old = self.current()
        if not old:
            return
        new = self._ask_name("Rename label", f"New name for {old}:", text=old)
        if new is None or new == old:
            return
        n = self.store.label_usage(old)
        if self._confirm(f"Rename {old} to {new}? {plural(n, 'annotated span')} will change."):
            self._run(self.session.rename_label, old, new, select=new)

    def recolour(self) -> None:
        name = self.current()
        if not name:
            return
        colours = {l.name: l.colour for l in self.store.label_set().labels}
        picked = QColorDialog.getColor(QColor(safe_colour(colours.get(name))), self,
                                       f"Colour of {name}")
        if not isinstance(picked, QColor) or not picked.isValid():
            return
        self._run(self.session.recolour_label, name, picked.name(), select=name)

    def move_up(self) -> None:
        self.move(-1)

    def move_down(self) -> None:
        self.move(1)

    def move(self, delta: int) -> None:
        names = self.store.label_set().names
        name = self.current()
        if name is None:
            return
        i = names.index(name)
        j = max(0, min(len(names) - 1, i + delta))
        if i == j:
            return
        names[i], names[j] = names[j], names[i]
        self._run(self.session.reorder_labels, names, select=name)

    def merge(self) -> None:
        source = self.current()
        if not source:
            return
        others = [n for n in self.store.label_set().names if n != source]
        if not others:
            warn(self, "Labels", f"There is no other label to merge {source} into.")
            return
        target, ok = QInputDialog.getItem(self, "Merge label", rich(f"Merge {source} into:"),
                                          others, 0, False)
        if not ok or target not in others:
            return
        n = self.store.label_usage(source)
        if self._confirm(f"Merge {source} into {target}? {plural(n, 'annotated span')} will "
                         f"change, and {source} will be removed."):
            self._run(self.session.merge_labels, source, target, select=target)

    def delete(self) -> None:
        name = self.current()
        if not name:
            return
        n = self.store.label_usage(name)
        if self._confirm(f"Delete {name}? {plural(n, 'annotated span')} will be removed."):
            self._run(self.session.delete_label, name)
