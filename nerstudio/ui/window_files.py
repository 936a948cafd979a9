"""The main window's File menu work: new project, open (dialog, recent list, demo), import and
export on worker threads, and the import report.

Why a module of its own: file dialogs and the import/export workers have nothing to do with
annotating; it is a mixin of :class:`~nerstudio.ui.main_window.MainWindow` (``self`` is the
window), which keeps ``open_project`` (the session's start) itself."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QProgressDialog

from ..core.errors import NerStudioError
from ..core.store import ProjectStore
from .import_dialog import (ExportDialog, ImportDialog, new_labels_question, run_export,
                            run_import)
from .text import ask, plural, rich, warn
from .workers import Worker

MAX_RECENT = 8


class FilesMixin:
    """Projects and files (a mixin of MainWindow: ``self`` is the window)."""

    # -- projects -------------------------------------------------------------------------------
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
