"""Data-integrity guarantees of the project store (issue #12): foreign and damaged files,
read-only projects, the write lock under concurrency, stale views, undo across processes and label
ids. Real SQLite files; real second processes where the defect is about processes."""
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nerstudio.core import store as store_module
from nerstudio.core.domain import Sentence, Span
from nerstudio.core.errors import (
    ImportFormatError,
    ProjectBusyError,
    ReadOnlyProjectError,
    StaleEditError,
    StoreError,
)
from nerstudio.core.procs import HAS_PROC
from nerstudio.core.schema import APPLICATION_ID
from nerstudio.core.store import DocumentStart, ProjectStore

from .waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]


def _permissions_apply() -> bool:
    """False when chmod does not stop us (root with CAP_DAC_OVERRIDE, as in the CI container)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.touch()
        probe.chmod(0o444)
        try:
            probe.open("w").close()
        except PermissionError:
            return True
        return False


CHMOD_IGNORED = not _permissions_apply()


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _project(path: Path, n: int = 3, labels=("PER", "ORG", "LOC")) -> list[int]:
    with ProjectStore.create(path, labels=list(labels)) as s:
        s.import_items([Sentence.from_words([f"w{i}", "b", "c", "d", "e"]) for i in range(n)])
        return [r.id for r in s.sentence_rows(0, n)]


def _spawn(code: str, *args) -> subprocess.Popen:
    """A second nerstudio process running ``code`` (it prints a line when it is ready)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _run(code: str, *args) -> str:
    proc = _spawn(code, *args)
    out, err = proc.communicate(timeout=300)  # a guard: CI machines are loaded
    assert proc.returncode == 0, err
    return out


# holds the write lock until told (a line on stdin, or the pipe closed): a fixed time was not
# always enough for the test's own steps on a loaded machine
HOLD_LOCK = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
con.execute("COMMIT")
print("released", flush=True)
"""


def _release(holder: subprocess.Popen) -> None:
    """Tell a HOLD_LOCK process to commit; it has when this returns."""
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "released"
    assert holder.wait(300) == 0


# a writer that waits for the lock as long as it takes
WRITE_METRIC_WAITING = """
import sys
from nerstudio.core.store import ProjectStore
with ProjectStore(sys.argv[1], busy_timeout=600) as s:
    print("writing", flush=True)
    s.add_run_metric(int(sys.argv[2]), "train", 1, 0.1, {"loss": 1.0})
