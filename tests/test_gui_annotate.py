"""The Annotate view and the label manager as a user drives them: real clicks on real buttons,
real keys on the widget that has the focus, modal pickers answered by patching Qt's static
functions (never by calling a slot with arguments)."""
import sqlite3

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import (QApplication, QColorDialog, QComboBox, QFileDialog,  # noqa: E402
                               QInputDialog, QLabel, QMessageBox, QPushButton)

from nerstudio.core.domain import Span  # noqa: E402
from nerstudio.core.store import ProjectStore  # noqa: E402
from nerstudio.ui.app import create_window  # noqa: E402
from nerstudio.ui.demo import create_demo_project  # noqa: E402
from nerstudio.ui.label_manager import LabelManager  # noqa: E402
from tests.test_gui import click_token, gold_rows, select_unlabelled, settings, window  # noqa: E402,F401


# -- helpers ---------------------------------------------------------------------------------------
def focus(qtbot, widget):
    widget.activateWindow()
    widget.setFocus(Qt.OtherFocusReason)
    qtbot.waitUntil(lambda: widget.hasFocus(), timeout=3000)
    return widget


def press(qtbot, key, modifier=Qt.NoModifier):
    """A key press on whatever widget has the focus (as a person types)."""
    target = QApplication.focusWidget()
    assert target is not None, "nothing has the focus"
    qtbot.keyClick(target, key, modifier)
    return target


def status_of(path, sid):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT status FROM sentences WHERE id = ?", (sid,)).fetchone()[0]
    finally:
        con.close()


def snapshot(path):
    """Everything an Annotate key could change in the file."""
    con = sqlite3.connect(path)
    try:
        return (con.execute('SELECT sentence_id, start, "end", label_id FROM spans ORDER BY 1, 2')
                .fetchall(),
                con.execute("SELECT id, status FROM sentences ORDER BY id").fetchall(),
                con.execute("SELECT count(*) FROM predictions").fetchone())
    finally:
        con.close()


class Dialogs:
    """Answers to modal pickers, and a record of every message shown."""

    def __init__(self, monkeypatch):
        self.shown = []
        self.questions = []
        self.answer = QMessageBox.Yes
        self.text = None
        self.item = None
        self.colour = None
        mp = monkeypatch
        mp.setattr(QMessageBox, "warning", lambda *a, **k: self.shown.append(a[2]))
        mp.setattr(QMessageBox, "information", lambda *a, **k: self.shown.append(a[2]))
        mp.setattr(QMessageBox, "question", lambda *a, **k: (self.questions.append(a[2]),
                                                             self.answer)[1])
        mp.setattr(QInputDialog, "getText", lambda *a, **k: (self.text, self.text is not None))
        mp.setattr(QInputDialog, "getItem", lambda *a, **k: (self.item, self.item is not None))
        mp.setattr(QColorDialog, "getColor", lambda *a, **k: QColor(self.colour)
                   if self.colour else QColor())


@pytest.fixture
def dialogs(monkeypatch):
    return Dialogs(monkeypatch)


