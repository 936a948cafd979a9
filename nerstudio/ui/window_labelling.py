"""The main window's Annotate page at rest: the label palette and the label filter, the
sentence list (filters, search, selection), what the editor shows, the session's
``labels_changed`` / ``sentence_changed`` / ``sentences_changed`` events, and the status line.

Why a module of its own: showing the project is apart from editing it (window_editing) and from
the window's life (main_window); it is a mixin of :class:`~nerstudio.ui.main_window.MainWindow`
(``self`` is the window)."""
from __future__ import annotations

import sqlite3

from PySide6.QtWidgets import QPushButton

from ..core.errors import NerStudioError, StoreError
from .label_manager import LabelManager
from .text import plural, rich, safe_colour, status_text
from .token_editor import readable_text_colour

ALL = "(all)"
LIKELY_ERRORS = "likely errors"  # the status filter's entry for the review's flagged sentences


class LabellingMixin:
    """The palette, the list and the editor's contents (a mixin of MainWindow)."""

    # -- labels ---------------------------------------------------------------------------------
    def _label_replaced(self, old: str, new: str | None) -> None:
        self._replaced[old] = new

    def reload_labels(self) -> None:
        """``labels_changed``: the palette, the editor's colours and the label filter. A renamed
        (or merged) label stays active and filtered under its new name; a deleted one falls back
        to the first label / (all)."""
        if self.session is None:
            return
        replaced, self._replaced = self._replaced, {}
        follow = lambda name: replaced.get(name, name) if name in replaced else name  # noqa: E731
        labels = self.store.label_set().labels
        names = [l.name for l in labels]
        for b in self.label_buttons.buttons():
            self.label_buttons.removeButton(b)
        while self.palette_row.count():
            widget = self.palette_row.takeAt(0).widget()
            if widget is not None:
                widget.hide()
                widget.setParent(None)  # gone from the window now, not at the next loop
                widget.deleteLater()
        active = follow(self.editor.active_label)
        for i, label in enumerate(labels):
            colour = safe_colour(label.colour)
            fg = readable_text_colour(colour)
            shown = label.name.replace("&", "&&")  # "&" would be a mnemonic
            b = QPushButton(f"{i + 1}  {shown}" if i < 9 else shown)
            b.setObjectName(f"label-{label.name}")
            b.setProperty("label", label.name)
            b.setCheckable(True)
            b.setToolTip(rich(f"{label.name}" + (f"  (key {i + 1})" if i < 9 else "")))
            b.setStyleSheet(f"QPushButton {{ background:{colour}; color:{fg}; padding:4px 10px;"
                            f" border:2px solid {colour}; border-radius:4px }}"
                            f" QPushButton:checked {{ border:2px solid palette(highlight);"
                            f" font-weight:bold }}")
            b.clicked.connect(lambda _c=False, n=label.name: self.set_active_label(n))
            self.label_buttons.addButton(b)
            self.palette_row.addWidget(b)
        self.palette_row.addStretch()
        self.set_active_label(active if active in names else (names[0] if names else None))
        self.editor.colours = {l.name: safe_colour(l.colour) for l in labels}
        # the label filter: keep (or follow) the selected label; (all) when it is gone
        current = self.label_filter.currentText() if self.label_filter.currentIndex() > 0 else None
        current = follow(current)
        if current not in names:
            current = None
        self.label_filter.blockSignals(True)
        self.label_filter.clear()
        self.label_filter.addItems([ALL] + names)
        self.label_filter.setCurrentIndex(names.index(current) + 1 if current else 0)
        self.label_filter.blockSignals(False)
        if self.model is not None and self.model.filters.get("label") != current:
            self.apply_filters(keep=self.current_id)
        elif self.current_id is not None:
            self.show_sentence(self.current_id)
        self.update_status()

    def set_active_label(self, name: str | None) -> None:
        self.editor.active_label = name
        for b in self.label_buttons.buttons():
            b.setChecked(b.property("label") == name)

    def pick_label(self, index: int) -> None:
        if self.store is None:
            return
        names = self.store.label_set().names
        if index < len(names):
            self.set_active_label(names[index])

    def label_here(self, index: int) -> None:
        """``Alt+N``: pick label N and click the token under the mouse pointer (a retyped
        suggestion or span, a one-word entity: one key instead of a label key and a click)."""
        if self.store is None or index >= len(self.store.label_set().names):
            self.statusBar().showMessage(f"No label number {index + 1} in this project", 4000)
            return
        self.pick_label(index)
        token = self.editor.hovered_token()
        if token is None:
            self.statusBar().showMessage("Point at a token with the mouse, then press Alt and "
                                         "the label's number", 4000)
            return
        self.editor.apply(token, token + 1, single_click=True)

    def manage_labels(self) -> None:
        if self.session is None:
            return
        dialog = LabelManager(self.session, self)
        dialog.exec()

    def after_bulk_change(self) -> None:
        """Data changed under us (an import, the playground's Add to dataset): tell the session,
        whose ``sentences_changed`` reloads every view."""
        if self.session is not None:
            self.session.notify_sentences_changed()

    # -- list and editor ------------------------------------------------------------------------
    def _filter_values(self) -> dict:
        def value(combo):
            return combo.currentText() if combo.currentIndex() > 0 and combo.currentText() else None

        status, ids = value(self.status_filter), None
        if self.active_order_on() and self.store is not None:
            status, ids = None, self.store.active_order  # unlabelled ones, most informative first
        elif status == LIKELY_ERRORS:
            status = None
            ids = self._flagged_ids
        return dict(split=value(self.split_filter), status=status,
                    label=value(self.label_filter), search=self.search.text().strip() or None,
                    ids=ids)

    def apply_filters(self, keep: int | None = None) -> None:
        """Filter the list; select ``keep`` when it is still listed, else the first row."""
        if self.model is None or self.store is None:
            return
        try:
            self.model.set_filters(**self._filter_values())
        except StoreError:  # a label gone in another window: back to all labels
            self.label_filter.blockSignals(True)
            self.label_filter.setCurrentIndex(0)
            self.label_filter.blockSignals(False)
            self.model.set_filters(**self._filter_values())
        self._select(keep)

    def _select(self, sentence_id: int | None) -> None:
        row = self.model.row_of(sentence_id) if sentence_id is not None else None
        if row is None and self.model.rowCount():
            row = 0
        if row is None:
            self.show_sentence(None)
            return
        if self.table.currentIndex().row() == row:
            self.show_sentence(self.model.rows[row].id)
        else:
            self.table.selectRow(row)

    def _row_changed(self, current, _previous) -> None:
        if current.isValid() and self.model is not None and current.row() < len(self.model.rows):
            self.show_sentence(self.model.rows[current.row()].id)

    def show_sentence(self, sentence_id: int | None) -> None:
        """Show what the file holds for ``sentence_id``: spans, status, and the model's
        suggestions while the sentence is unlabelled."""
        self.current_id = sentence_id
        sentence = None
        if sentence_id is not None and self.store is not None:
            try:
                sentence = self.store.sentence(sentence_id)
            except StoreError:  # deleted in another window
                sentence = None
        if sentence is None:
            self.current_id, self._shown, self._shown_suggestions = None, None, []
            self.editor.set_sentence(None)
            self._show_flags(None)
            self.sentence_info.setText("No sentence matches these filters" if self.model is not
                                       None and not self.model.rowCount() else "")
            self._update_actions()
            return
        suggestions = self.store.predictions(sentence_id) if sentence.status == "unlabelled" else []
        self._shown, self._shown_suggestions = sentence, suggestions
        self.editor.set_sentence(sentence, suggestions)
        self._show_flags(sentence)
        self._show_info(sentence, suggestions)

    def _show_info(self, sentence, suggestions) -> None:
        info = [f"#{sentence.id}", sentence.split, status_text(sentence.status, bool(suggestions)),
                plural(len(sentence.spans), "entity", "entities")]
        if suggestions:
            info.append(plural(len(suggestions), "suggestion"))
        self.sentence_info.setText(" · ".join(info))

    def _sentence_changed(self, sentence_id: int) -> None:
        """``sentence_changed``: that row, the editor when it shows it, the status bar."""
        if self.model is not None:
            try:
                self.model.update_row(sentence_id)
            except StoreError:
                pass
        if sentence_id == self.current_id and sentence_id != self._own_edit:
            self.show_sentence(sentence_id)
        self.update_status()

    def _sentences_changed(self) -> None:
        """``sentences_changed``: reload the list (in place when the same rows are listed, so
        the selection and scroll position stay), the editor and the status bar."""
        if self.model is None:
            return
        self._update_review_action()
        keep = self.current_id
        try:
            reset = self.model.reload()
        except StoreError:
            self.apply_filters(keep=keep)
            return
        if reset and keep is not None and self.model.row_of(keep) is None and \
                self._still_exists(keep):
            # it no longer matches the filters (another window labelled it): keep it in the
            # editor rather than yank the user to another sentence
            self.table.clearSelection()
            self.show_sentence(keep)
        elif reset:
            self._select(keep)
        else:
            self.show_sentence(keep)
        self.update_status()

    def _still_exists(self, sentence_id: int) -> bool:
        try:
            self.store.sentence_row(sentence_id)
            return True
        except (NerStudioError, sqlite3.Error, TypeError, IndexError):
            return False

    # -- status bar -----------------------------------------------------------------------------
    def update_status(self) -> None:
        """Refresh the status bar soon (coalesced: a burst of edits costs one query)."""
        self._status_timer.start()

    def _update_status_now(self) -> None:
        if self.store is None:
            self.status.setText("No project open")
            return
        try:
            summary = self.store.summary()
        except (NerStudioError, sqlite3.Error):
            return
        total = sum(n for n, _ in summary["splits"].values())
        parts = [plural(total, "sentence")]
        for split in ("train", "dev", "test", "unassigned"):
            if split in summary["splits"]:
                n, labelled = summary["splits"][split]
                parts.append(f"{split} {labelled}/{n} labelled")
        parts.append(" ".join(f"{k} {v}" for k, v in summary["entities"].items()))
        if self.read_only:
            parts.insert(0, "READ-ONLY")
        self.status.setText("  ·  ".join(p for p in parts if p))
