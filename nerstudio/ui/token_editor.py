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
"""
from __future__ import annotations

import contextlib
import functools
import gc
import html
import operator
import sys
from bisect import bisect_left, bisect_right
from typing import NamedTuple

from PySide6.QtCore import QEvent, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ..core.domain import Sentence, Span

MARGIN = 10     # around the whole flow
SPACING = 6     # between chips and between lines
PAD_X = 5       # border 1 + padding 4 (as the QLabel chips had): text inset from the chip edge
PAD_Y = 3       # border 1 + padding 2
RADIUS = 4      # chip corner radius
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


# -- pure geometry ---------------------------------------------------------------------------------
def flow_lines(widths, width: int, margin: int = MARGIN, spacing: int = SPACING):
    """Left edges of boxes of ``widths`` laid out left to right, wrapping at ``width`` like text
    (a box wider than a line gets a line of its own), and the index of each line's first box.
    Plain Python over ints: no Qt call per token, so 50,000 tokens lay out in milliseconds."""
    xs, starts, x, limit = [], [], margin, width - margin
    append = xs.append
    for i, w in enumerate(widths):
        if x + w > limit and x > margin:
            starts.append(i)
            x = margin
        elif i == 0:
            starts.append(0)
        append(x)
        x += w + spacing
    return xs, starts


def reflow_lines(widths, width: int, xs: list[int], starts: list[int], lo: int, hi: int,
                 margin: int = MARGIN, spacing: int = SPACING):
    """``flow_lines`` after only ``widths[lo..hi]`` changed, given the old ``xs`` and ``starts``
    for the same ``width``. Why: a click adds or drops one label tag; re-flowing 50,000 tokens
    for it costs tens of ms. Greedy wrapping from a line start depends only on the widths from
    there on, so start one line above ``lo`` (a narrower chip may move up) and stop at the first
    line break past ``hi`` that the old layout also had: the rest is unchanged. ``xs`` is
    updated in place; returns (xs, new starts)."""
    line = max(bisect_right(starts, lo) - 2, 0)
    k = starts[line]
    new_starts = starts[:line]
    segment, x, limit = [], margin, width - margin
    for i in range(k, len(widths)):
        w = widths[i]
        if x + w > limit and x > margin:
            if i > hi:
                j = bisect_left(starts, i)
                if j < len(starts) and starts[j] == i:  # the old layout breaks here too
                    xs[k:i] = segment
                    new_starts.extend(starts[j:])
                    return xs, new_starts
            new_starts.append(i)
            x = margin
        elif i == k:
            new_starts.append(i)
        segment.append(x)
        x += w + spacing
    xs[k:] = segment
    return xs, new_starts


def _changed_lines(old: list[int], new: list[int], lo: int, hi: int) -> tuple[int, int] | None:
    """Lines [first, last] to repaint after tokens lo..hi changed and the line starts went from
    ``old`` to ``new``: those holding lo..hi, and any whose first token moved. None when the
    number of lines changed (everything below moves)."""
    if len(old) != len(new):
        return None
    first, last = bisect_right(new, lo) - 1, bisect_right(new, hi) - 1
    if old != new:
        moved = [k for k in range(len(new)) if old[k] != new[k]]
        first, last = min(first, moved[0] - 1), max(last, moved[-1])
    return max(first, 0), last


def flow_height(n_lines: int, line_height: int, margin: int = MARGIN,
                spacing: int = SPACING) -> int:
    """Height of ``n_lines`` lines of chips with margins (an empty editor keeps its margins)."""
    if n_lines == 0:
        return 2 * margin
    return 2 * margin + n_lines * line_height + (n_lines - 1) * spacing


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
        looks.update(dict.fromkeys(range(sp.start + 1, sp.end), _look(GOLD, sp.label, False)))
        looks[sp.start] = _look(GOLD, sp.label, True)
    for sp, score in suggestions:
        for i in range(sp.start, sp.end):
            old = looks.get(i)
            if old is None or old.kind != GOLD:
                looks[i] = _look(SUGGESTED, sp.label, i == sp.start, score)
    return looks


_span_order = operator.attrgetter("start", "end", "label")  # Span's own order, compared in C


@functools.lru_cache(maxsize=4096)
def _look(kind: str, label: str, first: bool, score: float = 0.0) -> Look:
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
    return f"suggested {look.label} ({look.score:.0%}): click to accept"


class _Metrics:
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


# -- the widget ------------------------------------------------------------------------------------
class TokenEditor(QWidget):
    edited = Signal(list)              # the sentence's new gold spans
    suggestion_accepted = Signal(object)  # a Span from the model's suggestions

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
        self._metrics = _Metrics(self.font())
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
            self._after_flow(_changed_lines(old, self._starts, min(touched), max(touched))
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
            looks.update(dict.fromkeys(range(sp.start + 1, sp.end), _look(GOLD, sp.label, False)))
            looks[sp.start] = _look(GOLD, sp.label, True)
            touched.update(range(sp.start, sp.end))
        if freed and suggestions:  # a suggestion shows again where a gold span went
            for sp, score in suggestions:
                for i in range(sp.start, sp.end):
                    if i in freed and (i not in looks or looks[i].kind != GOLD):
                        looks[i] = _look(SUGGESTED, sp.label, i == sp.start, score)
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
            self._metrics = _Metrics(self.font())
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

    # -- painting -------------------------------------------------------------------------------
    def _qcolour(self, name: str) -> QColor:
        c = self._qcolours.get(name)
        if c is None:
            c = self._qcolours[name] = QColor(name)
        return c

    def paintEvent(self, event):
        """Draw the chips that intersect the exposed rect, grouped so that pen, brush and font
        change once per group rather than once per token."""
        tokens = self._tokens_between(*self._exposed_rows(event.rect()))
        if not tokens:
            return
        normal = self.palette().color(QPalette.WindowText).name()
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        self._paint_boxes(p, tokens)
        self._paint_texts(p, tokens, normal)
        self._paint_tags(p, tokens, normal)
        self._paint_interaction(p, tokens)
        if self._marked:
            self._paint_marks(p, tokens)
        p.end()

    def _exposed_rows(self, rect: QRect) -> tuple[int, int]:
        """Rows to paint: the event's rect cut to the part on screen. A direct repaint() or a
        stale update asks for the whole widget, which for 50,000 tokens is 170,000 px tall.
        A hidden editor (grab() before show) has no visible part: it paints what was asked."""
        visible = self.visibleRegion().boundingRect()
        if not visible.isEmpty():
            rect = rect.intersected(visible)
        return rect.top(), rect.bottom()

    def _label_colour(self, label: str) -> str:
        """The label's colour; one Qt cannot read (a hand-edited project) draws as the default."""
        colour = self._colours.get(label, DEFAULT_COLOUR)
        if colour not in self._qcolours and not QColor(colour).isValid():
            return DEFAULT_COLOUR
        return colour

    def _paint_boxes(self, p: QPainter, tokens: range) -> None:
        """Gold chips: filled with the label colour; suggestions: a dashed 2px border in it."""
        gold, dashed = {}, {}
        for i in tokens:
            look = self._looks.get(i)
            if look is not None:
                (gold if look.kind == GOLD else dashed).setdefault(look.label, []).append(i)
        p.setPen(Qt.NoPen)
        for label, items in gold.items():
            p.setBrush(self._qcolour(self._label_colour(label)))
            for i in items:
                p.drawRoundedRect(QRectF(self.token_rect(i)), RADIUS, RADIUS)
        p.setBrush(Qt.NoBrush)
        for label, items in dashed.items():
            p.setPen(QPen(self._qcolour(self._label_colour(label)), 2, Qt.DashLine))
            for i in items:
                p.drawRoundedRect(QRectF(self.token_rect(i)).adjusted(1, 1, -1, -1), RADIUS, RADIUS)

    def _text_colour(self, look: Look | None, normal: str) -> str:
        """Black or white on a gold chip (whichever reads better), the palette's text elsewhere."""
        if look is not None and look.kind == GOLD:
            bg = self._label_colour(look.label)
            fg = self._readable.get(bg)
            if fg is None:
                fg = self._readable[bg] = readable_text_colour(bg)
            return fg
        return normal

    def _paint_texts(self, p: QPainter, tokens: range, normal: str) -> None:
        """The words, as plain text, grouped by colour."""
        by_colour: dict[str, list[int]] = {}
        for i in tokens:
            by_colour.setdefault(self._text_colour(self._looks.get(i), normal), []).append(i)
        p.setFont(self._metrics.font)
        flags = int(Qt.AlignLeft | Qt.AlignTop | Qt.TextSingleLine)
        h = self._metrics.fm.height()
        for colour, items in by_colour.items():
            p.setPen(self._qcolour(colour))
            for i in items:
                r = self.token_rect(i)
                p.drawText(QRect(r.x() + PAD_X, r.y() + PAD_Y, r.width() - PAD_X, h), flags,
                           self._texts[i])

    def _paint_tags(self, p: QPainter, tokens: range, normal: str) -> None:
        """The label name after a span's first word, small (bold for gold, '?' for a suggestion),
        on the word's baseline, as plain text: a label called '<h1>BIG</h1>' shows just that."""
        m = self._metrics
        groups: dict[tuple[str, str], list[int]] = {}
        for i in tokens:
            look = self._looks.get(i)
            if look is not None and look.first:
                groups.setdefault((look.kind, self._text_colour(look, normal)), []).append(i)
        flags = int(Qt.AlignLeft | Qt.AlignTop | Qt.TextSingleLine)
        for (kind, colour), items in sorted(groups.items()):
            p.setFont(m.tag_fonts[kind])
            p.setPen(self._qcolour(colour))
            tfm = m.tag_fm[kind]
            for i in items:
                r, look = self.token_rect(i), self._looks[i]
                x = r.x() + PAD_X + m.text(self._texts[i]) + m.space
                y = r.y() + PAD_Y + m.fm.ascent() - tfm.ascent()
                p.drawText(QRect(x, y, m.tag(look) + 2, tfm.height()), flags, tag_text(look))

    def _paint_interaction(self, p: QPainter, tokens: range) -> None:
        """The range being dragged over (highlight fill) and the chip under the mouse (outline)."""
        highlight = self.palette().color(QPalette.Highlight)
        span = self._drag_range()
        if span is not None:
            fill = QColor(highlight)
            fill.setAlpha(70)
            p.setPen(Qt.NoPen)
            p.setBrush(fill)
            for i in range(max(span[0], tokens.start), min(span[1], tokens.stop)):
                p.drawRoundedRect(QRectF(self.token_rect(i)), RADIUS, RADIUS)
        if self._hover is not None and self._hover in tokens:
            p.setPen(QPen(highlight, 1))
            p.setBrush(Qt.NoBrush)
            p.drawRoundedRect(QRectF(self.token_rect(self._hover)).adjusted(0.5, 0.5, -0.5, -0.5),
                              RADIUS, RADIUS)

    def _paint_marks(self, p: QPainter, tokens: range) -> None:
        """A likely label error: a red outline and a thick bar along the chip's bottom (inside
        the chip, so a repaint of its line covers it)."""
        red = QColor("#d32f2f")
        p.setBrush(Qt.NoBrush)
        p.setPen(QPen(red, 2, Qt.SolidLine))
        for i in sorted(self._marked):
            if i in tokens:
                r = QRectF(self.token_rect(i))
                p.drawRoundedRect(r.adjusted(1, 1, -1, -1), RADIUS, RADIUS)
                p.fillRect(QRectF(r.left() + 1, r.bottom() - 3, r.width() - 2, 3), red)

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

    # -- mouse ----------------------------------------------------------------------------------
    def mousePressEvent(self, ev):
        if ev.button() != Qt.LeftButton:
            return
        i = self.token_at(ev.position().toPoint())
        self._pressed = i
        if i is None:
            return
        self.press(i, bool(ev.modifiers() & Qt.ShiftModifier))
        self._drag_to = i
        self._update_tokens(self._anchor, i)

    def mouseMoveEvent(self, ev):
        i = self.token_at(ev.position().toPoint())
        if self._pressed is not None and ev.buttons() & Qt.LeftButton:
            if i is not None and i != self._drag_to:
                old = self._drag_to
                self._drag_to = i
                ends = [j for j in (self._anchor, old, i) if j is not None]
                self._update_tokens(min(ends), max(ends))
        if i != self._hover:
            old, self._hover = self._hover, i
            self._update_tokens(old)
            self._update_tokens(i)
            if (old is None) != (i is None):
                self.setCursor(Qt.ArrowCursor if i is None else Qt.PointingHandCursor)

    def mouseReleaseEvent(self, ev):
        """Release on a token ends a drag there; released between chips, it counts as a click
        on the pressed token (as the chips did)."""
        if ev.button() != Qt.LeftButton or self._pressed is None:
            return
        target = self.token_at(ev.position().toPoint())
        index = self._pressed if target is None else target
        old = self._drag_range()
        self._pressed = self._drag_to = None
        if old is not None:
            self._update_tokens(old[0], old[1] - 1)
        self.release(index)

    def leaveEvent(self, event):
        """No chip is under the mouse any more: drop the hover outline and the hand cursor."""
        if self._hover is not None:
            old, self._hover = self._hover, None
            self._update_tokens(old)
            self.unsetCursor()
        super().leaveEvent(event)

    def event(self, ev):
        """Tooltips: escaped text inside a rich-text wrapper, since Qt guesses rich text from a
        tag (an unescaped '<h1>BIG</h1>' label would be a heading)."""
        if ev.type() == QEvent.ToolTip:
            i = self.token_at(ev.pos())
            tip = tooltip_text(self._looks.get(i)) if i is not None else ""
            if tip:
                QToolTip.showText(ev.globalPos(), tooltip_html(tip), self, self.token_rect(i))
            else:
                QToolTip.hideText()
                ev.ignore()
            return True
        return super().event(ev)

    # -- editing rules ----------------------------------------------------------------------------
    def press(self, index: int, shift: bool) -> None:
        if shift and self._last is not None:
            self._anchor = self._last
        else:
            self._anchor = index

    def release(self, index: int) -> None:
        if self.sentence is None or self._anchor is None:
            return
        start, end = sorted((self._anchor, index))
        self._anchor = None
        self._last = index
        self.apply(start, end + 1, single_click=start == end)

    def apply(self, start: int, end: int, single_click: bool = False) -> None:
        """The editing rules, independent of the mouse (also used by tests and shortcuts)."""
        spans = list(self.sentence.spans)
        hit = next((sp for sp in spans if sp.start <= start < sp.end), None)
        if single_click and hit is not None:
            spans.remove(hit)
            if self.active_label and self.active_label != hit.label:
                spans.append(Span(hit.start, hit.end, self.active_label))
        elif single_click and hit is None and self._suggestion_at(start) is not None:
            with collector_paused():
                self.suggestion_accepted.emit(self._suggestion_at(start))
            return
        else:
            if not self.active_label:
                return
            spans = [sp for sp in spans if sp.end <= start or sp.start >= end]
            spans.append(Span(start, end, self.active_label))
        with collector_paused():
            self.edited.emit(sorted(spans, key=_span_order))

    def _suggestion_at(self, i: int):
        return next((sp for sp, _ in self.suggestions if sp.start <= i < sp.end), None)


@contextlib.contextmanager
def collector_paused():
    """Run an edit (the store's write and the re-show) with the cyclic garbage collector off.
    Why: writing a 50,000-token sentence's 5,000 spans allocates tens of thousands of short-lived
    lists and tuples; with the collector on they were promoted while still alive and set off a
    full collection (over the whole heap: 100s of ms) every click or two. They all die by
    reference counting when the edit returns, so nothing is left for the collector to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def tooltip_html(text: str) -> str:
    """``text`` for QToolTip, shown literally: escaped, in a <qt> wrapper so Qt does not guess."""
    return f"<qt>{html.escape(text)}</qt>"