@pytest.fixture
def manager(window, qtbot):
    """The label manager as Edit > Labels opens it (non-modal here so the test can click)."""
    dialog = LabelManager(window.session, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def click(qtbot, button):
    assert button.isEnabled() and button.isVisible(), button.objectName()
    qtbot.mouseClick(button, Qt.LeftButton)


def select_label(dialog, name):
    """Click the label's row in the manager's list."""
    row = next(i for i in range(dialog.list.count())
               if dialog.list.item(i).data(Qt.UserRole) == name)
    rect = dialog.list.visualItemRect(dialog.list.item(row))
    QTest.mouseClick(dialog.list.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())
    assert dialog.current() == name


# -- 1. every label-manager button, clicked -------------------------------------------------------
def test_edit_labels_menu_opens_the_manager(window, qtbot, dialogs):
    from PySide6.QtCore import QTimer

    seen, tries = [], [0]

    def close_when_shown():
        d = QApplication.activeModalWidget()
        if isinstance(d, LabelManager):
            seen.append([d.list.item(i).data(Qt.UserRole) for i in range(d.list.count())])
            d.reject()
        elif tries[0] < 200:
            tries[0] += 1
            QTimer.singleShot(20, close_when_shown)

    QTimer.singleShot(0, close_when_shown)
    focus(qtbot, window.table)
    press(qtbot, Qt.Key_L, Qt.ControlModifier)  # Edit > Labels… (modal)
    assert seen == [["PER", "ORG", "LOC", "MISC"]]


def test_add_button_adds_the_typed_name(window, manager, qtbot, dialogs):
    dialogs.text = "WORK_OF_ART"
    click(qtbot, manager.buttons["add"])
    assert "WORK_OF_ART" in window.store.label_set().names
    assert manager.current() == "WORK_OF_ART"
    # the main window followed (labels_changed): a palette button, a filter entry
    assert window.findChild(QPushButton, "label-WORK_OF_ART") is not None
    assert window.label_filter.findText("WORK_OF_ART") > 0


def test_add_refuses_an_invalid_name_with_a_message(window, manager, qtbot, dialogs):
    for bad in ("<h1>BIG</h1>", "two words", "B-PER", "O", "-x"):
        dialogs.text = bad
        click(qtbot, manager.buttons["add"])
        assert bad not in window.store.label_set().names
    assert len(dialogs.shown) == 5 and "letters, digits" in dialogs.shown[0]


def test_add_cancelled_does_nothing(window, manager, qtbot, dialogs):
    dialogs.text = None
    click(qtbot, manager.buttons["add"])
    assert window.store.label_set().names == ["PER", "ORG", "LOC", "MISC"] and not dialogs.shown


def test_rename_button_renames_and_follows_everywhere(window, manager, qtbot, dialogs):
    before = window.store.label_usage("LOC")
    select_label(manager, "LOC")
    dialogs.text = "PLACE"
    click(qtbot, manager.buttons["rename"])
    assert "PLACE" in window.store.label_set() and "LOC" not in window.store.label_set()
    assert window.store.label_usage("PLACE") == before
    assert "Rename LOC to PLACE?" in dialogs.questions[0]
    assert window.findChild(QPushButton, "label-PLACE") is not None
    assert window.findChild(QPushButton, "label-LOC") is None
    assert "PLACE" in window.editor.colours and manager.current() == "PLACE"


def test_colour_button_stores_a_valid_colour(window, manager, qtbot, dialogs):
    select_label(manager, "ORG")
    dialogs.colour = "#123456"
    click(qtbot, manager.buttons["colour"])
    colours = {l.name: l.colour for l in window.store.label_set().labels}
    assert colours["ORG"] == "#123456" and QColor(colours["ORG"]).isValid()
    assert window.editor.colours["ORG"] == "#123456"
    dialogs.colour = None  # the picker cancelled: nothing changes
    click(qtbot, manager.buttons["colour"])
    assert {l.name: l.colour for l in window.store.label_set().labels}["ORG"] == "#123456"


def test_up_and_down_buttons_reorder(window, manager, qtbot, dialogs):
    select_label(manager, "LOC")
    click(qtbot, manager.buttons["up"])
    assert window.store.label_set().names == ["PER", "LOC", "ORG", "MISC"]
    click(qtbot, manager.buttons["down"])
    click(qtbot, manager.buttons["down"])
    assert window.store.label_set().names == ["PER", "ORG", "MISC", "LOC"]
    # the palette follows: key 4 is now LOC
    assert window.findChild(QPushButton, "label-LOC").text().startswith("4")


def test_merge_button_asks_the_right_question(window, manager, qtbot, dialogs):
    misc = window.store.label_usage("MISC")
    per = window.store.label_usage("PER")
    select_label(manager, "MISC")
    dialogs.item = "PER"
    click(qtbot, manager.buttons["merge-into"])
    assert dialogs.questions and "Merge MISC into PER?" in dialogs.questions[0]
    assert "MISC" not in window.store.label_set().names
    assert window.store.label_usage("PER") == per + misc


def test_delete_button_deletes_after_confirming(window, manager, qtbot, dialogs):
    select_label(manager, "MISC")
    dialogs.answer = QMessageBox.No
    click(qtbot, manager.buttons["delete"])
    assert "MISC" in window.store.label_set().names
    dialogs.answer = QMessageBox.Yes
    click(qtbot, manager.buttons["delete"])
    assert "MISC" not in window.store.label_set().names
    assert window.findChild(QPushButton, "label-MISC") is None


# -- 3. a label filter follows rename / merge / delete ---------------------------------------------
def test_filter_follows_rename(window, manager, qtbot, dialogs):
    window.label_filter.setCurrentText("LOC")
    n = window.model.total
    select_label(manager, "LOC")
    dialogs.text = "PLACE"
    click(qtbot, manager.buttons["rename"])
    assert window.label_filter.currentText() == "PLACE"
    assert window.model.filters.get("label") == "PLACE" and window.model.total == n
    assert window.current_id is not None and not dialogs.shown


def test_filter_follows_merge_to_its_target(window, manager, qtbot, dialogs):
    window.label_filter.setCurrentText("MISC")
    select_label(manager, "MISC")
    dialogs.item = "PER"
    click(qtbot, manager.buttons["merge-into"])
    assert window.label_filter.currentText() == "PER"
    assert window.model.total == window.store.count(label="PER")
    assert window.editor.sentence is not None and not dialogs.shown


def test_filter_falls_back_to_all_on_delete(window, manager, qtbot, dialogs):
    window.label_filter.setCurrentText("MISC")
    select_label(manager, "MISC")
    click(qtbot, manager.buttons["delete"])
    assert window.label_filter.currentIndex() == 0
    assert window.model.total == window.store.count() and window.model.filters.get("label") is None
    assert window.editor.sentence is not None and not dialogs.shown
    window._update_status_now()
    assert "MISC" not in window.status.text()


# -- 2. keys scoped to the Annotate view -----------------------------------------------------------
def test_keys_in_the_search_box_only_type(window, qtbot, dialogs):
    sid = select_unlabelled(window, qtbot)
    label = window.editor.active_label
    before = snapshot(window.store.path)
    focus(qtbot, window.search)
    for key in (Qt.Key_Return, Qt.Key_Enter, Qt.Key_A, Qt.Key_R, Qt.Key_2):
        press(qtbot, key)
    assert window.search.text() == "ar2"  # the keys went into the box
    assert snapshot(window.store.path) == before and window.current_id == sid
    assert window.editor.active_label == label and status_of(window.store.path, sid) == "unlabelled"


def test_keys_in_the_train_tab_do_not_annotate(window, qtbot, dialogs):
    sid = select_unlabelled(window, qtbot)
    label = window.editor.active_label
    before = snapshot(window.store.path)
    window.tabs.setCurrentWidget(window.train_view)
    combo = next(c for c in window.train_view.findChildren(QComboBox) if c.isEditable())
    focus(qtbot, combo)
    for key in (Qt.Key_Return, Qt.Key_A, Qt.Key_3):
        press(qtbot, key)
    focus(qtbot, window.train_view)  # not a text field: still not the Annotate view's keys
    for key in (Qt.Key_Return, Qt.Key_A, Qt.Key_R, Qt.Key_2):
        press(qtbot, key)
    press(qtbot, Qt.Key_Z, Qt.ControlModifier)
    assert snapshot(window.store.path) == before and window.current_id == sid
    assert window.editor.active_label == label


def test_keys_in_the_list_and_editor_annotate(window, qtbot, dialogs):
    sid = select_unlabelled(window, qtbot)
    focus(qtbot, window.table)
    press(qtbot, Qt.Key_3)  # LOC
    assert window.editor.active_label == "LOC"
    click_token(window, qtbot, 5)
    assert window.editor.hasFocus()
    assert gold_rows(window.store.path, sid) == [(5, 6, "LOC")]
    press(qtbot, Qt.Key_Z, Qt.ControlModifier)
    assert gold_rows(window.store.path, sid) == []
    press(qtbot, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert gold_rows(window.store.path, sid) == [(5, 6, "LOC")]
    press(qtbot, Qt.Key_Return)
    assert status_of(window.store.path, sid) == "labelled" and window.current_id != sid
    assert not dialogs.shown


def test_done_button_marks_labelled_and_moves_on(window, qtbot, dialogs):
    sid = select_unlabelled(window, qtbot)
    click(qtbot, window.done_button)
    assert status_of(window.store.path, sid) == "labelled" and window.current_id != sid


def test_accept_all_never_touches_a_labelled_sentence(window, qtbot, dialogs):
    window.status_filter.setCurrentText("labelled")
    qtbot.waitUntil(lambda: window.current_id is not None)
    sid = window.current_id
    gold = gold_rows(window.store.path, sid)
    # predictions in the file for a labelled sentence: hidden, so A must not apply them
    window.store.replace_predictions(None, [(sid, [(0, 1, "MISC", 0.9)], None)])
    window.session.notify_sentences_changed()
    focus(qtbot, window.table)
    press(qtbot, Qt.Key_A)
    click(qtbot, window.accept_button)
    assert gold_rows(window.store.path, sid) == gold
    assert status_of(window.store.path, sid) == "labelled"


def test_accept_all_keeps_gold_and_adds_what_does_not_overlap(window, qtbot, dialogs):
    sid = select_unlabelled(window, qtbot)  # Hannah Schultz became mayor of Leipzig ...
    window.set_active_label("ORG")
    click_token(window, qtbot, 0)  # gold ORG on "Hannah" (deliberately wrong, the user's call)
    window.store.replace_predictions(None, [(sid, [(0, 2, "PER", 0.9), (5, 6, "LOC", 0.8)],
                                             None)])
    window.session.notify_sentences_changed()
    assert "suggest" in window.sentence_info.text()
    press(qtbot, Qt.Key_A)
    assert gold_rows(window.store.path, sid) == [(0, 1, "ORG"), (5, 6, "LOC")]
    assert status_of(window.store.path, sid) == "labelled"


def test_accept_key_takes_a_right_set_and_moves_on(window, qtbot, dialogs):
    """A right set of suggestions is one key: A accepts them, marks labelled, goes on."""
    sid = select_unlabelled(window, qtbot)
    window.store.replace_predictions(None, [(sid, [(0, 2, "PER", 0.9), (5, 6, "LOC", 0.8)],
                                             None)])
    window.session.notify_sentences_changed()
    focus(qtbot, window.table)
    press(qtbot, Qt.Key_A)
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER"), (5, 6, "LOC")]
    assert status_of(window.store.path, sid) == "labelled"
    qtbot.waitUntil(lambda: window.current_id not in (None, sid))
    assert status_of(window.store.path, window.current_id) == "unlabelled"


def test_accept_key_refuses_suggestions_changed_by_another_process(window, qtbot, dialogs):
    """A writes the suggestions the view shows; if another process re-predicted the sentence
    since (before the view's poll), A writes nothing and says so: A moves on, so the user
    would never see what went into the gold."""
    sid = select_unlabelled(window, qtbot)
    window.store.replace_predictions(None, [(sid, [(0, 2, "PER", 0.9)], None)])
    window.session.notify_sentences_changed()
    other = ProjectStore(window.store.path)  # another process's connection
    try:
        other.replace_predictions(None, [(sid, [(0, 2, "ORG", 0.7), (5, 6, "MISC", 0.6)], None)])
    finally:
        other.close()
    focus(qtbot, window.table)
    press(qtbot, Qt.Key_A)
    assert gold_rows(window.store.path, sid) == []
    assert status_of(window.store.path, sid) == "unlabelled" and window.current_id == sid
    assert dialogs.shown and "suggestions were changed elsewhere" in dialogs.shown[-1]
    assert [sp for sp, _ in window._shown_suggestions] == [Span(0, 2, "ORG"), Span(5, 6, "MISC")]
    press(qtbot, Qt.Key_A)  # now it takes what it shows
    assert gold_rows(window.store.path, sid) == [(0, 2, "ORG"), (5, 6, "MISC")]


def test_click_retypes_and_right_click_rejects_a_suggestion(window, qtbot, dialogs):
    """The common fixes of a suggestion set, each one input: a click with another active label
    retypes a suggestion, a right click drops a wrong one; A then takes the rest."""
    sid = select_unlabelled(window, qtbot)  # Hannah Schultz became mayor of Leipzig ...
    window.store.replace_predictions(None, [(sid, [(0, 2, "ORG", 0.6), (3, 4, "MISC", 0.5),
                                                   (5, 6, "LOC", 0.8)], None)])
    window.session.notify_sentences_changed()
    focus(qtbot, window.table)
    press(qtbot, Qt.Key_1)  # PER
    click_token(window, qtbot, 1)  # the ORG suggestion's second word: the whole of it is PER
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER")]
    QTest.mouseClick(window.editor, Qt.RightButton, Qt.NoModifier,
                     window.editor.token_rect(3).center())  # "mayor" is no MISC
    assert [sp for sp, _ in window.store.predictions(sid)] == [Span(0, 2, "ORG"), Span(5, 6, "LOC")]
    assert status_of(window.store.path, sid) == "unlabelled"
    press(qtbot, Qt.Key_A)
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER"), (5, 6, "LOC")]
    assert status_of(window.store.path, sid) == "labelled"


def test_alt_number_labels_the_token_under_the_pointer(window, qtbot, dialogs):
    """Alt+N with the pointer on a token: label N picked and that token clicked, in one key (a
    retyped suggestion, a one-word entity, a relabelled span)."""
    sid = select_unlabelled(window, qtbot)  # Hannah Schultz became mayor of Leipzig ...
    window.store.replace_predictions(None, [(sid, [(0, 2, "ORG", 0.6)], None)])
    window.session.notify_sentences_changed()
    editor = window.editor
    focus(qtbot, window.table)
    QTest.mouseMove(editor, editor.token_rect(1).center())
    press(qtbot, Qt.Key_1, Qt.AltModifier)  # PER on the ORG suggestion: the whole of it
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER")]
    assert editor.active_label == "PER"
    QTest.mouseMove(editor, editor.token_rect(5).center())
    press(qtbot, Qt.Key_3, Qt.AltModifier)  # LOC on "Leipzig"
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER"), (5, 6, "LOC")]
    QTest.mouseMove(editor, editor.token_rect(0).center())
    press(qtbot, Qt.Key_2, Qt.AltModifier)  # ORG on the PER span: relabelled
    assert gold_rows(window.store.path, sid) == [(0, 2, "ORG"), (5, 6, "LOC")]
    assert editor.active_label == "ORG"
    press(qtbot, Qt.Key_9, Qt.AltModifier)  # no ninth label: nothing changes
    assert gold_rows(window.store.path, sid) == [(0, 2, "ORG"), (5, 6, "LOC")]
    assert editor.active_label == "ORG" and "No label number 9" in \
        window.statusBar().currentMessage()
    QTest.mouseMove(window.table.viewport(), window.table.viewport().rect().center())
    press(qtbot, Qt.Key_1, Qt.AltModifier)  # the pointer is not on a token: nothing changes
    assert gold_rows(window.store.path, sid) == [(0, 2, "ORG"), (5, 6, "LOC")]
    # held down, the keys that write and move on do not repeat
    assert not any(a.autoRepeat() for a in [window.accept_action, window.done_action]
                   + window.label_here_actions)


def test_alt_number_after_moving_on_without_moving_the_mouse(window, qtbot, dialogs):
    """Found by the session benchmark: after Enter showed the next sentence, Alt+N with the
    pointer resting where it was did nothing (the hover outline is cleared with a new sentence
    and only a mouse move set it again)."""
    first = select_unlabelled(window, qtbot)
    editor = window.editor
    focus(qtbot, window.table)
    QTest.mouseMove(editor, editor.token_rect(0).center())
    press(qtbot, Qt.Key_Return)
    qtbot.waitUntil(lambda: window.current_id not in (None, first))
    nxt = window.current_id
    press(qtbot, Qt.Key_3, Qt.AltModifier)  # the pointer rests on the new sentence's first word
    assert gold_rows(window.store.path, nxt) == [(0, 1, "LOC")]


def test_a_click_on_a_suggestion_never_replaces_gold(window, qtbot, dialogs):
    sid = select_unlabelled(window, qtbot)  # Hannah Schultz became mayor of Leipzig ...
    window.set_active_label("PER")
    click_token(window, qtbot, 0)  # gold PER on "Hannah"
    window.store.replace_predictions(None, [(sid, [(0, 2, "ORG", 0.6)], None)])
    window.session.notify_sentences_changed()
    click_token(window, qtbot, 1)  # "Schultz" shows the ORG suggestion dashed
    assert gold_rows(window.store.path, sid) == [(0, 1, "PER")]
    assert "overlaps your label" in window.statusBar().currentMessage()


def test_reject_key_clears_suggestions(window, qtbot, dialogs):
    sid = select_unlabelled(window, qtbot)
    window.store.replace_predictions(None, [(sid, [(0, 2, "PER", 0.9)], None)])
    window.session.notify_sentences_changed()
    focus(qtbot, window.table)
    press(qtbot, Qt.Key_R)
    assert window.store.predictions(sid) == [] and gold_rows(window.store.path, sid) == []


# -- 4. markup in label names is shown as text ----------------------------------------------------
HOSTILE = "<h1>BIG</h1>"


def test_hostile_label_name_is_shown_literally(qtbot, tmp_path, settings, dialogs):
    path = create_demo_project(tmp_path / "h.nerproj")
    con = sqlite3.connect(path)  # an old or hostile file: no name check on this path
    con.execute("INSERT INTO labels(name, colour, position) VALUES (?, ?, 9)",
                (HOSTILE, "red; background-image: url(x)"))
    lid = con.execute("SELECT id FROM labels WHERE name = ?", (HOSTILE,)).fetchone()[0]
    con.execute('INSERT INTO spans(sentence_id, start, "end", label_id) VALUES (1, 2, 3, ?)',
                (lid,))
    con.commit()
    con.close()
    w = create_window(str(path), settings=settings)
    qtbot.addWidget(w)
    w.show()
    w._update_status_now()
    button = w.findChild(QPushButton, f"label-{HOSTILE}")
    assert button is not None and HOSTILE in button.text()  # QPushButton text is plain
    assert "<h1>" not in button.toolTip() and "&lt;h1&gt;" in button.toolTip()
    assert "url(" not in button.styleSheet()  # the hostile colour never reaches a stylesheet
    assert w.label_filter.findText(HOSTILE) > 0
    for label in (w.status, w.sentence_info):
        assert label.textFormat() == Qt.PlainText
    assert HOSTILE in w.status.text()
    # every QLabel that shows it is plain text (no rich-text QLabel can render it)
    for label in w.findChildren(QLabel):
        if HOSTILE in label.text():
            assert label.textFormat() == Qt.PlainText, label.objectName()
    manager = LabelManager(w.session, w)
    qtbot.addWidget(manager)
    manager.show()
    select_label(manager, HOSTILE)
    dialogs.text = "BIG"
    click(qtbot, manager.buttons["rename"])
    assert "&lt;h1&gt;BIG&lt;/h1&gt;" in dialogs.questions[0] and "<h1>" not in dialogs.questions[0]
    assert "BIG" in w.store.label_set().names


# -- 5. edits the file refuses ----------------------------------------------------------------------
def test_stale_edit_is_refused_and_the_file_shown(window, qtbot, dialogs):
    sid = select_unlabelled(window, qtbot)
    window._poll_timer.stop()  # the edit below comes before this window's next poll
    with ProjectStore(window.store.path) as other:  # another window's edit, not yet seen here
        other.set_spans(sid, [Span(5, 6, "LOC")])
    window.set_active_label("PER")
    click_token(window, qtbot, 0)
    assert gold_rows(window.store.path, sid) == [(5, 6, "LOC")]  # theirs kept, ours refused
    assert dialogs.shown and "changed" in dialogs.shown[-1].lower()
    assert [(s.start, s.end, s.label) for s in window.editor.sentence.spans] == [(5, 6, "LOC")]


def test_another_process_edit_shows_up(window, qtbot, dialogs):
    row = next(i for i, r in enumerate(window.model.rows) if r.status == "unlabelled")
    window.table.selectRow(row)
    sid = window.model.rows[row].id
    assert window.current_id == sid
    with ProjectStore(window.store.path) as other:
        other.set_spans(sid, [Span(0, 2, "PER")], "labelled")
    qtbot.waitUntil(lambda: [(s.start, s.end, s.label) for s in window.editor.sentence.spans]
                    == [(0, 2, "PER")], timeout=5000)
    qtbot.waitUntil(lambda: window.model.rows[row].status == "labelled", timeout=3000)
    assert window.model.data(window.model.index(row, 3)) == 1  # the row's entity count
    qtbot.waitUntil(lambda: "labelled" in window.sentence_info.text(), timeout=3000)
    # and an edit here, after the refresh, is not stale
    window.set_active_label("LOC")
    click_token(window, qtbot, 5)
    assert gold_rows(window.store.path, sid) == [(0, 2, "PER"), (5, 6, "LOC")]
    assert not dialogs.shown


def test_two_windows_on_one_project(qtbot, tmp_path, dialogs):
    from PySide6.QtCore import QSettings

    path = create_demo_project(tmp_path / "two.nerproj")
    wins = []
    for i in range(2):
        w = create_window(str(path), settings=QSettings(str(tmp_path / f"s{i}.ini"),
                                                        QSettings.IniFormat))
        qtbot.addWidget(w)
        w.show()
        wins.append(w)
    a, b = wins
    sid = select_unlabelled(a, qtbot)
    select_unlabelled(b, qtbot)
    assert b.current_id == sid
    a.set_active_label("PER")
    click_token(a, qtbot, 0)
    # b has not polled yet: its edit is refused rather than overwriting a's
    b.set_active_label("LOC")
    b._poll_timer.stop()
    click_token(b, qtbot, 5)
    assert gold_rows(path, sid) == [(0, 1, "PER")]
    assert dialogs.shown
    # b now shows a's edit, and its next click applies on top of it
    assert [(s.start, s.end) for s in b.editor.sentence.spans] == [(0, 1)]
    click_token(b, qtbot, 5)
    assert gold_rows(path, sid) == [(0, 1, "PER"), (5, 6, "LOC")]
    qtbot.waitUntil(lambda: len(a.editor.sentence.spans) == 2, timeout=5000)


def test_busy_project_shows_a_dialog_and_keeps_the_file(window, qtbot, dialogs, monkeypatch):
    from nerstudio.core.errors import ProjectBusyError

    sid = select_unlabelled(window, qtbot)

    def busy(*a, **k):
        raise ProjectBusyError("another nerstudio process is writing; try again")

    monkeypatch.setattr(window.store, "set_spans", busy)
    window.set_active_label("PER")
    click_token(window, qtbot, 0)
    assert gold_rows(window.store.path, sid) == []
    assert dialogs.shown and "not saved" in dialogs.shown[-1]
    assert window.editor.sentence.spans == []


def test_read_only_project_is_marked_and_refuses_edits(qtbot, tmp_path, settings, dialogs):
    path = create_demo_project(tmp_path / "ro.nerproj")
    w = create_window(None, settings=settings, offer_demo=False)
    qtbot.addWidget(w)
    w.show()
    w.open_project(path, read_only=True)
    w._update_status_now()
    assert "read-only" in w.windowTitle() and w.read_only_badge.isVisible()
    assert "READ-ONLY" in w.status.text()
    assert not w.done_button.isEnabled() and not w.accept_button.isEnabled()
    assert not w.labels_action.isEnabled() and not w.import_action.isEnabled()
    assert not w.undo_action.isEnabled()
    sid = select_unlabelled(w, qtbot)
    before = snapshot(path)
    w.set_active_label("PER")
    click_token(w, qtbot, 0)  # the editor still takes the click: the dialog says why not
    focus(qtbot, w.table)
    press(qtbot, Qt.Key_Return)
    assert snapshot(path) == before and w.current_id == sid
    assert dialogs.shown and "read-only" in dialogs.shown[0]
    assert w.editor.sentence.spans == []


# -- 6. the empty window ----------------------------------------------------------------------------
def test_declining_the_demo_shows_guidance_with_working_buttons(qtbot, tmp_path, settings,
                                                               monkeypatch, dialogs):
    dialogs.answer = QMessageBox.No
    monkeypatch.setattr("nerstudio.ui.app.data_dir", lambda: tmp_path)
    w = create_window(None, settings=settings)
    qtbot.addWidget(w)
    w.show()
    assert w.store is None and w.pages.currentWidget() is w.welcome and w.welcome.isVisible()
    assert "Open a project, create one, or try the demo" in \
        w.findChild(QLabel, "welcome-title").text()
    press_target = focus(qtbot, w.welcome_buttons["open"])
    assert press_target
    # Model > Train with no project: says what to do
    press(qtbot, Qt.Key_T, Qt.ControlModifier)
    assert dialogs.shown and "No project is open" in dialogs.shown[-1]
    # Open… with the file dialog cancelled, then New… to a chosen file
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    click(qtbot, w.welcome_buttons["open"])
    assert w.store is None
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "mine"), ""))
    click(qtbot, w.welcome_buttons["new"])
    assert w.store is not None and w.store.path.name == "mine.nerproj"
    assert w.pages.currentWidget() is w.tabs and str(w.store.path) in w.windowTitle()


