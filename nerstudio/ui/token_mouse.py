"""The mouse on the token editor, and what a click or a drag does to the sentence's spans.

Why a module of its own: the input side of the editor (press, drag, release, hover, tooltips)
and its editing rules are apart from the layout and the painting. The mouse is hit-tested
against the layout's geometry (``token_at``); each change is emitted whole (``edited``: the new
gold spans, one store transaction and one undo step) with the garbage collector paused.
``TokenMouse`` is a mixin: its methods run on the TokenEditor and read its attributes."""
from __future__ import annotations

import contextlib
import gc
import operator

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QToolTip

from ..core.domain import Span
from .token_style import tooltip_html, tooltip_text

_span_order = operator.attrgetter("start", "end", "label")  # Span's own order, compared in C


class TokenMouse:
    """TokenEditor's mouse handling and editing rules (a mixin before QWidget in its bases)."""

    # -- mouse ----------------------------------------------------------------------------------
    def mousePressEvent(self, ev):
        if ev.button() == Qt.RightButton:
            self.reject_at(self.token_at(ev.position().toPoint()))
            return
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
            suggested = self._suggestion_at(start)  # its words take the active label
            label = self.active_label or suggested.label
            with collector_paused():
                self.suggestion_accepted.emit(Span(suggested.start, suggested.end, label))
            return
        else:
            if not self.active_label:
                return
            spans = [sp for sp in spans if sp.end <= start or sp.start >= end]
            spans.append(Span(start, end, self.active_label))
        with collector_paused():
            self.edited.emit(sorted(spans, key=_span_order))

    def hovered_token(self) -> int | None:
        """The token under the mouse pointer now, found where the pointer is at this moment (the
        hover outline can be stale after a scroll, a resize or a reflow); None when the pointer
        is not on a token of the part of the editor on screen."""
        if self.sentence is None:
            return None
        pos = self.mapFromGlobal(QCursor.pos())
        if not self.visibleRegion().contains(pos):
            return None
        return self.token_at(pos)

    def reject_at(self, index: int | None) -> None:
        """A right click on a dashed suggestion drops that suggestion (not the sentence's
        others): the cheap fix for one wrong guess before Accept all takes the rest."""
        if self.sentence is None or index is None:
            return
        if any(sp.start <= index < sp.end for sp in self.sentence.spans):
            return  # gold is shown there, not the suggestion
        suggested = self._suggestion_at(index)
        if suggested is not None:
            with collector_paused():
                self.suggestion_rejected.emit(suggested)

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
