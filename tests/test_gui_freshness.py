"""Issue #15 item 2, Model ▸ Keep the model fresh, as a user drives it: the menu's actions, N
answered in Qt's own input dialog, sentences labelled with the real Enter key. A real background
run (the tiny BERT, a few steps) starts after N newly labelled sentences; clicks made while it
runs are in the SQLite file at once; on success its model is the active one and the active
order is re-ranked; Cancel in the status bar leaves the active model and the counter as they
were."""
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QInputDialog  # noqa: E402

from nerstudio.core.runs import model_dir, run_folder  # noqa: E402
from nerstudio.core.training.checkpoints import has_weights  # noqa: E402
from nerstudio.core.training.incremental import split_new  # noqa: E402
from nerstudio.core.training.snapshot import load_snapshot  # noqa: E402
from nerstudio.ui.demo import create_demo_project  # noqa: E402
from nerstudio.ui.freshness import BASELINE_KEY, labelled_count  # noqa: E402
from tests.test_gui import settings  # noqa: E402,F401
from tests.test_gui_annotate import focus, press, status_of  # noqa: E402
from tests.test_gui_train import open_window  # noqa: E402

pytestmark = pytest.mark.slow


def keep_fresh_every(w, qtbot, monkeypatch, n):
    """Model ▸ Retrain every … (answered in the input dialog), then Model ▸ Keep the model fresh."""
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (n, True))
    w.fresh_every_action.trigger()
    assert w.keep_fresh.every() == n and f"every {n} labelled" in w.fresh_every_action.text()
    assert not w.fresh_action.isChecked()
    w.fresh_action.trigger()  # a checkable action: triggered(True), as a menu click sends it
    assert w.fresh_action.isChecked() and w.store.meta("keep_fresh") is True
    assert w.keep_fresh.label.text() == f"Keep fresh: 0/{n} newly labelled"


def label_next(w, qtbot, project) -> int:
    """Enter on the list: the current sentence becomes labelled (committed at once)."""
    sid = w.current_id
    assert status_of(project, sid) == "unlabelled"
    focus(qtbot, w.table)
    press(qtbot, Qt.Key_Return)
    assert status_of(project, sid) == "labelled"
    return sid


def count_checks(w) -> list:
    """A list that grows each time keep-fresh's check runs (its single-shot timer, started by a
    label or by the Train view becoming idle, fired; check() was connected first, so it has
    returned when the list grows)."""
    fired = []
    w.keep_fresh._check_timer.timeout.connect(lambda: fired.append(True))
    return fired


def wait_for_the_check(w, qtbot, fired) -> None:
    """Wait until a check counted by ``fired`` ran and none is pending, before asserting that it
    started nothing: a fixed wait past the timer's pause raced it on a loaded machine."""
    timer = w.keep_fresh._check_timer
    qtbot.waitUntil(lambda: bool(fired) and not timer.isActive(), timeout=60000)


@pytest.fixture
def window(qtbot, tmp_path, settings, tiny_bert):  # noqa: F811
    project = create_demo_project(tmp_path / "demo.nerproj")
    w = open_window(qtbot, project, settings)
    w.keep_fresh.config_overrides = dict(base_model=str(tiny_bert), epochs=3, batch_size=4,
                                         learning_rate=5e-3, max_length=64)
    w.status_filter.setCurrentText("unlabelled")
    qtbot.waitUntil(lambda: w.current_id is not None and
                    status_of(project, w.current_id) == "unlabelled", timeout=30000)
    return w, project


