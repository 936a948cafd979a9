"""The playground: type or paste text, see the active model's entities highlighted.

Prediction runs off the GUI thread, debounced while typing; each request carries a number and a
result that arrives after a newer request was made is dropped (never shows stale highlights).

The entities on show always belong to one exact text (``result_text``); **Add to dataset** uses
them only when that text is the one in the editor. Otherwise (a click during the debounce, or
while a prediction is on its way) it asks for the current text's entities first and adds once
they arrive, so a sentence never gets another text's entities.

Model output never becomes gold: the added sentences are unlabelled, and the entities are stored
as model suggestions (``predictions``) that the user accepts or rejects in Annotate.

Every string from the model or the user goes into rich text escaped, and the highlight view
never loads a resource (image, stylesheet), whatever markup reaches it.
"""
from __future__ import annotations

import html
import threading

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCursor, QImage, QTextDocument
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QMessageBox, QPlainTextEdit, QPushButton,
                               QSlider, QSplitter, QTextBrowser, QToolTip, QVBoxLayout, QWidget)

from ..core.domain import Sentence
from ..core.errors import NerStudioError
from ..core.inference import Predictor
from ..core.tokenize import rebase, split_sentences, tokenize
from .safe_text import rich_plain, safe_colour
from .text import plural
from .token_editor import readable_text_colour
from .session_view import SessionView
from .workers import Worker

SAMPLE = ("Angela Merkel met Emmanuel Macron in Paris on Tuesday. The talks at the Elysee Palace "
          "covered Airbus, the European Union budget and the Tour de France.")
NO_MODEL = "No active model: train one, or make a run active (Train tab, runs list)."


_ML_IMPORT_LOCK = threading.Lock()


def import_ml(training: bool = False) -> None:
    """Import torch and transformers (and, for ``training``, the Trainer and seqeval), one
    worker thread at a time. Two threads importing them at once can meet a half-initialised
    torch (scipy's array-API check reads it from sys.modules) and fail: the Train view's
    warm-up and the playground's first prediction start together when a project opens."""
    with _ML_IMPORT_LOCK:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        from transformers import AutoModelForTokenClassification  # noqa: F401

        if training:
            import seqeval.metrics  # noqa: F401  (pulls in scikit-learn)
            from transformers import Trainer  # noqa: F401


def predict_text(predictor, text, *, progress, should_stop, emit):
    import_ml()
    return predictor.predict_text(text)


def highlight_html(text: str, entities, colours: dict, threshold: float = 0.0) -> str:
    """The text as HTML with each entity on its label's colour, the label name after it, and an
    anchor (``ent:i``) whose hover shows the confidence. Text and label names are escaped."""
    out, pos = [], 0
    for i, e in enumerate(entities):
        if e.score < threshold or e.start < pos:
            continue
        bg = safe_colour(colours.get(e.label))
        fg = readable_text_colour(bg)
        out.append(html.escape(text[pos:e.start]))
        out.append(f'<a href="ent:{i}" style="text-decoration:none; color:{fg}; background:{bg}">'
                   f'&nbsp;{html.escape(e.text)}&nbsp;<b><small>{html.escape(e.label)}</small></b>'
                   f'&nbsp;</a>')
        pos = e.end
    out.append(html.escape(text[pos:]))
    return "<div style='font-size:13pt; line-height:160%'>" + "".join(out).replace("\n", "<br>") + "</div>"


def _last_sentence_id(store) -> int:
    """The highest sentence id (0 when none): new sentences are numbered after it."""
    return store._scalar("SELECT coalesce(max(id), 0) FROM sentences") or 0  # noqa: SLF001


def _blocked_resource(type_: int):
    """What the highlight view gets for any resource: a transparent 1x1 image for an image (a
    null one would make Qt's layout load the file itself), nothing for anything else."""
    if type_ == QTextDocument.ImageResource:
        image = QImage(1, 1, QImage.Format_ARGB32)
        image.fill(0)
        return image
    return ""


class _NoResourceDocument(QTextDocument):
    """A document that never loads a resource: no local file, no data: URL, no image."""

    def loadResource(self, type_, _url):  # noqa: N802 - Qt override
        return _blocked_resource(int(getattr(type_, "value", type_)))


class HighlightView(QTextBrowser):
    """Read-only rich text that follows no link and loads nothing. (Overriding the browser's
    loadResource alone is not enough: QTextDocument then reads ``file:`` URLs itself, and the
    layout loads an image whose resource came back empty.)"""

    def __init__(self):
        super().__init__()
        self.setDocument(_NoResourceDocument(self))
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setReadOnly(True)

    def loadResource(self, type_, _url):  # noqa: N802 - Qt override
        return _blocked_resource(int(getattr(type_, "value", type_)))


