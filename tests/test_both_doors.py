"""Issue #26 item 1: the command line and the app do the same thing for the same action.

Both doors go through ``core/usecases.py``. The same project, copied twice, is trained once
with ``nerstudio train`` (a subprocess, as typed in a terminal) and once with the app's Train
button (the real click); the run rows must agree: finished, scored on the test split, made the
active model, trained on the labelled sentences that are in no split (a file whose name names
no split imports there), with the same resolved settings. A project with nothing to train on is
refused by both before a run row exists, and one training at a time holds across processes."""
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from nerstudio.core.slot import training_slot  # noqa: E402
from nerstudio.core.store import ProjectStore  # noqa: E402
from tests.test_evaluation import make_project  # noqa: E402
from tests.test_gui import settings  # noqa: E402,F401
from tests.test_gui_train import click_tab, open_window  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
SETTINGS = {"epochs": 3, "learning_rate": 5e-3, "batch_size": 8}


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def project_in_no_split(path: Path) -> Path:
    """Labelled sentences in no split (as `nerstudio import P mydata.conll` leaves them), no dev
    split, and a labelled test split."""
    make_project(path, n_train=24, dev=False)
    with ProjectStore(path) as s:
        train = [r.id for r in s.sentence_rows(0, 1000, split="train")]
        s.set_split(train, "unassigned")
    return path


def the_run(path: Path) -> tuple[dict, int | None]:
    with ProjectStore(path, read_only=True) as s:
        runs = s.runs()
        assert len(runs) == 1, runs
        return s.run(runs[0]["id"]), s.meta("active_run")


def test_train_gives_the_same_run_through_the_cli_and_the_app(qtbot, tmp_path, settings,
                                                               tiny_bert):
    by_cli = project_in_no_split(tmp_path / "cli.nerproj")
    by_app = tmp_path / "app.nerproj"
    shutil.copyfile(by_cli, by_app)

    out = cli("train", by_cli, "--base-model", tiny_bert, "--epochs", SETTINGS["epochs"],
              "--lr", SETTINGS["learning_rate"], "--batch-size", SETTINGS["batch_size"])
    assert out.returncode == 0, out.stderr
    assert "in no split used as train" in out.stderr
    assert "is now the project's active model" in out.stderr

    w = open_window(qtbot, by_app, settings)
    view = w.train_view
    click_tab(w, qtbot, view)
    view.base_model.setCurrentText(str(tiny_bert))
    view.epochs.setValue(SETTINGS["epochs"])
    view.lr.setValue(SETTINGS["learning_rate"])
    view.batch.setValue(SETTINGS["batch_size"])
    qtbot.mouseClick(view.train_button, Qt.LeftButton)
    assert view.worker is not None
    with qtbot.waitSignal(view.worker.finished, timeout=300000):
        pass
    qtbot.waitUntil(lambda: w.store.meta("active_run") is not None, timeout=30000)

    (cli_run, cli_active), (app_run, app_active) = the_run(by_cli), the_run(by_app)
    for run, active in ((cli_run, cli_active), (app_run, app_active)):
        assert run["status"] == "finished" and active == run["id"]  # published by both
        assert run["evaluations"]["test"]["sentences"] == 4  # scored on test by both
        assert run["best_f1"] is not None
    differs = {k for k in cli_run["config"] if cli_run["config"][k] != app_run["config"][k]}
    assert differs <= {"keep_core_free", "threads"}, differs  # the app keeps a core for itself
    assert cli_run["labels"] == app_run["labels"]


def test_nothing_to_train_is_refused_by_both_doors_before_a_run_row(qtbot, tmp_path, settings,
                                                                    monkeypatch):
    empty = tmp_path / "empty.nerproj"
    ProjectStore.create(empty, labels=["PER"]).close()
    started = time.monotonic()
    out = cli("train", empty)
    assert out.returncode == 1 and time.monotonic() - started < 60  # (an interpreter start)
    assert out.stderr.strip().splitlines() == [
        f"nerstudio: error: {empty}: nothing to train on yet: no sentence is labelled (label "
        "some, then train)"]
    said = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: said.append(a[2]))
    w = open_window(qtbot, empty, settings)
    click_tab(w, qtbot, w.train_view)
    qtbot.mouseClick(w.train_view.train_button, Qt.LeftButton)
    assert w.train_view.worker is None and len(said) == 1
    assert "Nothing to train on yet" in said[0]
    with ProjectStore(empty, read_only=True) as s:
        assert s.runs() == []


def test_one_training_at_a_time_holds_across_processes_and_doors(qtbot, tmp_path, settings,
                                                                 monkeypatch):
    """While another process holds the project's training slot (a terminal's train or review),
    `nerstudio train` and the app's Train both refuse, saying who trains; no run row is made."""
    path = make_project(tmp_path / "p.nerproj", n_train=8)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom nerstudio.core.slot import training_slot\n"
         "with training_slot(sys.argv[1], 'the label-error review'):\n"
         "    print('holding', flush=True)\n    sys.stdin.readline()\n", str(path)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        out = cli("train", path)
        assert out.returncode == 1
        line = out.stderr.strip().splitlines()[-1]
        assert "the label-error review" in line and f"process {holder.pid}" in line
        assert "in a terminal" in line  # which door holds it
        said = []
        monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: said.append(a[2]))
        w = open_window(qtbot, path, settings)
        click_tab(w, qtbot, w.train_view)
        qtbot.mouseClick(w.train_view.train_button, Qt.LeftButton)
        assert w.train_view.worker is None and len(said) == 1
        assert "the label-error review" in said[0].lower() and "one training at a time" in said[0]
        assert f"in a terminal, process {holder.pid}" in said[0]
    finally:
        holder.communicate("\n", timeout=60)
    with ProjectStore(path, read_only=True) as s:
        assert s.runs() == []
    with training_slot(path, "a training run"):  # released by its holder: free again
        pass