def test_a_background_run_starts_after_n_labels_and_its_model_becomes_active(
        window, qtbot, monkeypatch):
    w, project = window
    keep_fresh_every(w, qtbot, monkeypatch, 3)
    start = labelled_count(w.store)
    checks = count_checks(w)
    for _ in range(2):
        label_next(w, qtbot, project)
    wait_for_the_check(w, qtbot, checks)  # 2 of 3 start nothing
    assert w.keep_fresh.worker is None and w.keep_fresh.label.text() == "Keep fresh: 2/3 newly labelled"
    label_next(w, qtbot, project)
    qtbot.waitUntil(lambda: w.keep_fresh.worker is not None, timeout=60000)
    worker = w.keep_fresh.worker
    assert w.keep_fresh.label.text().startswith("Retraining in the background")
    assert w.keep_fresh.cancel_button.isVisible()
    # the user keeps annotating while it trains: each Enter is in the file at once
    during = [label_next(w, qtbot, project) for _ in range(2)]
    with qtbot.waitSignal(w.keep_fresh.done, timeout=180000) as blocker:
        pass
    run_id, event = blocker.args[0]
    assert type(event).__name__ == "Finished", event
    assert worker.cancelled is False and w.keep_fresh.worker is None
    assert w.store.meta("active_run") == run_id  # the new model is the active one
    # its resume checkpoints are gone (a session of such runs filled the disk), its model stays
    assert not list(run_folder(w.store, run_id).glob("checkpoint-*"))
    assert has_weights(model_dir(w.store, run_id))
    assert w.store.run(run_id)["config"]["base_model"] == str(w.keep_fresh.config_overrides["base_model"])
    assert all(status_of(project, sid) == "labelled" for sid in during)
    # the counter restarts where the run started: the 2 labelled during the run count
    assert w.store.meta(BASELINE_KEY) == start + 3
    assert w.keep_fresh.label.text() == "Keep fresh: 2/3 newly labelled"
    # suggestions and the active-learning order come from the new model (in the background)
    qtbot.waitUntil(lambda: w.store.active_order_run() == run_id, timeout=120000)
    qtbot.waitUntil(w.order_combo.isEnabled, timeout=60000)
    # one more label reaches N again: the next run starts from the previous model (same tags),
    # not from the base model
    del w.keep_fresh.config_overrides["base_model"]
    label_next(w, qtbot, project)
    qtbot.waitUntil(lambda: w.keep_fresh.worker is not None, timeout=60000)
    with qtbot.waitSignal(w.keep_fresh.done, timeout=180000) as blocker:
        pass
    second, event = blocker.args[0]
    assert type(event).__name__ == "Finished" and second != run_id
    f1_first, f1_second = (w.store.run(r)["best_f1"] for r in (run_id, second))
    # the demo has a dev split: the new run replaces the model unless it scores worse there
    assert w.store.meta("active_run") == (second if f1_second >= f1_first else run_id)
    assert w.store.run(second)["config"]["base_model"] == str(model_dir(w.store, run_id))
    # it continued from it (incremental.py): the sentences new since it plus as many old ones
    first_train, second_train = (load_snapshot(run_folder(w.store, r) / "data.json").train
                                 for r in (run_id, second))
    new, replayed = split_new(second_train, first_train)  # those labelled during the first
    assert len(new) >= 1 and len(replayed) == min(len(new), len(first_train))
    assert w.store.run(second)["config"]["continue_from"] == str(run_folder(w.store, run_id))


def test_cancel_in_the_status_bar_leaves_the_project_as_it_was(window, qtbot, monkeypatch):
    w, project = window
    w.keep_fresh.config_overrides["epochs"] = 200
    keep_fresh_every(w, qtbot, monkeypatch, 1)
    baseline = w.store.meta(BASELINE_KEY)
    active = w.store.meta("active_run")
    label_next(w, qtbot, project)
    qtbot.waitUntil(lambda: w.keep_fresh.worker is not None, timeout=60000)
    steps = []
    w.keep_fresh.worker.event.connect(
        lambda e: steps.append(e) if type(e).__name__ == "Step" else None)
    qtbot.waitUntil(lambda: len(steps) >= 1, timeout=120000)
    checks = count_checks(w)  # the run's end makes the Train view idle: that checks again
    qtbot.mouseClick(w.keep_fresh.cancel_button, Qt.LeftButton)
    with qtbot.waitSignal(w.keep_fresh.done, timeout=120000) as blocker:
        pass
    run_id, event = blocker.args[0]
    assert type(event).__name__ == "Cancelled", event
    assert w.store.meta("active_run") == active and w.store.meta(BASELINE_KEY) == baseline
    assert w.store.run(run_id)["status"] == "cancelled"
    assert not w.keep_fresh.cancel_button.isVisible()
    wait_for_the_check(w, qtbot, checks)
    assert w.keep_fresh.worker is None  # not restarted at once: it waits for N more labels