print("written", flush=True)
"""


# -- 1. foreign and damaged files --------------------------------------------------------------
def test_application_id_marks_a_new_project(tmp_path):
    path = tmp_path / "p.nerproj"
    _project(path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    con.close()


def test_missing_path_is_no_such_project(tmp_path):
    with pytest.raises(StoreError, match="no such project"):
        ProjectStore(tmp_path / "missing.nerproj")
    assert not (tmp_path / "missing.nerproj").exists()


def test_empty_file_is_refused_and_stays_empty(tmp_path):
    path = tmp_path / "empty.nerproj"
    path.touch()
    with pytest.raises(StoreError, match="is empty, not a nerstudio project"):
        ProjectStore(path)
    assert path.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.nerproj"]


def test_another_applications_sqlite_file_is_left_byte_for_byte_unchanged(tmp_path):
    path = tmp_path / "contacts.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE contacts (name TEXT)")
    con.executemany("INSERT INTO contacts VALUES (?)", [("a",), ("b",)])
    con.commit()
    con.close()
    before = _digest(path)
    with pytest.raises(StoreError, match="not a nerstudio project"):
        ProjectStore(path)
    assert _digest(path) == before  # no tables added, journal mode not switched to WAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.db"]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()


def test_another_application_id_is_refused_even_with_our_tables(tmp_path):
    path = tmp_path / "p.nerproj"
    _project(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA application_id = 1234")
    con.commit()
    con.close()
    before = _digest(path)
    with pytest.raises(StoreError, match="not a nerstudio project"):
        ProjectStore(path)
    assert _digest(path) == before


def test_non_sqlite_file_is_refused_unchanged(tmp_path):
    path = tmp_path / "notes.nerproj"
    path.write_bytes(b"some notes, not a database\n" * 200)
    before = _digest(path)
    with pytest.raises(StoreError, match="not a nerstudio project"):
        ProjectStore(path)
    assert _digest(path) == before


def _damage(path: Path) -> None:
    """Overwrite eight pages in the middle of the file with garbage."""
    size = path.stat().st_size
    assert size > 40 * 4096, "needs a multi-page project"
    with open(path, "r+b") as f:
        f.seek((size // 2) // 4096 * 4096)
        f.write(bytes(range(256)) * 128)


def test_damaged_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "big.nerproj"
    _project(path, n=3000)
    _damage(path)
    with pytest.raises(StoreError, match="damaged") as info:
        ProjectStore(path)
    assert str(path) in str(info.value)


def test_damage_found_after_opening_is_a_store_error(tmp_path, monkeypatch):
    """A file damaged while open (or in a page the open check did not read): later operations
    that touch the damaged pages raise StoreError naming the file, not sqlite3.DatabaseError;
    both ways an error leaves the store, a read and a write transaction, are checked. (The
    damage is in the middle of the sentences table: opening reads only the schema.)"""
    path = tmp_path / "big.nerproj"
    ids = _project(path, n=3000)
    _damage(path)
    monkeypatch.setattr(store_module, "_check_project_file", lambda p: None)
    with ProjectStore(path) as s:
        with pytest.raises(StoreError, match="damaged") as read:
            list(s.iter_sentences())
        with pytest.raises(StoreError, match="damaged") as write:
            s.set_split(ids, "dev")  # updates every row, so the damaged pages too
    assert str(path) in str(read.value) and str(path) in str(write.value)


# -- 2. read-only projects -------------------------------------------------------------------
def _every_write(s: ProjectStore, sid: int):
    yield lambda: s.set_spans(sid, [Span(0, 1, "PER")])
    yield lambda: s.set_status(sid, "reviewed")
    yield lambda: s.set_split([sid], "dev")
    yield lambda: s.set_meta("k", 1)
    yield lambda: s.add_label("NEW")
    yield lambda: s.recolour_label("PER", "#000000")
    yield lambda: s.reorder_labels(["LOC", "ORG", "PER"])
    yield lambda: s.rename_label("PER", "PERSON")
    yield lambda: s.merge_labels("ORG", "PER")
    yield lambda: s.delete_label("LOC")
    yield lambda: s.import_items([Sentence.from_words(["x"])])
    yield lambda: s.undo()
    yield lambda: s.redo()
    yield lambda: s.replace_predictions(None, [(sid, [(0, 1, "PER", 0.5)], None)])
    yield lambda: s.clear_predictions(sid)
    yield lambda: s.create_run("m", {}, ["O"])
    yield lambda: s.update_run(1, status="failed")
    yield lambda: s.add_run_metric(1, "train", 1, 0.1, {"loss": 1.0})


def _check_read_only(path: Path, sid: int, **kw) -> None:
    before = _digest(path)
    with ProjectStore(path, **kw) as s:
        assert s.read_only
        assert s.sentence(sid).words[0] == "w0" and s.count() == 3
        assert s.label_set().names == ["PER", "ORG", "LOC"]
        assert not s.can_undo() and not s.can_redo()
        for write in _every_write(s, sid):
            with pytest.raises(ReadOnlyProjectError, match="read-only") as info:
                write()
            assert "\n" not in str(info.value)
    assert _digest(path) == before


def test_read_only_parameter_refuses_every_write(tmp_path):
    path = tmp_path / "p.nerproj"
    sid = _project(path)[0]
    with ProjectStore(path) as s:
        s.set_spans(sid, [Span(0, 1, "ORG")])
    _check_read_only(path, sid, read_only=True)


def test_unwritable_file_detected_with_os_access(tmp_path, monkeypatch):
    """Root ignores chmod, so the detection is tested through os.access."""
    path = tmp_path / "p.nerproj"
    sid = _project(path)[0]
    real_access = os.access
    monkeypatch.setattr(store_module.os, "access",
                        lambda p, mode: False if mode == os.W_OK else real_access(p, mode))
    _check_read_only(path, sid)


@pytest.mark.skipif(CHMOD_IGNORED, reason="chmod does not stop this user (root)")
def test_chmod_444_file_opens_read_only(tmp_path):
    path = tmp_path / "p.nerproj"
    sid = _project(path)[0]
    path.chmod(0o444)
    try:
        _check_read_only(path, sid)
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(CHMOD_IGNORED, reason="chmod does not stop this user (root)")
def test_project_in_read_only_folder_opens_read_only(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "p.nerproj"
    sid = _project(path)[0]
    folder.chmod(0o555)
    try:
        _check_read_only(path, sid)
    finally:
        folder.chmod(0o755)


# -- 3. the write lock under concurrency ---------------------------------------------------------
def test_busy_writer_with_long_timeout_waits_for_the_lock(tmp_path):
    path = tmp_path / "p.nerproj"
    _project(path)
    with ProjectStore(path) as s:
        run = s.create_run("m", {}, ["O"])
    holder, writer = _spawn(HOLD_LOCK, path), None
    try:
        assert holder.stdout.readline().strip() == "locked"
        writer = _spawn(WRITE_METRIC_WAITING, path, run)
        assert writer.stdout.readline().strip() == "writing"
        with pytest.raises(subprocess.TimeoutExpired):  # it waits while the lock is held
            writer.wait(1)
        _release(holder)
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0 and out == "written\n", err  # and writes once it is free
    finally:
        for proc in (holder, writer):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    with ProjectStore(path) as s:
        assert len(s.run_metrics(run)) == 1


def test_busy_writer_with_short_timeout_raises_project_busy_and_writes_nothing(tmp_path):
    path = tmp_path / "p.nerproj"
    _project(path)
    with ProjectStore(path) as s:
        run = s.create_run("m", {}, ["O"])
    holder = _spawn(HOLD_LOCK, path)
    assert holder.stdout.readline().strip() == "locked"
    with ProjectStore(path, busy_timeout=0.3) as s:
        try:
            with pytest.raises(ProjectBusyError, match="another nerstudio process is writing to") \
                    as e:
                s.add_run_metric(run, "train", 1, 0.1, {"loss": 1.0})
            assert str(path) in str(e.value) and "\n" not in str(e.value)
            _release(holder)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
        assert s.run_metrics(run) == []
        s.add_run_metric(run, "train", 1, 0.1, {"loss": 1.0})  # free again: it works
        assert len(s.run_metrics(run)) == 1


WRITE_METRIC = """
import sys
from nerstudio.core.store import ProjectStore
with ProjectStore(sys.argv[1], busy_timeout=0.3) as s:
    s.add_run_metric(int(sys.argv[2]), "train", 1, 0.1, {"loss": 1.0})
