"""Issue #25 item 1 without a window: a process that holds a project open (the app) and opens
and closes further stores on it (what every worker does) keeps its SQLite locks, so another
process's read never deletes the WAL and no committed edit is lost to ``kill -9``.

POSIX locks belong to the process: closing any descriptor of the file drops them all. The
header check once read the file with a raw ``open()``; now every check goes through SQLite,
and an import refuses a project file that a store of this process has open."""
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nerstudio.core import openfiles
from nerstudio.core.errors import ImportFormatError
from nerstudio.core.formats import import_file
from nerstudio.core.store import ProjectStore

ROOT = Path(__file__).resolve().parents[1]

APP = textwrap.dedent('''
    import sys
    from nerstudio.core.domain import Span
    from nerstudio.core.store import ProjectStore
    s = ProjectStore(sys.argv[1], busy_timeout=2.0, autocheckpoint=False)  # the window's
    ids = [r[0] for r in s.db.execute("SELECT id FROM sentences ORDER BY id")]
    def edit(k):
        s.set_spans(ids[k], [Span(0, 1, "PER")], status="labelled")
        print("edited", ids[k], flush=True)
    edit(0)
    ProjectStore(sys.argv[1]).close()  # a worker's store
    try:
        from nerstudio.core.formats import read
        list(read(sys.argv[1]))  # a hostile import of the project itself
    except Exception as exc:
        print("refused", type(exc).__name__, flush=True)
    edit(1)
    print("ready", flush=True)
    sys.stdin.readline()
    edit(2)
    edit(3)
    print("done", flush=True)
    sys.stdin.readline()
''')


def nerstudio(*args):
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)


def read_until(proc, word):
    lines = []
    for line in proc.stdout:
        lines.append(line.split())
        if line.startswith(word):
            return lines
    pytest.fail(f"the process ended before {word!r}: {lines}")


def test_workers_stores_never_drop_the_windows_locks(tmp_path):
    project = tmp_path / "p.nerproj"
    nerstudio("init", project, "--labels", "PER")
    data = tmp_path / "t.conll"
    data.write_text("".join(f"w{i} O\nx{i} O\n\n" for i in range(6)), encoding="utf-8")
    nerstudio("import", project, data)
    app = subprocess.Popen([sys.executable, "-c", APP, str(project)], cwd=ROOT, text=True,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        lines = read_until(app, "ready")
        assert ["refused", "ImportFormatError"] in lines
        nerstudio("stats", project)  # another process reads and closes
        assert Path(f"{project}-wal").exists() and Path(f"{project}-shm").exists()
        app.stdin.write("\n")
        app.stdin.flush()
        lines += read_until(app, "done")
    finally:
        os.kill(app.pid, signal.SIGKILL)
        app.wait()
    edited = {int(x[1]) for x in lines if x[0] == "edited"}
    con = sqlite3.connect(project)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = {r[0] for r in con.execute("SELECT DISTINCT sentence_id FROM spans")}
    finally:
        con.close()
    assert len(edited) == 4 and edited <= kept


def test_an_open_project_is_refused_as_an_import_file_and_known_while_open(tmp_path):
    project = tmp_path / "p.nerproj"
    store = ProjectStore.create(project, labels=["PER"])
    link = tmp_path / "link.nerproj"
    link.symlink_to(project)
    assert openfiles.is_open_project(project) and openfiles.is_open_project(link)
    with pytest.raises(ImportFormatError, match="open nerstudio project"):
        import_file(store, link)
    assert store.count() == 0
    store.close()
    assert not openfiles.is_open_project(project)