def test_the_publish_rule_without_a_dev_split_compares_the_same_held_out_share(tmp_path):
    """No dev split: each run holds out the same seeded share of train while the training
    sentences, seed and dev fraction are unchanged, so a worse run does not replace the
    active model (found by a walkthrough: a 0.03 run replaced a 0.33 one); once sentences were
    labelled since, the shares differ and the new run replaces it."""
    from nerstudio.core.domain import Span
    from nerstudio.core.usecases import publish_decision

    path = make_project(tmp_path / "p.nerproj", n_train=8, dev=False, test=False)
    with ProjectStore(path) as s:
        config = {"seed": 42, "dev_fraction": 0.1}

        def run(f1, **changes):
            run_id = s.create_run("tiny", {**config, **changes}, ["O"])
            s.update_run(run_id, status="finished", best_f1=f1)
            return run_id

        good = run(0.33)
        s.set_meta("active_run", good)
        assert publish_decision(s, run(0.03)) == (
            False, f"dev F1 0.030 is below the active run {good}'s 0.330")
        assert publish_decision(s, run(0.5))[0] is True  # better: replaces
        assert publish_decision(s, run(0.03, seed=7))[0] is True  # another held-out share
        s.db.execute("UPDATE runs SET created_at = datetime('now', '-1 minute')")
        sid = s.sentence_rows(0, 1, split="train")[0].id
        s.set_spans(sid, [Span(0, 1, "PER")], status="labelled")  # labelled since
        assert publish_decision(s, run(0.03))[0] is True


def test_a_probe_of_the_slot_does_not_refuse_a_training_that_starts_meanwhile(tmp_path):
    """``slot.holder`` (the app asks it before every background run) takes the lock for an
    instant; a training starting in that instant waits for the probe instead of being refused
    as if another training held the slot."""
    import fcntl
    import os
    import threading

    from nerstudio.core.slot import slot_path

    path = make_project(tmp_path / "p.nerproj", n_train=2)
    slot_path(path).parent.mkdir(parents=True, exist_ok=True)
    probe = os.open(slot_path(path), os.O_RDWR | os.O_CREAT)
    fcntl.flock(probe, fcntl.LOCK_EX)  # a probe in progress: no owner written
    threading.Timer(0.05, lambda: fcntl.flock(probe, fcntl.LOCK_UN)).start()
    try:
        with training_slot(path, "a training run"):
            pass
    finally:
        os.close(probe)


# -- pre-annotate: `nerstudio preannotate P` and Model > Pre-annotate (Ctrl+P) ---------------------
def _predictions(path: Path) -> list[tuple]:
    import sqlite3

    con = sqlite3.connect(path)
    try:
        return con.execute('SELECT s.text, p.start, p."end", p.label, round(p.score, 3) '
                           "FROM predictions p JOIN sentences s ON s.id = p.sentence_id "
                           "ORDER BY s.text, p.start").fetchall()
    finally:
        con.close()


def test_preannotate_gives_the_same_suggestions_through_the_cli_and_the_app(
        qtbot, tmp_path, settings, trained):
    """Both start from the active run's model (the CLI needs no --model), store the same
    suggestions, and both say that the model's LOC entities were not stored (the project has
    no LOC label)."""
    from nerstudio.core.paths import runs_dir
    from tests.conftest import TINY_DATA
    from tests.test_evaluation import _sentence
    from tests.test_gui_train import fake_run

    by_cli, by_app = tmp_path / "cli.nerproj", tmp_path / "app.nerproj"
    with ProjectStore.create(by_cli, labels=["PER", "ORG"]) as s:
        s.import_items([_sentence(e.words, ["O"] * len(e.words), "unassigned", "unlabelled")
                        for e in TINY_DATA[:16]])
        s.set_meta("active_run", fake_run(s, copy_from=trained))
    shutil.copyfile(by_cli, by_app)
    shutil.copytree(runs_dir(by_cli), runs_dir(by_app))

    out = cli("preannotate", by_cli)
    assert out.returncode == 0, out.stderr
    assert "stored suggestions for 16 sentences (run 1's model)" in out.stdout
    assert "whose label the project does not have: LOC" in out.stderr

    w = open_window(qtbot, by_app, settings)
    said = []  # the status bar's lines (the background ranking writes there too)
    w.statusBar().messageChanged.connect(said.append)
    w.activateWindow()  # a shortcut reaches the active window's actions
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    qtbot.keyClick(QApplication.focusWidget() or w, Qt.Key_P, Qt.ControlModifier)
    qtbot.waitUntil(lambda: any("Suggestions for 16 sentences" in m for m in said),
                    timeout=120000)
    line = next(m for m in said if "Suggestions for" in m)
    assert "whose label the project does not have: LOC" in line
    by_cli_rows = _predictions(by_cli)
    assert by_cli_rows and not any(row[3] == "LOC" for row in by_cli_rows)
    by_app_rows = _predictions(by_app)
    # the same spans and labels; scores equal but for int8's float noise (core/int8.py: about
    # 1e-4 with another thread count or batch), which can flip the third decimal
    assert [r[:4] for r in by_app_rows] == [r[:4] for r in by_cli_rows]
    # scores: int8 arithmetic differs in the last digits with the thread count (the CLI's
    # process and the app's worker); 2e-3 was exceeded once on a loaded CI machine
    assert all(abs(a[4] - b[4]) <= 1e-2 for a, b in zip(by_app_rows, by_cli_rows))