print("written", flush=True)
"""


def test_another_process_writes_while_an_import_is_read(tmp_path):
    """The import reads the whole stream without the write lock: a training process recording
    a metric meanwhile (short timeout) is not blocked; the import then lands whole."""
    path = tmp_path / "p.nerproj"
    _project(path)
    with ProjectStore(path) as s:
        run = s.create_run("m", {}, ["O"])
    outputs = []

    def items():
        for i in range(5000):
            if i == 4000:  # well into the import: chunks have been read
                outputs.append(_run(WRITE_METRIC, path, run))
            yield Sentence.from_words([f"x{i}", "y"], spans=[Span(0, 1, "NEW")])

    with ProjectStore(path) as s:
        assert s.import_items(items(), chunk=500) == 5000
        assert outputs == ["written\n"]
        assert s.count() == 5003 and len(s.run_metrics(run)) == 1
        assert s.label_usage("NEW") == 5000


def test_import_format_error_writes_nothing(tmp_path):
    path = tmp_path / "p.nerproj"
    _project(path)
    with ProjectStore(path) as s:
        version = s.data_version()
        docs = s._scalar("SELECT count(*) FROM documents")

        def items():
            yield DocumentStart("d")
            for i in range(3000):
                yield Sentence.from_words([f"x{i}"], spans=[Span(0, 1, "NEWLABEL")])
            raise ImportFormatError("bad tag", "in.conll", 6001)

        with pytest.raises(ImportFormatError):
            s.import_items(items(), chunk=500)
        assert s.count() == 3 and "NEWLABEL" not in s.label_set()
        assert s._scalar("SELECT count(*) FROM documents") == docs
        assert s.data_version() == version
        assert s.import_items([Sentence.from_words(["ok"])]) == 1  # and the store still works
        assert s.count() == 4


def test_import_inside_a_callers_transaction_joins_it(tmp_path):
    path = tmp_path / "p.nerproj"
    _project(path)
    with ProjectStore(path) as s:
        with pytest.raises(RuntimeError):
            with s.transaction():
                s.import_items([Sentence.from_words(["x"])], chunk=1)
                s.set_meta("k", 1)
                raise RuntimeError("the user action fails")
        assert s.count() == 3 and s.meta("k") is None
        with s.transaction():
            assert s.import_items([Sentence.from_words(["x"]), Sentence.from_words(["y"])],
                                  chunk=1) == 2
        assert s.count() == 5



def test_import_together_parses_every_file_without_the_lock_then_copies_once(tmp_path):
    """Several files as one import (what ``nerstudio import P A B`` needs): each file is read
    without the write lock (another process writes meanwhile with a 0.3 s timeout), documents
    and ids follow on across files, and everything lands in one commit."""
    path = tmp_path / "p.nerproj"
    _project(path)
    with ProjectStore(path) as s:
        run = s.create_run("m", {}, ["O"])
    outputs = []

    def file_b():
        yield DocumentStart("b1")
        for i in range(3000):
            if i == 2000:  # file A is staged, file B half read: nothing holds the lock
                outputs.append(_run(WRITE_METRIC, path, run))
            yield Sentence.from_words([f"b{i}", "y"], spans=[Span(0, 1, "NEW")])

    with ProjectStore(path) as s:
        with s.import_together():
            assert s.import_items([Sentence.from_words(["a0"]), Sentence.from_words(["a1"])],
                                  source="a.txt") == 2
            assert s.import_items(file_b(), source="b.conll", chunk=500) == 3000
            assert s.count() == 3 and "NEW" not in s.label_set()  # not yet copied
        assert outputs == ["written\n"]
        assert s.count() == 3005 and s.label_usage("NEW") == 3000
        docs = s._q("SELECT name, source FROM documents ORDER BY id")[-2:]
        assert docs == [("a.txt", "a.txt"), ("b1", "b.conll")]
        assert [x.words[0] for x in s.iter_sentences()][-3001:-2999] == ["a1", "b0"]
        assert not s.db.conn.in_transaction


def test_import_together_is_all_or_nothing(tmp_path):
    path = tmp_path / "p.nerproj"
    _project(path)

    def bad():
        yield Sentence.from_words(["x"], spans=[Span(0, 1, "NEW")])
        raise ImportFormatError("bad tag", "b.conll", 3)

    with ProjectStore(path) as s:
        with pytest.raises(ImportFormatError):
            with s.import_together():
                s.import_items([Sentence.from_words(["a"])] * 100, source="a.txt")
                s.import_items(bad(), source="b.conll")
        assert s.count() == 3 and "NEW" not in s.label_set()
        with pytest.raises(RuntimeError):
            with s.import_together():
                s.import_items([Sentence.from_words(["a"])] * 100, source="a.txt")
                raise RuntimeError("cancelled")
        assert s.count() == 3
        with pytest.raises(StoreError, match="nested"):
            with s.import_together(), s.import_together():
                pass
        with s.import_together():  # a caller that skips a bad file and goes on
            s.import_items([Sentence.from_words(["a"])] * 100, source="a.txt")
            with pytest.raises(ImportFormatError):
                s.import_items(bad(), source="b.conll", chunk=1)
            assert s.import_items([Sentence.from_words(["c"], spans=[Span(0, 1, "PER")])],
                                  source="c.txt") == 1
        assert s.count() == 104 and "NEW" not in s.label_set()
        assert [r[0] for r in s._q("SELECT source FROM documents ORDER BY id")][-2:] == [
            "a.txt", "c.txt"]
        assert [x.words[0] for x in s.iter_sentences()][-2:] == ["a", "c"]
        assert s.import_items([Sentence.from_words(["ok"])]) == 1 and s.count() == 105
    with ProjectStore(path, read_only=True) as s, pytest.raises(ReadOnlyProjectError):
        with s.import_together():
            pass


def test_reading_runs_of_a_broken_file_is_a_store_error(tmp_path):
    """runs() / run() / run_metrics() go through the same error mapping as every other read."""
    path = tmp_path / "p.nerproj"
    _project(path)
    with ProjectStore(path) as s:
        run = s.create_run("m", {"lr": 1}, ["O"])
        assert s.run(run)["config"] == {"lr": 1} and [r["id"] for r in s.runs()] == [run]
        s.db.execute("ALTER TABLE runs RENAME TO runs_gone")  # as if damaged or foreign
        for read in (s.runs, lambda: s.run(run)):
            with pytest.raises(StoreError, match="no such table"):
                read()
        s.db.execute("ALTER TABLE runs_gone RENAME TO runs")
        with pytest.raises(StoreError, match="no run 99"):
            s.run(99)

# -- 4. stale views --------------------------------------------------------------------------
def test_stale_edit_from_another_store_is_refused(tmp_path):
    path = tmp_path / "p.nerproj"
    sid = _project(path)[0]
    with ProjectStore(path) as a, ProjectStore(path) as b:
        view = a.sentence(sid)
        assert view.version == 0
        b.set_spans(sid, [Span(3, 4, "LOC")])
        with pytest.raises(StaleEditError):
            a.set_spans(sid, [Span(1, 2, "PER")], expected_version=view.version)
        with pytest.raises(StaleEditError):
            a.set_status(sid, "reviewed", expected_version=view.version)
        fresh = a.sentence(sid)
        assert fresh.spans == [Span(3, 4, "LOC")] and fresh.status == "unlabelled"
        a.set_spans(sid, [Span(1, 2, "PER"), Span(3, 4, "LOC")], expected_version=fresh.version)
        assert b.sentence(sid).spans == [Span(1, 2, "PER"), Span(3, 4, "LOC")]


EDIT_TOKEN_3 = """
import sys
from nerstudio.core.domain import Span
from nerstudio.core.store import ProjectStore
with ProjectStore(sys.argv[1]) as s:
    s.set_spans(int(sys.argv[2]), [Span(3, 4, "LOC")])
