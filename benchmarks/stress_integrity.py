"""Integrity stress test (issue #12): kill -9 at random moments, two writers at once, the project
copied or moved. Nothing committed may be lost, every refusal is one clear line, and
``PRAGMA integrity_check`` says ok after every trial.

Usage: python benchmarks/stress_integrity.py [--trials 20] [--seed 1] [--kinds import,edit,two,move]
       [--sentences 20000] [--max-kill 3] [--calibrate] [--importer cli|together] [--keep]

Kinds of trial (each on the same temp project, which grows as imports land):

import  ``python -m nerstudio import P FILE`` (a generated CoNLL file, --sentences sentences) is
        SIGKILLed after a random 0-3 s (--calibrate: 0-1.1 x the time of a whole import,
        measured first, so that kills also land in the copy and after the commit on a slow or
        fast machine). Checks: integrity ok; the sentence count is before or before + N (all or
        nothing); a run that was not killed exited 0 with nothing on stderr but nerstudio's own
        progress and import-report lines; the project opens for writing.
edit    a child process loops ``set_spans`` on random sentences, appending each edit to a log
        (fsync) only AFTER the store call returned; SIGKILLed a random 0-3 s after it opened
        the project (so that a slow interpreter start does not eat the window). Checks:
        integrity ok; every sentence holds its last logged state (or, for the one edit in
        flight at the kill, its new state: committed but not yet logged); undo in a new
        process takes back the newest edit and redo puts it back.
two     the importer and an editor (busy_timeout 2 s) at once. Checks: both exit 0 with an empty
        stderr (no traceback: a ProjectBusyError is logged by the editor as a refusal, and must
        be one line); integrity ok; the import landed whole; every successful edit is present.
move    an edit loop is killed, then the project is copied with its -wal (a folder copy), opened
        and closed in place (which folds the -wal into the file), copied alone and moved: every
        logged edit is in each copy.
copy    (not in the default kinds) an import through import_together killed 0-0.4 s after its
        copy transaction began (it says so on stdout): inside the copy or just after the
        commit, the moments a 0-3 s kill of the whole command rarely hits. Checks as import.
own     (issue #25) the app's own process: an edit loop (the window's store, busy_timeout 2 s) while
        a thread of the same process keeps doing what the app's workers do (open a second
        store, read, export to CONLL, try to import the project file itself, close), and
        another process reads (``nerstudio stats``) and writes (``nerstudio import`` of two
        sentences) the project at random moments; SIGKILLed after 0..--max-kill s. Checks:
        ``-wal`` and ``-shm`` are still there after every outside read or write while the app
        lives (a worker's raw close once dropped the app's locks and the outside process then
        deleted them), integrity ok, every logged edit present, undo works.
train   (not in the default kinds: it loads torch) ``nerstudio train`` on a small labelled
        project, SIGKILLed after 0-30 s while an editor (busy_timeout 2 s) edits it. Checks:
        integrity ok, every logged edit present, ``nerstudio runs`` exits 0 with an empty stderr
        and leaves no run 'running', undo works.

``--importer together`` imports with ``ProjectStore.import_together()`` (parse without the lock,
one short copy) instead of the CLI, to compare the editor's busy refusals in ``two`` trials.
The CI version (few trials, fixed moments) is tests/test_kill9.py and tests/test_two_processes.py,
which import this file.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.request import pathname2url

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nerstudio.core.domain import Sentence, Span  # noqa: E402
from nerstudio.core.errors import ProjectBusyError  # noqa: E402
from nerstudio.core.store import ProjectStore  # noqa: E402

LABELS = ["PER", "ORG", "LOC"]
EDIT_SENTENCES = 300  # the edit loops work on sentence ids 1..300 (5 tokens each)
INITIAL = [[], "unlabelled"]
SPAN_CHOICES = [[], [[0, 1, "PER"]], [[0, 1, "PER"], [3, 4, "ORG"]], [[1, 3, "LOC"]],
                [[0, 2, "ORG"], [2, 5, "PER"]], [[4, 5, "LOC"]]]


@dataclass
class Trial:
    kind: str
    outcome: str = ""
    problems: list[str] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)
    max_edit_ms: float = 0.0  # the slowest set_spans call (waiting for the other writer)


# -- data and project ---------------------------------------------------------------------------
def write_conll(path: Path, n: int, doc_every: int = 1000) -> Path:
    """n five-token sentences with PER/ORG (and a MISC every 500: the first import adds a
    label), a -DOCSTART- every ``doc_every`` sentences."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            if i % doc_every == 0:
                f.write("-DOCSTART- -X- -X- O\n\n")
            last = "B-MISC" if i % 500 == 0 else "O"
            f.write(f"Word{i} NNP B-NP B-PER\nworks VBZ B-VP O\nat IN B-PP O\n"
                    f"Acme{i % 97} NNP B-NP B-ORG\nnow RB O {last}\n\n")
    return path


