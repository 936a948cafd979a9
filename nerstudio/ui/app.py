"""Application start: QApplication, the main window, the first-start demo offer."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from ..core.errors import NerStudioError
from . import resources_dir
from .demo import data_dir, data_location, demo_path  # noqa: F401  (where the app keeps its files)
from .main_window import MainWindow


def app_icon() -> QIcon:
    icon = QIcon(str(resources_dir() / "icons" / "nerstudio.svg"))
    for n in (16, 32, 48, 64, 128, 256):
        icon.addFile(str(resources_dir() / "icons" / f"nerstudio-{n}.png"))
    return icon


def offer_demo_text(path: Path) -> str:
    return ("Open the demo project? It has 40 sentences with PER, ORG, LOC and MISC, half of them "
            "labelled, so you can click and train at once.\n\n"
            f"It is a project file like any other, kept at\n{path}")


def create_window(project: str | None = None, settings: QSettings | None = None,
                  offer_demo: bool = True) -> MainWindow:
    window = MainWindow(settings)
    recent = [p for p in window.recent_projects() if Path(p).exists()]
    if project:
        window.open_project(project)
    elif recent:
        window.open_project(recent[0])
    elif offer_demo and QMessageBox.question(
            window, "Welcome to nerstudio", offer_demo_text(demo_path())) == QMessageBox.Yes:
        window.open_demo()
    return window


def check_display() -> None:
    """Refuse in one line where no window can be shown: on Linux (and the BSDs) without
    ``DISPLAY`` or ``WAYLAND_DISPLAY`` Qt aborts the process (a core dump and a message about
    ``libxcb-cursor0``, though the library is there). ``QT_QPA_PLATFORM`` set by the user
    (offscreen, vnc, ...) is their choice and passes."""
    if sys.platform in ("darwin", "win32") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise NerStudioError("no display: the app needs a desktop session (DISPLAY and "
                             "WAYLAND_DISPLAY are not set); the commands work without one "
                             "(nerstudio --help)")
    display = os.environ.get("DISPLAY")
    if display and not os.environ.get("WAYLAND_DISPLAY") and x_server_answers(display) is False:
        raise NerStudioError(f"no display: DISPLAY={display} names an X server that does not "
                             "answer (a closed session or SSH forwarding?); the commands work "
                             "without one (nerstudio --help)")


def x_server_answers(display: str, timeout: float = 2.0) -> bool | None:
    """Whether the X server ``DISPLAY`` names accepts a connection (None: a form not probed
    here). Qt aborts the process when it cannot connect; a probe costs a millisecond.

    >>> x_server_answers("not a display") is None
    True
    """
    import re
    import socket

    m = re.fullmatch(r"(?:unix)?([\w.-]*):(\d+)(?:\.\d+)?", display)
    if m is None:
        return None
    host, number = m.group(1), int(m.group(2))
    if host in ("", "unix"):
        targets = [(socket.AF_UNIX, f"\0/tmp/.X11-unix/X{number}"),
                   (socket.AF_UNIX, f"/tmp/.X11-unix/X{number}")]
    else:
        targets = [(socket.AF_INET, (host, 6000 + number))]
    for family, address in targets:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
                return True
        except OSError:
            continue
    return False


def run_app(project: str | None = None, verbose: bool = False) -> int:
    """The GUI. ``verbose``: let the Hugging Face libraries print their progress bars and
    warnings (``nerstudio --verbose``); by default they are quiet."""
    from ..core.quiet import quiet_libraries

    check_display()
    quiet_libraries(verbose)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("nerstudio")
    app.setOrganizationName("nerstudio")
    app.setDesktopFileName("nerstudio")
    app.setWindowIcon(app_icon())
    window = create_window(project, offer_demo=not os.environ.get("NERSTUDIO_NO_DEMO"))
    window.show()
    return app.exec()
