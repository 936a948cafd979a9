"""pytest-qt tests that drive the real widgets (offscreen) and check the SQLite file."""
import sqlite3

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton, QWidget  # noqa: E402

from nerstudio.core.domain import Sentence, Span  # noqa: E402
from nerstudio.core.store import ProjectStore  # noqa: E402
from nerstudio.ui.app import create_window  # noqa: E402
from nerstudio.ui.demo import create_demo_project  # noqa: E402


@pytest.fixture
def settings(tmp_path):
    s = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    yield s
    s.clear()


@pytest.fixture
def window(qtbot, tmp_path, settings):
    project = create_demo_project(tmp_path / "demo.nerproj")
    w = create_window(str(project), settings=settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def gold_rows(path, sentence_id):
    con = sqlite3.connect(path)
    try:
        return con.execute('SELECT s.start, s."end", l.name FROM spans s JOIN labels l ON '
                           "l.id = s.label_id WHERE sentence_id = ? ORDER BY start",
                           (sentence_id,)).fetchall()
    finally:
        con.close()


def select_unlabelled(window, qtbot):
    window.status_filter.setCurrentText("unlabelled")
    qtbot.waitUntil(lambda: window.current_id is not None)
    return window.current_id


def key(qtbot, k, modifier=Qt.NoModifier):
    """A real key press on the widget that has the focus (the sentence list after opening, the
    editor after a click on a token), as a person types."""
    target = QApplication.focusWidget()
    assert target is not None, "nothing has the focus"
    qtbot.keyClick(target, k, modifier)


def pick(window, qtbot, name):
    """Click the label's palette button."""
    qtbot.mouseClick(window.findChild(QPushButton, f"label-{name}"), Qt.LeftButton)


def click_token(window, qtbot, i, modifier=Qt.NoModifier):
    """A real mouse click on token i: the editor draws all tokens in one widget."""
    qtbot.mouseClick(window.editor, Qt.LeftButton, modifier, window.editor.token_rect(i).center())


def test_click_token_writes_gold_label(window, qtbot):
    sid = select_unlabelled(window, qtbot)  # "Hannah Schultz became mayor of Leipzig ..."
    key(qtbot, Qt.Key_1)  # PER
    click_token(window, qtbot, 0)
    assert gold_rows(window.store.path, sid) == [(0, 1, "PER")]
    click_token(window, qtbot, 1, Qt.ShiftModifier)  # extend to a span
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER")]
    key(qtbot, Qt.Key_3)  # LOC
    click_token(window, qtbot, 5)
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER"), (5, 6, "LOC")]
    assert window.editor.look_at(0)[:3] == ("gold", "PER", True)  # filled chip, tag "PER"
    # chips are drawn by the editor itself (no widget per token), left to right, visible
    assert window.editor.isVisible() and not window.editor.findChildren(QWidget)
    assert window.editor.token_rect(1).x() > window.editor.token_rect(0).x()


def test_click_labelled_span_relabels_then_removes(window, qtbot):
    sid = select_unlabelled(window, qtbot)
    key(qtbot, Qt.Key_2)  # ORG
    click_token(window, qtbot, 5)
    key(qtbot, Qt.Key_3)  # LOC: clicking the ORG span relabels it
    click_token(window, qtbot, 5)
    assert gold_rows(window.store.path, sid) == [(5, 6, "LOC")]
    click_token(window, qtbot, 5)  # same label: removes it
    assert gold_rows(window.store.path, sid) == []


def test_drag_labels_a_span(window, qtbot):
    sid = select_unlabelled(window, qtbot)
    key(qtbot, Qt.Key_1)
    editor = window.editor
    qtbot.mousePress(editor, Qt.LeftButton, Qt.NoModifier, editor.token_rect(0).center())
    qtbot.mouseMove(editor, editor.token_rect(1).center())
    qtbot.mouseMove(editor, editor.token_rect(2).center())
    qtbot.mouseRelease(editor, Qt.LeftButton, Qt.NoModifier, editor.token_rect(2).center())
    assert gold_rows(window.store.path, sid) == [(0, 3, "PER")]


def test_undo_redo_and_enter_moves_on(window, qtbot):
    sid = select_unlabelled(window, qtbot)
    key(qtbot, Qt.Key_1)
    click_token(window, qtbot, 0)
    key(qtbot, Qt.Key_Z, Qt.ControlModifier)  # undo
    assert gold_rows(window.store.path, sid) == []
    key(qtbot, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)  # redo
    assert gold_rows(window.store.path, sid) == [(0, 1, "PER")]
    key(qtbot, Qt.Key_Return)
    with ProjectStore(window.store.path) as s:
        assert s.sentence(sid).status == "labelled"
    assert window.current_id != sid


def test_undo_history_survives_restart(qtbot, tmp_path, settings):
    project = create_demo_project(tmp_path / "d.nerproj")
    w = create_window(str(project), settings=settings)
    qtbot.addWidget(w)
    sid = select_unlabelled(w, qtbot)
    pick(w, qtbot, "ORG")
    click_token(w, qtbot, 0)
    w.close()
    w2 = create_window(None, settings=settings)  # reopens the most recent project
    qtbot.addWidget(w2)
    assert w2.store.path == project.resolve() or w2.store.path == project
    w2.show()
    qtbot.waitExposed(w2)
    w2.activateWindow()
    w2.table.setFocus()
    qtbot.waitUntil(w2.table.hasFocus)
    key(qtbot, Qt.Key_Z, Qt.ControlModifier)
    assert gold_rows(project, sid) == []


def test_label_rename_rewrites_annotations(window, qtbot, monkeypatch):
    """Edit > Labels, as clicked: Rename… and Merge into… through their real buttons (more in
    test_gui_annotate.py)."""
    from PySide6.QtWidgets import QInputDialog

    from nerstudio.ui.label_manager import LabelManager

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("PLACE", True))
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("PLACE", True))
    before = window.store.label_usage("LOC")
    dialog = LabelManager(window.session, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.list.setCurrentRow(2)  # LOC
    qtbot.mouseClick(dialog.findChild(QPushButton, "rename"), Qt.LeftButton)
    assert "PLACE" in window.store.label_set() and window.store.label_usage("PLACE") == before
    dialog.list.setCurrentRow(3)  # MISC
    qtbot.mouseClick(dialog.findChild(QPushButton, "merge-into"), Qt.LeftButton)
    assert "MISC" not in window.store.label_set()
    # the main window followed by itself (labels_changed): no refresh called by hand
    assert window.findChild(QPushButton, "label-PLACE") is not None
    assert window.findChild(QPushButton, "label-MISC") is None


def test_import_runs_off_the_gui_thread(window, qtbot, tmp_path):
    data = tmp_path / "more.conll"
    data.write_text("Zelda B-PER\nruns O\n\nOslo B-LOC\n")
    before = window.store.count()
    worker = window.start_import(str(data))
    with qtbot.waitSignal(worker.finished, timeout=10000):
        pass
    qtbot.waitUntil(lambda: window.model.total == before + 2)
    assert window.store.count(search="Zelda") == 1


def test_bad_import_shows_error_and_changes_nothing(window, qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    bad = tmp_path / "bad.conll"
    bad.write_text("Zelda B-PER\nruns\n")
    before = window.store.count()
    worker = window.start_import(str(bad), "conll")
    with qtbot.waitSignal(worker.failed, timeout=10000):
        pass
    qtbot.waitUntil(lambda: bool(shown))
    assert "bad.conll, line 2" in shown[0] and window.store.count() == before


def test_suggestions_accept_writes_gold(window, qtbot):
    sid = select_unlabelled(window, qtbot)
    window.store.replace_predictions(None, [(sid, [(0, 2, "PER", 0.9)], (0.2, 0.5))])
    window.session.notify_sentences_changed()  # what a pre-annotation run does when it ends
    assert window.editor.look_at(0).kind == "suggested"  # dashed border
    click_token(window, qtbot, 0)  # click a suggestion: accept it
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER")]


def test_filters_and_search(window, qtbot):
    window.search.setText("Leipzig")
    qtbot.waitUntil(lambda: window.model.total == 1, timeout=3000)
    window.search.setText("")
    window.status_filter.setCurrentText("labelled")
    qtbot.waitUntil(lambda: window.model.total == 20)
    window.label_filter.setCurrentText("MISC")
    assert window.model.total == window.store.count(status="labelled", label="MISC") > 0


def test_list_model_on_100k_sentences(qtbot, tmp_path, settings):
    path = tmp_path / "big.nerproj"
    with ProjectStore.create(path, labels=["PER"]) as s:
        s.import_items(Sentence.from_words([f"w{i}", "x"], spans=[Span(0, 1, "PER")] if i % 2 else [])
                       for i in range(100_000))
    w = create_window(str(path), settings=settings)
    qtbot.addWidget(w)
    assert w.model.total == 100_000
    assert w.model.rowCount() <= 256  # fetched on demand, not all at once
    w.table.scrollToBottom()
    w.model.fetchMore()
    assert w.model.rowCount() > 256
    assert w.editor.sentence.words == ["w0", "x"]


def test_first_start_offers_demo(qtbot, tmp_path, settings, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    monkeypatch.setattr("nerstudio.ui.app.data_dir", lambda: tmp_path)
    w = create_window(None, settings=settings)
    qtbot.addWidget(w)
    assert w.store is not None and w.model.total == 40
    assert w.store.count(status="labelled") == 20


def test_readable_label_colours():
    from nerstudio.ui.token_editor import readable_text_colour
    from nerstudio.core.domain import DEFAULT_COLOURS

    assert all(readable_text_colour(c) == "#000000" for c in DEFAULT_COLOURS)
    assert readable_text_colour("#101030") == "#ffffff"


def _tiny_config(tiny_bert, **kw):
    from nerstudio.core.training import TrainConfig

    base = dict(base_model=str(tiny_bert), epochs=3, batch_size=4, learning_rate=5e-3,
                logging_steps=1, max_length=64, keep_core_free=True)
    base.update(kw)
    return TrainConfig(**base)


def test_user_keeps_annotating_while_training(window, qtbot, tiny_bert):
    worker = window.train_view.start(_tiny_config(tiny_bert, epochs=3))
    sid = select_unlabelled(window, qtbot)
    pick(window, qtbot, "LOC")
    click_token(window, qtbot, 5)
    assert gold_rows(window.store.path, sid) == [(5, 6, "LOC")]
    with qtbot.waitSignal(worker.finished, timeout=120000):
        pass


def test_preannotate_from_the_menu(window, qtbot, trained):
    from tests.test_gui_train import fake_run

    window.session.set_active_run(fake_run(window.store, copy_from=trained))
    worker = window.preannotate()
    with qtbot.waitSignal(worker.finished, timeout=60000):
        pass
    unlabelled = window.store.count(status="unlabelled")
    assert sum(r.has_predictions for r in window.store.sentence_rows(0, 100)) == unlabelled


GUI_EDIT_SCRIPT = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from nerstudio.ui.app import create_window
app = QApplication([])
w = create_window(sys.argv[1], QSettings(sys.argv[2], QSettings.IniFormat), offer_demo=False)
w.show()
w.status_filter.setCurrentText("unlabelled")
app.processEvents()
from PySide6.QtWidgets import QPushButton
QTest.mouseClick(w.findChild(QPushButton, "label-PER"), Qt.LeftButton)
for i in range(20):  # a burst of clicks on the first token, one sentence after another
    QTest.mouseClick(w.editor, Qt.LeftButton, Qt.NoModifier, w.editor.token_rect(0).center())
    QTest.mouseClick(w.done_button, Qt.LeftButton)  # "Mark labelled and next"
    app.processEvents()
print("edited", flush=True)
import time; time.sleep(60)
"""


def test_kill_9_after_a_burst_of_gui_edits_loses_none(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    project = create_demo_project(tmp_path / "k.nerproj")
    before = ProjectStore(project)
    labelled_before = before.count(status="labelled")
    before.close()
    proc = subprocess.Popen([sys.executable, "-c", GUI_EDIT_SCRIPT, str(project),
                             str(tmp_path / "s.ini")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "edited"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with ProjectStore(project) as s:
        assert s.count(status="labelled") == labelled_before + 20
        con = sqlite3.connect(project)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
