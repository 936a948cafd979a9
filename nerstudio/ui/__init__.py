"""The Qt layer. The only package that imports PySide6."""

from importlib.resources import files
from pathlib import Path


def resources_dir() -> Path:
    """Icons and styles, found the same way from a wheel and from a source checkout."""
    return Path(str(files("nerstudio") / "resources"))
