"""Screenshots of the app on the demo project, for the README and for looking at.

Usage: xvfb-run -a -s "-screen 0 1400x900x24" python tools/screenshot.py [OUT_DIR] [--model DIR]
(also works with QT_QPA_PLATFORM=offscreen). Qt's xcb plugin under xvfb-run needs Debian's xvfb
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0. Writes main-window.png, main-window-dark.png,
label-manager.png, shortcut-sheet.png, long-sentence.png, train-view.png (the embedded model training on the demo
project, mid-run) and, with --model (a
trained model folder, e.g. one trained on CoNLL-2003), playground.png.
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

    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--model")
    a = ap.parse_args()
    out = a.out
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
    shoot_label_manager(app, project, settings, out)
    shoot_shortcut_sheet(app, project, settings, out)
    shoot_long_sentence(app, work, settings, out)
    shoot_training(app, project, settings, out)
    if a.model:
        shoot_playground(app, project, settings, out, a.model)
    dark = QPalette()
    for role, colour in ((QPalette.Window, "#2b2b2b"), (QPalette.WindowText, "#e6e6e6"),
                         (QPalette.Base, "#1e1e1e"), (QPalette.Text, "#e6e6e6"),
                         (QPalette.Button, "#3a3a3a"), (QPalette.ButtonText, "#e6e6e6"),
                         (QPalette.Highlight, "#3d7bd9"), (QPalette.AlternateBase, "#262626")):
        dark.setColor(role, QColor(colour))
    app.setPalette(dark)
    shoot("main-window-dark.png")
    print(f"wrote screenshots to {out}")


def _settle(app, n=20):
    for _ in range(n):
        app.processEvents()


def shoot_label_manager(app, project, settings, out):
    """Edit > Labels: the label manager over the main window (label-manager.png)."""
    from nerstudio.ui.app import create_window
    from nerstudio.ui.label_manager import LabelManager

    window = create_window(str(project), settings=settings, offer_demo=False)
    window.resize(1100, 640)
    window.show()
    dialog = LabelManager(window.session, window)
    dialog.resize(420, 320)
    dialog.show()
    dialog.list.setCurrentRow(2)
    _settle(app)
    dialog.grab().save(str(out / "label-manager.png"))
    dialog.close()
    window.close()


def shoot_shortcut_sheet(app, project, settings, out):
    """Help > Keyboard and mouse (F1): every key and gesture (shortcut-sheet.png)."""
    from nerstudio.ui.app import create_window

    window = create_window(str(project), settings=settings, offer_demo=False)
    window.resize(1100, 640)
    window.show()
    window.show_shortcuts()
    _settle(app)
    window._shortcut_sheet.grab().save(str(out / "shortcut-sheet.png"))
    window.close()


def shoot_long_sentence(app, work, settings, out, n_tokens=2000):
    """A 2,000-token sentence in the editor, scrolled a little (long-sentence.png): one widget
    draws every chip, so check wrapping, label tags, suggestions and the scroll bar here."""
    from nerstudio.core.domain import Sentence, Span
    from nerstudio.core.store import ProjectStore
    from nerstudio.ui.app import create_window
    from nerstudio.ui.demo import create_demo_project

    path = create_demo_project(work / "long.nerproj")
    with ProjectStore(path) as store:
        labels = store.label_set().names
        words = [w for r in store.sentence_rows(0, 100) for w in store.sentence(r.id).words]
        words = (words * (n_tokens // len(words) + 1))[:n_tokens]
        spans = [Span(i, i + 1 + (i // 9) % 3, labels[(i // 9) % len(labels)])
                 for i in range(0, n_tokens - 4, 9)]
        store.import_items([Sentence.from_words(words, spans=spans)])
        sid = max(r.id for r in store.sentence_rows(0, 1000))
        store.replace_predictions(None, [(sid, [(5, 7, labels[0], 0.8), (95, 96, labels[-1], 0.6)],
                                          (0.2, 0.5))])
    window = create_window(str(path), settings=settings, offer_demo=False)
    window.resize(1300, 720)
    window.show()
    window.table.selectRow(window.model.row_of(sid))
    _settle(app)
    scroll = window.editor.parentWidget().parentWidget()  # the QScrollArea around the editor
    scroll.verticalScrollBar().setValue(window.editor.token_rect(80).top() - 10)
    _settle(app)
    window.grab().save(str(out / "long-sentence.png"))
    window.close()


def shoot_training(app, project, settings, out):
    """The Train view mid-run: stop after the fourth evaluation and take the picture."""
    from PySide6.QtCore import QEventLoop

    from nerstudio.core.training import Evaluation, TrainConfig
    from nerstudio.ui.app import create_window

    window = create_window(str(project), settings=settings, offer_demo=False)
    window.resize(1400, 860)
    window.show()
    window.tabs.setCurrentWidget(window.train_view)
    evals, loop = [], QEventLoop()
    worker = window.train_view.start(TrainConfig(epochs=10, batch_size=4, learning_rate=5e-5,
                                                 eval_every="4", logging_steps=1))

    def on_event(e):
        if isinstance(e, Evaluation):
            evals.append(e)
            if len(evals) == 4:
                for _ in range(10):
                    app.processEvents()
                window.grab().save(str(out / "train-view.png"))
                worker.cancel()

    worker.event.connect(on_event)
    worker.finished.connect(lambda _r: loop.quit())
    worker.failed.connect(lambda _r: loop.quit())
    loop.exec()
    window.close()


def shoot_playground(app, project, settings, out, model):
    from PySide6.QtCore import QEventLoop

    from nerstudio.ui.app import create_window
    from nerstudio.ui.playground import SAMPLE

    window = create_window(str(project), settings=settings, offer_demo=False)
    window.resize(1200, 600)
    window.show()
    window.tabs.setCurrentWidget(window.playground)
    loop = QEventLoop()
    window.playground.predicted.connect(loop.quit)
    window.playground.set_model(model, Path(model).parent.name)
    window.playground.input.setPlainText(SAMPLE + "\n\nShares of Siemens rose in Frankfurt "
                                         "after Chancellor Olaf Scholz visited the plant in Berlin.")
    loop.exec()
    for _ in range(10):
        app.processEvents()
    window.grab().save(str(out / "playground.png"))
    window.close()


if __name__ == "__main__":
    main()
