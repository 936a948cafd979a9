"""The token editor: one sentence's Tokens drawn as chips that wrap like text, in ONE widget.

Click a token to give it the active label; press on one token and release on another (or
shift-click) to label the span between; B-/I- follow from spans, so tags are always valid IOB2.
Clicking a labelled span relabels it with the active label, or removes it when it already has
that label. Model suggestions are drawn with a dashed border; clicking one accepts it.
Every change goes straight to the store (one transaction, one undo step) via ``edited``.

Why one widget and no QLabel per token: a sentence can have 50,000 tokens. One widget per token
froze the window for tens of seconds and, because PySide6 6.12 on CPython 3.11 drops a reference
to None on every void Qt call (see ``nerstudio.ui``), aborted the interpreter. Here the flow layout is
plain Python over cached text widths, paintEvent draws only the lines inside the exposed rect
(found by binary search), and the mouse is hit-tested against the same geometry, so the number of
Qt calls per paint or click depends on what is on screen, not on the sentence's length; an
edit re-flows from the changed line and repaints only the lines that changed.
Every string is drawn with ``QPainter.drawText`` as plain text (label names are never markup).

The editor is split by concern: token_flow.py (the flow layout, pure Python), token_style.py
(how a token looks: gold or suggested, tags, colours, text widths), token_paint.py (paintEvent)
and token_mouse.py (the mouse and the editing rules); this module keeps the widget, its content
and its layout, and still exports the names it always did.
"""
from __future__ import annotations

from bisect import bisect_right

from PySide6.QtCore import QEvent, QRect, QSize, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..core.domain import Sentence, Span
from .token_flow import MARGIN, PAD_X, PAD_Y, SPACING  # noqa: F401  (the names as before)
from .token_flow import changed_lines, flow_height, flow_lines, reflow_lines
from .token_mouse import TokenMouse, collector_paused  # noqa: F401
from .token_paint import RADIUS, TokenPainting  # noqa: F401
from .token_style import (  # noqa: F401
    DEFAULT_COLOUR, GOLD, SUGGESTED, TAG_POINT_SIZE, ChipMetrics, Look, readable_text_colour,
    shared_look, tag_text, token_looks, tooltip_html, tooltip_text)

_changed_lines = changed_lines  # the old name


