"""How a run that went wrong is told: one line for the user, the traceback in the run's log.

:class:`TrainingFailed` is raised anywhere in the engine for a reason a user can act on; the
engine turns it, and any other exception, into a :class:`~.events.Failed` event. For the others
this module finds the plain words (a full disk, a lost peer process, GPU memory) and appends the
traceback to the run's ``error.log``. Its own module because every part of the engine raises
:class:`TrainingFailed`, and they must not import the engine for it.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .checkpoints import checkpoint_folders
from .config import TrainConfig
from .world import world

ERROR_LOG = "error.log"  # a run's tracebacks, for a bug report (the console shows one line)
DISK_FULL_TEXTS = ("No space left on device", "iostream error", "failed writing file",
                   "file write failed", "unexpected pos")  # torch.save's C++ stream errors


class TrainingFailed(Exception):
    """Raised inside the engine for a user-facing reason; turned into a Failed event."""


def first_line(exc: Exception) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def log_traceback(folder: Path) -> Path | None:
    """The exception being handled, appended to ``folder/error.log`` (also printed with
    ``--verbose``), so the console shows one line and a bug report still has the traceback.
    Returns the log's path, or None when the folder cannot take it."""
    import traceback

    from ..quiet import is_verbose

    text = traceback.format_exc()
    if is_verbose():
        print(text, file=sys.stderr, end="")
    log = Path(folder) / ERROR_LOG
    try:
        if not Path(folder).is_dir():
            return None
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} (process {os.getpid()})\n{text}")
    except OSError:
        return None
    return log


def disk_full(exc: Exception, out: Path) -> str | None:
    """"no space left on device while writing FILE" for a full disk (an OSError ENOSPC, or
    torch.save's ``basic_ios::clear: iostream error``), else None. FILE: the one the error names,
    else the newest folder of the run (the checkpoint or model being written), else the run."""
    import errno

    if not (getattr(exc, "errno", None) == errno.ENOSPC
            or any(t in str(exc) for t in DISK_FULL_TEXTS)):
        return None
    where = getattr(exc, "filename", None)
    if not where:
        folders = [p for p in (*checkpoint_folders(out), out / "model") if p.is_dir()]
        where = max(folders, key=lambda p: p.stat().st_mtime) if folders else out
    return f"no space left on device while writing {where}"


def explain(exc: Exception, config: TrainConfig) -> str:
    """An unexpected error in plain words: a lost peer of a distributed run (resume it), GPU
    memory (what to lower), else its type and first line."""
    text = f"{type(exc).__name__}: {first_line(exc)}"
    if world().size > 1 and any(k in str(exc) for k in (
            "Connection closed", "Connection reset", "Broken pipe", "Timed out", "timed out",
            "NCCL", "gloo", "Gloo")):
        return (f"another process of this distributed run stopped or cannot be reached ({text}); "
                "resume the run from its last checkpoint")
    if "out of memory" in str(exc).lower():
        return (f"out of GPU memory at batch size {config.batch_size}, max length "
                f"{config.max_length}: try a smaller batch size (with gradient accumulation to "
                "keep the effective batch) or a shorter max length")
    return f"training stopped by an unexpected error: {text}"
