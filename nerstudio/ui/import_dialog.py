"""Import and export dialogs, and the functions their workers run (off the GUI thread, each with
its own store connection; an import is one transaction, so Cancel leaves the project unchanged)."""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLineEdit, QPushButton, QWidget)

from ..core.errors import NerStudioError
from ..core.formats import (EXPORT_FORMATS, IMPORT_FORMATS, ImportReport, UndeclaredLabelsError,
                             export_file, import_file)
from ..core.store import ProjectStore

FROM_SOURCE = "from the source"
DETECT = "detect"


class ImportCancelled(NerStudioError):
    pass


def run_import(project, path, fmt=None, split=None, ratios=None, add_labels=False, *, progress,
               should_stop, emit) -> tuple[int | None, ImportReport]:
    """Import ``path``; returns ``(sentences, report)``. A file that brings labels a project with
    declared labels lacks is read through but nothing is written unless ``add_labels``: the
    result is then ``(None, report)`` and the app asks before importing again with it."""
    def on_progress(n):
        if should_stop():
            raise ImportCancelled("import cancelled: the project is unchanged")
        progress(n, 0)

    with ProjectStore(project) as store:
        report = ImportReport(known=set(store.label_set().names))
        ask = bool(report.known) and not add_labels
        try:
            n = import_file(store, path, fmt, split=split, ratios=ratios, on_progress=on_progress,
                            report=report, labels_strict=ask)
        except UndeclaredLabelsError:
            return None, report
        return n, report


def new_labels_question(report: ImportReport) -> str:
    return f"The file adds labels {report.new_labels_text()}. Add them?"


def run_export(project, path, fmt, split=None, force=False, *, progress, should_stop, emit):
    with ProjectStore(project) as store:
        return export_file(store, path, fmt, split, force=force)


def _path_row(parent, save: bool, folder: bool = False):
    edit = QLineEdit()
    browse = QPushButton("Browse…")

    def pick():
        if folder:
            path = QFileDialog.getExistingDirectory(parent, "Folder")
        elif save:
            path, _ = QFileDialog.getSaveFileName(parent, "Export to")
        else:
            path, _ = QFileDialog.getOpenFileName(parent, "Import file")
        if path:
            edit.setText(path)

    browse.clicked.connect(pick)
    row = QWidget()
    h = QHBoxLayout(row)
    h.setContentsMargins(0, 0, 0, 0)
    h.addWidget(edit)
    h.addWidget(browse)
    return row, edit


def _ok_cancel(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class ImportDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import")
        form = QFormLayout(self)
        row, self.path = _path_row(self, save=False)
        form.addRow("File or dataset folder", row)
        self.format = QComboBox()
        self.format.addItems([DETECT, *IMPORT_FORMATS])
        form.addRow("Format", self.format)
        self.split = QComboBox()
        self.split.addItems([FROM_SOURCE, "train", "dev", "test", "unassigned", "random 80/10/10"])
        form.addRow("Split", self.split)
        form.addRow(_ok_cancel(self))

    def values(self) -> dict:
        split = self.split.currentText()
        return {"path": self.path.text().strip(),
                "fmt": None if self.format.currentText() == DETECT else self.format.currentText(),
                "split": None if split in (FROM_SOURCE,) or split.startswith("random") else split,
                "ratios": (0.8, 0.1, 0.1) if split.startswith("random") else None}


class ExportDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        form = QFormLayout(self)
        self.format = QComboBox()
        self.format.addItems(list(EXPORT_FORMATS))
        form.addRow("Format", self.format)
        row, self.path = _path_row(self, save=True)
        form.addRow("To (a folder for hf; conll to a folder: a file per split)", row)
        self.split = QComboBox()
        self.split.addItems(["(all)", "train", "dev", "test", "unassigned"])
        form.addRow("Split", self.split)
        form.addRow(_ok_cancel(self))

    def values(self) -> dict:
        split = self.split.currentText()
        return {"path": self.path.text().strip(), "fmt": self.format.currentText(),
                "split": None if split == "(all)" else split}
