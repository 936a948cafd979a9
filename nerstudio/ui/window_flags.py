"""The main window's likely label errors (Model > Find likely label errors...): the review's
flags under the editor, M (take the model's label) and K (keep mine), the status filter's
"likely errors" entry, and whether the review can run.

Why a module of its own: the flags are read and resolved apart from ordinary editing; it is a
mixin of :class:`~nerstudio.ui.main_window.MainWindow` (``self`` is the window). The review
itself runs in ``review_view.start_review``."""
from __future__ import annotations

import sqlite3

from PySide6.QtCore import Qt

from ..core.errors import NerStudioError
from .window_labelling import LIKELY_ERRORS
from .workers import Worker


class FlagsMixin:
    """Likely label errors (a mixin of MainWindow: ``self`` is the window)."""

    def _update_review_action(self) -> None:
        """Find likely label errors needs a writable project and a trained model; the status
        filter's "likely errors" entry needs flags to list."""
        reason = None
        if self.session is None:
            reason = "Open a project first"
        elif self.read_only:
            reason = "The project is open read-only"
        elif self.active_model_dir() is None:
            reason = ("Needs a trained model: train one in the Train tab (or make a finished "
                      "run active) first")
        self.review_action.setEnabled(reason is None)
        tip = reason or ("Train models on parts of the labelled sentences and flag the tokens "
                         "whose label the held-out model disagrees with (needs about 50 labelled "
                         "sentences)")
        self.review_action.setToolTip(tip)
        self.review_action.setStatusTip(tip)
        flagged = self._flagged_ids()
        index = self.status_filter.findText(LIKELY_ERRORS)
        item = self.status_filter.model().item(index)
        if item is not None:
            item.setEnabled(bool(flagged) or self.status_filter.currentIndex() == index)
        self.status_filter.setItemData(
            index, f"{len(flagged)} sentences with likely label errors, most suspicious first"
            if flagged else "No likely label errors: Model ▸ Find likely label errors… (needs "
            "a trained model)", Qt.ToolTipRole)

    def _flagged_ids(self) -> list[int]:
        if self.store is None or not hasattr(self.store, "flagged_sentence_ids"):
            return []
        try:
            return list(self.store.flagged_sentence_ids())
        except (NerStudioError, sqlite3.Error):
            return []

    def _flags_of(self, sentence_id: int | None) -> list:
        if sentence_id is None or self.store is None or not hasattr(self.store, "review_flags"):
            return []
        try:
            return list(self.store.review_flags(sentence_id))
        except (NerStudioError, sqlite3.Error):
            return []

    def _show_flags(self, sentence) -> None:
        """The shown sentence's likely label errors: a line under the editor ("word: given
        B-ORG → model B-LOC") and a mark under those tokens. Plain text throughout."""
        flags = self._flags_of(sentence.id) if sentence is not None else []
        self.editor.set_marked({f[1] for f in flags})
        if not flags:
            if self.review_info.isVisible():
                self.review_info.hide()
            return
        parts = []
        for _sid, index, given, predicted, _score in flags:
            word = sentence.tokens[index].text if 0 <= index < len(sentence.tokens) else "?"
            parts.append(f"{word}: given {given} → model {predicted}")
        head = ("Likely label error" if len(flags) == 1 else
                f"Likely label error 1 of {len(flags)}")
        text = f"{head}:  {parts[0]}    M: take the model's label · K: keep mine"
        if len(flags) > 1:
            text += "\nThen:  " + ";  ".join(parts[1:])
        self.review_info.setText(text)
        self.review_info.show()

    def resolve_flags(self, accept: bool) -> None:
        """M / K on a sentence with likely label errors: the first open flag (the line above
        the buttons) takes the model's tag (one undoable edit) or keeps the gold as it is;
        either way that flag goes. Once the sentence has none left, the likely-errors list
        moves to the next one."""
        if self.current_id is None or self.store is None:
            return
        flags = self._flags_of(self.current_id)
        if not flags:
            self.statusBar().showMessage("No likely label error on this sentence", 3000)
            return
        if not self._can_edit():
            return
        sid, flag = self.current_id, flags[0]
        word = self._shown.tokens[flag[1]].text if self._shown is not None and \
            flag[1] < len(self._shown.tokens) else "?"
        if not self._write(self.session.resolve_flag, sid, flag[1], accept,
                           expected_version=self._version()):
            self._update_review_action()
            return
        self.statusBar().showMessage(
            (f"{word}: took the model's {flag[3]} (Ctrl+Z undoes it)" if accept else
             f"{word}: kept your {flag[2]}"), 5000)
        self._update_review_action()
        if self._flags_of(sid):
            return  # the next flag of this sentence is shown
        if self.status_filter.currentText() == LIKELY_ERRORS and not self.active_order_on():
            self._go_to_next_listed(lambda row: bool(self._flags_of(row.id)),
                                    "No likely label error further down this list")

    def review_running(self) -> bool:
        """A label-error review is training its k models (one training at a time)."""
        return self.review_worker is not None and self.review_worker.thread.isRunning()

    def find_errors(self) -> Worker | None:
        """Model ▸ Find likely label errors…: the k-fold review on a worker thread, with
        progress and Cancel (a cancelled review leaves the project as it was)."""
        from .review_view import start_review

        return start_review(self)