print("edited", flush=True)
"""


def test_stale_edit_after_another_process_wrote_is_refused(tmp_path):
    path = tmp_path / "p.nerproj"
    sid = _project(path)[0]
    with ProjectStore(path) as a:
        view = a.sentence(sid)
        seen = a.data_version()
        assert _run(EDIT_TOKEN_3, path, sid) == "edited\n"
        assert a.data_version() != seen  # what the GUI polls to refresh
        with pytest.raises(StaleEditError):
            a.set_spans(sid, [Span(1, 2, "PER")], expected_version=view.version)
        assert a.sentence(sid).spans == [Span(3, 4, "LOC")]


def test_version_counts_every_change_of_spans_or_status(tmp_path):
    path = tmp_path / "p.nerproj"
    a, b, c = _project(path)
    with ProjectStore(path) as s:
        def v(sid):
            return s.sentence(sid).version
        s.set_spans(a, [Span(0, 1, "ORG")])
        assert v(a) == 1 and v(b) == 0
        s.set_status(a, "labelled")
        assert v(a) == 2
        s.set_spans(a, [Span(0, 1, "ORG")], status="labelled")  # no change: no new version
        assert v(a) == 2
        s.undo()
        assert v(a) == 3
        s.redo()
        assert v(a) == 4
        s.set_spans(b, [Span(0, 1, "LOC")])
        s.merge_labels("ORG", "PER")
        assert v(a) == 5 and v(b) == 1
        s.delete_label("LOC")
        assert v(b) == 2 and v(c) == 0
        s.set_split([c], "dev")  # the split is not part of the labelling view
        assert [x.version for x in s.iter_sentences()] == [5, 2, 0]


# -- 5. undo across windows and processes ----------------------------------------------------
def test_undo_never_reaches_into_another_open_windows_edits(tmp_path):
    path = tmp_path / "p.nerproj"
    s1, s2, _ = _project(path)
    with ProjectStore(path) as a, ProjectStore(path) as b:
        b.set_spans(s2, [Span(0, 1, "LOC")])
        assert not a.can_undo() and a.undo() is None  # b is open: its edit is b's
        a.set_spans(s1, [Span(0, 1, "PER")])
        b.set_spans(s2, [Span(0, 2, "LOC")])
        assert a.undo() == s1
        assert a.sentence(s1).spans == [] and a.sentence(s2).spans == [Span(0, 2, "LOC")]
        assert a.undo() is None
        assert b.undo() == s2 and b.sentence(s2).spans == [Span(0, 1, "LOC")]


def test_undo_and_redo_refused_when_the_sentence_changed_since(tmp_path):
    path = tmp_path / "p.nerproj"
    sid, other, _ = _project(path)
    with ProjectStore(path) as a, ProjectStore(path) as b:
        a.set_spans(other, [Span(0, 1, "ORG")])
        a.set_spans(sid, [Span(0, 1, "PER")])
        b.set_spans(sid, [Span(0, 1, "PER"), Span(3, 4, "LOC")])
        with pytest.raises(StaleEditError):
            a.undo()
        assert a.sentence(sid).spans == [Span(0, 1, "PER"), Span(3, 4, "LOC")]  # b's intact
        assert a.undo() == other  # the refused step left the history; the rest still works
        a.set_spans(sid, [Span(0, 1, "PER"), Span(3, 4, "LOC"), Span(4, 5, "ORG")])
        assert a.undo() == sid
        b.set_spans(sid, [])
        with pytest.raises(StaleEditError):
            a.redo()
        assert a.sentence(sid).spans == []


def test_new_edit_clears_only_this_origins_redo_branch(tmp_path):
    path = tmp_path / "p.nerproj"
    s1, s2, _ = _project(path)
    with ProjectStore(path) as a, ProjectStore(path) as b:
        a.set_spans(s1, [Span(0, 1, "PER")])
        b.set_spans(s2, [Span(0, 1, "LOC")])
        assert a.undo() == s1 and b.undo() == s2
        a.set_spans(s1, [Span(1, 2, "ORG")])
        assert not a.can_redo() and a.redo() is None
        assert b.can_redo() and b.redo() == s2
        assert b.sentence(s2).spans == [Span(0, 1, "LOC")]


def test_history_survives_a_restart(tmp_path):
    path = tmp_path / "p.nerproj"
    sid = _project(path)[0]
    with ProjectStore(path) as a:
        a.set_spans(sid, [Span(0, 1, "PER")])
        a.set_spans(sid, [Span(0, 2, "PER")])
    with ProjectStore(path) as a:
        assert a.undo() == sid and a.sentence(sid).spans == [Span(0, 1, "PER")]
    with ProjectStore(path) as a:  # adopted steps keep their order across restarts
        assert a.redo() == sid and a.sentence(sid).spans == [Span(0, 2, "PER")]
        assert a.undo() == sid and a.undo() == sid and a.sentence(sid).spans == []
        assert a.undo() is None


EDIT_AND_WAIT = """
import sys, time
from nerstudio.core.domain import Span
from nerstudio.core.store import ProjectStore
s = ProjectStore(sys.argv[1])
s.set_spans(int(sys.argv[2]), [Span(0, 1, "PER")])
print("edited", flush=True)
time.sleep(120)
"""


def test_a_killed_process_edits_become_undoable_by_the_next_opener(tmp_path):
    """Rule: a store undoes its own edits first; with none left, those of origins that are no
    longer live (closed, or a dead pid on this host)."""
    path = tmp_path / "p.nerproj"
    s1, s2, _ = _project(path)
    proc = _spawn(EDIT_AND_WAIT, path, s1)
    try:
        assert proc.stdout.readline().strip() == "edited"
        with ProjectStore(path) as a:
            assert a.undo() is None  # the other process is alive: its edit is its own
            a.set_spans(s2, [Span(0, 1, "ORG")])
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            assert a.undo() == s2  # own edits first
            assert a.undo() == s1  # then the dead process's
            assert a.sentence(s1).spans == [] and a.undo() is None
            assert a.redo() == s1 and a.redo() == s2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


EDIT_AND_DIE = """
import os, sys
from nerstudio.core.domain import Span
from nerstudio.core.store import ProjectStore
s = ProjectStore(sys.argv[1])
s.set_spans(int(sys.argv[2]), [Span(0, 1, "PER")])
os._exit(0)  # no close(): the session row stays behind
"""


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc")
def test_a_zombie_or_reused_pid_does_not_keep_a_session_alive(tmp_path):
    path = tmp_path / "p.nerproj"
    s1, s2, _ = _project(path)
    proc = _spawn(EDIT_AND_DIE, path, s1)
    try:
        stat = Path(f"/proc/{proc.pid}/stat")
        # (not proc.poll(): that would reap it)
        wait_for(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "Z",
                 "the child to exit (a zombie: exited, not reaped)", interval=0.05)
        with ProjectStore(path) as a:
            assert a.undo() == s1
    finally:
        proc.wait()
    with ProjectStore(path) as a, ProjectStore(path) as b:
        b.set_spans(s2, [Span(0, 1, "ORG")])
        assert a.undo() is None
        # b's pid taken over by another process: same pid, another start time
        a.db.execute("UPDATE sessions SET started = 'another' WHERE origin = ?", (b.origin,))
        a.db.conn.commit()
        assert a.undo() == s2


# -- 6. label ids ----------------------------------------------------------------------------
def test_undo_never_brings_a_span_back_under_a_new_label(tmp_path):
    path = tmp_path / "p.nerproj"
    sid = _project(path)[0]
    with ProjectStore(path) as s:
        s.set_spans(sid, [Span(0, 1, "LOC")])  # the last label
        s.set_spans(sid, [])
        s.delete_label("LOC")
        s.add_label("NEW")
        assert s.undo() == sid
        assert s.sentence(sid).spans == []  # a deleted label's span is dropped, not renamed
        assert s.label_usage("NEW") == 0
        ids = dict(s._q("SELECT name, id FROM labels"))
        assert ids["NEW"] > 3


def test_undo_and_redo_after_a_merge_follow_the_merge_target(tmp_path):
    path = tmp_path / "p.nerproj"
    sid, other, _ = _project(path)
    with ProjectStore(path) as s:
        s.set_spans(sid, [Span(0, 1, "ORG")])
        s.set_spans(sid, [])
        s.merge_labels("ORG", "PER")
        assert s.undo() == sid and s.sentence(sid).spans == [Span(0, 1, "PER")]
        s.set_spans(other, [Span(1, 2, "LOC")])
        s.undo()
        s.merge_labels("LOC", "PER")
        assert s.redo() == other and s.sentence(other).spans == [Span(1, 2, "PER")]
        s.add_label("MISC")
        s.merge_labels("PER", "MISC")  # merges chain: ORG -> PER -> MISC
        s.set_spans(sid, [])
        s.undo()
        assert s.sentence(sid).spans == [Span(0, 1, "MISC")]


# -- 7. projects made by the previous version ------------------------------------------------
def _old_project(path: Path) -> None:
    """A project file as nerstudio made it before issue #12 (migrations m001 + m002 only)."""
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    from nerstudio.core import schema

    old = Migrations("nerstudio")
    old()(schema.m001_initial)
    old()(schema.m002_fulltext)
    db = Database(path)
    db.enable_wal()
    old.apply(db)
    with db.conn:
        db.execute("""INSERT INTO meta VALUES ('name', '"old"')""")
        db.conn.executemany("INSERT INTO labels(id, name, colour, position) VALUES (?,?,?,?)",
                            [(1, "PER", "#fff", 0), (2, "LOC", "#eee", 1)])
        db.execute("INSERT INTO documents(id, name) VALUES (1, 'doc')")
        db.conn.executemany(
            "INSERT INTO sentences(id, document_id, position, text, tokens, starts, status, "
            "n_entities) VALUES (?, 1, ?, ?, ?, ?, ?, ?)",
            [(1, 0, "Angela in Paris", '["Angela", "in", "Paris"]', "[0, 7, 10]", "labelled", 2),
             (2, 1, "Rome", '["Rome"]', "[0]", "unlabelled", 0)])
        db.execute('INSERT INTO spans VALUES (1, 0, 1, 1), (1, 2, 3, 2)')
        # history: a span of label 3 (MISC, deleted since), then today's spans
        db.conn.executemany("INSERT INTO edits(sentence_id, before, after) VALUES (1, ?, ?)", [
            (json.dumps({"spans": [], "status": "unlabelled"}),
             json.dumps({"spans": [[1, 2, 3]], "status": "unlabelled"})),
            (json.dumps({"spans": [[1, 2, 3]], "status": "unlabelled"}),
             json.dumps({"spans": [[0, 1, 1], [2, 3, 2]], "status": "labelled"}))])
    db.close()


