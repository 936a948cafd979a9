"""One training at a time per project, across processes: the training slot.

Why: Train, a keep-fresh run, the label-error review, ``nerstudio train``, ``nerstudio review``
and ``nerstudio train-curve`` each train models on the whole machine (all cores, or the GPU);
two at once halve each other's speed, and two runs of one project write its run rows at once.
The app once checked this in four places, each knowing only its own window's work, and the
command line did not check at all.

The slot is an advisory ``flock`` on ``<project>.runs/training.lock`` (never on the project
file itself: closing a descriptor of the SQLite file would drop the process's SQLite locks,
see ``openfiles``). The kernel releases it when the holder exits, also on ``kill -9``: no stale
slot is ever left. The holder writes who it is into the file (what, pid, since) so a refusal can
say who has it. ``flock`` locks belong to an open file description, so two threads of one
process (the window's Train and its review) exclude each other as two processes do.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import NerStudioError
from .paths import runs_dir

SLOT_FILE = "training.lock"

try:
    import fcntl
except ImportError:  # Windows: no flock; the slot is then the in-process one only
    fcntl = None


class TrainingBusyError(NerStudioError):
    """Another training (run, review, train curve) holds the project's slot."""


def slot_path(project: str | Path) -> Path:
    return runs_dir(project) / SLOT_FILE


def holder(project: str | Path) -> str | None:
    """Who holds the project's training slot ("a training run in process 1234 since 10:02"),
    or None when it is free. Probes the lock without taking it for longer than the probe."""
    path = slot_path(project)
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if fcntl is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _describe(_read_owner(fd))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextmanager
def training_slot(project: str | Path, what: str) -> Iterator[None]:
    """Hold the project's training slot for the block, or raise TrainingBusyError in one line
    (before anything is written: no run row, no model). ``what`` says what trains ("a training
    run", "the label-error review") to whoever is refused."""
    path = slot_path(project)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:  # refused before anything is written, as a run's own check would
        raise NerStudioError(f"{path.parent}: cannot write the project's runs folder "
                             f"({exc.strerror or exc}); nothing was started") from exc
    try:
        if fcntl is not None and not _lock(fd):
            raise TrainingBusyError(
                f"{project}: {_is_training(_describe(_read_owner(fd)))}; one training at a "
                "time: wait for it or cancel it, then try again")
        _write_owner(fd, what)
        try:
            yield
        finally:
            _write_owner(fd, None)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock(fd: int, patience_s: float = 1.0) -> bool:
    """Take the slot's lock, or False when a training holds it. :func:`holder` probes by
    taking the lock for an instant: a start that meets a probe tries again (for up to
    ``patience_s``) rather than being refused by it."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline or _read_owner(fd).get("pid"):
                return False  # a holder has written who it is: a training, not a probe
            time.sleep(0.02)


def busy(project: str | Path) -> str | None:
    """What every door says when the slot is held ("the label-error review (in a terminal,
    process 1234, since 10:02) is training on this project"), or None when it is free."""
    who = holder(project)
    return _is_training(who) if who else None


def _is_training(who: str) -> str:
    return f"{who} is training on this project"


def _door() -> str:
    """Which door holds the slot, for the refusal: the app imports Qt, a command does not."""
    return "the app" if "PySide6.QtWidgets" in sys.modules else "a terminal"


def _write_owner(fd: int, what: str | None) -> None:
    data = b"" if what is None else json.dumps(
        {"what": what, "pid": os.getpid(), "door": _door(),
         "since": time.strftime("%H:%M:%S")}).encode()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    except OSError:
        pass  # who holds it is for the message only


def _read_owner(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}


def _describe(owner: dict) -> str:
    what = owner.get("what") or "another training"
    if owner.get("pid") == os.getpid():
        return f"{what} (in this window)"
    if owner.get("pid"):
        door = f"in {owner['door']}, " if owner.get("door") else ""
        return f"{what} ({door}process {owner['pid']}, since {owner.get('since', '?')})"
    return what
