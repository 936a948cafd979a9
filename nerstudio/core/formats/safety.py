"""Export targets that cannot hurt the project, and writes that never leave a half file.

An export opened its output with ``open(path, "w")``: given the project file itself (or a link to
it, its WAL, its runs folder) it truncated the user's work before reading a sentence. Every export
target is checked here first, and files are written beside the target and renamed over it only
when complete, so a failed or killed export leaves the old file (or none), never a half one."""
from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..errors import NerStudioError, cannot_write

_PROJECT_SIDE_FILES = ("", "-wal", "-shm", "-journal")


class ExportTargetError(NerStudioError):
    """The export target is unsafe or unusable; nothing was written. A usage error: exit 2."""

    exit_code = 2


def _real(path: str | Path) -> str:
    return os.path.realpath(os.path.abspath(os.path.expanduser(str(path))))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def protected_paths(project: str | Path) -> tuple[list[str], list[str]]:
    """The project file and its SQLite side files, and its runs folders, resolved: beside the
    real file, and beside the name it was opened by (a link keeps its runs beside itself)."""
    named = os.path.abspath(os.path.expanduser(str(project)))
    real = _real(project)
    files = {base + s for base in (real, named) for s in _PROJECT_SIDE_FILES}
    return sorted({_real(f) for f in files} | files), sorted({real + ".runs", _real(named + ".runs")})


def check_not_project(project: str | Path, target: str | Path, folder: bool = False) -> None:
    """Refuse a target that is (or, for a folder export that replaces the folder, holds) the
    project, its SQLite side files or its runs folder: resolved, so ``./p``, links alike."""
    files, runs = protected_paths(project)
    real = _real(target)
    same = real in files or any(_inside(real, r) for r in runs)
    if not same and os.path.exists(target) and os.path.exists(project):
        same = os.path.samefile(target, project)  # a hard link
    if same or (folder and any(_inside(f, real) for f in [*files, *runs])):
        raise ExportTargetError(f"{target}: refusing to export onto the project {project}, its "
                                "side files or its runs folder; choose another output")


def check_file_target(target: str | Path, force: bool) -> None:
    """A file export: the folder must exist and be writable; an existing file needs ``force``."""
    p = Path(target)
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise ExportTargetError(f"{target}: is a folder; give a file name")
    if not folder.is_dir():
        raise ExportTargetError(f"{target}: no such folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportTargetError(f"{target}: cannot write in folder {folder} (permission denied)")
    if p.exists() and not force:
        raise ExportTargetError(f"{target}: already exists; use --force to overwrite it")


def check_folder_target(target: str | Path, force: bool) -> None:
    """A folder export (HF): a non-empty folder is replaced only with ``force``."""
    p = Path(target)
    if p.exists() and not p.is_dir():
        raise ExportTargetError(f"{target}: is a file; a Hugging Face export is a folder")
    parent = p.absolute().parent
    if not parent.is_dir():
        raise ExportTargetError(f"{target}: no such folder {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportTargetError(f"{target}: cannot write in folder {parent} (permission denied)")
    if p.is_dir() and any(p.iterdir()) and not force:
        raise ExportTargetError(f"{target}: folder is not empty; use --force to replace it")


class ExportWriteError(NerStudioError):
    """Writing the export failed (a full disk, a file size limit, a quota, an I/O error): the
    half-written file is removed, an old one is as it was. Says why and names the file."""


def _write_error(exc: OSError, target: Path, what: str = "file") -> ExportWriteError:
    """A write's OSError names no file (``File too large``): say why, naming ``target``."""
    return ExportWriteError(cannot_write(target, exc.errno, (exc.strerror or str(exc)).lower())
                            + f"; the {what} was not written (an older one is unchanged)")


def _part_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.part")


@contextmanager
def atomic_file(target: str | Path):
    """Yield a text file beside ``target``; on success it replaces ``target`` in one rename, on
    any error it is removed. Created with the usual permissions (0666 less the umask)."""
    target = Path(target)
    part = _part_name(target)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, target)
    except OSError as exc:  # a write, flush or fsync (a file of the writer's own: its name)
        part.unlink(missing_ok=True)
        if exc.filename is not None:
            raise
        raise _write_error(exc, target) from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(target: str | Path):
    """Yield a new folder beside ``target``; on success it takes ``target``'s place (an old
    folder is removed only then), on any error it is removed."""
    target = Path(target)
    part = _part_name(target)
    part.mkdir()
    try:
        yield part
    except OSError as exc:
        shutil.rmtree(part, ignore_errors=True)
        if exc.filename is not None:
            raise
        raise _write_error(exc, target, "folder") from exc
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = _part_name(target)
        os.rename(target, old)
    os.rename(part, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
