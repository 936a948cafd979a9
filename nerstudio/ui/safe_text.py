"""Project and model strings shown by Qt: never interpreted as markup.

Qt guesses whether a tooltip, a QLabel or a QMessageBox text is rich text; a label name, a run's
error reason or a model's ``id2label`` entry like ``<img src="file:///...">`` would then load a
local image or show a link. :func:`rich_plain` makes such a string rich text that shows it
literally; :func:`safe_colour` keeps a stored colour from breaking out of a style attribute.
"""
from __future__ import annotations

import html

from PySide6.QtGui import QColor


def rich_plain(text: str) -> str:
    """``text`` as rich text that shows it literally (for tooltips and message boxes)."""
    return "<p>" + html.escape(str(text)).replace("\n", "<br>") + "</p>"


def safe_colour(colour: str | None, default: str = "#cccccc") -> str:
    """A colour as ``#rrggbb``; anything Qt does not read as a colour becomes ``default``."""
    c = QColor(colour or "")
    return c.name() if c.isValid() else default