def test_try_the_demo_button(qtbot, tmp_path, settings, monkeypatch, dialogs):
    dialogs.answer = QMessageBox.No
    monkeypatch.setattr("nerstudio.ui.app.data_dir", lambda: tmp_path)
    w = create_window(None, settings=settings)
    qtbot.addWidget(w)
    w.show()
    click(qtbot, w.welcome_buttons["demo"])
    assert w.store is not None and w.model.total == 40


# -- 7. discoverability -----------------------------------------------------------------------------
def test_shortcut_sheet_lists_the_real_keys(window, qtbot, dialogs):
    focus(qtbot, window.table)
    press(qtbot, Qt.Key_F1)
    sheet = window._shortcut_sheet
    assert sheet is not None and sheet.isVisible()
    rows = sheet.texts()
    keys = {r[0] for r in rows}
    for action in window.annotate_actions:  # generated from the actions: cannot drift
        if action not in window.label_actions + window.label_here_actions:
            assert any(action.shortcut().toString() in k for k in keys), action.text()
    first, last = (a.shortcut().toString() for a in (window.label_actions[0],
                                                      window.label_actions[-1]))
    assert f"{first} … {last}" == "1 … 9" and "1 … 9" in keys
    assert any("Return" in k for k in keys) and "A" in keys and "R" in keys
    assert any("Ctrl+Z" == k for k in keys) and any("Ctrl+Shift+Z" in k for k in keys)
    gestures = " ".join(r[0] for r in rows)
    assert "Click a token" in gestures and "Drag" in gestures and "Shift+click" in gestures
    assert "Right-click a dashed suggestion" in gestures  # the one-input fixes are discoverable
    assert "Alt+1 … Alt+9" in keys
    assert any(r[1] == "Accept all suggestions and next" and r[0] == "A" for r in rows)
    # found using the app: Escape went to the main window, the sheet stayed open
    qtbot.waitUntil(sheet.isActiveWindow, timeout=3000)
    press(qtbot, Qt.Key_Escape)
    qtbot.waitUntil(lambda: not sheet.isVisible(), timeout=3000)


