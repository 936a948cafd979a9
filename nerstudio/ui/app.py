"""Application start: QApplication, the main window, the first-start demo offer."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from . import resources_dir
from .main_window import MainWindow


def app_icon() -> QIcon:
    icon = QIcon(str(resources_dir() / "icons" / "nerstudio.svg"))
    for n in (16, 32, 48, 64, 128, 256):
        icon.addFile(str(resources_dir() / "icons" / f"nerstudio-{n}.png"))
    return icon


def data_dir() -> Path:
    path = Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or
                Path.home() / ".local" / "share" / "nerstudio")
    path.mkdir(parents=True, exist_ok=True)
    return path


def create_window(project: str | None = None, settings: QSettings | None = None,
                  offer_demo: bool = True) -> MainWindow:
    window = MainWindow(settings)
    recent = [p for p in window.recent_projects() if Path(p).exists()]
    if project:
        window.open_project(project)
    elif recent:
        window.open_project(recent[0])
    elif offer_demo and QMessageBox.question(
            window, "Welcome to nerstudio",
            "Open the demo project? It has a few dozen sentences with PER, ORG, LOC and MISC, "
            "half of them labelled, so you can click and train at once.") == QMessageBox.Yes:
        window.open_demo()
    return window


def run_app(project: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("nerstudio")
    app.setOrganizationName("nerstudio")
    app.setDesktopFileName("nerstudio")
    app.setWindowIcon(app_icon())
    window = create_window(project, offer_demo=not os.environ.get("NERSTUDIO_NO_DEMO"))
    window.show()
    return app.exec()
