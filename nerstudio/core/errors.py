"""The project's own exception types.

Every error a user can cause (a bad file, a bad tag sequence, a missing project) is one of these, so
the CLI and the GUI can show one clear line instead of a traceback.
"""
from __future__ import annotations

import errno as _errno


class NerStudioError(Exception):
    """Base of every error nerstudio raises on purpose."""


class TagError(NerStudioError, ValueError):
    """A tag sequence is malformed; ``position`` is the index of the offending tag."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message if position is None else f"tag {position}: {message}")
        self.position = position


def visible(text: str) -> str:
    """``text`` with invisible characters escaped as Python writes them (``\\ufeff``, ``\\u200b``,
    ``\\t``, ``\\xa0``), so a message about a line that looks empty in an editor explains it.
    Plain spaces stay."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ImportFormatError(NerStudioError):
    """Input data cannot be imported. Names the file and the line (or record) at fault; any
    invisible character in the message is shown escaped (see :func:`visible`)."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None,
                 unit: str = "line"):
        message = visible(str(message))
        where = str(path) if path else "<input>"
        if line is not None:
            where += f", {unit} {line}"
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.reason = path, line, message


class StoreError(NerStudioError):
    """The project file cannot be opened or an operation on it is invalid."""


class StaleEditError(StoreError):
    """The sentence changed in the file (another window or process) since this view loaded it;
    the edit was not applied. Reload the sentence and try again."""


class ProjectBusyError(StoreError):
    """Another process held the project's write lock for too long; nothing was written."""


class ReadOnlyProjectError(StoreError):
    """The project file (or its folder) is not writable: it is open for reading only."""


# A write that failed for a reason the user can act on: said in these words, naming the file.
_WRITE_REASONS = {_errno.ENOSPC: "no space left on device",
                  _errno.EFBIG: "file size limit exceeded",
                  _errno.EDQUOT: "disk quota exceeded"}


def cannot_write(path, err: int | None, detail: str = "") -> str:
    """One line for a failed write: the cause in plain words (a full disk, a file size limit
    such as ``ulimit -f``, a quota; else ``detail``) and the file, so the user knows what to
    free, and that a full disk is not a damaged project (issue #25)."""
    reason = _WRITE_REASONS.get(err) or detail or "write failed"
    return f"{reason} while writing {path}"
