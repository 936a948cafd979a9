"""The playground: type or paste text, see the active model's entities highlighted.

Prediction runs off the GUI thread, debounced while typing; each request carries a number and a
result that arrives after a newer request was made is dropped (never shows stale highlights).
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QSlider, QSplitter, QTextBrowser, QToolTip, QVBoxLayout, QWidget)

from ..core.domain import Sentence, Span
from ..core.inference import Predictor
from ..core.tokenize import rebase, split_sentences, tokenize
from .token_editor import readable_text_colour
from .workers import Worker

SAMPLE = ("Angela Merkel met Emmanuel Macron in Paris on Tuesday. The talks at the Elysee Palace "
          "covered Airbus, the European Union budget and the Tour de France.")


def predict_text(predictor, text, *, progress, should_stop, emit):
    return predictor.predict_text(text)


def highlight_html(text: str, entities, colours: dict, threshold: float = 0.0) -> str:
    """The text as HTML with each entity on its label's colour, the label name after it, and an
    anchor (``ent:i``) whose hover shows the confidence."""
    out, pos = [], 0
    for i, e in enumerate(entities):
        if e.score < threshold:
            continue
        bg = colours.get(e.label, "#cccccc")
        fg = readable_text_colour(bg)
        out.append(html.escape(text[pos:e.start]))
        out.append(f'<a href="ent:{i}" style="text-decoration:none; color:{fg}; background:{bg}">'
                   f'&nbsp;{html.escape(e.text)}&nbsp;<b><small>{e.label}</small></b>&nbsp;</a>')
        pos = e.end
    out.append(html.escape(text[pos:]))
    return "<div style='font-size:13pt; line-height:160%'>" + "".join(out).replace("\n", "<br>") + "</div>"


class Playground(QWidget):
    predicted = Signal()  # a fresh (not stale) result was shown

    def __init__(self, window):
        super().__init__()
        self.window = window
        self.predictor: Predictor | None = None
        self.model_name = ""
        self.entities = []
        self._request = 0
        self._workers = []
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("Type or paste text here…")
        self.output = QTextBrowser()
        self.output.setOpenLinks(False)
        self.output.highlighted.connect(self._hover)
        self.model_label = QLabel("No active model: train one, or make a run active.")
        self.threshold = QSlider(Qt.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setValue(0)
        self.threshold_label = QLabel("confidence ≥ 0%")
        self.threshold.valueChanged.connect(self._rerender)
        self.add_button = QPushButton("Add to dataset")
        self.add_button.clicked.connect(self.add_to_dataset)
        self._debounce = QTimer(self, singleShot=True, interval=300)
        self._debounce.timeout.connect(self.predict_now)
        self.input.textChanged.connect(self._debounce.start)
        top = QHBoxLayout()
        top.addWidget(self.model_label, 1)
        top.addWidget(self.threshold_label)
        top.addWidget(self.threshold)
        top.addWidget(self.add_button)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.input)
        split.addWidget(self.output)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split)

    def set_model(self, model_dir: str | None, name: str = "") -> None:
        # sentence cache: while text is edited, only the changed sentences go through the model
        self.predictor = Predictor(model_dir, cache_sentences=4096) if model_dir else None
        self.model_name = name or str(model_dir or "")
        self.model_label.setText(f"Model: {self.model_name}" if model_dir else
                                 "No active model: train one, or make a run active.")
        self.predict_now()

    def predict_now(self) -> Worker | None:
        self._request += 1
        text = self.input.toPlainText()
        if self.predictor is None or not text.strip():
            self.entities = []
            self._rerender()
            return None
        number = self._request
        worker = Worker(predict_text, self.predictor, text)
        worker.finished.connect(lambda ents, n=number, t=text: self._show(n, t, ents))
        worker.failed.connect(lambda reason: self.model_label.setText(f"Prediction failed: {reason}"))
        self._workers.append(worker)
        worker.thread.finished.connect(lambda w=worker: self._workers.remove(w)
                                       if w in self._workers else None)
        return worker.start()

    def _show(self, number: int, text: str, entities) -> None:
        if number != self._request:  # a newer request is on its way: this one is stale
            return
        self._text, self.entities = text, entities
        self._rerender()
        self.predicted.emit()

    def visible_entities(self):
        t = self.threshold.value() / 100
        return [e for e in self.entities if e.score >= t]

    def _rerender(self) -> None:
        t = self.threshold.value() / 100
        self.threshold_label.setText(f"confidence ≥ {t:.0%}")
        colours = self.window.editor.colours if self.window.store else {}
        text = getattr(self, "_text", self.input.toPlainText())
        self.output.setHtml(highlight_html(text, self.entities, colours, t))

    def _hover(self, url) -> None:
        s = url.toString()
        if s.startswith("ent:"):
            e = self.entities[int(s[4:])]
            QToolTip.showText(QCursor.pos(), f"{e.label}: {e.score:.0%} confidence")

    def add_to_dataset(self) -> int:
        """The text as unlabelled sentences, pre-labelled with the visible predictions."""
        store = self.window.store
        text = self.input.toPlainText()
        if store is None or not text.strip():
            return 0
        tokens = tokenize(text)
        by_start = {e.start: e for e in self.visible_entities()}
        sentences = []
        for group in split_sentences(text, tokens):
            sent_text, sent_tokens = rebase(group, text)
            spans = []
            for i, tok in enumerate(group):
                e = by_start.get(tok.start)
                if e is not None:
                    j = next(k for k in range(i, len(group)) if group[k].end >= e.end)
                    spans.append(Span(i, j + 1, e.label))
            known = store.label_set().names
            spans = [s for s in spans if s.label in known]
            sentences.append(Sentence(tokens=sent_tokens, spans=spans, text=sent_text,
                                      split="train", status="unlabelled"))
        n = store.import_items(sentences, source="playground")
        self.window.after_bulk_change()
        self.window.statusBar().showMessage(
            f"Added {n} pre-labelled sentence(s) to the train split: correct them in Annotate", 8000)
        return n