def test_about_names_the_versions(window, qtbot, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda *a, **k: shown.append(a[2]))
    window.about_action.trigger()
    import PySide6

    text = shown[0]
    assert "nerstudio 0." in text and f"PySide6 {PySide6.__version__}" in text
    assert "torch" in text and "transformers" in text and "device" in text


def test_captions_title_and_wording(window, qtbot):
    captions = [c.text().replace("&", "") for c in window.filter_captions]
    assert captions == ["Split", "Status", "Label"]
    assert [c.buddy() for c in window.filter_captions] == [window.split_filter,
                                                           window.status_filter,
                                                           window.label_filter]
    assert str(window.store.path) in window.windowTitle()
    window.table.selectRow(0)
    assert "3 entities" in window.sentence_info.text()
    from nerstudio.ui.text import plural

    assert plural(1, "entity", "entities") == "1 entity" and plural(0, "sentence") == "0 sentences"


def test_list_and_editor_agree_on_suggested(window, qtbot):
    sid = select_unlabelled(window, qtbot)
    window.store.replace_predictions(None, [(sid, [(0, 2, "PER", 0.9)], None)])
    window.session.notify_sentences_changed()
    row = window.model.row_of(sid)
    listed = window.model.data(window.model.index(row, 2))
    assert listed == "unlabelled, suggested" and listed in window.sentence_info.text()


