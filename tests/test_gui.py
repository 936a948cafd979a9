"""pytest-qt tests that drive the real widgets (offscreen) and check the SQLite file."""
import sqlite3

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

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


def chip(window, i):
    return window.editor.chips[i]


def test_click_token_writes_gold_label(window, qtbot):
    sid = select_unlabelled(window, qtbot)  # "Hannah Schultz became mayor of Leipzig ..."
    qtbot.keyClick(window, Qt.Key_1)  # PER
    qtbot.mouseClick(chip(window, 0), Qt.LeftButton)
    assert gold_rows(window.store.path, sid) == [(0, 1, "PER")]
    qtbot.mouseClick(chip(window, 1), Qt.LeftButton, Qt.ShiftModifier)  # extend to a span
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER")]
    qtbot.keyClick(window, Qt.Key_3)  # LOC
    qtbot.mouseClick(chip(window, 5), Qt.LeftButton)
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER"), (5, 6, "LOC")]
    assert "PER" in chip(window, 0).text() and "background" in chip(window, 0).styleSheet()
    # chips live inside the editor, laid out left to right, visible
    assert all(c.parent() is window.editor and c.isVisible() for c in window.editor.chips)
    assert chip(window, 1).x() > chip(window, 0).x()


def test_click_labelled_span_relabels_then_removes(window, qtbot):
    sid = select_unlabelled(window, qtbot)
    qtbot.keyClick(window, Qt.Key_2)  # ORG
    qtbot.mouseClick(chip(window, 5), Qt.LeftButton)
    qtbot.keyClick(window, Qt.Key_3)  # LOC: clicking the ORG span relabels it
    qtbot.mouseClick(chip(window, 5), Qt.LeftButton)
    assert gold_rows(window.store.path, sid) == [(5, 6, "LOC")]
    qtbot.mouseClick(chip(window, 5), Qt.LeftButton)  # same label: removes it
    assert gold_rows(window.store.path, sid) == []


def test_drag_labels_a_span(window, qtbot):
    sid = select_unlabelled(window, qtbot)
    qtbot.keyClick(window, Qt.Key_1)
    window.editor.press(0, False)
    window.editor.release(2)
    assert gold_rows(window.store.path, sid) == [(0, 3, "PER")]


def test_undo_redo_and_enter_moves_on(window, qtbot):
    sid = select_unlabelled(window, qtbot)
    qtbot.keyClick(window, Qt.Key_1)
    qtbot.mouseClick(chip(window, 0), Qt.LeftButton)
    qtbot.keySequence = None
    window.undo_action.trigger()
    assert gold_rows(window.store.path, sid) == []
    window.redo_action.trigger()
    assert gold_rows(window.store.path, sid) == [(0, 1, "PER")]
    qtbot.keyClick(window, Qt.Key_Return)
    with ProjectStore(window.store.path) as s:
        assert s.sentence(sid).status == "labelled"
    assert window.current_id != sid


def test_undo_history_survives_restart(qtbot, tmp_path, settings):
    project = create_demo_project(tmp_path / "d.nerproj")
    w = create_window(str(project), settings=settings)
    qtbot.addWidget(w)
    sid = select_unlabelled(w, qtbot)
    w.set_active_label("ORG")
    qtbot.mouseClick(chip(w, 0), Qt.LeftButton)
    w.close()
    w2 = create_window(None, settings=settings)  # reopens the most recent project
    qtbot.addWidget(w2)
    assert w2.store.path == project.resolve() or w2.store.path == project
    w2.undo_action.trigger()
    assert gold_rows(project, sid) == []


def test_label_rename_rewrites_annotations(window, qtbot, monkeypatch):
    from nerstudio.ui.label_manager import LabelManager

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    before = window.store.label_usage("LOC")
    dialog = LabelManager(window.store, window)
    qtbot.addWidget(dialog)
    dialog.list.setCurrentRow(2)  # LOC
    dialog.rename("PLACE")
    assert "PLACE" in window.store.label_set() and window.store.label_usage("PLACE") == before
    dialog.list.setCurrentRow(3)  # MISC
    dialog.merge("PLACE")
    assert "MISC" not in window.store.label_set()
    window.after_bulk_change()
    assert window.findChild(type(window.done_button), "label-PLACE") is not None


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
    window.show_sentence(sid)
    assert "dashed" in chip(window, 0).styleSheet()
    qtbot.mouseClick(chip(window, 0), Qt.LeftButton)  # click a suggestion: accept it
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


