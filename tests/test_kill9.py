"""kill -9 at fixed moments of an import and of an edit loop (issue #12), the CI version of
benchmarks/stress_integrity.py (whose harness these tests use): integrity_check stays ok, an
import lands whole or not at all, no edit that returned is lost, undo still works, and the
project copied or moved keeps every edit."""
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nerstudio.core.store import ProjectStore

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("stress_integrity",
                                               ROOT / "benchmarks" / "stress_integrity.py")
stress = sys.modules.setdefault("stress_integrity", importlib.util.module_from_spec(_spec))
if not hasattr(stress, "main"):
    _spec.loader.exec_module(stress)

N = 5000  # sentences per imported file

# The child stops itself at a chosen moment (prints it, then sleeps) and the test kills it there.
# reading: the import is staging rows in its TEMP tables (no lock, nothing in the project);
# writing: inside the one write transaction, documents and sentences inserted, not committed;
# committed: the transaction committed, the process not yet finished.
IMPORT_CHILD = """
import sys, time
from nerstudio.core.formats import import_file
from nerstudio.core.store import ProjectStore
project, path, moment = sys.argv[1:]
store = ProjectStore(project)
def stop(where):
    print(where, flush=True)
    time.sleep(120)
def trace(sql):
    if moment == "writing" and sql.startswith('INSERT INTO spans(sentence_id'):
        stop("writing")
store.db.conn.set_trace_callback(trace)
def progress(n):
    if moment == "reading" and n >= 2000:
        stop("reading")
    if moment == "committed" and n == %d:
        stop("committed")
import_file(store, path, on_progress=progress)
print("finished", flush=True)
""" % N


@pytest.fixture(scope="module")
def conll(tmp_path_factory):
    return stress.write_conll(tmp_path_factory.mktemp("data") / "big.conll", N)


@pytest.fixture
def project(tmp_path):
    return stress.new_project(tmp_path / "p.nerproj")


@pytest.mark.parametrize("moment", ["reading", "writing", "committed"])
def test_import_killed_at_a_fixed_moment_lands_whole_or_not_at_all(project, conll, moment):
    before = stress.sentence_count(project)
    proc = subprocess.Popen([sys.executable, "-c", IMPORT_CHILD, str(project), str(conll), moment],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=stress.child_env())
    assert proc.stdout.readline().strip() == moment, proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert stress.integrity(project) == "ok"
    expected = before + N if moment == "committed" else before
    assert stress.sentence_count(project) == expected
    with ProjectStore(project) as s:  # opens for writing; the label the import adds: all or none
        assert ("MISC" in s.label_set().names) == (moment == "committed")
        assert s.stats()["splits"]["unassigned"]["sentences"] == expected
        assert s.import_items([stress.Sentence.from_words(["after"])]) == 1


@pytest.mark.parametrize("kill_at", [0.2, 1.2])
def test_cli_import_killed_lands_whole_or_not_at_all(project, conll, kill_at):
    trial = stress.import_trial(project, conll, N, kill_at)
    assert trial.problems == []


def test_edit_loop_killed_twice_loses_no_edit_and_undo_works(project, tmp_path):
    expected = {}
    for seed, after_edits in ((11, 30), (12, 120)):
        trial = stress.edit_kill_trial(project, tmp_path, seed, 0.05, expected, after_edits)
        assert trial.problems == []
        assert trial.stats["edits committed"] >= after_edits
        assert trial.stats["undo/redo checked"] == 1
    assert len(expected) > 50


def test_project_copied_or_moved_after_a_kill_keeps_every_edit(project, tmp_path):
    trial = stress.move_trial(project, tmp_path, 21, 0.05, {}, after_edits=50)
    assert trial.problems == []
    wal = Path(str(project) + "-wal")
    assert not wal.exists() or not wal.stat().st_size  # folded in by the clean close


CREATE_CHILD = """
import sys, time
from nerstudio.core import store as m
project, moment = sys.argv[1:]
apply, migrate = m.migrations.apply, m.ProjectStore._migrate
def stop(where):
    print(where, flush=True)
    time.sleep(120)
def slow_apply(db):
    if moment == "migrating":  # inside the migration's transaction
        stop(moment)
    apply(db)
def slow_migrate(self):
    migrate(self)
    if moment == "migrated":  # the schema committed, the name and labels not yet
        stop(moment)
m.migrations.apply = slow_apply
m.ProjectStore._migrate = slow_migrate
m.ProjectStore.create(project, labels=["PER"])
"""


@pytest.mark.parametrize("moment", ["migrating", "migrated"])
def test_create_killed_leaves_no_half_made_project(tmp_path, moment):
    """A kill -9 while a project is created (``nerstudio init``, New project) leaves nothing under
    its name: creating it again works, instead of 'already exists' for a file nerstudio then
    refuses to open."""
    project = tmp_path / "new.nerproj"
    proc = subprocess.Popen([sys.executable, "-c", CREATE_CHILD, str(project), moment],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=stress.child_env())
    assert proc.stdout.readline().strip() == moment, proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert not project.exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert all(name.startswith(".new.nerproj.creating-") for name in leftovers), leftovers
    with ProjectStore.create(project, labels=["PER", "ORG"]) as s:
        assert s.label_set().names == ["PER", "ORG"] and s.meta("name") == "new"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "new.nerproj"]
    assert stress.integrity(project) == "ok"
