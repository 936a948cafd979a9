"""Processes on this machine: is the one that wrote an owner file still the one running?

Shared by the run owner files (:mod:`.runs`) and the ``--processes`` launcher's scratch folders
(:mod:`.training.distributed`); it imports nothing of nerstudio, so neither depends on the other.
"""
from __future__ import annotations

import os
from pathlib import Path

HAS_PROC = Path("/proc/self/stat").exists()


def process_start(pid: int) -> str | None:
    """The process's start time from /proc (so a reused pid is not taken for it); None when
    there is no such live process (a zombie counts as dead). Without /proc: "" when alive."""
    if not HAS_PROC:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except OSError:  # PermissionError: another user's live process
            pass
        return ""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def same_process(pid: int, start: str | None) -> bool:
    """Whether ``pid`` is alive and (when ``start`` is known) still the process that started
    then."""
    now = process_start(pid)
    return now is not None and now == (start or now)
