"""The token editor's paintEvent: the chips on screen, drawn in groups.

Why a module of its own: painting is the editor's largest concern and touches nothing but its
state; kept apart, TokenEditor (token_editor.py) holds the content and the layout. Only the
lines inside the exposed rect are drawn (found by binary search), grouped so that pen, brush
and font change once per group rather than once per token; every string is drawn with
``QPainter.drawText`` as plain text (label names are never markup).
``TokenPainting`` is a mixin: its methods run on the TokenEditor and read its attributes."""
from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen

from .token_flow import PAD_X, PAD_Y
from .token_style import DEFAULT_COLOUR, GOLD, Look, readable_text_colour, tag_text

RADIUS = 4      # chip corner radius


class TokenPainting:
    """TokenEditor's painting (a mixin before QWidget in its bases)."""

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
