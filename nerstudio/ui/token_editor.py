"""The token editor: one sentence's Tokens as chips that wrap like text.

Click a token to give it the active label; press on one token and release on another (or
shift-click) to label the span between; B-/I- follow from spans, so tags are always valid IOB2.
Clicking a labelled span relabels it with the active label, or removes it when it already has
that label. Model suggestions are drawn with a dashed border; clicking one accepts it.
Every change goes straight to the store (one transaction, one undo step) via ``edited``.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ..core.domain import Sentence, Span


def flow_positions(sizes, width: int, margin: int = 10, spacing: int = 6):
    """Top-left corners for boxes of ``sizes`` laid out left to right, wrapping at ``width``
    (like text). Returns the positions and the total height. A plain function rather than a
    QLayout subclass: PySide6 mishandles a Python layout's ``itemAt`` returning None (the None
    refcount drops on every relayout until the interpreter aborts)."""
    x, y, line, out = margin, margin, 0, []
    for w, h in sizes:
        if x + w > width - margin and line > 0:
            x, y, line = margin, y + line + spacing, 0
        out.append((x, y))
        x += w + spacing
        line = max(line, h)
    return out, y + line + margin


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
        super().__init__(text, editor)
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
            target = self.editor.chip_at(self.editor.mapFromGlobal(ev.globalPosition().toPoint()))
            self.editor.release(self.index if target is None else target)


class TokenEditor(QWidget):
    edited = Signal(list)              # the sentence's new gold spans
    suggestion_accepted = Signal(object)  # a Span from the model's suggestions

    def __init__(self, parent=None):
        super().__init__(parent)
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
                and sentence.id == self.sentence.id and sentence.words == self.sentence.words)
        self.sentence = sentence
        self.suggestions = list(suggestions)
        if colours is not None:
            self.colours = colours
        self._anchor = None
        if same:  # re-shown after an edit: keep the chips, restyle what changed
            self.restyle()
            return
        self._last = None
        for chip in self.chips:
            chip.hide()
            chip.deleteLater()
        self.chips = []
        if sentence is not None:
            for i, token in enumerate(sentence.tokens):
                chip = TokenChip(self, i, token.text)
                chip.show()
                self.chips.append(chip)
        self.restyle()

    def restyle(self) -> None:
        """Colour chips by span: label background, label name after the span's first word.
        Only chips whose look changed are touched (a stylesheet change re-polishes a widget)."""
        if self.sentence is None:
            return
        gold = {i: sp for sp in self.sentence.spans for i in range(sp.start, sp.end)}
        suggested = {i: (sp, score) for sp, score in self.suggestions
                     for i in range(sp.start, sp.end) if i not in gold}
        normal = self.palette().color(QPalette.WindowText).name()
        changed = False
        for i, chip in enumerate(self.chips):
            text = _escape(self.sentence.tokens[i].text)
            if i in gold:
                sp = gold[i]
                bg = self.colours.get(sp.label, "#cccccc")
                fg = readable_text_colour(bg)
                if i == sp.start:
                    text += f' <span style="font-size:8pt; font-weight:bold">{sp.label}</span>'
                style = (f"background:{bg}; color:{fg}; border:1px solid {bg};"
                         "border-radius:4px; padding:2px 4px;")
                tip = f"{sp.label} (gold)"
            elif i in suggested:
                sp, score = suggested[i]
                bg = self.colours.get(sp.label, "#cccccc")
                if i == sp.start:
                    text += f' <span style="font-size:8pt">{sp.label}?</span>'
                style = f"color:{normal}; border:2px dashed {bg}; border-radius:4px; padding:1px 3px;"
                tip = f"suggested {sp.label} ({score:.0%}): click to accept"
            else:
                style = f"color:{normal}; border:1px solid transparent; padding:2px 4px;"
                tip = ""
            if (text, style, tip) != getattr(chip, "_look", None):
                chip._look = (text, style, tip)
                chip.setStyleSheet(style)
                chip.setToolTip(tip)
                chip.setText(text)
                chip.adjustSize()
                changed = True
        if changed:
            self.relayout()

    def relayout(self) -> None:
        sizes = [(c.sizeHint().width(), c.sizeHint().height()) for c in self.chips]
        positions, height = flow_positions(sizes, max(self.width(), 200))
        for chip, (x, y), (w, h) in zip(self.chips, positions, sizes):
            chip.setGeometry(x, y, w, h)
        self.setMinimumHeight(height)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.relayout()

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
        sizes = [(c.sizeHint().width(), c.sizeHint().height()) for c in self.chips]
        return QSize(400, flow_positions(sizes, max(self.width(), 400))[1])


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
