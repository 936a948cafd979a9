"""The project files this process has open, so that nothing else in the process opens them raw.

Why: POSIX advisory locks belong to the process, and closing ANY descriptor of a file drops all
of the process's locks on it (SQLite's "How To Corrupt An SQLite Database File", 2.2). SQLite
defers its own closes for this reason, but a plain ``open(project)`` + ``close()`` elsewhere in
the process (an importer handed the project file, a header check) silently releases the window's
shared lock: another process that then closes the project believes it is the last user, folds
the WAL in and deletes ``-wal``/``-shm`` under the window's feet, and later edits are lost.

So every check of a project file goes through SQLite (see ``store._check_project_file``), and
code that opens user-named files raw asks :func:`is_open_project` first.
"""
from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

_lock = threading.Lock()
_open: Counter = Counter()  # (st_dev, st_ino) -> number of open stores in this process


def _key(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def register(path: str | Path) -> tuple[int, int] | None:
    """Count one more store open on ``path``; returns the key to :func:`unregister` with (the
    file may be renamed or replaced meanwhile, so the key is kept, not the path)."""
    key = _key(path)
    if key is not None:
        with _lock:
            _open[key] += 1
    return key


def unregister(key: tuple[int, int] | None) -> None:
    if key is None:
        return
    with _lock:
        _open[key] -= 1
        if _open[key] <= 0:
            del _open[key]


def is_open_project(path: str | Path) -> bool:
    """True when ``path`` (or a link to it, or another name of it) is a project file that a
    store of this process has open: opening it raw would drop that store's locks."""
    key = _key(path)
    if key is None:
        return False
    with _lock:
        return key in _open
