"""kill -9 in the middle of a large import leaves the project exactly as before; kill -9 after
edits returned loses none of them. (Kills at more moments, two writers and copies of the file:
tests/test_kill9.py, tests/test_two_processes.py, benchmarks/stress_integrity.py.)"""
import os
import signal
import sqlite3
import subprocess
import sys

from nerstudio.core.store import ProjectStore

SCRIPT = """
import sys
from nerstudio.core.formats import import_file
from nerstudio.core.store import ProjectStore
store = ProjectStore(sys.argv[1])
def progress(n):
    if n >= 4000:
        print("importing", flush=True)
import_file(store, sys.argv[2], on_progress=progress)
print("done", flush=True)
"""


def test_kill_9_mid_import_changes_nothing(tmp_path, sample_conll):
    proj = tmp_path / "p.nerproj"
    with ProjectStore.create(proj) as s:
        from nerstudio.core.formats import import_file
        import_file(s, sample_conll)
        documents = s._scalar("SELECT count(*) FROM documents")
    big = tmp_path / "big.conll"
    with open(big, "w") as f:
        for i in range(200_000):
            f.write(f"Word{i} NN B-NP B-PER\nsays VBZ B-VP O\n\n")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(proj), str(big)],
                            stdout=subprocess.PIPE, text=True)
    # The import is under way: it is reading the file into its own TEMP tables (no lock on the
    # project, nothing written to it); the rows are copied in one transaction only at the end.
    line = proc.stdout.readline()
    assert line.strip() == "importing"  # (4,000 sentences read: it is mid-import now)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(proj)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with ProjectStore(proj) as s:
        assert s.count() == 3
        assert s.stats()["splits"]["train"]["entities"] == 5
        assert s._scalar("SELECT count(*) FROM documents") == documents  # none left behind


def test_kill_9_after_edits_loses_none(tmp_path):
    script = """
import sys
from nerstudio.core.domain import Sentence, Span
from nerstudio.core.store import ProjectStore
s = ProjectStore.create(sys.argv[1], labels=["PER"])
s.import_items([Sentence.from_words(["w%d" % i, "x"]) for i in range(200)])
for i in range(1, 201):
    s.set_spans(i, [Span(0, 1, "PER")], status="labelled")
print("edited", flush=True)
import time; time.sleep(60)
"""
    proj = tmp_path / "e.nerproj"
    proc = subprocess.Popen([sys.executable, "-c", script, str(proj)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "edited"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(proj)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with ProjectStore(proj) as s:
        assert s.count(status="labelled") == 200
        assert s.stats()["splits"]["unassigned"]["entities"] == 200
        assert s.undo() == 200  # the dead process's history is the next opener's
