"""The app in a process of its own, driven as a person drives it, for tests that kill it -9.

``python -m tests.app_process PROJECT TINY_BERT WORKDIR`` opens PROJECT in an offscreen
MainWindow, then runs in it what opens the project from the app's own workers: a training run
(the Train button), a keep-fresh run (N sentences labelled with Enter), the active-order refresh
that follows each, an export (File > Export, the dialog filled and OK clicked) and an import
(File > Import, the file picked). It prints ``ready`` and reads commands from stdin:

- ``label N``: Enter on the list N times (each labels the current sentence, committed at once);
  prints ``labelled ID`` after each commit, then ``done``.
- ``quit``: exit normally.

Every line the parent reads was printed after the commit it names, so "printed" = "committed".
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import (QApplication, QDialogButtonBox, QFileDialog,  # noqa: E402
                               QInputDialog, QMessageBox, QPushButton)

from nerstudio.ui.app import create_window  # noqa: E402
from nerstudio.ui.import_dialog import ExportDialog, ImportDialog  # noqa: E402


def say(*words) -> None:
    print(*words, flush=True)


def wait_until(condition, what: str, timeout: float = 300.0) -> None:
    """Process events until ``condition()`` holds; a loud failure (exit 3) past the guard."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            say(f"timeout waiting for {what}")
            sys.exit(3)
        QApplication.processEvents()
        time.sleep(0.01)


def focus(widget) -> None:
    widget.activateWindow()
    widget.setFocus(Qt.OtherFocusReason)
    wait_until(widget.hasFocus, "the focus")


def press_enter(w) -> int:
    sid = w.current_id
    focus(w.table)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_Return)
    wait_until(lambda: w.store.sentence(sid).status == "labelled", f"sentence {sid} labelled")
    return sid


def train_with_the_button(w, tiny_bert: str) -> int:
    view = w.train_view
    bar = w.tabs.tabBar()
    QTest.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(w.tabs.indexOf(view)).center())
    view.base_model.setCurrentText(tiny_bert)
    view.epochs.setValue(2)
    view.lr.setValue(5e-3)
    view.batch.setValue(4)
    before = len(w.store.runs())
    QTest.mouseClick(view.train_button, Qt.LeftButton)
    wait_until(lambda: view.worker is None and len(w.store.runs()) > before
               and w.store.runs()[-1]["status"] == "finished", "the training run")
    return w.store.runs()[-1]["id"]


def keep_fresh_run(w, tiny_bert: str) -> None:
    QInputDialog.getInt = staticmethod(lambda *a, **k: (2, True))
    w.keep_fresh.config_overrides = dict(base_model=tiny_bert, epochs=2, batch_size=4,
                                         learning_rate=5e-3, max_length=64)
    w.fresh_every_action.trigger()
    w.fresh_action.trigger()
    done = []
    w.keep_fresh.done.connect(lambda *a: done.append(a))
    bar = w.tabs.tabBar()
    QTest.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(0).center())  # back to Annotate
    w.status_filter.setCurrentText("unlabelled")
    wait_until(lambda: w.current_id is not None, "an unlabelled sentence")
    for _ in range(2):
        press_enter(w)
    wait_until(lambda: bool(done), "the keep-fresh run")
    w.fresh_action.trigger()  # off again: the labels below start no run


def export_with_the_dialog(w, path: str) -> None:
    def fill():
        dialog = next(d for d in QApplication.topLevelWidgets()
                      if isinstance(d, ExportDialog) and d.isVisible())
        dialog.format.setCurrentText("conll")
        dialog.path.setText(path)
        QTest.mouseClick(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok),
                         Qt.LeftButton)

    QTimer.singleShot(200, fill)
    w.export_action.trigger()
    wait_until(lambda: os.path.exists(path) and not w.workers, "the export")


def import_with_the_dialog(w, path: str) -> None:
    QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (path, ""))
    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.Yes)
    before = w.store.count()

    def fill():
        dialog = next(d for d in QApplication.topLevelWidgets()
                      if isinstance(d, ImportDialog) and d.isVisible())
        browse = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Browse…")
        QTest.mouseClick(browse, Qt.LeftButton)
        QTest.mouseClick(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok),
                         Qt.LeftButton)

    QTimer.singleShot(200, fill)
    w.import_action.trigger()
    wait_until(lambda: w.store.count() > before and not w.workers, "the import")


def main(project: str, tiny_bert: str, workdir: str) -> None:
    app = QApplication.instance() or QApplication([])
    QMessageBox.warning = staticmethod(lambda *a, **k: say("warning:", str(a[2])[:200]))
    QMessageBox.critical = staticmethod(lambda *a, **k: say("critical:", str(a[2])[:200]))
    w = create_window(project, settings=QSettings(os.path.join(workdir, "settings.ini"),
                                                  QSettings.IniFormat), offer_demo=False)
    w.show()
    run = train_with_the_button(w, tiny_bert)
    wait_until(lambda: w.store.active_order_run() == run, "the active-order refresh")
    say("trained", run)
    keep_fresh_run(w, tiny_bert)
    wait_until(lambda: w.order_combo.isEnabled(), "the order after keep-fresh")
    say("kept fresh")
    export_with_the_dialog(w, os.path.join(workdir, "out.conll"))
    say("exported")
    extra = os.path.join(workdir, "more.conll")
    with open(extra, "w", encoding="utf-8") as f:
        f.write("Zelda B-PER\nwalks O\n\nOtto B-PER\nruns O\n")
    import_with_the_dialog(w, extra)
    say("imported")
    w.status_filter.setCurrentText("unlabelled")
    wait_until(lambda: w.current_id is not None, "an unlabelled sentence")
    say("ready")
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "label":
            for _ in range(int(cmd[1])):
                say("labelled", press_enter(w))
            say("done")
        elif cmd and cmd[0] == "quit":
            break
    w.close()
    app.quit()


if __name__ == "__main__":
    main(*sys.argv[1:4])
