"""Screenshots of the app on the demo project, for the README and for looking at.

Usage: xvfb-run -a -s "-screen 0 1400x900x24" python tools/screenshot.py [OUT_DIR] [--model DIR]
                                                                       [--set getting-started]
(also works with QT_QPA_PLATFORM=offscreen). Qt's xcb plugin under xvfb-run needs Debian's xvfb
and the libraries the README lists under "Linux: the libraries Qt needs" (`nerstudio --self-test`
names a missing one). Writes main-window.png, main-window-dark.png, label-manager.png,
shortcut-sheet.png, long-sentence.png, train-view.png (the embedded model training on the demo
project, mid-run) and, with --model (a trained model folder, e.g. one trained on CoNLL-2003),
playground.png.

``--set getting-started`` writes only docs/GETTING_STARTED.md's pictures, small:
getting-started-welcome.png (the empty window), getting-started-demo-offer.png (the first-start
question, the real dialog), getting-started-label.png (a sentence being labelled with clicks) and
getting-started-label-manager.png. Paths shown in them use a neutral /home/you.
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
    ap.add_argument("--set", choices=("all", "getting-started"), default="all")
    a = ap.parse_args()
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())
    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    project = create_demo_project(work / "demo.nerproj")
    settings = QSettings(str(work / "s.ini"), QSettings.IniFormat)
    if a.set == "getting-started":
        shoot_getting_started(app, work, settings, out)
        print(f"wrote getting-started screenshots to {out}")
        return

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


def _save_small(widget, path, width=None):
    """A PNG of ``widget``, scaled down to ``width`` pixels when wider (docs stay < 200 KB)."""
    from PySide6.QtCore import Qt

    image = widget.grab().toImage()
    if width and image.width() > width:
        image = image.scaledToWidth(width, Qt.SmoothTransformation)
    image.save(str(path), "PNG", 9)


def shoot_getting_started(app, work, settings, out):
    """The pictures of docs/GETTING_STARTED.md, on a demo project in a neutral home folder."""
    import os

    from PySide6.QtCore import QPoint, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QMessageBox

    from nerstudio.ui.app import create_window, demo_path
    from nerstudio.ui.label_manager import LabelManager

    # the offer and the welcome page show the demo's path: make it the one a reader would see
    # (nothing is written there: the offer is answered No, the demo then made under work/)
    os.environ["XDG_DATA_HOME"] = "/home/you/.local/share"
    grabbed = {}

    def grab_offer():
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            _settle(app)
            grabbed["offer"] = True
            _save_small(box, out / "getting-started-demo-offer.png")
            box.done(QMessageBox.No)
        else:
            QTimer.singleShot(100, grab_offer)

    QTimer.singleShot(300, grab_offer)
    window = create_window(None, settings=settings, offer_demo=True)  # asks, as on first start
    assert grabbed.get("offer"), "the demo offer was not shown"
    window.resize(900, 420)
    window.show()
    _settle(app)
    _save_small(window, out / "getting-started-welcome.png", 900)
    window.close()

    os.environ["XDG_DATA_HOME"] = str(work / "data")
    window = create_window(None, settings=settings, offer_demo=False)
    window.open_demo()
    window.resize(1200, 640)
    window.show()
    _settle(app)
    store = window.store
    sid = next(r.id for r in store.sentence_rows(0, 100)
               if store.sentence(r.id).words[:2] == ["Hannah", "Schultz"])
    window.table.selectRow(window.model.row_of(sid))
    _settle(app)
    editor = window.editor

    def click(i, modifier=Qt.NoModifier):
        QTest.mouseClick(editor, Qt.LeftButton, modifier, editor.token_rect(i).center())
        _settle(app, 5)

    window.pick_label(0)                      # 1: PER
    click(0)
    click(1, Qt.ShiftModifier)                # Hannah Schultz
    window.pick_label(2)                      # 3: LOC
    click(5)                                  # Leipzig
    QTest.mouseMove(editor, editor.token_rect(5).center() + QPoint(0, 2))
    QTest.qWait(300)  # the status bar's counts are debounced (150 ms)
    _settle(app)
    _save_small(window, out / "getting-started-label.png", 1000)

    dialog = LabelManager(window.session, window)
    dialog.resize(400, 250)
    dialog.show()
    dialog.list.setCurrentRow(2)
    _settle(app)
    _save_small(dialog, out / "getting-started-label-manager.png")
    dialog.close()
    window.close()
    assert str(demo_path()).startswith(str(work))


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
