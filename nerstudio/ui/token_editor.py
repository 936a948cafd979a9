"""The token editor: one sentence's Tokens as chips that wrap like text.

Click a token to give it the active label; press on one token and release on another (or
shift-click) to label the span between; B-/I- follow from spans, so tags are always valid IOB2.
Clicking a labelled span relabels it with the active label, or removes it when it already has
that label. Model suggestions are drawn with a dashed border; clicking one accepts it.
Every change goes straight to the store (one transaction, one undo step) via ``edited``.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QLayout, QSizePolicy, QWidget

from ..core.domain import Sentence, Span


class FlowLayout(QLayout):
    """Lays children out left to right, wrapping at the width (Qt's flow-layout example)."""

    def __init__(self, parent=None, spacing: int = 4):
        super().__init__(parent)
        self._items = []
        self._spacing = spacing

    def addItem(self, item):
        self._items.append(item)

    def count(self):
        return len(self._items)

    def itemAt(self, i):
        return self._items[i] if 0 <= i < len(self._items) else None

    def takeAt(self, i):
        return self._items.pop(i) if 0 <= i < len(self._items) else None

    def expandingDirections(self):
        return Qt.Orientation(0)

    def hasHeightForWidth(self):
        return True

    def heightForWidth(self, width):
        return self._layout(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect):
        super().setGeometry(rect)
        self._layout(rect, apply=True)

    def sizeHint(self):
        return self.minimumSize()

    def minimumSize(self):
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _layout(self, rect, apply):
        m = self.contentsMargins()
        x, y, line = rect.x() + m.left(), rect.y() + m.top(), 0
        right = rect.right() - m.right()
        for item in self._items:
            hint = item.sizeHint()
            if x + hint.width() > right and line > 0:
                x, y, line = rect.x() + m.left(), y + line + self._spacing, 0
            if apply:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line = max(line, hint.height())
        return y + line - rect.y() + m.bottom()


def readable_text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` (WCAG relative luminance)."""
    c = QColor(background)
    lum = [((v / 255) / 12.92 if v / 255 <= 0.03928 else (((v / 255) + 0.055) / 1.055) ** 2.4)
           for v in (c.red(), c.green(), c.blue())]
    y = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2]
    return "#000000" if (y + 0.05) / 0.05 >= 1.05 / (y + 0.05) else "#ffffff"


class TokenChip(QLabel):
    """One token. Mouse events go to the editor, which knows about spans."""

    def __init__(self, editor: "TokenEditor", index: int, text: str):
        super().__init__(text)
        self.editor, self.index = editor, index
        self.setObjectName(f"token-{index}")
        self.setTextFormat(Qt.RichText)
        self.setCursor(Qt.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)

    def mousePressEvent(self, ev):
        if ev.button() == Qt.LeftButton:
            self.editor.press(self.index, bool(ev.modifiers() & Qt.ShiftModifier))

    def mouseReleaseEvent(self, ev):
        if ev.button() == Qt.LeftButton:
            target = self.editor.chip_at(self.mapTo(self.editor, ev.position().toPoint()))
            self.editor.release(self.index if target is None else target)


class TokenEditor(QWidget):
    edited = Signal(list)              # the sentence's new gold spans
    suggestion_accepted = Signal(object)  # a Span from the model's suggestions

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setLayout(FlowLayout(self, spacing=6))
        self.layout().setContentsMargins(10, 10, 10, 10)
        self.sentence: Sentence | None = None
        self.suggestions: list[tuple[Span, float]] = []
        self.colours: dict[str, str] = {}
        self.active_label: str | None = None
        self.chips: list[TokenChip] = []
        self._anchor: int | None = None
        self._last: int | None = None
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)

    # -- content --------------------------------------------------------------------------------
    def set_sentence(self, sentence: Sentence | None, suggestions=(), colours=None) -> None:
        same = (sentence is not None and self.sentence is not None
                and sentence.id == self.sentence.id)
        self.sentence = sentence
        self.suggestions = list(suggestions)
        if colours is not None:
            self.colours = colours
        self._anchor = None
        if not same:  # re-shown after an edit: shift-click still extends from the last click
            self._last = None
        for chip in self.chips:
            self.layout().removeWidget(chip)
            chip.deleteLater()
        self.chips = []
        if sentence is not None:
            for i, token in enumerate(sentence.tokens):
                chip = TokenChip(self, i, token.text)
                self.layout().addWidget(chip)
                self.chips.append(chip)
        self.restyle()
        self.updateGeometry()

    def restyle(self) -> None:
        """Colour chips by span: label background, label name after the span's first word."""
        if self.sentence is None:
            return
        gold = {i: sp for sp in self.sentence.spans for i in range(sp.start, sp.end)}
        suggested = {i: (sp, score) for sp, score in self.suggestions
                     for i in range(sp.start, sp.end) if i not in gold}
        normal = self.palette().color(QPalette.WindowText).name()
        for i, chip in enumerate(self.chips):
            text = _escape(self.sentence.tokens[i].text)
            if i in gold:
                sp = gold[i]
                bg = self.colours.get(sp.label, "#cccccc")
                fg = readable_text_colour(bg)
                if i == sp.start:
                    text += f' <span style="font-size:8pt; font-weight:bold">{sp.label}</span>'
                chip.setStyleSheet(f"background:{bg}; color:{fg}; border:1px solid {bg};"
                                   f"border-radius:4px; padding:2px 4px;")
                chip.setToolTip(f"{sp.label} (gold)")
            elif i in suggested:
                sp, score = suggested[i]
                bg = self.colours.get(sp.label, "#cccccc")
                if i == sp.start:
                    text += f' <span style="font-size:8pt">{sp.label}?</span>'
                chip.setStyleSheet(f"color:{normal}; border:2px dashed {bg}; border-radius:4px;"
                                   "padding:1px 3px;")
                chip.setToolTip(f"suggested {sp.label} ({score:.0%}): click to accept")
            else:
                chip.setStyleSheet(f"color:{normal}; border:1px solid transparent; padding:2px 4px;")
                chip.setToolTip("")
            chip.setText(text)
            chip.adjustSize()

    # -- interaction ----------------------------------------------------------------------------
    def chip_at(self, pos) -> int | None:
        child = self.childAt(pos)
        while child is not None and not isinstance(child, TokenChip):
            child = child.parentWidget() if child is not self else None
        return child.index if isinstance(child, TokenChip) else None

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
            self.suggestion_accepted.emit(self._suggestion_at(start))
            return
        else:
            if not self.active_label:
                return
            spans = [sp for sp in spans if sp.end <= start or sp.start >= end]
            spans.append(Span(start, end, self.active_label))
        self.edited.emit(sorted(spans))

    def _suggestion_at(self, i: int):
        return next((sp for sp, _ in self.suggestions if sp.start <= i < sp.end), None)

    def sizeHint(self):
        return QSize(400, self.layout().heightForWidth(max(self.width(), 400)))

    def hasHeightForWidth(self):
        return True

    def heightForWidth(self, w):
        return self.layout().heightForWidth(w)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
