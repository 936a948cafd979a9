"""Issue #16 item 2: on a machine with more than one GPU the Train view offers "Use all N GPUs";
ticked, Train runs the command line's launcher (``nerstudio train --processes N``, PyTorch DDP
through torchrun) in a subprocess, rank 0's events reach the same charts as a local run's, and
Cancel stops every rank. The GPU count is patched (this machine has none): the launcher then
starts N gloo processes on the CPU, which is the same code path with another backend."""
import os
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from nerstudio.ui import train_jobs as train_view  # noqa: E402 - the workers' functions

from .test_gui_train import click_tab, open_window, said, settings  # noqa: E402,F401
from nerstudio.ui.demo import create_demo_project  # noqa: E402

pytestmark = pytest.mark.slow


def _window(qtbot, tmp_path, settings, monkeypatch, gpus):  # noqa: F811
    monkeypatch.setattr(train_view, "gpu_count", lambda: gpus)
    w = open_window(qtbot, create_demo_project(tmp_path / "demo.nerproj"), settings)
    view = w.train_view
    click_tab(w, qtbot, view)
    qtbot.waitUntil(lambda: "checking" not in view.device.text(), timeout=60000)
    return w, view


def _tiny_settings(view, tiny_bert, epochs):
    view.base_model.setCurrentText(str(tiny_bert))
    view.epochs.setValue(epochs)
    view.lr.setValue(5e-3)
    view.batch.setValue(4)  # the global batch: 2 per process


def tick(qtbot, box):
    """Click the check box's indicator, where a user clicks (its centre may be empty space)."""
    from PySide6.QtWidgets import QStyle, QStyleOptionButton

    opt = QStyleOptionButton()
    box.initStyleOption(opt)
    rect = box.style().subElementRect(QStyle.SE_CheckBoxIndicator, opt, box)
    qtbot.mouseClick(box, Qt.LeftButton, pos=rect.center())


def _ranks_of(project: Path) -> list[int]:
    """Processes (other than this one) whose command line names the project."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(project) in cmd and int(pid) != os.getpid():
            found.append(int(pid))
    return found


def test_one_gpu_offers_no_multi_gpu_choice(qtbot, tmp_path, settings, monkeypatch):  # noqa: F811
    w, view = _window(qtbot, tmp_path, settings, monkeypatch, 1)
    assert not view.all_gpus.isVisible() and view.processes() == 1


def test_use_all_gpus_trains_through_the_launcher_and_streams_to_the_charts(
        qtbot, tmp_path, settings, monkeypatch, tiny_bert):  # noqa: F811
    w, view = _window(qtbot, tmp_path, settings, monkeypatch, 2)
    qtbot.waitUntil(view.all_gpus.isVisible, timeout=5000)
    assert view.all_gpus.text() == "Use all 2 GPUs"
    tick(qtbot, view.all_gpus)
    assert view.all_gpus.isChecked() and view.processes() == 2
    _tiny_settings(view, tiny_bert, epochs=2)
    runs_before = len(w.store.runs())
    qtbot.mouseClick(view.train_button, Qt.LeftButton)
    worker = view.worker
    assert worker is not None and worker._fn is train_view.run_training_processes
    with qtbot.waitSignal(worker.finished, timeout=240000) as blocker:
        pass
    run_id, event = blocker.args[0]
    assert type(event).__name__ == "Finished", event
    runs = w.store.runs()
    assert len(runs) == runs_before + 1 and runs[-1]["id"] == run_id  # one row, not one per rank
    assert runs[-1]["status"] == "finished"
    assert runs[-1]["config"]["distributed"]["processes"] == 2
    assert w.store.meta("active_run") == run_id  # as after a local run
    # rank 0's events drew the live charts: the selected run shows its recorded curves, and the
    # live run's dev evaluations arrived as typed events
    assert len(view.evals) >= 2 and all(0.0 <= e.f1 <= 1.0 for e in view.evals)
    assert view.loss_x and view.train_button.isEnabled()
    assert _ranks_of(Path(w.store.path)) == []


def test_cancel_stops_every_rank(qtbot, tmp_path, settings, monkeypatch, tiny_bert):  # noqa: F811
    w, view = _window(qtbot, tmp_path, settings, monkeypatch, 2)
    qtbot.waitUntil(view.all_gpus.isVisible, timeout=5000)
    tick(qtbot, view.all_gpus)
    _tiny_settings(view, tiny_bert, epochs=200)
    steps = []
    qtbot.mouseClick(view.train_button, Qt.LeftButton)
    worker = view.worker
    worker.event.connect(lambda e: steps.append(e) if type(e).__name__ == "Step" else None)
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=180000)
    project = Path(w.store.path)
    assert len(_ranks_of(project)) >= 3  # the CLI, torchrun and its ranks
    qtbot.mouseClick(view.cancel_button, Qt.LeftButton)
    with qtbot.waitSignal(worker.finished, timeout=120000) as blocker:
        pass
    run_id, event = blocker.args[0]
    assert type(event).__name__ == "Cancelled", event
    assert w.store.run(run_id)["status"] == "cancelled"
    assert event.step < 200 * 4  # stopped long before the end (16 sentences / 4 = 4 steps/epoch)
    qtbot.waitUntil(lambda: _ranks_of(project) == [], timeout=30000)
    assert view.train_button.isEnabled()


def test_a_batch_that_does_not_divide_is_refused_with_a_dialog(qtbot, tmp_path, settings,
                                                               monkeypatch, tiny_bert, said):  # noqa: F811
    w, view = _window(qtbot, tmp_path, settings, monkeypatch, 2)
    qtbot.waitUntil(view.all_gpus.isVisible, timeout=5000)
    tick(qtbot, view.all_gpus)
    _tiny_settings(view, tiny_bert, epochs=1)
    view.batch.setValue(5)
    qtbot.mouseClick(view.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: view.worker is None, timeout=30000)
    assert said and "must be a multiple of 2" in said[-1][2], said
    assert w.store.runs() == [] and view.train_button.isEnabled()
