"""How each token of the token editor looks: gold or suggested, its label tag and tooltip, the
text colour on a label's colour, and the text widths in the editor's fonts.

Why a module of its own: these are the rules of the chips' appearance (what the old per-token
QLabel stylesheets said), shared by the layout (a span's first chip is wider by its tag), the
painting (token_paint.py) and the tooltips (token_mouse.py); the main window and the playground
use ``readable_text_colour`` too."""
from __future__ import annotations

import functools
import html
from typing import NamedTuple

from PySide6.QtGui import QColor, QFont, QFontMetrics

from .token_flow import PAD_X, PAD_Y

TAG_POINT_SIZE = 8  # the label tag after a span's first word, as before ("font-size:8pt")
DEFAULT_COLOUR = "#cccccc"  # a label without a colour

GOLD, SUGGESTED = "gold", "suggested"  # how a labelled or suggested token is drawn


# -- colours --------------------------------------------------------------------------------------
def readable_text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` (WCAG relative luminance)."""
    c = QColor(background)
    lum = [((v / 255) / 12.92 if v / 255 <= 0.03928 else (((v / 255) + 0.055) / 1.055) ** 2.4)
           for v in (c.red(), c.green(), c.blue())]
    y = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2]
    return "#000000" if (y + 0.05) / 0.05 >= 1.05 / (y + 0.05) else "#ffffff"


class Look(NamedTuple):
    """How one non-plain token is drawn: gold or suggested, its label, whether it is the span's
    first token (which carries the label tag), and the suggestion's score for the tooltip."""
    kind: int
    label: str
    first: bool
    score: float = 0.0


def token_looks(spans, suggestions) -> dict[int, Look]:
    """Token index -> Look, for labelled and suggested tokens only (most tokens are plain, so a
    dict keeps the cost proportional to the entities). Gold wins over a suggestion. Looks are
    shared between the tokens of a span: a 50,000-token sentence re-shows in milliseconds."""
    looks: dict[int, Look] = {}
    for sp in spans:
        looks.update(dict.fromkeys(range(sp.start + 1, sp.end), shared_look(GOLD, sp.label, False)))
        looks[sp.start] = shared_look(GOLD, sp.label, True)
    for sp, score in suggestions:
        for i in range(sp.start, sp.end):
            old = looks.get(i)
            if old is None or old.kind != GOLD:
                looks[i] = shared_look(SUGGESTED, sp.label, i == sp.start, score)
    return looks


@functools.lru_cache(maxsize=4096)
def shared_look(kind: str, label: str, first: bool, score: float = 0.0) -> Look:
    """One shared Look per distinct value: thousands of spans then add no objects for the
    cyclic garbage collector to count and scan (a full collection costs 100s of ms here)."""
    return Look(kind, label, first, score)


def tag_text(look: Look) -> str:
    """The small text after a span's first word: the label, with '?' for a suggestion."""
    return look.label if look.kind == GOLD else f"{look.label}?"


def tooltip_text(look: Look | None) -> str:
    """Plain-text tooltip for a token (empty for a plain token), as the chips had."""
    if look is None:
        return ""
    if look.kind == GOLD:
        return f"{look.label} (gold)"
    return (f"suggested {look.label} ({look.score:.0%}): click to give it the active label "
            "(accept it with its own), right-click to reject it")


def tooltip_html(text: str) -> str:
    """``text`` for QToolTip, shown literally: escaped, in a <qt> wrapper so Qt does not guess."""
    return f"<qt>{html.escape(text)}</qt>"


class ChipMetrics:
    """Text widths in the editor's font and the two tag fonts, cached per distinct string:
    horizontalAdvance is the only Qt call the layout makes, once per new word."""

    def __init__(self, font: QFont):
        self.font = QFont(font)
        self.fm = QFontMetrics(self.font)
        self.tag_fonts = {GOLD: self._tag_font(font, True), SUGGESTED: self._tag_font(font, False)}
        self.tag_fm = {k: QFontMetrics(f) for k, f in self.tag_fonts.items()}
        self.line_height = self.fm.height() + 2 * PAD_Y
        self.space = self.fm.horizontalAdvance(" ")
        self._text: dict[str, int] = {}
        self._tags: dict[tuple[int, str], int] = {}

    @staticmethod
    def _tag_font(font: QFont, bold: bool) -> QFont:
        tag = QFont(font)
        tag.setPointSizeF(TAG_POINT_SIZE)
        tag.setBold(bold)
        return tag

    def text(self, s: str) -> int:
        w = self._text.get(s)
        if w is None:
            w = self._text[s] = self.fm.horizontalAdvance(s)
        return w

    def tag(self, look: Look) -> int:
        key = (look.kind, look.label)
        w = self._tags.get(key)
        if w is None:
            w = self._tags[key] = self.tag_fm[look.kind].horizontalAdvance(tag_text(look))
        return w

    def chip_widths(self, texts: list[str]) -> list[int]:
        """Outer widths of plain chips: border and padding plus the word (the box the QLabel chips
        had). A span's first token adds ' LABEL' on top (see TokenEditor.restyle)."""
        cache, text = self._text, self.text
        return [2 * PAD_X + (cache[t] if t in cache else text(t)) for t in texts]
