"""nerstudio's own progress for long CLI work (import, export, pre-annotate, predict).

On a terminal: a tqdm bar with rate and ETA on stderr. Off a terminal (a pipe, a log file, a CI
job), where tqdm's ``disable=None`` shows nothing: plain lines on stderr, at most one every
``interval`` seconds, and one at the end, e.g. ``importing: 12,000 / 20,744 sentences (58%, about
9 s left)``. Short work stays silent: with a known total below ``quiet_below`` nothing is shown,
and off a terminal the closing line is printed only when the work was long (a line was already
printed, or ``quiet_below`` items were done). A failure (an exception leaving the ``with``) prints
no closing line, so an error stays one line.

The object answers tqdm's calls that the commands use (``update``, ``n``, ``total``, ``reset``,
``set_postfix_str``, ``close``), so ``with progress(None, "sentences", "importing") as bar`` can
stand where a ``tqdm(...)`` stood. Qt-free; imports tqdm only on a terminal.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

INTERVAL_S = 2.0
QUIET_BELOW = 1000


def progress(total: int | None, unit: str = "sentences", desc: str = "", *,
             file: TextIO | None = None, interval: float = INTERVAL_S,
             quiet_below: int = QUIET_BELOW) -> "Progress":
    """A progress display for ``total`` items (None: not known yet) of ``unit``."""
    return Progress(total, unit, desc, file=file, interval=interval, quiet_below=quiet_below)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    def __init__(self, total: int | None, unit: str = "sentences", desc: str = "", *,
                 file: TextIO | None = None, interval: float = INTERVAL_S,
                 quiet_below: int = QUIET_BELOW):
        self.file = file if file is not None else sys.stderr
        self.total = total
        self.unit = unit
        self.desc = desc
        self.interval = interval
        self.quiet_below = quiet_below
        self.n = 0
        self.postfix = ""
        self._start = time.monotonic()
        self._last: float | None = None
        self._printed = False
        self._closed = False
        self._bar = None
        self._terminal = _is_terminal(self.file)

    # -- tqdm's calls ---------------------------------------------------------------------------
    def update(self, k: int = 1) -> None:
        self.n += k
        if self._short():
            return
        if self._terminal:
            self._tqdm().update(self.n - self._bar.n)
            return
        now = time.monotonic()
        if self._last is None:  # the clock starts with the first work done, not with loading
            self._last = now
        elif now - self._last >= self.interval and (self.total is None or self.n < self.total):
            self._last = now
            self._line()

    def set(self, done: int) -> None:
        """Absolute progress: ``done`` items so far."""
        self.update(done - self.n)

    def reset(self, total: int | None = None) -> None:
        self.total = total
        if self._bar is not None:
            self._bar.reset(total=total)
            self._bar.update(self.n)

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s
        if self._bar is not None:
            self._bar.set_postfix_str(s, refresh=refresh)

    def write(self, line: str) -> None:
        """A message that does not tear the bar."""
        if self._bar is not None:
            self._bar.write(line, file=self.file)
        else:
            print(line, file=self.file, flush=True)

    def close(self, failed: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
            return
        if failed or self._terminal or self._short():
            return
        if self._printed or self.n >= self.quiet_below:
            self._line(final=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(failed=exc_type is not None)

    # -- display ------------------------------------------------------------------------------
    def _short(self) -> bool:
        return self.total is not None and self.total < self.quiet_below

    def _tqdm(self):
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit=" " + self.unit, desc=self.desc or None,
                             file=self.file, leave=False, dynamic_ncols=True)
            if self.postfix:
                self._bar.set_postfix_str(self.postfix)
        return self._bar

    def text(self, final: bool = False) -> str:
        done = f"{self.n:,}"
        if self.total is not None:
            done += f" / {self.total:,}"
        line = f"{self.desc}: {done} {self.unit}" if self.desc else f"{done} {self.unit}"
        elapsed = time.monotonic() - self._start
        extra = []
        if self.total:
            extra.append(f"{100 * self.n // self.total}%")
            if not final and 0 < self.n < self.total and elapsed > 0:
                extra.append(f"about {_duration((self.total - self.n) * elapsed / self.n)} left")
        if final:
            extra.append(f"in {_duration(elapsed)}")
        if self.postfix:
            extra.append(self.postfix)
        return line + (f" ({', '.join(extra)})" if extra else "")

    def _line(self, final: bool = False) -> None:
        self._printed = True
        try:
            print(self.text(final), file=self.file, flush=True)
        except (OSError, ValueError):  # stderr closed: progress is not worth failing for
            pass


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
