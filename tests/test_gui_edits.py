"""Issue #25 in the window, as a user drives it: a likely-error flag goes once the user relabels
that word by a click (the line and the mark too), a flag follows a label rename made in the
label manager (M applies the renamed label), and the playground's Add to dataset keeps each
pasted line a sentence of its own."""
import sqlite3

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from nerstudio.core.store import ProjectStore  # noqa: E402
from nerstudio.ui.demo import create_demo_project  # noqa: E402
from nerstudio.ui.label_manager import LabelManager  # noqa: E402
from nerstudio.ui.main_window import LIKELY_ERRORS  # noqa: E402
from tests.test_gui import click_token, gold_rows, settings  # noqa: E402,F401
from tests.test_gui_annotate import Dialogs, click, focus, press, select_label  # noqa: E402
from tests.test_gui_review import choose  # noqa: E402
from tests.test_gui_train import open_window  # noqa: E402

LABEL_KEYS = {"PER": Qt.Key_1, "ORG": Qt.Key_2, "LOC": Qt.Key_3, "MISC": Qt.Key_4}


def plant_flag(project):
    """One labelled sentence whose first span's first word the review 'suspects': given its
    label, the model says another. Returns (sentence id, token, given label, predicted label)."""
    with ProjectStore(project) as s:
        labels = s.label_set().names
        sentence = next(s.sentence(r.id) for r in s.sentence_rows(0, 1000)
                        if s.sentence(r.id).status != "unlabelled" and s.sentence(r.id).spans)
        span = sentence.spans[0]
        other = next(n for n in labels if n != span.label)
        s.set_review_flags(None, [(sentence.id, span.start, f"B-{span.label}", f"B-{other}",
                                   0.01)])
    return sentence.id, span.start, span.label, other


def flag_rows(project):
    con = sqlite3.connect(project)
    try:
        return con.execute("SELECT sentence_id, token_index, given, predicted FROM review_flags "
                           "ORDER BY 1, 2").fetchall()
    finally:
        con.close()


def on_flagged(qtbot, w, sid):
    choose(qtbot, w.status_filter, LIKELY_ERRORS)
    qtbot.waitUntil(lambda: w.current_id == sid)
    assert w.review_info.isVisible()


def test_relabelling_a_flagged_word_by_a_click_settles_its_flag(qtbot, tmp_path, settings,
                                                                 monkeypatch):
    dialogs = Dialogs(monkeypatch)
    project = create_demo_project(tmp_path / "demo.nerproj")
    sid, tok, given, _predicted = plant_flag(project)
    w = open_window(qtbot, project, settings)
    on_flagged(qtbot, w, sid)
    word = w._shown.tokens[tok].text
    assert f"{word}: given B-{given}" in w.review_info.text() and w.editor.marked == {tok}
    new = next(n for n in LABEL_KEYS if n != given)
    focus(qtbot, w.table)
    press(qtbot, LABEL_KEYS[new])
    click_token(w, qtbot, tok)  # the user relabels the word by hand
    assert any(start == tok and label == new for start, _e, label in gold_rows(project, sid))
    assert flag_rows(project) == []  # the file: settled
    assert not w.review_info.isVisible()  # the window: no "London: given B-PER" left ...
    assert w.editor.marked == frozenset()  # ... and no mark under the word
    assert not dialogs.shown
    press(qtbot, Qt.Key_Z, Qt.ControlModifier)  # undo brings the label and its flag back
    qtbot.waitUntil(lambda: w.review_info.isVisible())
    assert f"{word}: given B-{given}" in w.review_info.text() and w.editor.marked == {tok}


def test_a_flag_follows_a_label_rename_made_in_the_label_manager(qtbot, tmp_path, settings,
                                                                  monkeypatch):
    dialogs = Dialogs(monkeypatch)
    project = create_demo_project(tmp_path / "demo.nerproj")
    sid, tok, given, predicted = plant_flag(project)
    w = open_window(qtbot, project, settings)
    manager = LabelManager(w.session, w)
    qtbot.addWidget(manager)
    manager.show()
    qtbot.waitExposed(manager)
    select_label(manager, predicted)
    dialogs.text = "RENAMED"
    click(qtbot, manager.buttons["rename"])
    assert "RENAMED" in w.store.label_set().names
    dialogs.text = predicted  # a new label of the old name must not catch the flag
    click(qtbot, manager.buttons["add"])
    assert predicted in w.store.label_set().names
    manager.close()
    assert flag_rows(project) == [(sid, tok, f"B-{given}", "B-RENAMED")]
    on_flagged(qtbot, w, sid)
    assert "model B-RENAMED" in w.review_info.text()
    focus(qtbot, w.table)
    press(qtbot, Qt.Key_M)  # take the model's label
    assert not dialogs.shown, dialogs.shown  # no "unknown label(s)"
    assert any(start == tok and label == "RENAMED" for start, _e, label in gold_rows(project, sid))
    assert flag_rows(project) == []


def test_add_to_dataset_makes_each_pasted_line_a_sentence_of_its_own(qtbot, tmp_path, settings):
    from PySide6.QtWidgets import QApplication

    from tests.test_gui_train import click_tab

    w = open_window(qtbot, create_demo_project(tmp_path / "demo.nerproj"), settings)
    pg = w.playground
    pg.set_model(None)
    click_tab(w, qtbot, pg)
    lines = ["Alice lives in Paris.", "bob works at Acme in Berlin",
             "Carol met Dave in Rome. She stayed a week."]
    QApplication.clipboard().setText("\n".join(lines) + "\n")
    focus(qtbot, pg.input)
    press(qtbot, Qt.Key_V, Qt.ControlModifier)  # pasted, as a person does
    assert pg.input.toPlainText() == "\n".join(lines) + "\n"
    before = {r.id for r in w.store.sentence_rows(0, 10000)}
    with qtbot.waitSignal(pg.added, timeout=5000) as blocker:
        qtbot.mouseClick(pg.add_button, Qt.LeftButton)
    new = [w.store.sentence(r.id).text for r in w.store.sentence_rows(0, 10000)
           if r.id not in before]
    assert new == ["Alice lives in Paris.", "bob works at Acme in Berlin",
                   "Carol met Dave in Rome.", "She stayed a week."]
    assert blocker.args == [4] and not any("\n" in t for t in new)
