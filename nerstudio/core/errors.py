"""The project's own exception types.

Every error a user can cause (a bad file, a bad tag sequence, a missing project) is one of these, so
the CLI and the GUI can show one clear line instead of a traceback.
"""
from __future__ import annotations


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
