"""Background work off the GUI thread, with typed signals and cooperative cancel.

A :class:`Worker` lives on the GUI thread and runs one function on its own QThread. The function
receives ``progress(done, total)``, ``should_stop()`` and ``emit(event)``. Whatever it reports is
relayed through the Worker's private signals (queued across threads), so every public signal
(progressed / event / finished / failed) reaches its receivers on the GUI thread, as with Anki's
background operations."""
from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal

from ..core.errors import NerStudioError


class _Runner(QThread):
    def __init__(self, worker: "Worker"):
        super().__init__()
        self.worker = worker

    def run(self) -> None:
        w = self.worker
        try:
            result = w._fn(*w._args, progress=w._progress.emit, should_stop=w._stop.is_set,
                           emit=w._event.emit, **w._kwargs)
        except NerStudioError as exc:
            w._failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user, not swallowed silently
            traceback.print_exc()
            w._failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            w._finished.emit(result)


class Worker(QObject):
    progressed = Signal(int, int)      # done, total
    event = Signal(object)             # a typed event (training) for live views
    finished = Signal(object)          # the function's result
    failed = Signal(str)               # a one-line reason for the user

    _progress = Signal(int, int)
    _event = Signal(object)
    _finished = Signal(object)
    _failed = Signal(str)

    def __init__(self, fn: Callable, *args, **kwargs):
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._stop = threading.Event()
        self.thread = _Runner(self)
        # bound methods of a GUI-thread object: Qt queues these calls onto the GUI thread
        self._progress.connect(self._on_progress)
        self._event.connect(self._on_event)
        self._finished.connect(self._on_finished)
        self._failed.connect(self._on_failed)

    def _on_progress(self, done, total):
        self.progressed.emit(done, total)

    def _on_event(self, e):
        self.event.emit(e)

    def _on_finished(self, result):
        self.thread.wait()
        self.finished.emit(result)

    def _on_failed(self, reason):
        self.thread.wait()
        self.failed.emit(reason)

    def start(self) -> "Worker":
        self.thread.start()
        return self

    def cancel(self) -> None:
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def wait(self, ms: int = 30000) -> bool:
        return self.thread.wait(ms)
