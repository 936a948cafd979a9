"""The main window's Model menu work besides the review: the active-learning order choice,
Keep the model fresh's menu items, Train, Pre-annotate, and what is training now.

Why a module of its own: what the active model is used for is apart from annotating; it is a
mixin of :class:`~nerstudio.ui.main_window.MainWindow` (``self`` is the window)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog

from .active import ACTIVE_ORDER, FILE_ORDER, order_state
from .text import inform, plural, warn
from .workers import Worker


class ModelMixin:
    """The active model's uses (a mixin of MainWindow: ``self`` is the window)."""

    # -- active learning order ------------------------------------------------------------------
    def active_order_on(self) -> bool:
        return self.order_combo.currentText() == ACTIVE_ORDER

    def _update_order_choice(self) -> None:
        """The Order choice is offered when the active model has ranked the unlabelled sentences;
        otherwise it is disabled, its tooltip saying why (and File order is shown)."""
        session = self.session
        ok, why = order_state(self.store, session.active_run if session is not None else None,
                              self.active_model_dir() if session is not None else None)
        combo = self.order_combo
        combo.setEnabled(ok)
        combo.setToolTip(why)
        combo.setStatusTip(why)
        if not ok and self.active_order_on():
            combo.setCurrentText(FILE_ORDER)  # (_order_chosen lists the file order again)

    def _order_chosen(self) -> None:
        active = self.active_order_on()
        self.status_filter.setEnabled(not active)
        self.status_filter.setToolTip(
            "The Active learning order lists unlabelled sentences only: choose File order to "
            "filter by status" if active else "")
        self.apply_filters(keep=self.current_id)
        if active and self.model is not None and self.model.rowCount() == 0:
            self.statusBar().showMessage("No unlabelled sentence is left in the active-learning "
                                         "order", 5000)

    def _order_refreshed(self) -> None:
        """A new order (or new suggestions) is stored: the choice, and the list when it shows it."""
        self._update_order_choice()
        if self.active_order_on():
            self._sentences_changed()

    # -- keep the model fresh -------------------------------------------------------------------
    def _update_fresh_action(self) -> None:
        writable = self.session is not None and not self.read_only
        on = writable and self.keep_fresh.enabled()
        for a in (self.fresh_action, self.fresh_every_action):
            a.setEnabled(writable)
        blocked = self.fresh_action.blockSignals(True)
        self.fresh_action.setChecked(on)
        self.fresh_action.blockSignals(blocked)
        n = self.keep_fresh.every() if self.session is not None else 25
        self.fresh_every_action.setText(f"Retrain &every {n} labelled sentences…")
        tip = (f"Start a training run in the background after every {n} newly labelled "
               "sentences; its model becomes the active one when it finishes")
        self.fresh_action.setToolTip(tip)
        self.fresh_action.setStatusTip(tip)

    # -- training and pre-annotation ------------------------------------------------------------
    def training_running(self) -> str | None:
        """What is training now (the Train view's run, curve or evaluation, or a background
        run), or None."""
        view = self._train_view
        if view is not None and view.busy():
            return "The Train view is busy"
        if self.keep_fresh.worker is not None:
            return "A background run (Keep the model fresh) is training"
        from ..core.slot import busy  # another process (a terminal's train or review)

        reason = busy(self.session.path) if self.session is not None else None
        return reason and reason[0].upper() + reason[1:]  # a sentence, as the others above

    def show_training(self) -> None:
        """Model > Train: the Train tab, or what to do first when no project is open."""
        if self.session is None:
            inform(self, "Train", "No project is open. Training uses a project's labelled "
                   "sentences: open a project, create one, or try the demo first.")
            return
        self.tabs.setCurrentWidget(self.train_view)

    def preannotate(self) -> Worker | None:
        """Model > Pre-annotate: the active model's suggestions for the unlabelled sentences
        (``usecases.suggest``, as ``nerstudio preannotate``)."""
        if self.session is None or self.read_only:
            return None
        if self.active_model_dir() is None:
            inform(self, "Pre-annotate", "No active model yet: train one in the Train tab (or "
                   "make a finished run active).")
            return None
        progress = QProgressDialog("Pre-annotating…", "Cancel", 0, 100, self)
        progress.setWindowModality(Qt.WindowModal)
        progress.setMinimumDuration(300)

        def run(project, run_id, *, progress, should_stop, emit):
            from ..core.usecases import suggest
            from .playground import import_ml

            import_ml()  # one thread at a time imports torch (a concurrent import half-fails)
            return suggest(project, str(run_id), on_progress=progress, should_stop=should_stop)

        session = self.session
        worker = Worker(run, str(self.store.path), session.active_run)
        worker.progressed.connect(lambda d, t: (progress.setMaximum(max(t, 1)), progress.setValue(d)))
        progress.canceled.connect(worker.cancel)

        def finished(done):
            from ..core.preannotate import skipped_text

            progress.close()
            if self.session is session:
                session.notify_sentences_changed()
                self._order_refreshed()  # pre-annotation ranks the sentences as well
            line = f"Suggestions for {plural(done.sentences, 'sentence')}"
            if done.skipped:  # the model knows labels this project lacks: say so, not silently
                line += f"; {skipped_text(done.skipped)}"
            self.statusBar().showMessage(line, 15000 if done.skipped else 5000)

        worker.finished.connect(finished)
        worker.failed.connect(lambda r: (progress.close(), warn(self, "Pre-annotate", r)))
        return self._start(worker)