def test_a_project_of_the_previous_version_opens_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.nerproj"
    _old_project(path)
    with ProjectStore(path) as s:
        assert s.meta("name") == "old" and s.label_set().names == ["PER", "LOC"]
        sent = s.sentence(1)
        assert sent.spans == [Span(0, 1, "PER"), Span(2, 3, "LOC")]
        assert sent.status == "labelled" and sent.version == 0
        assert s.count() == 2 and s.search("paris") == [1]
        s.add_label("NEW")  # never id 3: the history still mentions the deleted label 3
        assert s._label_id("NEW") == 4
        assert s.undo() == 1 and s.sentence(1).spans == []  # label 3's span is dropped
        assert s.undo() == 1 and s.sentence(1).status == "unlabelled"
        s.set_spans(2, [Span(0, 1, "LOC")], expected_version=0)
        assert s.sentence(2).version == 1
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    assert "AUTOINCREMENT" in con.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'labels'").fetchone()[0]
    con.close()
    with ProjectStore(path) as s:  # and it opens again as a project of this version
        assert s.sentence(2).spans == [Span(0, 1, "LOC")]


def test_a_read_only_project_of_the_previous_version_is_read_as_it_is(tmp_path):
    path = tmp_path / "old.nerproj"
    _old_project(path)
    before = _digest(path)
    with ProjectStore(path, read_only=True) as s:
        assert [x.spans for x in s.iter_sentences()] == [[Span(0, 1, "PER"), Span(2, 3, "LOC")],
                                                        []]
        assert s.sentence(1).version == 0
        with pytest.raises(ReadOnlyProjectError):
            s.set_spans(2, [])
    assert _digest(path) == before