# -- the widget ------------------------------------------------------------------------------------
class TokenEditor(TokenPainting, TokenMouse, QWidget):
    edited = Signal(list)              # the sentence's new gold spans
    suggestion_accepted = Signal(object)  # a suggestion's Span, with the label to give it
    suggestion_rejected = Signal(object)  # a Span from the model's suggestions, to drop

    def __init__(self, parent=None):
        super().__init__(parent)
        self.sentence: Sentence | None = None
        self.suggestions: list[tuple[Span, float]] = []
        self._colours: dict[str, str] = {}
        self.active_label: str | None = None
        self._anchor: int | None = None   # where a click or drag (or shift-click) starts
        self._last: int | None = None     # the last token released on, for shift-click
        self._pressed: int | None = None  # the token under the press, while the button is down
        self._drag_to: int | None = None  # the token under the mouse while dragging
        self._hover: int | None = None
        self._marked: frozenset[int] = frozenset()  # tokens suspected of a wrong label (review)
        self._metrics = ChipMetrics(self.font())
        self._tokens: list = []        # the shown sentence's Tokens, to spot a re-show
        self._texts: list[str] = []
        self._looks: dict[int, Look] = {}
        self._looks_spans: frozenset | None = None  # the spans ``_looks`` shows (None: rebuild)
        self._looks_suggestions: list = []
        self._repaint_all = True  # the next restyle repaints everything (a new sentence, colours)
        self._base_widths: list[int] = []  # chips without label tags, per sentence
        self._widths: list[int] = []
        self._xs: list[int] = []
        self._starts: list[int] = []   # first token of each line
        self._tops: list[int] = []     # top y of each line
        self._layout_width = -1
        self._qcolours: dict[str, QColor] = {}
        self._readable: dict[str, str] = {}  # label colour -> black or white text
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)

    # -- content --------------------------------------------------------------------------------
    @property
    def colours(self) -> dict[str, str]:
        return self._colours

    @colours.setter
    def colours(self, value: dict[str, str]) -> None:
        """Label colours only change paint, not geometry: a repaint is enough."""
        self._colours = dict(value)
        self.update()

    def set_sentence(self, sentence: Sentence | None, suggestions=(), colours=None) -> None:
        """Show ``sentence``. Re-showing the same sentence after an edit keeps the hover, the
        shift-click anchor and the text widths; only the spans' looks are recomputed."""
        same = (sentence is not None and self.sentence is not None
                and sentence.id == self.sentence.id
                and (sentence.tokens is self._tokens or sentence.tokens == self._tokens))
        self.sentence = sentence
        self.suggestions = list(suggestions)
        self._repaint_all = not same
        if colours is not None:
            self._repaint_all |= colours != self._colours
            self._colours = dict(colours)
        self._anchor = self._pressed = self._drag_to = None
        if not same:
            self._last = self._hover = None
            self._marked = frozenset()
            self._tokens = [] if sentence is None else sentence.tokens
            self._texts = [t.text for t in self._tokens]
            self._base_widths = self._metrics.chip_widths(self._texts)
            self._layout_width = -1  # new words: a full flow, not an incremental one
            self._looks_spans = None
        self.restyle()

    def set_marked(self, indices) -> None:
        """Underline these tokens (a likely label error from the review); cleared by the next
        sentence. Paint only: no re-layout."""
        marked = frozenset(i for i in indices if 0 <= i < len(self._texts))
        if marked != self._marked:
            self._marked = marked
            self.update()

    @property
    def marked(self) -> frozenset[int]:
        return self._marked

    def restyle(self) -> None:
        """Recompute which tokens are labelled or suggested, their widths, and the layout when a
        width changed (a label tag appeared, went or was renamed); then repaint. After an edit of
        the shown sentence only the spans that changed are visited, and the flow is redone from
        the first changed line only, and only the lines that changed are repainted: a click on
        a 50,000-token sentence stays cheap."""
        spans = self.sentence.spans if self.sentence is not None else []
        touched = self._update_looks(spans, self.suggestions if self.sentence is not None else [])
        if self._repaint_all:
            touched, self._repaint_all = None, False
        if touched is None or len(self._widths) != len(self._base_widths):
            widths = self._all_widths()
            if widths == self._widths:
                self.update()
                return
            self._widths, changed = widths, None
        else:
            changed = [i for i in touched if self._set_width(i)]
            if not changed:
                if touched:
                    self._update_tokens(min(touched), max(touched))
                return
        if changed and self._layout_width == max(self.width(), 200):
            old = self._starts
            self._xs, self._starts = reflow_lines(self._widths, self._layout_width, self._xs,
                                                  self._starts, min(changed), max(changed))
            self._after_flow(changed_lines(old, self._starts, min(touched), max(touched))
                             if touched else None)
        else:
            self.relayout()

    def _update_looks(self, spans, suggestions) -> set[int] | None:
        """Bring ``_looks`` up to date with ``spans`` and ``suggestions``. Returns the tokens
        whose tag may have changed, or None after a full recompute (a new sentence or new
        suggestions): then every width must be checked."""
        new = frozenset(spans)
        old = self._looks_spans
        if old is None or suggestions != self._looks_suggestions:
            self._looks = token_looks(spans, suggestions)
            self._looks_spans, self._looks_suggestions = new, list(suggestions)
            return None
        looks, touched, freed = self._looks, set(), set()
        for sp in old - new:
            for i in range(sp.start, sp.end):
                looks.pop(i, None)
            freed.update(range(sp.start, sp.end))
            touched.add(sp.start)
        for sp in new - old:  # (a suggestion's tag under it goes: all its tokens are touched)
            looks.update(dict.fromkeys(range(sp.start + 1, sp.end),
                                       shared_look(GOLD, sp.label, False)))
            looks[sp.start] = shared_look(GOLD, sp.label, True)
            touched.update(range(sp.start, sp.end))
        if freed and suggestions:  # a suggestion shows again where a gold span went
            for sp, score in suggestions:
                for i in range(sp.start, sp.end):
                    if i in freed and (i not in looks or looks[i].kind != GOLD):
                        looks[i] = shared_look(SUGGESTED, sp.label, i == sp.start, score)
                        touched.add(i)
        self._looks_spans = new
        return touched

    def _tag_width(self, i: int) -> int:
        """What token i's label tag adds to its chip (' LABEL' on a span's first token)."""
        look = self._looks.get(i)
        if look is None or not look.first:
            return 0
        return self._metrics.space + self._metrics.tag(look)

    def _all_widths(self) -> list[int]:
        widths = list(self._base_widths)
        for i, look in self._looks.items():
            if look.first and i < len(widths):
                widths[i] += self._metrics.space + self._metrics.tag(look)
        return widths

    def _set_width(self, i: int) -> bool:
        """Update token i's width; True when it changed."""
        w = self._base_widths[i] + self._tag_width(i)
        if w == self._widths[i]:
            return False
        self._widths[i] = w
        return True

    def relayout(self) -> None:
        """Flow the chips for the current width and ask the scroll area for the height."""
        width = max(self.width(), 200)
        self._xs, self._starts = flow_lines(self._widths, width)
        self._layout_width = width
        self._tops = []  # the line height may have changed too (a new font)
        self._after_flow()

    def _after_flow(self, lines: tuple[int, int] | None = None) -> None:
        """Line tops for the hit tests and painting, the height for the scroll area, a repaint
        (of ``lines`` [first, last] only, when given and the number of lines is unchanged)."""
        if len(self._tops) != len(self._starts):
            step = self._metrics.line_height + SPACING
            self._tops = [MARGIN + k * step for k in range(len(self._starts))]
            self.setMinimumHeight(flow_height(len(self._starts), self._metrics.line_height))
        elif lines is not None:
            top = self._tops[lines[0]]
            bottom = self._tops[lines[1]] + self._metrics.line_height
            self.update(QRect(0, top, self.width(), bottom - top))
            return
        self.update()

    def resizeEvent(self, event):
        """Reflow only when the width changed: a taller widget (the scroll area growing it to
        the minimum height we asked for) needs nothing."""
        super().resizeEvent(event)
        if max(self.width(), 200) != self._layout_width:
            self.relayout()

    def changeEvent(self, event):
        """A new font changes every width: drop the cache and reflow."""
        super().changeEvent(event)
        if event.type() == QEvent.FontChange:
            self._metrics = ChipMetrics(self.font())
            self._base_widths = self._metrics.chip_widths(self._texts)
            self._widths = []
            self.restyle()

    def sizeHint(self):
        return QSize(400, flow_height(len(self._starts), self._metrics.line_height))

    # -- geometry queries -----------------------------------------------------------------------
    def token_count(self) -> int:
        return len(self._texts)

    def look_at(self, i: int) -> Look | None:
        """How token ``i`` is drawn: None for a plain token, else gold or suggested with its
        label (what the chips' stylesheets used to say)."""
        return self._looks.get(i)

    def token_rect(self, i: int) -> QRect:
        """The chip of token ``i`` in widget coordinates (for hit tests, tests and tooltips)."""
        line = bisect_right(self._starts, i) - 1
        return QRect(self._xs[i], self._tops[line], self._widths[i], self._metrics.line_height)

    def token_at(self, pos) -> int | None:
        """The token under ``pos`` (a QPoint in widget coordinates), None between chips:
        binary search for the line by y, then for the chip by x within that line."""
        x, y = pos.x(), pos.y()
        line = bisect_right(self._tops, y) - 1
        if line < 0 or y >= self._tops[line] + self._metrics.line_height:
            return None
        lo = self._starts[line]
        hi = self._starts[line + 1] if line + 1 < len(self._starts) else len(self._xs)
        i = bisect_right(self._xs, x, lo, hi) - 1
        if i < lo or x >= self._xs[i] + self._widths[i]:
            return None
        return i

    chip_at = token_at  # the old name (it returned a chip's index too)

    def _lines_between(self, top: int, bottom: int) -> tuple[int, int]:
        """Lines [first, last) whose boxes intersect rows top..bottom, by binary search."""
        first = bisect_right(self._tops, top - self._metrics.line_height)
        last = bisect_right(self._tops, bottom)
        return first, last

    def _tokens_between(self, top: int, bottom: int) -> range:
        """The tokens on the lines intersecting rows top..bottom."""
        first, last = self._lines_between(top, bottom)
        if first >= last:
            return range(0)
        end = self._starts[last] if last < len(self._starts) else len(self._xs)
        return range(self._starts[first], end)

    def _drag_range(self) -> tuple[int, int] | None:
        """Tokens [start, end) between the press (or shift anchor) and the mouse, while dragging."""
        if self._anchor is None or self._drag_to is None:
            return None
        a, b = sorted((self._anchor, self._drag_to))
        return a, b + 1

    def _update_tokens(self, a: int | None, b: int | None = None) -> None:
        """Repaint the lines holding tokens a..b (cheap: one update per call, not per token)."""
        known = [i for i in (a, b) if i is not None and i < len(self._xs)]
        if not known:
            return
        top, bottom = self.token_rect(min(known)), self.token_rect(max(known))
        self.update(QRect(0, top.top(), self.width(), bottom.bottom() - top.top() + 1))