def new_project(path: Path) -> Path:
    with ProjectStore.create(path, labels=LABELS) as s:
        s.import_items([Sentence.from_words([f"s{i}", "b", "c", "d", "e"])
                        for i in range(EDIT_SENTENCES)], source="seed")
    return path


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` and ``foreign_key_check`` through a read-only connection (so
    the check itself neither checkpoints nor removes a -wal): "ok" or what is wrong."""
    con = sqlite3.connect("file:" + pathname2url(str(path.absolute())) + "?mode=ro", uri=True)
    try:
        rows = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
        fk = con.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        con.close()
    result = "ok" if rows == ["ok"] else "; ".join(rows)[:300]
    if fk:
        result = ("" if result == "ok" else result + "; ") + f"foreign_key_check: {len(fk)} rows"
    return result


def sentence_count(path: Path) -> int:
    with ProjectStore(path, read_only=True) as s:
        return s.count()


def state(store: ProjectStore, sid: int) -> list:
    s = store.sentence(sid)
    return [sorted([sp.start, sp.end, sp.label] for sp in s.spans), s.status]


def without_own_lines(stderr: str) -> str:
    """``stderr`` less nerstudio's own progress lines (``importing: ...``) and import report
    (``import: ...``, printed on every import): what is left would be a problem."""
    return "\n".join(line for line in stderr.strip().splitlines()
                     if not line.startswith(("importing: ", "import: ")))


def one_line_refusal(stderr: str) -> str | None:
    """None if ``stderr`` is empty or exactly one ``nerstudio: error:`` line (besides
    nerstudio's own progress and report lines); else the problem."""
    lines = without_own_lines(stderr).splitlines()
    if not lines:
        return None
    if len(lines) == 1 and lines[0].startswith("nerstudio: error: "):
        return None
    return "stderr is not one clear line: " + " | ".join(lines[-4:])[:400]


# -- the edit loop (a child process) -------------------------------------------------------------
def edit_sequence(seed: int, n: int) -> list[tuple[int, list, str]]:
    """The first n edits (sentence, spans, status) of an edit loop seeded with ``seed``."""
    rng = random.Random(seed)
    return [(rng.randint(1, EDIT_SENTENCES), rng.choice(SPAN_CHOICES),
             rng.choice(["labelled", "reviewed"])) for _ in range(n)]


def child_edit(project: str, log: str, seed: int, busy_timeout: float, seconds: float,
               stop_file: str | None) -> int:
    """Edit until ``seconds`` pass (or ``stop_file`` appears); each edit's outcome is appended
    to ``log`` and fsynced after the store call returned. A busy refusal is logged, not raised."""
    rng = random.Random(seed)
    store = ProjectStore(project, busy_timeout=busy_timeout)
    with open(log, "a", encoding="utf-8") as f:
        def record(entry: dict) -> None:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

        record({"origin": store.origin, "pid": os.getpid()})
        deadline, k = time.monotonic() + seconds, 0
        while time.monotonic() < deadline and not (stop_file and os.path.exists(stop_file)):
            sid, spans, status = (rng.randint(1, EDIT_SENTENCES), rng.choice(SPAN_CHOICES),
                                  rng.choice(["labelled", "reviewed"]))
            t = time.perf_counter()
            try:
                store.set_spans(sid, [Span(*sp) for sp in spans], status)
            except ProjectBusyError as exc:
                record({"k": k, "busy": str(exc), "ms": (time.perf_counter() - t) * 1000})
            else:
                record({"k": k, "sid": sid, "state": [sorted(spans), status],
                        "ms": (time.perf_counter() - t) * 1000})
            k += 1
    store.close()
    return 0


def child_app(project: str, log: str, seed: int, seconds: float) -> int:
    """The app's process as the ``own`` kind sees it: :func:`child_edit` (the window) while a
    worker thread keeps opening the project through stores of its own, reading, exporting and
    trying to import the project file itself, then closing them."""
    import threading

    from nerstudio.core.errors import NerStudioError
    from nerstudio.core.formats import export_file, read

    stop = threading.Event()

    def worker() -> None:
        rng, out = random.Random(seed + 1), Path(log).with_suffix(".export.conll")
        while not stop.is_set():
            try:
                with ProjectStore(project) as store:
                    store.count()
                    if rng.random() < 0.3:
                        export_file(store, out, "conll", force=True)
                if rng.random() < 0.3:
                    try:
                        list(read(project))
                    except NerStudioError:
                        pass
            except NerStudioError:  # busy: a worker would report it; the loop goes on
                pass
            stop.wait(rng.uniform(0, 0.05))

    threading.Thread(target=worker, daemon=True).start()
    try:
        return child_edit(project, log, seed, 2.0, seconds, None)
    finally:
        stop.set()


def child_import_together(project: str, files: list[str], announce: bool = False) -> int:
    """What ``nerstudio import P F1 F2`` does with import_together() instead of transaction().
    ``announce``: print "copying" when the copy transaction begins, "committed" after it."""
    from nerstudio.core.formats import import_file

    if announce:
        write = ProjectStore._write_import

        def announced(self, batch):
            print("copying", flush=True)
            n = write(self, batch)
            print("committed", flush=True)
            return n

        ProjectStore._write_import = announced
    with ProjectStore(project) as store, store.import_together():
        for f in files:
            import_file(store, f, refuse_reimport=False)  # the same file again and again
    return 0


def start_editor(project: Path, log: Path, seed: int, busy_timeout: float = 30.0,
                 seconds: float = 60.0, stop_file: Path | None = None) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-edit", str(project), str(log),
           str(seed), str(busy_timeout), str(seconds)]
    if stop_file:
        cmd.append(str(stop_file))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env())


def start_import(project: Path, conll: Path, importer: str = "cli") -> subprocess.Popen:
    if importer == "cli":
        # the trials import the same generated file again and again: all of it, every time
        cmd = [sys.executable, "-m", "nerstudio", "import", str(project), str(conll),
               "--allow-duplicates"]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child-import", str(project),
               str(conll)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env())


def read_log(log: Path) -> tuple[dict, list[dict]]:
    """The log's header and its complete entries (a line cut by the kill is not an entry)."""
    header, entries = {}, []
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if "origin" in entry:
                header = entry
            else:
                entries.append(entry)
    return header, entries


def check_edits(project: Path, log: Path, seed: int, expected: dict, trial: Trial,
                in_flight: bool) -> None:
    """Every logged edit is in the file: each sentence holds its last logged state, or (only the
    sentence of the edit in flight when the child was killed) that edit's state. ``expected``
    (sentence -> state) is carried over between trials and updated here."""
    _header, entries = read_log(log)
    for e in entries:
        trial.max_edit_ms = max(trial.max_edit_ms, e.get("ms", 0.0))
        if "sid" in e:
            expected[e["sid"]] = e["state"]
            trial.stats["edits committed"] += 1
        else:
            trial.stats["busy refusals"] += 1
            if "\n" in e["busy"] or not e["busy"]:
                trial.problems.append(f"busy refusal is not one line: {e['busy']!r}")
    nxt = None
    if in_flight:
        sid, spans, status = edit_sequence(seed, len(entries) + 1)[-1]
        nxt = (sid, [sorted(spans), status])
    with ProjectStore(project, read_only=True) as s:
        for sid in range(1, EDIT_SENTENCES + 1):
            got = state(s, sid)
            want = expected.get(sid, INITIAL)
            if got == want:
                continue
            if nxt and sid == nxt[0] and got == nxt[1]:
                expected[sid] = got  # committed, killed before it was logged
                trial.stats["in-flight edit committed"] += 1
                continue
            trial.problems.append(f"sentence {sid}: file has {got}, last committed edit {want}")


def check_undo(project: Path, expected: dict, trial: Trial) -> None:
    """A new process undoes the newest applied edit (the killed child's origin is dead, so its
    history is taken over), finds the edit's before-state, then redoes it."""
    with ProjectStore(project) as s:
        row = s._q("SELECT sentence_id, before FROM edits WHERE undone = 0 ORDER BY id DESC "
                   "LIMIT 1")
        if not row:
            return
        sid, before = row[0]
        try:
            got = s.undo()
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            trial.problems.append(f"undo failed: {type(exc).__name__}: {exc}")
            return
        if got != sid:
            trial.problems.append(f"undo acted on sentence {got}, the newest edit is on {sid}")
            return
        if s._state(sid) != s._resolve(json.loads(before)):
            trial.problems.append(f"undo of sentence {sid} did not restore its before-state")
        if s.redo() != sid or state(s, sid) != expected.get(sid, INITIAL):
            trial.problems.append(f"redo of sentence {sid} did not restore its state")
    trial.stats["undo/redo checked"] += 1


def check_file(project: Path, trial: Trial) -> None:
    result = integrity(project)
    if result != "ok":
        trial.problems.append(f"integrity_check: {result}")
    try:
        ProjectStore(project).close()  # opens for writing (migrations, checks) and closes
    except Exception as exc:  # noqa: BLE001
        trial.problems.append(f"does not open: {type(exc).__name__}: {exc}")


# -- trials -------------------------------------------------------------------------------------
def import_trial(project: Path, conll: Path, n: int, kill_at: float,
                 importer: str = "cli") -> Trial:
    trial = Trial("import")
    before = sentence_count(project)
    proc = start_import(project, conll, importer)
    try:
        proc.wait(timeout=kill_at)
        killed = False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        killed = True
    _out, err = proc.communicate()
    if not killed:
        if proc.returncode != 0:
            trial.problems.append(f"import exited {proc.returncode} unkilled: {err.strip()[:300]}")
        if without_own_lines(err):
            trial.problems.append(f"import wrote to stderr: {err.strip()[:300]}")
    check_file(project, trial)
    after = sentence_count(project)
    if after not in (before, before + n):
        trial.problems.append(f"partial import: {before} -> {after} sentences (N = {n})")
    elif not killed and after != before + n:
        trial.problems.append("import exited 0 but nothing landed")
    trial.outcome = ("finished" if not killed else
                     "killed, all landed" if after == before + n else "killed, nothing landed")
    return trial


def copy_kill_trial(project: Path, conll: Path, n: int, kill_after: float) -> Trial:
    """An import (import_together, the store's own path) SIGKILLed ``kill_after`` s after its
    copy transaction began: inside the copy, or just after the commit. Same checks as import."""
    trial = Trial("copy")
    before = sentence_count(project)
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child-import",
                             "--announce", str(project), str(conll)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env())
    if proc.stdout.readline().strip() != "copying":
        proc.kill()
        trial.problems.append(f"import child: {proc.communicate()[1].strip()[-300:]}")
        return trial
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    out, _err = proc.communicate()
    committed = "committed" in out
    check_file(project, trial)
    after = sentence_count(project)
    if after not in (before, before + n):
        trial.problems.append(f"partial import: {before} -> {after} sentences (N = {n})")
    elif committed and after != before + n:
        trial.problems.append("the copy committed but its rows are gone")
    trial.outcome = ("killed after the commit, all landed" if after == before + n else
                     "killed inside the copy, nothing landed")
    return trial


def edit_kill_trial(project: Path, work: Path, seed: int, kill_at: float,
                    expected: dict, after_edits: int = 0) -> Trial:
    """Killed ``kill_at`` seconds after the child opened the project (and logged
    ``after_edits`` edits)."""
    trial = Trial("edit")
    log = work / f"edits-{seed}.log"
    log.unlink(missing_ok=True)
    proc = start_editor(project, log, seed)
    deadline = time.monotonic() + 60  # the clock starts once the child has opened the project
    while ((not read_log(log)[0] or len(read_log(log)[1]) < after_edits)
           and proc.poll() is None and time.monotonic() < deadline):
        time.sleep(0.02)
    try:
        proc.wait(timeout=kill_at)
        trial.problems.append(f"editor exited {proc.returncode} before the kill: "
                              f"{proc.stderr.read().strip()[-300:]}")
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    proc.communicate()
    check_file(project, trial)
    check_edits(project, log, seed, expected, trial, in_flight=True)
    trial.outcome = "edits before kill: " + _bucket(trial.stats["edits committed"])
    check_undo(project, expected, trial)
    return trial


def own_process_trial(project: Path, work: Path, seed: int, kill_at: float,
                      expected: dict) -> Trial:
    """The ``own`` kind: see the module docstring."""
    trial = Trial("own")
    log = work / f"own-{seed}.log"
    log.unlink(missing_ok=True)
    extra = work / "own-extra.conll"
    extra.write_text("Ada B-PER\nsings O\n\nBob B-PER\nhums O\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child-app",
                             str(project), str(log), str(seed), "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env())
    deadline = time.monotonic() + 60
    while not read_log(log)[0] and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    rng, end = random.Random(seed), time.monotonic() + kill_at
    while time.monotonic() < end and proc.poll() is None:
        write = rng.random() < 0.3
        cmd = (["import", str(project), str(extra), "--allow-duplicates"] if write
               else ["stats", str(project)])
        out = subprocess.run([sys.executable, "-m", "nerstudio", *cmd], capture_output=True,
                             text=True, env=child_env())
        trial.stats["outside writes" if write else "outside reads"] += 1
        if out.returncode and "busy" not in out.stderr:
            trial.problems.append(f"outside {cmd[0]} failed: {out.stderr.strip()[-300:]}")
        alive = proc.poll() is None
        if alive and not (Path(f"{project}-wal").exists() and Path(f"{project}-shm").exists()):
            trial.problems.append(f"wal lost: -wal/-shm gone after an outside {cmd[0]} "
                                  "while the app had the project open")
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    else:
        trial.problems.append(f"app exited {proc.returncode} before the kill")
    _out, err = proc.communicate()
    if err.strip() and proc.returncode != -signal.SIGKILL:
        trial.problems.append(f"app stderr: {err.strip()[-300:]}")
    check_file(project, trial)
    check_edits(project, log, seed, expected, trial, in_flight=True)
    trial.outcome = "edits before kill: " + _bucket(trial.stats["edits committed"])
    check_undo(project, expected, trial)
    return trial


def two_writers_trial(project: Path, work: Path, conll: Path, n: int, seed: int,
                      expected: dict, importer: str = "cli", busy_timeout: float = 2.0) -> Trial:
    trial = Trial("two")
    log, stop = work / f"two-{seed}.log", work / f"two-{seed}.stop"
    log.unlink(missing_ok=True)
    stop.unlink(missing_ok=True)
    before = sentence_count(project)
    editor = start_editor(project, log, seed, busy_timeout, seconds=120, stop_file=stop)
    time.sleep(0.3)
    imp = start_import(project, conll, importer)
    try:
        _out, imp_err = imp.communicate(timeout=300)
    finally:
        time.sleep(0.3)  # a few edits after the import too
        stop.touch()
    _out, ed_err = editor.communicate(timeout=120)
    if imp.returncode != 0 or without_own_lines(imp_err):
        problem = one_line_refusal(imp_err)
        trial.problems.append(problem or f"import refused: {imp_err.strip()}")
    if editor.returncode != 0 or ed_err.strip():
        trial.problems.append(f"editor exited {editor.returncode}: {ed_err.strip()[-400:]}")
    check_file(project, trial)
    after = sentence_count(project)
    if after != before + (n if imp.returncode == 0 else 0):
        trial.problems.append(f"import: {before} -> {after} sentences (N = {n}, "
                              f"exit {imp.returncode})")
    check_edits(project, log, seed, expected, trial, in_flight=False)
    check_undo(project, expected, trial)
    trial.outcome = "with busy refusals" if trial.stats["busy refusals"] else "no refusal"
    return trial


def move_trial(project: Path, work: Path, seed: int, kill_at: float, expected: dict,
               after_edits: int = 0) -> Trial:
    """An edit loop killed (its -wal left beside the file), then: the folder copied (file + -wal)
    and opened; the project opened and closed in place (SQLite folds the -wal in at the last
    close); the file alone copied; the file moved to another folder and back."""
    trial = edit_kill_trial(project, work, seed, kill_at, expected, after_edits)
    trial.kind = "move"

    def check_copy(path: Path, what: str) -> None:
        result = integrity(path)
        if result != "ok":
            trial.problems.append(f"{what}: integrity_check: {result}")
        with ProjectStore(path, read_only=True) as s:
            lost = [sid for sid in range(1, EDIT_SENTENCES + 1)
                    if state(s, sid) != expected.get(sid, INITIAL)]
        if lost:
            trial.problems.append(f"{what}: {len(lost)} sentences lost edits, e.g. {lost[:5]}")

    folder = work / f"copy-{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for suffix in ("", "-wal"):  # what a folder copy takes (a -shm is rebuilt)
        src = Path(str(project) + suffix)
        if src.exists():
            shutil.copy2(src, folder / src.name)
    check_copy(folder / project.name, "folder copy")
    ProjectStore(project).close()
    wal = Path(str(project) + "-wal")
    if wal.exists() and wal.stat().st_size:
        trial.problems.append(f"-wal still holds {wal.stat().st_size} bytes after a clean close")
    alone = work / f"alone-{seed}"
    shutil.rmtree(alone, ignore_errors=True)
    alone.mkdir()
    shutil.copy2(project, alone / project.name)
    check_copy(alone / project.name, "file copied alone after a clean close")
    moved = work / f"moved-{seed}"
    moved.mkdir(exist_ok=True)
    project.rename(moved / project.name)
    try:
        check_copy(moved / project.name, "moved file")
    finally:
        (moved / project.name).rename(project)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(alone, ignore_errors=True)
    return trial


def new_train_project(path: Path) -> Path:
    """Sentences 1..300 as in new_project, labelled, in train (4/5) and dev (1/5)."""
    with ProjectStore.create(path, labels=LABELS) as s:
        s.import_items([Sentence.from_words([f"Anna{i}", "works", "at", "Acme", "now"],
                                            spans=[Span(0, 1, "PER"), Span(3, 4, "ORG")],
                                            split="train" if i % 5 else "dev", status="labelled")
                        for i in range(EDIT_SENTENCES)], source="seed")
    return path


def train_trial(project: Path, work: Path, seed: int, kill_at: float, expected: dict) -> Trial:
    """``nerstudio train`` (embedded model, a few steps) SIGKILLed after ``kill_at`` s while an
    editor (busy_timeout 2 s) edits the same project. Checks: integrity ok; every logged edit
    present; ``nerstudio runs`` exits 0 with nothing on stderr and marks the killed run
    interrupted (no run is left 'running'); the next process can undo."""
    trial = Trial("train")
    log, stop = work / f"train-{seed}.log", work / f"train-{seed}.stop"
    log.unlink(missing_ok=True)
    stop.unlink(missing_ok=True)
    with ProjectStore(project, read_only=True) as s:
        runs_before = len(s.runs())
    editor = start_editor(project, log, seed, 2.0, seconds=600, stop_file=stop)
    trainer = subprocess.Popen(
        [sys.executable, "-m", "nerstudio", "train", str(project), "--epochs", "1",
         "--max-steps", "8", "--eval-every", "4", "--seed", str(seed % 1000)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        trainer.wait(timeout=kill_at)
        killed = False
    except subprocess.TimeoutExpired:
        trainer.send_signal(signal.SIGKILL)
        killed = True
    _out, tr_err = trainer.communicate()
    stop.touch()
    _out, ed_err = editor.communicate(timeout=120)
    if not killed and trainer.returncode != 0:
        trial.problems.append(f"train exited {trainer.returncode}: {tr_err.strip()[-300:]}")
    if editor.returncode != 0 or ed_err.strip():
        trial.problems.append(f"editor exited {editor.returncode}: {ed_err.strip()[-400:]}")
    check_file(project, trial)
    check_edits(project, log, seed, expected, trial, in_flight=False)
    runs = subprocess.run([sys.executable, "-m", "nerstudio", "runs", str(project), "--json"],
                          capture_output=True, text=True, env=child_env(), timeout=120)
    if runs.returncode != 0 or runs.stderr.strip():
        trial.problems.append(f"runs exited {runs.returncode}: {runs.stderr.strip()[-300:]}")
    else:
        for r in json.loads(runs.stdout):
            if r["status"] != "running":
                continue
            if (Path(r["folder"]) / "owner.json").exists():
                trial.problems.append(f"killed run {r['id']} is still 'running'")
            else:  # runs.py: a run row is written a moment before its owner file
                trial.stats["run left 'running' for the no-owner-file grace period"] += 1
    with ProjectStore(project, read_only=True) as s:
        runs_after = s.runs()
    if len(runs_after) == runs_before:
        trial.outcome = "killed before the run was recorded"
    else:
        trial.outcome = f"run {runs_after[-1]['status']}"
        with ProjectStore(project, read_only=True) as s:
            trial.stats["metric rows"] += len(s.run_metrics(runs_after[-1]["id"]))
    check_undo(project, expected, trial)
    return trial


def _bucket(n: int) -> str:
    return "0" if n == 0 else "1-99" if n < 100 else "100-999" if n < 1000 else "1000+"


# -- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=20, help="trials of each kind (default 20)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kinds", default="import,edit,two,move",
                   help="also: own (the app's own process with workers, another process "
                   "reading and writing), copy (an import killed inside its copy transaction), train "
                   "(slow: loads torch; kills within 0..--train-kill s)")
    p.add_argument("--train-kill", type=float, default=30.0)
    p.add_argument("--copy-kill", type=float, default=0.4,
                   help="copy trials: kill within 0..this many s after the copy began")
    p.add_argument("--sentences", type=int, default=20000, help="sentences per imported file")
    p.add_argument("--max-kill", type=float, default=3.0, help="kill within 0..this many s")
    p.add_argument("--calibrate", action="store_true",
                   help="first time one whole import (a trial of its own); import kills then "
                   "fall within 0..1.1 x that time (on a slow machine 3 s may never reach the "
                   "commit)")
    p.add_argument("--importer", choices=["cli", "together"], default="cli")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    a = p.parse_args(argv)
    rng = random.Random(a.seed)
    work = Path(tempfile.mkdtemp(prefix="nerstudio-stress-"))
    project = new_project(work / "stress.nerproj")
    conll = write_conll(work / "big.conll", a.sentences)
    expected: dict = {}
    train_project = None
    train_expected = {sid: [[[0, 1, "PER"], [3, 4, "ORG"]], "labelled"]
                      for sid in range(1, EDIT_SENTENCES + 1)}
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    trials: list[Trial] = []
    t0 = time.monotonic()
    import_kill = a.max_kill
    if a.calibrate and "import" in kinds:
        start = time.monotonic()
        t = import_trial(project, conll, a.sentences, 1e9, a.importer)
        import_kill = 1.1 * (time.monotonic() - start)
        trials.append(t)
        print(f"calibration: a whole import takes {import_kill / 1.1:.2f} s ({t.outcome}"
              f"{'; ' + '; '.join(t.problems) if t.problems else ''})", flush=True)
    for i in range(a.trials):
        for kind in kinds:
            kill_at = rng.uniform(0, {"import": import_kill, "copy": a.copy_kill,
                                      "train": a.train_kill}.get(kind, a.max_kill))
            seed = rng.randrange(1 << 30)
            if kind == "import":
                t = import_trial(project, conll, a.sentences, kill_at, a.importer)
            elif kind == "edit":
                t = edit_kill_trial(project, work, seed, kill_at, expected)
            elif kind == "two":
                t = two_writers_trial(project, work, conll, a.sentences, seed, expected,
                                      a.importer)
            elif kind == "move":
                t = move_trial(project, work, seed, kill_at, expected)
            elif kind == "own":
                t = own_process_trial(project, work, seed, kill_at, expected)
            elif kind == "copy":
                t = copy_kill_trial(project, conll, a.sentences, kill_at)
            elif kind == "train":
                train_project = train_project or new_train_project(work / "train.nerproj")
                t = train_trial(train_project, work, seed, kill_at, train_expected)
            else:
                raise SystemExit(f"unknown kind {kind!r}")
            trials.append(t)
            mark = "FAIL" if t.problems else "ok"
            print(f"[{time.monotonic() - t0:6.1f}s] {kind:<6} #{i + 1:<3} kill@{kill_at:4.2f}s "
                  f"{mark:<4} {t.outcome}; {dict(t.stats)}"
                  + (f"; slowest edit {t.max_edit_ms:.0f} ms" if kind == "two" else ""),
                  flush=True)
            for problem in t.problems:
                print(f"        {problem}", flush=True)
    windows = {"import": import_kill, "edit": a.max_kill, "move": a.max_kill, "own": a.max_kill,
               "copy": a.copy_kill, "train": a.train_kill}
    print(f"\nkinds {','.join(kinds)}, seed {a.seed}, {a.sentences} sentences per import, "
          f"importer {a.importer if {'import', 'two'} & set(kinds) else '-'}, kills in "
          + ", ".join(f"{k} 0..{windows[k]:.2f} s" for k in kinds if k in windows)
          + f"; {time.monotonic() - t0:.0f} s; final project {sentence_count(project)} "
          f"sentences, integrity {integrity(project)}")
    print(f"{'kind':<8}{'trials':>7}{'failed':>8}  outcomes / totals")
    for kind in kinds:
        ts = [t for t in trials if t.kind == kind]
        outcomes = Counter(t.outcome for t in ts)
        totals = sum((t.stats for t in ts), Counter())
        slowest = max((t.max_edit_ms for t in ts), default=0.0)
        print(f"{kind:<8}{len(ts):>7}{sum(bool(t.problems) for t in ts):>8}  "
              f"{dict(outcomes)}; {dict(totals)}"
              + (f"; slowest edit {slowest:.0f} ms" if kind == "two" else ""))
    failures = Counter(pr.split(":")[0] for t in trials for pr in t.problems)
    if failures:
        print("failures by kind of problem:", dict(failures))
    if a.keep:
        print("work folder:", work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-edit":
        _p, _log, _seed, _busy, _secs, *_stop = sys.argv[2:]
        sys.exit(child_edit(_p, _log, int(_seed), float(_busy), float(_secs),
                            _stop[0] if _stop else None))
    if len(sys.argv) > 1 and sys.argv[1] == "--child-app":
        _p, _log, _seed, _secs = sys.argv[2:6]
        sys.exit(child_app(_p, _log, int(_seed), float(_secs)))
    if len(sys.argv) > 1 and sys.argv[1] == "--child-import":
        _announce = sys.argv[2] == "--announce"
        sys.exit(child_import_together(sys.argv[2 + _announce], sys.argv[3 + _announce:],
                                       _announce))
    sys.exit(main())