class Playground(SessionView, QWidget):
    predicted = Signal()   # a fresh (not stale) result was shown
    added = Signal(int)    # Add to dataset wrote this many sentences

    def __init__(self, window):
        super().__init__()
        self.window = window
        self.predictor: Predictor | None = None
        self.model_dir: str | None = None
        self.model_name = ""
        self.entities = []
        self.result_text: str | None = None   # the exact text self.entities were computed for
        self._pending_add: str | None = None  # Add clicked for this text; waiting for its entities
        self._request = 0
        self._workers = []
        self._session = None
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("Type or paste text here…")
        self.output = HighlightView()
        self.output.highlighted.connect(self._hover)
        self.model_label = QLabel(NO_MODEL)
        self.model_label.setTextFormat(Qt.PlainText)
        self.threshold = QSlider(Qt.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setValue(0)
        self.threshold_label = QLabel("confidence ≥ 0%")
        self.threshold.valueChanged.connect(self._rerender)
        self.add_button = QPushButton("Add to dataset")
        self.add_button.setToolTip("Add the text as unlabelled sentences (train split), with the "
                                   "highlighted entities as suggestions to review in Annotate")
        self.add_button.clicked.connect(self.add_to_dataset)
        self._debounce = QTimer(self, singleShot=True, interval=300)
        self._debounce.timeout.connect(self.predict_now)
        self.input.textChanged.connect(self._text_changed)
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

    # -- the project session --------------------------------------------------------------------
    def set_session(self, session) -> None:
        """Follow this project session (None: no project): the active model and label colours."""
        if session is self._session:
            return
        if self._session is not None:
            self._session.unsubscribe(self)
        self._session = session
        if self._pending_add is not None:  # it was meant for the other project
            self._pending_add = None
            self.add_button.setEnabled(True)
        if session is not None:
            session.follow(self, active_model_changed=self._active_model_changed,
                           labels_changed=self._rerender)
        self._rerender()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.session()
        super().showEvent(event)

    def _active_model_changed(self, run_id) -> None:
        s = self._session
        folder = s.active_model_dir() if s is not None and run_id is not None else None
        self.set_model(str(folder) if folder else None, f"run {run_id}" if folder else "")

    # -- the model ------------------------------------------------------------------------------
    def set_model(self, model_dir: str | None, name: str = "") -> None:
        model_dir = str(model_dir) if model_dir else None
        name = name or str(model_dir or "")
        if model_dir is not None and model_dir == self.model_dir and self.predictor is not None:
            self.model_name = name  # the same model again (made active twice): keep it loaded
            self.model_label.setText(f"model: {name}")
            return
        # sentence cache: while text is edited, only the changed sentences go through the model
        self.predictor = Predictor(model_dir, cache_sentences=4096) if model_dir else None
        self.model_dir = model_dir
        self.model_name = name
        self.model_label.setText(f"model: {name}" if model_dir else NO_MODEL)
        self.result_text = None  # entities on show came from the previous model
        self.predict_now()

    # -- predicting -----------------------------------------------------------------------------
    def _text_changed(self) -> None:
        if self._pending_add is not None and self.input.toPlainText() != self._pending_add:
            self._pending_add = None  # the text the user asked to add is gone
            self.add_button.setEnabled(True)
            self._status("Add to dataset cancelled: the text changed before its entities arrived")
        self._debounce.start()

    def predict_now(self) -> Worker | None:
        self._debounce.stop()
        self._request += 1
        text = self.input.toPlainText()
        if self.predictor is None or not text.strip():
            self._show(self._request, text, [])
            return None
        number = self._request
        worker = Worker(predict_text, self.predictor, text)
        worker.finished.connect(lambda ents, n=number, t=text: self._show(n, t, ents))
        worker.failed.connect(lambda reason, n=number: self._prediction_failed(n, reason))
        self._workers.append(worker)
        worker.thread.finished.connect(lambda w=worker: self._workers.remove(w)
                                       if w in self._workers else None)
        return worker.start()

    def _prediction_failed(self, number: int, reason: str) -> None:
        if number != self._request:
            return
        self.model_label.setText(f"Prediction failed: {reason}")
        if self._pending_add is not None:
            self._pending_add = None
            self.add_button.setEnabled(True)

    def _show(self, number: int, text: str, entities) -> None:
        if number != self._request:  # a newer request is on its way: this one is stale
            return
        self.result_text, self.entities = text, list(entities)
        self._rerender()
        self.predicted.emit()
        if self._pending_add is not None and self._pending_add == text:
            self._pending_add = None
            self.add_button.setEnabled(True)
            self._add(text, self.visible_entities())

    def visible_entities(self):
        t = self.threshold.value() / 100
        return [e for e in self.entities if e.score >= t]

    def _colours(self) -> dict:
        store = self.store()
        return {l.name: l.colour for l in store.label_set().labels} if store is not None else {}

    def _rerender(self, *_args) -> None:
        t = self.threshold.value() / 100
        self.threshold_label.setText(f"confidence ≥ {t:.0%}")
        text = self.result_text if self.result_text is not None else self.input.toPlainText()
        entities = self.entities if self.result_text is not None else []
        self.output.setHtml(highlight_html(text, entities, self._colours(), t))

    def _hover(self, url) -> None:
        s = url.toString()
        if s.startswith("ent:"):
            i = int(s[4:])
            if i < len(self.entities):
                e = self.entities[i]
                QToolTip.showText(QCursor.pos(), rich_plain(f"{e.label}: {e.score:.0%} confidence"))

    # -- add to dataset -------------------------------------------------------------------------
    def add_to_dataset(self) -> int:
        """The text as unlabelled sentences with the visible entities as model suggestions.

        Uses only entities computed for exactly the text in the editor; when those are not in
        yet, asks for them and adds once they arrive (returns 0 then; ``added`` fires later)."""
        store = self.store()
        text = self.input.toPlainText()
        if store is None:
            self._status("Open a project first: the sentences are added to it")
            return 0
        if getattr(self.window, "read_only", False):
            self._status("The project is open read-only: nothing can be added to it")
            return 0
        if not text.strip():
            return 0
        if self.predictor is not None and self.result_text != text:
            self._pending_add = text
            self.add_button.setEnabled(False)
            self._status("Finding the entities of this text, then adding it…")
            self.predict_now()
            return 0
        return self._add(text, self.visible_entities() if self.predictor is not None else [])

    def _add(self, text: str, entities) -> int:
        session, store = self.session(), self.store()
        if store is None:
            return 0
        tokens = tokenize(text)
        groups = split_sentences(text, tokens, lines=True)  # each pasted line: its own sentence
        where = {}  # token index in the whole text -> (sentence, index in that sentence)
        k = 0
        for g, group in enumerate(groups):
            for i in range(len(group)):
                where[k] = (g, i)
                k += 1
        known = set(store.label_set().names)
        suggestions = [[] for _ in groups]
        for e in entities:
            a, b = where.get(e.token_start), where.get(e.token_end - 1)
            if a is None or b is None or a[0] != b[0] or e.label not in known:
                continue
            suggestions[a[0]].append((a[1], b[1] + 1, e.label, float(e.score)))
        sentences = []
        for group in groups:
            sent_text, sent_tokens = rebase(group, text)
            sentences.append(Sentence(tokens=sent_tokens, spans=[], text=sent_text,
                                      split="train", status="unlabelled"))
        # a sentence the project already holds is not added again (a second click, a re-paste)
        known_texts = store.existing_texts(s.text for s in sentences)
        fresh = [(s, g) for s, g in zip(sentences, suggestions) if s.text not in known_texts]
        skipped = len(sentences) - len(fresh)
        if not fresh:
            self._status(f"Already in the project: {plural(skipped, 'sentence')}, nothing added")
            return 0
        sentences, suggestions = [s for s, _g in fresh], [g for _s, g in fresh]
        run_id = store.meta("active_run") if self.predictor is not None else None
        try:
            with store.transaction():  # one user action: the sentences and their suggestions
                before = _last_sentence_id(store)
                n = store.import_items(sentences, source="playground")
                after = _last_sentence_id(store)
                ids = list(range(before + 1, after + 1))
                items = [(sid, spans, None) for sid, spans in zip(ids, suggestions) if spans]
                if items:
                    store.replace_predictions(run_id, items)
        except NerStudioError as exc:
            QMessageBox.warning(self, "Add to dataset", rich_plain(str(exc)))
            return 0
        if session is not None:
            session.notify_sentences_changed()
        elif hasattr(self.window, "after_bulk_change"):
            self.window.after_bulk_change()
        n_sugg = sum(len(s) for s in suggestions)
        self._status(f"Added {n} unlabelled sentence(s) to the train split with {n_sugg} "
                     "suggestion(s): review them in Annotate"
                     + (f" ({plural(skipped, 'sentence')} already in the project, skipped)"
                        if skipped else ""))
        self.added.emit(n)
        return n

    def _status(self, message: str) -> None:
        bar = getattr(self.window, "statusBar", None)
        if callable(bar):
            bar().showMessage(message, 8000)
