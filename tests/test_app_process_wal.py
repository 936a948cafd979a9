"""Issue #25 item 1: the app's own process opens the project many times (training, keep-fresh,
export, import, the active-order refresh all open a store in a worker). None of that may drop
the window's SQLite locks: a read and a write from another process must leave ``-wal`` and
``-shm`` in place, and every edit the window committed must survive ``kill -9`` of the app.

Before the fix, each store's header check opened the file with a raw ``open()``; its
``close()`` dropped the process's POSIX locks, a ``nerstudio stats`` in a terminal then took
itself for the last user, folded the WAL in and deleted it under the window, and later edits
were lost."""
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from nerstudio.core.store import ProjectStore  # noqa: E402
from nerstudio.ui.demo import create_demo_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def nerstudio(*args, check=True):
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=check)


def read_until(proc, word: str) -> list[str]:
    """The app's lines up to the one that starts with ``word`` (a loud failure if it dies)."""
    lines = []
    for line in proc.stdout:
        lines.append(line.strip())
        if line.startswith(word):
            return lines
        assert not line.startswith(("timeout", "critical")), lines
    pytest.fail(f"the app ended before {word!r}: {lines}; stderr: {proc.stderr.read()[-2000:]}")


def labelled_ids(project) -> set[int]:
    con = sqlite3.connect(project)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in con.execute("SELECT id FROM sentences WHERE status = 'labelled'")}
    finally:
        con.close()


def test_the_apps_workers_never_cost_the_window_its_wal(tmp_path, tiny_bert):
    project = create_demo_project(tmp_path / "demo.nerproj")
    wal, shm = Path(f"{project}-wal"), Path(f"{project}-shm")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    app = subprocess.Popen([sys.executable, "-m", "tests.app_process", str(project),
                            str(tiny_bert), str(tmp_path)], cwd=ROOT, env=env, text=True,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        read_until(app, "ready")  # trained, kept fresh, exported, imported, order refreshed
        committed = set()

        def label(n):
            app.stdin.write(f"label {n}\n")
            app.stdin.flush()
            lines = read_until(app, "done")
            committed.update(int(x.split()[1]) for x in lines if x.startswith("labelled"))

        label(2)
        assert wal.exists() and shm.exists()
        # another process reads (a terminal's `nerstudio stats`) and writes (an import)
        assert "sentences" in nerstudio("stats", project).stdout
        assert wal.exists() and shm.exists(), "a read from another process removed the WAL"
        extra = tmp_path / "terminal.conll"
        extra.write_text("Ada B-PER\nsings O\n", encoding="utf-8")
        nerstudio("import", project, extra)
        assert wal.exists() and shm.exists(), "a write from another process removed the WAL"
        label(3)
        nerstudio("stats", project)
        assert wal.exists() and shm.exists()
        label(2)
        with ProjectStore(project, read_only=True) as s:  # another reader, same answer
            assert all(s.sentence(sid).status == "labelled" for sid in committed)
    finally:
        os.kill(app.pid, signal.SIGKILL)
        app.wait()
    assert len(committed) == 7
    assert committed <= labelled_ids(project), "an edit the window committed was lost"
    con = sqlite3.connect(project)
    try:  # the other process's import is there too
        assert con.execute("SELECT count(*) FROM sentences WHERE text = 'Ada sings'").fetchone() == (1,)
    finally:
        con.close()