def test_a_run_that_waited_for_the_train_view_starts_when_it_is_free(window, qtbot, monkeypatch,
                                                                     tiny_bert):
    """Found using the app: a run due while "Will more data help?" ran kept waiting after the
    curve ended, until another sentence was labelled."""
    w, project = window
    keep_fresh_every(w, qtbot, monkeypatch, 1)
    view = w.train_view
    view.base_model.setCurrentText(str(tiny_bert))
    view.epochs.setValue(500)  # a curve that runs until it is cancelled
    view.lr.setValue(5e-3)
    view.batch.setValue(4)
    qtbot.mouseClick(view.curve_button, Qt.LeftButton)
    curve = view.curve_worker
    assert curve is not None
    checks = count_checks(w)
    label_next(w, qtbot, project)
    qtbot.waitUntil(lambda: "waits: the Train view is busy" in w.keep_fresh.label.text(),
                    timeout=60000)
    wait_for_the_check(w, qtbot, checks)
    assert w.keep_fresh.worker is None and view.curve_worker is curve
    with qtbot.waitSignal(curve.finished, timeout=180000):
        qtbot.mouseClick(view.cancel_button, Qt.LeftButton)  # the curve ends: the view is free
    qtbot.waitUntil(lambda: w.keep_fresh.worker is not None, timeout=60000)  # no new label
    with qtbot.waitSignal(w.keep_fresh.done, timeout=180000) as blocker:
        pass
    assert type(blocker.args[0].event).__name__ == "Finished"


def test_a_background_run_that_scores_worse_on_the_dev_split_does_not_replace_the_model(
        window, qtbot, monkeypatch, trained):
    """Found using the app: each background run became active even when its dev F1 was lower.
    The demo has a dev split, so both runs are scored on the same sentences."""
    from tests.test_gui_train import fake_run

    w, project = window
    better = fake_run(w.store, copy_from=trained)
    w.store.update_run(better, best_f1=1.0)
    w.session.set_active_run(better)
    keep_fresh_every(w, qtbot, monkeypatch, 1)
    label_next(w, qtbot, project)
    qtbot.waitUntil(lambda: w.keep_fresh.worker is not None, timeout=60000)
    checks = count_checks(w)  # the run's end makes the Train view idle: that checks again
    with qtbot.waitSignal(w.keep_fresh.done, timeout=180000) as blocker:
        pass
    run_id, event = blocker.args[0]
    assert type(event).__name__ == "Finished"
    assert w.store.run(run_id)["best_f1"] < 1.0
    assert w.store.meta("active_run") == better  # the better model stays
    assert "below the active run" in w.statusBar().currentMessage()
    assert w.keep_fresh.label.text() == "Keep fresh: 0/1 newly labelled"  # its labels are used
    wait_for_the_check(w, qtbot, checks)
    assert w.keep_fresh.worker is None  # and it is not retried at once


def test_a_background_run_that_fails_says_so_in_the_status_bar_not_a_dialog(
        window, qtbot, monkeypatch, tmp_path):
    """Found by the session benchmark: a keep-fresh run that failed (the disk was full) opened
    a modal "Training failed" box in the middle of the labelling; nobody clicked Train."""
    from PySide6.QtWidgets import QMessageBox

    w, project = window
    boxes = []
    for kind in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, kind, lambda *a, **k: boxes.append(a))
    w.keep_fresh.config_overrides["base_model"] = str(tmp_path / "no-such-model")
    keep_fresh_every(w, qtbot, monkeypatch, 1)
    label_next(w, qtbot, project)
    with qtbot.waitSignal(w.keep_fresh.done, timeout=180000) as blocker:
        pass
    result = blocker.args[0]
    assert not (isinstance(result, tuple) and type(result[1]).__name__ == "Finished")
    assert boxes == []
    assert "Background run" in w.statusBar().currentMessage()
    assert "the active model is unchanged" in w.statusBar().currentMessage()
    # a run started with Train still says it in a dialog
    w.train_view.start(w.keep_fresh.config())
    qtbot.waitUntil(lambda: bool(boxes), timeout=180000)
