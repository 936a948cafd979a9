"""Issue #15 item 1, the Active learning order, driven as a user drives it: the Order choice
beside the filters, real keys on the real widgets, the SQLite file checked."""
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from nerstudio.core.store import ProjectStore  # noqa: E402
from nerstudio.ui.active import ACTIVE_ORDER, FILE_ORDER  # noqa: E402
from nerstudio.ui.demo import create_demo_project  # noqa: E402
from tests.test_gui import settings  # noqa: E402,F401
from tests.test_gui_annotate import focus, press, status_of  # noqa: E402
from tests.test_gui_train import fake_run, open_window  # noqa: E402


def choose_order(window, qtbot, text):
    """Pick an Order entry with the keyboard, as a person does (focus the box, arrow keys)."""
    combo = focus(qtbot, window.order_combo)
    assert combo.isEnabled(), combo.toolTip()
    target = combo.findText(text)
    key = Qt.Key_Down if target > combo.currentIndex() else Qt.Key_Up
    while combo.currentIndex() != target:
        qtbot.keyClick(combo, key)
    assert combo.currentText() == text


def unlabelled_ids(path):
    with ProjectStore(path, read_only=True) as s:
        return [r.id for r in s.sentence_rows(0, 1000, status="unlabelled")]


def test_order_needs_a_trained_model_and_says_why(qtbot, tmp_path, settings):
    w = open_window(qtbot, create_demo_project(tmp_path / "demo.nerproj"), settings)
    assert w.order_combo.currentText() == FILE_ORDER
    assert not w.order_combo.isEnabled()
    assert "needs a trained model" in w.order_combo.toolTip()
    # the label-error review needs one too, and says so where the menu shows it
    assert not w.review_action.isEnabled()
    assert "trained model" in w.review_action.toolTip()
    # a keypress on the disabled box changes nothing
    qtbot.keyClick(w.order_combo, Qt.Key_Down)
    assert w.order_combo.currentText() == FILE_ORDER


def test_stored_order_is_listed_and_enter_follows_it(qtbot, tmp_path, settings):
    project = create_demo_project(tmp_path / "demo.nerproj")
    todo = unlabelled_ids(project)
    order = todo[::-3] + [i for i in todo if i not in todo[::-3]]  # not the file order
    with ProjectStore(project) as s:
        run = fake_run(s)
        s.set_meta("active_run", run)
        s.set_active_order(run, order)
    w = open_window(qtbot, project, settings)
    assert w.order_combo.isEnabled() and f"run {run}" in w.order_combo.toolTip()
    choose_order(w, qtbot, ACTIVE_ORDER)
    while w.model.canFetchMore():
        w.model.fetchMore()
    assert [r.id for r in w.model.rows] == order
    assert not w.status_filter.isEnabled() and "unlabelled" in w.status_filter.toolTip()
    qtbot.waitUntil(lambda: w.current_id == order[0])
    qtbot.waitUntil(w.table.hasFocus)  # picking the order hands the keys to the list
    press(qtbot, Qt.Key_Return)  # Mark labelled and next: the next in this order
    assert status_of(project, order[0]) == "labelled"
    assert w.current_id == order[1]
    press(qtbot, Qt.Key_Return)
    assert w.current_id == order[2] and status_of(project, order[1]) == "labelled"
    # a newer model re-ranks while the user is on order[2]: two sentences move above it
    reranked = [order[9], order[5], order[2]] + [i for i in order[3:] if i not in
                                                 (order[9], order[5])]
    with ProjectStore(project) as s:
        s.set_active_order(run, reranked)
    w._order_refreshed()  # what the background re-rank's finish does
    qtbot.waitUntil(lambda: [r.id for r in w.model.rows[:3]] == reranked[:3])
    assert w.current_id == order[2]
    press(qtbot, Qt.Key_Return)  # on to the most informative one left, not the row below
    assert status_of(project, order[2]) == "labelled" and w.current_id == order[9]
    press(qtbot, Qt.Key_Return)
    assert w.current_id == order[5]
    # back to file order: every sentence again, the status filter usable
    choose_order(w, qtbot, FILE_ORDER)
    assert w.status_filter.isEnabled() and w.model.total == 40


def test_a_new_active_model_reranks_in_the_background(qtbot, tmp_path, settings, trained):
    """The real refresh worker: making a run active ranks the unlabelled sentences with its
    model; the Order choice opens once the ranking is stored."""
    project = create_demo_project(tmp_path / "demo.nerproj")
    held_out = unlabelled_ids(project)[:2]  # dev stays a random sample: never in the order
    with ProjectStore(project) as s:
        s.set_split(held_out, "dev")
    w = open_window(qtbot, project, settings)
    assert not w.order_combo.isEnabled()
    run = fake_run(w.store, copy_from=trained)
    w.session.set_active_run(run)  # what the Train view's Make active does
    assert not w.order_combo.isEnabled() and "Ranking" in w.order_combo.toolTip()
    qtbot.waitUntil(lambda: w.order_combo.isEnabled(), timeout=60000)
    assert w.store.active_order_run() == run
    assert sorted(w.store.active_order()) == sorted(set(unlabelled_ids(project)) - set(held_out))
    choose_order(w, qtbot, ACTIVE_ORDER)
    order = w.store.active_order()
    assert [r.id for r in w.model.rows] == order
    qtbot.waitUntil(lambda: w.current_id == order[0])
    focus(qtbot, w.table)
    press(qtbot, Qt.Key_Return)
    assert w.current_id == order[1] and status_of(project, order[0]) == "labelled"
    # nothing became gold: the ranking only orders
    with ProjectStore(project, read_only=True) as s:
        assert s.count(status="unlabelled") == len(order) - 1 + len(held_out)
