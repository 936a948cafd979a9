"""The Qt layer. The only package that imports PySide6."""

import sys
from importlib.resources import files
from pathlib import Path


def resources_dir() -> Path:
    """Icons and styles, found the same way from a wheel and from a source checkout."""
    return Path(str(files("nerstudio") / "resources"))


def _make_none_immortal() -> bool:
    """PySide6 6.12 on CPython 3.11 returns None from every void C++ call (``update()``,
    ``setPen()``, ``processEvents()``...) without taking a reference: None's refcount, about 5,000
    at start, drops by one per call, and at zero the interpreter aborts with ``Fatal Python
    error: none_dealloc`` (a minute of use, or one long sentence). pyproject keeps PySide6 below
    6.12; this guards any build with the same bug. Python 3.12 made None immortal (refcount never
    reaches zero); this does the same for 3.11 by adding 2**40 references once (ob_refcnt is the
    first field of an object in a release build). None is never freed anyway: harmless."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) \
            or hasattr(sys, "gettotalrefcount"):  # immortal already, or a debug build
        return False
    import ctypes

    before = sys.getrefcount(None)
    cell = ctypes.c_ssize_t.from_address(id(None))
    cell.value += 1 << 40
    if sys.getrefcount(None) != before + (1 << 40):  # not the layout we expect: undo
        cell.value -= 1 << 40
        return False
    return True


NONE_IMMORTAL = _make_none_immortal()
