"""Label manager: add, rename, recolour, reorder, merge and delete entity types.

Rename, merge and delete rewrite existing annotations in one transaction, after a confirmation
that says how many spans change."""
from __future__ import annotations

from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QColorDialog, QDialog, QDialogButtonBox, QHBoxLayout,
                               QInputDialog, QListWidget, QListWidgetItem, QMessageBox,
                               QPushButton, QVBoxLayout)

from ..core.errors import NerStudioError
from ..core.store import ProjectStore


def swatch(colour: str) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(QColor(colour))
    return QIcon(pix)


class LabelManager(QDialog):
    def __init__(self, store: ProjectStore, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Labels")
        self.store = store
        self.changed = False
        self.list = QListWidget()
        buttons = QVBoxLayout()
        for text, slot in (("Add…", self.add), ("Rename…", self.rename), ("Colour…", self.recolour),
                           ("Up", lambda: self.move(-1)), ("Down", lambda: self.move(1)),
                           ("Merge into…", self.merge), ("Delete", self.delete)):
            b = QPushButton(text)
            b.setObjectName(text.rstrip("…").lower().replace(" ", "-"))
            b.clicked.connect(slot)
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
        self.reload()

    def reload(self, select: str | None = None) -> None:
        self.list.clear()
        for label in self.store.label_set().labels:
            item = QListWidgetItem(swatch(label.colour), label.name)
            self.list.addItem(item)
            if label.name == select:
                self.list.setCurrentItem(item)

    def current(self) -> str | None:
        item = self.list.currentItem()
        return item.text() if item else None

    def _run(self, fn, *args, select=None):
        try:
            result = fn(*args)
        except NerStudioError as exc:
            QMessageBox.warning(self, "Labels", str(exc))
            return None
        self.changed = True
        self.reload(select)
        return result

    def _confirm(self, text: str) -> bool:
        return QMessageBox.question(self, "Labels", text) == QMessageBox.Yes

    def add(self, name: str | None = None):
        if name is None:
            name, ok = QInputDialog.getText(self, "Add label", "Entity type (no spaces):")
            if not ok:
                return
        self._run(self.store.add_label, name.strip(), select=name.strip())

    def rename(self, new: str | None = None):
        old = self.current()
        if not old:
            return
        if new is None:
            new, ok = QInputDialog.getText(self, "Rename label", f"New name for {old}:", text=old)
            if not ok or new.strip() == old:
                return
        n = self.store.label_usage(old)
        if self._confirm(f"Rename {old} to {new.strip()}? {n} annotated span(s) will change."):
            self._run(self.store.rename_label, old, new.strip(), select=new.strip())

    def recolour(self, colour: str | None = None):
        name = self.current()
        if not name:
            return
        if colour is None:
            picked = QColorDialog.getColor(parent=self)
            if not picked.isValid():
                return
            colour = picked.name()
        self._run(self.store.recolour_label, name, colour, select=name)

    def move(self, delta: int):
        names = self.store.label_set().names
        name = self.current()
        if name is None:
            return
        i = names.index(name)
        j = max(0, min(len(names) - 1, i + delta))
        names[i], names[j] = names[j], names[i]
        self._run(self.store.reorder_labels, names, select=name)

    def merge(self, target: str | None = None):
        source = self.current()
        if not source:
            return
        if target is None:
            others = [n for n in self.store.label_set().names if n != source]
            target, ok = QInputDialog.getItem(self, "Merge label", f"Merge {source} into:",
                                              others, editable=False)
            if not ok:
                return
        n = self.store.label_usage(source)
        if self._confirm(f"Merge {source} into {target}? {n} annotated span(s) will change, "
                         f"and {source} will be removed."):
            self._run(self.store.merge_labels, source, target, select=target)

    def delete(self):
        name = self.current()
        if not name:
            return
        n = self.store.label_usage(name)
        if self._confirm(f"Delete {name}? {n} annotated span(s) will be removed."):
            self._run(self.store.delete_label, name)
