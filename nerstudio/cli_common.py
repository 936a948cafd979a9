"""What every ``nerstudio`` command shares: the one error line, a closed pipe, Ctrl+C, the
project opener that honours ``--wait``, and the training options.

Why a module of its own: the commands live in several modules (cli.py, cli_train.py,
cli_eval.py, cli_review.py, cli_predict.py); each once reached back into cli.py for ``_fail`` (an
import cycle) or kept its own copy of the Ctrl+C handler (three copies)."""
from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


WAIT = {"seconds": 30.0}  # --wait: how long a write waits for another process's lock


def open_project(path: str):
    """The project's store, its writes waiting up to ``--wait`` seconds (cli.main sets WAIT)."""
    from .core.store import ProjectStore

    return ProjectStore(path, busy_timeout=WAIT["seconds"])


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def fail(message: str, code: int = 1) -> int:
    """The one line a failed command prints (never a traceback)."""
    print(f"nerstudio: error: {' '.join(message.split())}", file=sys.stderr)
    return code


def broken_pipe() -> int:
    """``nerstudio stats --json | head``: the reader left. Quiet, and no second error when Python
    flushes stdout at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


class StopRequest:
    """Ctrl+C once: ``asked`` turns True (the work stops at its next step, cooperatively);
    twice: KeyboardInterrupt (abort). Call the object to read ``asked`` (a ``should_stop``)."""

    def __init__(self, say: Callable[[str], None], message: str):
        self.asked = False
        self._say, self._message = say, message

    def __call__(self) -> bool:
        return self.asked

    def on_sigint(self, _signum, _frame) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
        self._say(f"{self._message} (Ctrl+C again to abort)...")


@contextmanager
def ctrl_c_stops(message: str = "stopping after the current step",
                 say: Callable[[str], None] | None = None) -> Iterator[StopRequest]:
    """``with ctrl_c_stops() as stop: work(should_stop=stop)``: the first Ctrl+C asks the work
    to stop, the second aborts; the previous handler is back afterwards. Off the main thread
    (tests) signals cannot be caught: the work then just never sees a stop."""
    stop = StopRequest(say or (lambda line: print(line, file=sys.stderr, flush=True)), message)
    try:
        previous = signal.signal(signal.SIGINT, stop.on_sigint)
    except ValueError:  # not the main thread
        previous = None
    try:
        yield stop
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def add_config_options(parser, everywhere_only: bool = False,
                       title: str = "hyperparameters (defaults shown; 'auto' = by data size)"):
    """One option per TrainConfig field, from its metadata (help, kind, choices, flags): the
    same text and limits the Train view shows. "auto" fields default to None (auto).
    ``everywhere_only``: the fields marked ``everywhere`` (the commands that train models of
    their own: train-curve, review), with the same defaults as ``train``."""
    import argparse
    from dataclasses import MISSING, fields

    from .core.training.config import TrainConfig

    group = parser.add_argument_group(title)
    for f in fields(TrainConfig):
        m = f.metadata
        if not m.get("cli", False) or (everywhere_only and not m.get("everywhere")):
            continue
        flags = m["flags"] or ("--" + f.name.replace("_", "-"),)
        default = f.default if f.default is not MISSING else None
        shown = "auto" if default is None else default
        text = (m["help"] + f" (default: {shown})").replace("%", "%%")
        if m["kind"] is bool:
            group.add_argument(*flags, dest=f.name, action=argparse.BooleanOptionalAction,
                               default=default, help=text)
            continue
        group.add_argument(*flags, dest=f.name, type=m["kind"], default=default,
                           choices=m["choices"], help=text,
                           metavar=None if m["choices"] else f.name.upper())


def config_from_args(a):
    """The TrainConfig of a command's options (the fields it has; the rest keep their
    defaults, and "auto" fields left unset stay auto)."""
    from dataclasses import fields

    from .core.training.config import TrainConfig

    return TrainConfig(**{f.name: getattr(a, f.name) for f in fields(TrainConfig)
                          if hasattr(a, f.name)})
