"""The main window's edits: the token editor's spans, Mark labelled and next, Accept one / all
suggestions, Reject, Undo / Redo, and moving on to the next sentence. Every edit is one write
through the session (``_write``), refused with a dialog when the file will not take it.

The rule "Accept all never replaces gold" is ``core.flag_rules.accept_all_spans``.

Why a module of its own: it is what the annotation keys do; it is a mixin of
:class:`~nerstudio.ui.main_window.MainWindow` (``self`` is the window)."""
from __future__ import annotations

import dataclasses
import operator
import sqlite3

from ..core.errors import (
    NerStudioError,
    ProjectBusyError,
    ReadOnlyProjectError,
    StaleEditError,
)
from ..core.flag_rules import accept_all_spans
from .text import warn
from .window_labelling import LIKELY_ERRORS

_span_start = operator.attrgetter("start")


class EditingMixin:
    """Writes and moves (a mixin of MainWindow: ``self`` is the window)."""

    def _version(self):
        return getattr(self._shown, "version", None)

    def _can_edit(self) -> bool:
        if self.session is None or self.current_id is None:
            return False
        if self.read_only:
            warn(self, "Read-only project", f"{self.store.path} is open read-only: the edit was "
                 "not saved. Open a writable copy to edit it.")
            self.show_sentence(self.current_id)
            return False
        return True

    def _write(self, fn, *args, **kw) -> bool:
        """Run one write through the session; when the file refuses it, say why in a dialog and
        show what the file holds (the session re-emits ``sentence_changed`` either way)."""
        try:
            fn(*args, **kw)
            return True
        except StaleEditError as exc:
            title, text = "Changed elsewhere", (
                f"This sentence was changed in another window or program, so your edit was not "
                f"applied; it now shows the saved version.\n\n{exc}")
        except ReadOnlyProjectError as exc:
            title, text = "Read-only project", f"The project cannot be written: {exc}"
        except ProjectBusyError as exc:
            title, text = "Project busy", (f"Another program is writing to the project; your "
                                           f"edit was not saved. Try again.\n\n{exc}")
        except (NerStudioError, sqlite3.Error) as exc:
            title, text = "Edit not saved", str(exc)
        if self.current_id is not None:
            self.show_sentence(self.current_id)
        warn(self, title, text)
        return False

    def save_spans(self, spans, status: str | None = None) -> bool:
        """An edit from the token editor: committed now, one undo step. Once written, the
        editor is updated from ``spans`` and the new version: re-reading a 50,000-token sentence
        after every click cost 0.2-0.3 s and two full garbage collections. A refused edit shows
        what the file holds (``_write``)."""
        if not self._can_edit():
            return False
        sid, shown = self.current_id, self._shown
        if not self._write(self._set_own_spans, sid, spans, status,
                           expected_version=self._version()):
            return False
        self._show_own_edit(sid, shown, spans)
        return True

    def _set_own_spans(self, sentence_id: int, spans, status, **kw) -> None:
        """``session.set_spans`` while ``_sentence_changed`` leaves the editor to save_spans."""
        self._own_edit = sentence_id
        try:
            self.session.set_spans(sentence_id, spans, status, **kw)
        except (NerStudioError, sqlite3.Error):
            raise  # _write says why and shows what the file holds
        except BaseException:
            self._own_edit = None
            self.show_sentence(self.current_id)
            raise
        finally:
            self._own_edit = None

    def _show_own_edit(self, sentence_id: int, shown, spans) -> None:
        """Show the sentence as our own edit left it: the file holds exactly ``spans``; only its
        version and status are read back (tokens, text and columns cannot change in an edit)."""
        if sentence_id != self.current_id:
            return
        if shown is None or shown.id != sentence_id:
            self.show_sentence(sentence_id)
            return
        try:
            version, status = self.store.sentence_version(sentence_id)
            suggestions = (self._shown_suggestions if status == shown.status else
                           self.store.predictions(sentence_id) if status == "unlabelled" else [])
        except (NerStudioError, sqlite3.Error):
            self.show_sentence(sentence_id)
            return
        sentence = dataclasses.replace(shown, spans=sorted(spans, key=_span_start),
                                       status=status, version=version)
        self._shown, self._shown_suggestions = sentence, suggestions
        self.editor.set_sentence(sentence, suggestions)
        self._show_flags(sentence)  # the edit settled the sentence's flags in the file
        self._show_info(sentence, suggestions)

    def mark_done_and_next(self) -> None:
        if not self._can_edit():
            return
        if self._shown is not None and self._shown.status == "unlabelled":
            if not self._write(self.session.set_status, self.current_id, "labelled",
                               expected_version=self._version()):
                return
        self.go_to_next_unlabelled()

    def go_to_next_unlabelled(self) -> None:
        """The next unlabelled sentence below this one in the list; in the Active learning
        order the most informative one left, from the top (a refreshed order may have ranked
        sentences above this one); in the likely-errors list, the next one whose flags are
        still open."""
        if self.status_filter.currentText() == LIKELY_ERRORS and not self.active_order_on():
            self._go_to_next_listed(lambda row: bool(self._flags_of(row.id)),
                                    "No likely label error further down this list")
            return
        self._go_to_next_listed(lambda row: row.status == "unlabelled",
                                "No unlabelled sentence further down this list")

    def _go_to_next_listed(self, wanted, none_left: str) -> None:
        if self.active_order_on():
            i = 0
        else:
            row = self.model.row_of(self.current_id)
            i = row + 1 if row is not None else self._first_row_after(self.current_id)
        while True:
            while i >= self.model.rowCount() and self.model.canFetchMore():
                self.model.fetchMore()
            if i >= self.model.rowCount():
                self.statusBar().showMessage(none_left, 4000)
                return
            if wanted(self.model.rows[i]) and self.model.rows[i].id != self.current_id:
                # _select, not selectRow: the row may be the selected one while the editor shows
                # a sentence the filter no longer lists (after an undo), and must still move
                self._select(self.model.rows[i].id)
                return
            i += 1

    def _first_row_after(self, sentence_id: int | None) -> int:
        """Where the list goes on from a sentence it does not list (an undo brought it back
        under a filter that hides it): the first listed row after it in file order, else 0."""
        if sentence_id is None or self.active_order_on():
            return 0
        while True:
            for i, r in enumerate(self.model.rows):
                if r.id > sentence_id:
                    return i
            if not self.model.canFetchMore():
                return 0
            self.model.fetchMore()

    def accept_suggestion(self, span) -> None:
        """A click on a suggestion: its span, with the active label, becomes gold. A suggestion
        that overlaps a gold span is refused (a click on its free words must not replace your
        label): drag over the words to set that span."""
        if not self._can_edit() or self._shown is None:
            return
        if any(s.start < span.end and span.start < s.end for s in self._shown.spans):
            self.statusBar().showMessage("That suggestion overlaps your label: drag over the "
                                         "words to set the span", 5000)
            return
        self._write(self.session.set_spans, self.current_id,
                    sorted(list(self._shown.spans) + [span]), expected_version=self._version())

    def reject_suggestion(self, span) -> None:
        """A right click on one suggestion: drop it, keep the sentence's others."""
        if self.current_id is None or not self._can_edit():
            return
        if self._write(self.session.drop_prediction, self.current_id, span):
            self.statusBar().showMessage(
                f"Suggestion {span.label} rejected (not an undo step: Model ▸ Pre-annotate "
                "brings suggestions back)", 5000)

    def accept_all_suggestions(self) -> None:
        """``A``: add the suggestions the editor SHOWS (an unlabelled sentence's) that overlap no
        gold span, mark the sentence labelled and go to the next one: a right set of suggestions
        is one key. Gold is never replaced, hidden suggestions are never applied."""
        if self.current_id is None or self._shown is None:
            return
        if self._shown.status != "unlabelled" or not self._shown_suggestions:
            self.statusBar().showMessage("No suggestions shown for this sentence", 3000)
            return
        if not self._can_edit():
            return
        spans = accept_all_spans(self._shown.spans, self._shown_suggestions)
        shown = [sp for sp, _ in self._shown_suggestions]  # refused if the file's differ now
        if self._write(self.session.set_spans, self.current_id, spans, "labelled",
                       expected_version=self._version(), expected_suggestions=shown):
            self.go_to_next_unlabelled()

    def reject_suggestions(self) -> None:
        if self.current_id is None or not self._shown_suggestions or not self._can_edit():
            return
        self._write(self.session.clear_predictions, self.current_id)

    def undo(self) -> None:
        self._undo_redo("undo")

    def redo(self) -> None:
        self._undo_redo("redo")

    def _undo_redo(self, which: str) -> None:
        if self.session is None:
            return
        if self.read_only:
            self.statusBar().showMessage("Read-only project: nothing can be undone", 3000)
            return
        result = []
        if self._write(lambda: result.append(getattr(self.session, which)())):
            self._jump(result[0])

    def _jump(self, sentence_id: int | None) -> None:
        if sentence_id is None:
            self.statusBar().showMessage("Nothing to undo or redo", 2000)
            return
        row = self.model.row_of(sentence_id)
        if row is not None and sentence_id != self.current_id:
            self.table.selectRow(row)
        elif sentence_id != self.current_id:
            self.show_sentence(sentence_id)