def test_train_button_streams_charts_and_records_a_run(window, qtbot, tiny_bert):
    view = window.train_view
    window.tabs.setCurrentWidget(view)
    view.base_model.setCurrentText(str(tiny_bert))
    view.epochs.setValue(2)
    view.lr.setValue(5e-3)
    view.batch.setValue(4)
    qtbot.mouseClick(view.train_button, Qt.LeftButton)
    worker = view.worker
    assert worker is not None and not view.train_button.isEnabled()
    with qtbot.waitSignal(worker.finished, timeout=120000):
        pass
    assert len(view.train_curve.getData()[0]) > 3  # loss points
    assert len(view.f1_curve.getData()[0]) == 2  # one F1 point per epoch
    assert view.per_label.rowCount() > 0
    runs = window.store.runs()
    assert runs[-1]["status"] == "finished" and runs[-1]["base_model"] == str(tiny_bert)
    assert view.runs.rowCount() == len(runs)
    assert window.store.meta("active_run") == runs[-1]["id"]  # first finished run becomes active
    assert window.playground.predictor is not None


def test_cancel_ends_the_run_within_a_step(window, qtbot, tiny_bert):
    view = window.train_view
    steps = []
    worker = view.start(_tiny_config(tiny_bert, epochs=50))
    worker.event.connect(lambda e: steps.append(e) if type(e).__name__ == "Step" else None)
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=60000)
    qtbot.mouseClick(view.cancel_button, Qt.LeftButton)
    asked_at = steps[-1].step
    with qtbot.waitSignal(worker.finished, timeout=60000) as blocker:
        pass
    run_id, event = blocker.args[0]
    assert type(event).__name__ == "Cancelled" and event.step <= asked_at + 2
    assert window.store.run(run_id)["status"] == "cancelled"


def test_user_keeps_annotating_while_training(window, qtbot, tiny_bert):
    worker = window.train_view.start(_tiny_config(tiny_bert, epochs=3))
    sid = select_unlabelled(window, qtbot)
    window.set_active_label("LOC")
    qtbot.mouseClick(chip(window, 5), Qt.LeftButton)
    assert gold_rows(window.store.path, sid) == [(5, 6, "LOC")]
    with qtbot.waitSignal(worker.finished, timeout=120000):
        pass


def test_playground_highlights_entities(window, qtbot, trained):
    pg = window.playground
    pg.set_model(trained, "tiny")
    with qtbot.waitSignal(pg.predicted, timeout=20000):
        pg.input.setPlainText("angela merkel visited paris.")
    found = {(e.text, e.label) for e in pg.entities}
    assert ("angela merkel", "PER") in found and ("paris", "LOC") in found
    html = pg.output.toHtml()
    assert "PER" in html and "angela merkel" in html
    pg.threshold.setValue(100)
    assert pg.visible_entities() == [] or all(e.score >= 1.0 for e in pg.visible_entities())
    pg.threshold.setValue(0)
    before = window.store.count()
    assert pg.add_to_dataset() == 1 and window.store.count() == before + 1
    new = window.store.sentence(max(r.id for r in window.store.sentence_rows(0, 100)))
    assert Span(0, 2, "PER") in new.spans and new.status == "unlabelled"


def test_playground_drops_stale_results(window, qtbot, trained):
    pg = window.playground
    pg.set_model(trained, "tiny")
    pg.input.blockSignals(True)
    pg.input.setPlainText("paris")
    first = pg.predict_now()
    pg.input.setPlainText("angela merkel")
    second = pg.predict_now()
    pg.input.blockSignals(False)
    with qtbot.waitSignal(second.finished, timeout=20000):
        pass
    qtbot.waitUntil(lambda: not first.thread.isRunning())
    qtbot.wait(50)
    assert [e.text for e in pg.entities] == ["angela merkel"]


def test_preannotate_from_the_menu(window, qtbot, trained, monkeypatch):
    monkeypatch.setattr(window, "active_model_dir", lambda: trained)
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
w.set_active_label("PER")
for i in range(20):  # a burst of clicks on real chips, one sentence after another
    QTest.mouseClick(w.editor.chips[0], Qt.LeftButton)
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
