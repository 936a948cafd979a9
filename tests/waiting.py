"""Waiting on a condition in tests that drive other processes: a loud failure, never a silent
carry-on, when it does not come. The timeout is a guard for a hung run, not a timing: CI
machines are loaded (load average 9 on 2 cores seen), so it is generous."""
from __future__ import annotations

import subprocess
import time

import pytest


def wait_for(condition, what: str, *, proc: subprocess.Popen | None = None,
             timeout: float = 600.0, interval: float = 0.2):
    """Poll ``condition()`` until it is true, and return what it returned. Fails the test, saying
    ``what`` it waited for, when ``proc`` (the process that should bring it about) ended first or
    ``timeout`` s passed."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended (exit {proc.returncode}) before {what}"
                        f"{_output(proc)}")
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what}")
        time.sleep(interval)
    return value


def _output(proc: subprocess.Popen) -> str:
    """What an ended process printed on the pipes it was given (the end of it), for the failure."""
    try:
        out, err = proc.communicate(timeout=10)
    except (ValueError, OSError, subprocess.TimeoutExpired):  # pipes already read or closed
        return ""
    text = "".join(part if isinstance(part, str) else part.decode(errors="replace")
                   for part in (out, err) if part)
    return f":\n{text[-3000:]}" if text else ""
