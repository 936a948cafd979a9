"""The GUI's "Use all N GPUs": the ``--processes`` launcher in a subprocess, its events back.

``nerstudio train PROJECT --processes N --events jsonl`` runs as a child of the GUI; rank 0's
events come back as JSON lines and are turned into the typed events a local run emits, and the
GUI's Cancel becomes the launcher's Ctrl+C. Apart from the launcher (``launcher.py``) because
this runs in the GUI's process, beside its threads, and only reads what the launcher prints.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from .launcher import child_env, error_line, train_argv
from .world import STOP_ENV, per_device_batch

CANCEL_GRACE_S = 120         # a GUI cancel not answered within this: every rank is stopped


def event_from_dict(d: dict):
    """A typed event back from its ``--events jsonl`` line (the GUI's side of the stream)."""
    from . import events as ev

    kinds = {"started": ev.Started, "step": ev.Step, "evaluation": ev.Evaluation,
             "checkpointsaved": ev.CheckpointSaved, "finished": ev.Finished,
             "failed": ev.Failed, "cancelled": ev.Cancelled}
    d = dict(d)
    cls = kinds.get(d.pop("event", None))
    if cls is None:
        return None
    from dataclasses import fields

    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def events_line(event, run_id: int | None = None) -> str:
    from .events import event_dict

    return json.dumps({"run": run_id, **event_dict(event)})


def stream_processes(project: str, config, processes: int, resume_run: int | None, emit,
                     should_stop, python: str | None = None) -> tuple[int | None, object]:
    """Run ``nerstudio train PROJECT --processes N --events jsonl`` (the launcher) as a
    subprocess, hand each of rank 0's events to ``emit`` as the typed event a local run emits,
    and turn ``should_stop()`` into the launcher's Ctrl+C (a stop request every rank agrees on,
    with a checkpoint). Returns ``(run id, final event)``, as ``train_project`` does: the run id
    from the final JSON line, else the run this launch created (found in the project)."""
    from . import events as ev

    from ..errors import NerStudioError

    if config.batch_size is not None:
        try:
            per_device_batch(config.batch_size, processes)  # refused before anything starts
        except ValueError as exc:
            raise NerStudioError(str(exc)) from exc
    before = last_run_id(project)
    cmd = [python or sys.executable, "-m", "nerstudio",
           *train_argv(project, config, resume_run, events=True,
                       extra=("--processes", str(processes)))]
    env = child_env(dict(os.environ))
    # the stop request is also a file the ranks poll: a SIGINT that reaches the launcher before
    # it handles signals is lost (a shell's background job starts with SIGINT ignored)
    stop_dir = tempfile.mkdtemp(prefix="nerstudio-stop-")
    env[STOP_ENV] = stop_file = os.path.join(stop_dir, "stop")
    err = tempfile.TemporaryFile()
    # no preexec_fn here (the GUI has threads): the launcher stops its ranks when its parent,
    # this process, is gone (run_local watches os.getppid())
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=err, start_new_session=True)
    lines = _lines_of(proc)
    try:
        run_id, final, asked_at = _follow(proc, lines, emit, should_stop, stop_file)
        code = proc.wait()
        err.seek(0)
        reason = error_line(err.read().decode("utf-8", "replace"))
    finally:
        _stop_unwatched(proc)
        err.close()
        proc.stdout.close()
        shutil.rmtree(stop_dir, ignore_errors=True)
    if run_id is None:
        run_id = last_run_id(project)
        run_id = run_id if run_id != before else None
    if final is None:
        if asked_at is not None:  # cancelled before the run could report (or even start)
            final = ev.Cancelled(step=0, checkpoint=None, best_metrics={})
        else:
            final = ev.Failed(reason or f"the training processes stopped (exit code {code})")
    return run_id, final


def _lines_of(proc: subprocess.Popen) -> queue.Queue:
    """The launcher's stdout lines, read by a thread (None once it closes), so the caller can
    poll ``should_stop`` while no line comes."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _follow(proc: subprocess.Popen, lines: queue.Queue, emit, should_stop, stop_file=None):
    """Until the launcher's stdout closes: each event line to ``emit``; the final line (the one
    with ``run``) kept; a stop request sent as SIGINT, then SIGTERM when the ranks do not answer
    within :data:`CANCEL_GRACE_S`. Returns ``(run id, final event, when the stop was asked)``."""
    run_id, final, asked_at = None, None, None
    while True:
        if should_stop():
            if asked_at is None:  # Ctrl+C: every rank stops at the next step, checkpointed
                asked_at = time.monotonic()
                if stop_file:
                    open(stop_file, "a").close()
                proc.send_signal(signal.SIGINT)
            elif time.monotonic() - asked_at > CANCEL_GRACE_S and proc.poll() is None:
                asked_at = float("inf")  # a rank that does not answer: stop them all now
                proc.send_signal(signal.SIGTERM)
        try:
            raw = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if raw is None:
            return run_id, final, asked_at
        try:
            d = json.loads(raw)
        except ValueError:
            continue  # not an event line
        event = event_from_dict(d) if isinstance(d, dict) else None
        if event is None:
            continue
        if "run" in d:  # the final line: {"run": id, "event": ...}
            run_id, final = d["run"], event
        else:
            emit(event)


def _stop_unwatched(proc: subprocess.Popen) -> None:
    """An error while following: the ranks must not train on unwatched."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def last_run_id(project: str) -> int | None:
    """The project's newest run id (None: no run yet), to tell the run a launch created."""
    from ..store import ProjectStore

    with ProjectStore(project, read_only=True) as store:
        runs = store.runs()
    return runs[-1]["id"] if runs else None