def test_import_together_keeps_the_good_files_when_the_skipped_bad_file_is_the_last(tmp_path):
    """A caller that skips a bad file and goes on keeps every good file, also when the bad file
    is the last one read (an open temp-only transaction must not swallow the copy)."""
    path = tmp_path / "p.nerproj"
    _project(path)

    def bad():
        yield Sentence.from_words(["x"])
        raise ImportFormatError("bad tag", "b.conll", 3)

    with ProjectStore(path) as s:
        before = s.count()
        with s.import_together():
            s.import_items([Sentence.from_words(["good"])] * 5, source="a.txt")
            with pytest.raises(ImportFormatError):
                s.import_items(bad(), source="b.conll")
        assert s.count() == before + 5
    with ProjectStore(path) as s:
        assert s.count() == before + 5


def test_a_new_project_ignores_the_log_of_a_deleted_one(tmp_path):
    """Found while setting up a check: a project deleted while open leaves NAME-wal beside it;
    a new project made under the same name replayed that log (the old project's pages mixed
    into the new file: the first import failed on a UNIQUE constraint). The leftover is moved
    aside, never deleted, and the new project holds only its own data."""
    path = tmp_path / "news.nerproj"
    old = ProjectStore.create(path, labels=["PER"])
    old.db.conn.execute("PRAGMA wal_autocheckpoint = 0")
    old.import_items([Sentence.from_words(["Ada", "Lovelace", "wrote"],
                                          spans=[Span(0, 2, "PER")], status="labelled")])
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    kept = wal.read_bytes()  # the log as a deleted-while-open project leaves it
    old.close()
    path.unlink()
    wal.write_bytes(kept)
    out = subprocess.run([sys.executable, "-m", "nerstudio", "init", str(path), "--labels",
                          "ORG"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = tmp_path / "new.conll"
    data.write_text("Acme B-ORG\nCorp I-ORG\nhired O\n\n")
    out = subprocess.run([sys.executable, "-m", "nerstudio", "import", str(path), str(data)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with ProjectStore(path, read_only=True) as new:
        assert new.label_set().names == ["ORG"]
        assert [s.words for s in new.iter_sentences()] == [["Acme", "Corp", "hired"]]
    leftovers = list(tmp_path.glob("news.nerproj-wal.left-over-*"))
    assert len(leftovers) == 1 and leftovers[0].read_bytes() == kept
