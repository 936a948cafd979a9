"""Screenshots of the app on the demo project, for the README and for looking at.

Usage: xvfb-run -a -s "-screen 0 1400x900x24" python tools/screenshot.py [OUT_DIR]
(also works with QT_QPA_PLATFORM=offscreen). Writes main-window.png (and a dark-palette variant).
"""
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    from nerstudio.ui.app import create_window
    from nerstudio.ui.demo import create_demo_project

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())
    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    project = create_demo_project(work / "demo.nerproj")
    settings = QSettings(str(work / "s.ini"), QSettings.IniFormat)

    def shoot(name):
        window = create_window(str(project), settings=settings, offer_demo=False)
        window.resize(1300, 720)
        window.show()
        window.table.selectRow(1)
        for _ in range(20):
            app.processEvents()
        window.grab().save(str(out / name))
        window.close()

    shoot("main-window.png")
    dark = QPalette()
    for role, colour in ((QPalette.Window, "#2b2b2b"), (QPalette.WindowText, "#e6e6e6"),
                         (QPalette.Base, "#1e1e1e"), (QPalette.Text, "#e6e6e6"),
                         (QPalette.Button, "#3a3a3a"), (QPalette.ButtonText, "#e6e6e6"),
                         (QPalette.Highlight, "#3d7bd9"), (QPalette.AlternateBase, "#262626")):
        dark.setColor(role, QColor(colour))
    app.setPalette(dark)
    shoot("main-window-dark.png")
    print(f"wrote {out / 'main-window.png'} and {out / 'main-window-dark.png'}")


if __name__ == "__main__":
    main()