def test_enter_moves_on_after_an_undo_brings_back_a_sentence_the_filter_hides(window, qtbot,
                                                                              dialogs):
    """Found using the app: under Status = unlabelled, Enter, a list refresh, Ctrl+Z: the editor
    shows the restored sentence the list no longer holds; Enter must label it and go on to the
    next listed sentence after it (it stayed put, and a second Enter did nothing)."""
    path = window.store.path
    window.status_filter.setCurrentText("unlabelled")
    qtbot.waitUntil(lambda: window.current_id is not None)
    focus(qtbot, window.table)
    first = window.current_id
    press(qtbot, Qt.Key_Return)
    second = window.current_id
    assert status_of(path, first) == "labelled" and second != first
    window.session.notify_sentences_changed()  # what a finished background job does
    qtbot.waitUntil(lambda: window.model.row_of(first) is None)
    focus(qtbot, window.table)
    press(qtbot, Qt.Key_Z, Qt.ControlModifier)
    assert status_of(path, first) == "unlabelled"
    qtbot.waitUntil(lambda: window.current_id == first)
    assert window.model.row_of(first) is None  # shown, but not listed
    focus(qtbot, window.table)
    press(qtbot, Qt.Key_Return)
    assert status_of(path, first) == "labelled"
    assert window.current_id == second  # the next unlabelled one after it
    press(qtbot, Qt.Key_Return)
    assert status_of(path, second) == "labelled" and window.current_id not in (first, second)
