"""Text shown to the user: plurals, status words, and dialogs that never interpret markup.

Why: label names, file paths and model label names come from files the user did not write;
Qt renders a string that merely *looks* like HTML (``Qt::mightBeRichText``) as rich text in
message boxes, input-dialog prompts and tooltips. Everything user- or model-provided therefore
goes through :func:`rich` (escaped, then wrapped so Qt treats it as HTML: shown literally) or into
a widget whose text format is ``Qt.PlainText``.
"""
from __future__ import annotations

import html

from PySide6.QtWidgets import QMessageBox

from .safe_text import rich_plain, safe_colour  # noqa: F401  (re-exported)


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 entity``, ``2 entities``, ``0 sentences``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def status_text(status: str, has_suggestions: bool) -> str:
    """One wording for the sentence list and the editor: an unlabelled sentence with model
    suggestions is "unlabelled, suggested" in both."""
    return "unlabelled, suggested" if status == "unlabelled" and has_suggestions else status


def escape(text: str) -> str:
    return html.escape(str(text), quote=False)


def rich(text: str) -> str:
    """Plain ``text`` as HTML that displays it literally (newlines kept), for APIs that guess the
    format (QMessageBox's static functions, QInputDialog prompts, tooltips)."""
    return rich_plain(text)


def warn(parent, title: str, text: str) -> None:
    QMessageBox.warning(parent, title, rich(text))


def inform(parent, title: str, text: str) -> None:
    QMessageBox.information(parent, title, rich(text))


def ask(parent, title: str, text: str) -> bool:
    return QMessageBox.question(parent, title, rich(text)) == QMessageBox.Yes
