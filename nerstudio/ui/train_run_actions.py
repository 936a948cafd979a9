"""The Train view's actions on the run selected in the runs list: Resume, Make active, Open
folder and Export….

Each one checks what the project file recorded for the run (a finished run's model folder may
have been moved or deleted since) and says why it refuses in a message box, with the run's own
strings shown literally. :class:`RunActions` is a mixin of
:class:`~nerstudio.ui.train_view.TrainView`; it uses the view's ``_selected_one``, ``start``,
``_acting_session``, ``_runs_changed`` and ``_say``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..core import runs as runs_module
from ..core.errors import NerStudioError
from ..core.runs import model_dir, runs_dir
from .safe_text import rich_plain


def run_folder(store, run: dict) -> Path:
    """A run's folder (stored relative to the project file's folder by newer versions)."""
    resolve = getattr(runs_module, "run_folder", None)
    if resolve is not None:
        return resolve(store, run)
    folder = Path(run.get("output_dir") or "")
    return folder if folder.is_absolute() else Path(store.path).parent / folder


def _replace_with_copy(source: Path, dest: Path) -> None:
    """Copy ``source`` to ``dest`` through ``<dest>.partial``, so a failed copy never leaves
    half a model where a whole one was."""
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    shutil.copytree(source, partial)
    if dest.is_dir():
        shutil.rmtree(dest)
    elif dest.exists():
        dest.unlink()
    partial.rename(dest)


class RunActions:
    """What the runs list's buttons do with the selected run (a TrainView mixin)."""

    def resume(self) -> None:
        run_id = self._selected_one("Resume")
        if run_id is not None:
            self.start(resume_run=run_id)

    def make_active(self) -> None:
        run_id = self._selected_one("Make active")
        if run_id is None:
            return
        try:  # refuses a run with no final model, or whose model folder has gone
            self._acting_session().set_active_run(run_id)
        except NerStudioError as exc:
            self._say("Make active", str(exc), "warning")
            return
        self._runs_changed()
        self.run_finished.emit(run_id)

    def _model_folder(self, run_id: int, what: str) -> Path | None:
        """The run's saved model folder, or None after telling the user why not."""
        try:
            folder = model_dir(self.store(), run_id)
        except NerStudioError as exc:
            self._say(what, str(exc), "warning")
            return None
        if not folder.is_dir():
            self._say(what, f"Run {run_id}: its model folder {folder} is missing (moved or "
                      "deleted?).", "warning")
            return None
        return folder

    def open_folder(self) -> None:
        """The run's folder in the file manager (a finished run's: the one holding its model)."""
        run_id = self._selected_one("Open folder")
        if run_id is None:
            return
        run = self.store().run(run_id)
        if run["status"] == "finished":
            folder = self._model_folder(run_id, "Open folder")
            if folder is None:
                return
            folder = folder.parent
        else:
            folder = run_folder(self.store(), run)
            if not run.get("output_dir") or not folder.is_dir():
                self._say("Open folder", f"Run {run_id} has no folder on disk (yet).", "warning")
                return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def export_run(self) -> Path | None:
        """Copy the selected run's model folder to ``<chosen folder>/nerstudio-run-N``."""
        run_id = self._selected_one("Export")
        if run_id is None:
            return None
        source = self._model_folder(run_id, "Export")
        if source is None:
            return None
        target = QFileDialog.getExistingDirectory(self, "Export the model to")
        if not target:
            return None
        dest = (Path(target) / f"nerstudio-run-{run_id}").resolve()
        if not self._may_export_to(dest, source, run_id):
            return None
        try:
            _replace_with_copy(source, dest)
        except OSError as exc:
            self._say("Export", f"Could not export to {dest}: {exc}", "warning")
            return None
        self.window.statusBar().showMessage(f"Exported run {run_id}'s model to {dest}", 8000)
        return dest

    def _may_export_to(self, dest: Path, source: Path, run_id: int) -> bool:
        """Not inside the project's runs (nor the model itself); a folder that is there and not
        empty only once the user says to replace it."""
        store = self.store()
        for inside in (runs_dir(Path(store.path)).resolve(), source.resolve().parent):
            if dest == inside or inside in dest.parents:
                self._say("Export", f"{dest} is inside the project's runs ({inside}): choose a "
                          "folder outside it.", "warning")
                return False
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            if QMessageBox.question(self, "Export", rich_plain(
                    f"{dest} already exists and is not empty. Replace it with run {run_id}'s "
                    "model?")) != QMessageBox.Yes:
                return False
        return True
