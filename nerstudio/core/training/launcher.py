"""``nerstudio train PROJECT --processes N``: the launcher process of a run on one machine.

It starts ``python -m torch.distributed.run --nproc-per-node N ... -m nerstudio train PROJECT``
in its own session, shows rank 0's console, turns Ctrl+C (or the GUI's Cancel, a SIGINT) into a
stop request every rank agrees on, and a second one (or SIGTERM) into stopping every rank. When
rank 0 dies without reporting, it prints the one error line (with the resume command).

Apart from the ranks (``distributed.py``, which runs inside each of them) because none of this
runs in a rank; the launcher never imports torch.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .world import (CONSOLE_ENV, SCRATCH_OWNER, SCRATCH_PREFIX, STOP_ENV, die_with_parent,
                    per_device_batch)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_argv(project: str | None, config, resume_run: int | None = None,
               events: bool = False, extra: tuple[str, ...] = ()) -> list[str]:
    """``nerstudio train`` arguments that give a rank this config (the CLI's own flags). The
    project comes last, after ``--``, so a file named ``-x.nerproj`` (which the user typed after
    ``--``) reaches the ranks as a file, not as an option."""
    from dataclasses import MISSING, fields

    from .config import TrainConfig

    argv = ["train"]
    for f in fields(TrainConfig):
        m = f.metadata
        if not m.get("cli", False):
            continue
        value = getattr(config, f.name)
        default = f.default if f.default is not MISSING else None
        if value is None or value == default:
            continue
        flag = (m["flags"] or ("--" + f.name.replace("_", "-"),))[-1]
        if m["kind"] is bool:
            argv.append(flag if value else "--no-" + flag[2:])
        else:
            argv += [flag, repr(value) if isinstance(value, float) else str(value)]
    if resume_run is not None:
        argv += ["--resume", str(resume_run)]
    if events:
        argv += ["--events", "jsonl"]
    return [*argv, *extra, *(["--", str(project)] if project else [])]


def launcher_command(processes: int, rank_argv: list[str], port: int | None = None) -> list[str]:
    """``torch.distributed.run`` starting ``processes`` local ranks of ``nerstudio <rank_argv>``."""
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
            "--nproc-per-node", str(processes), "--master-addr", "127.0.0.1",
            "--master-port", str(port or free_port()), "--max-restarts", "0",
            "--monitor-interval", "0.5", "-m", "nerstudio", *rank_argv]


def launcher_env(processes: int, stop_file: str, console: str) -> dict:
    env = dict(os.environ)
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
    env[STOP_ENV], env[CONSOLE_ENV] = stop_file, console
    return child_env(env)


def child_env(env: dict) -> dict:
    """``env`` for a ``python -m nerstudio`` child: unbuffered, and this nerstudio first on the
    path (also when it runs from a source tree)."""
    root = str(Path(__file__).resolve().parents[3])
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


class _Tail:
    """Copies what a file gains to a stream (rank 0's console to the launcher's)."""

    def __init__(self, path: Path, stream):
        self.path, self.stream, self.pos = path, stream, 0

    def pump(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                chunk = f.read()
        except OSError:
            return
        if chunk:
            self.pos += len(chunk)
            out = getattr(self.stream, "buffer", None)
            try:
                if out is not None:
                    self.stream.flush()
                    out.write(chunk)
                    out.flush()
                else:
                    self.stream.write(chunk.decode("utf-8", "replace"))
                    self.stream.flush()
            except (BrokenPipeError, ValueError):
                pass


def run_local(project: str, config, processes: int, resume_run: int | None = None,
              events: bool = False, extra: tuple[str, ...] = (),
              reconcile: Callable[[], list[int]] = list) -> int:
    """``nerstudio train PROJECT --processes N``: N ranks on this machine through torchrun.
    Returns the exit code of rank 0's ``nerstudio train`` (0 finished, 3 cancelled, 1 failed).
    Ctrl+C / SIGINT: cancel at the next step (all ranks, with a checkpoint); again, or SIGTERM:
    stop every rank now (the run is marked interrupted and can be resumed). ``reconcile`` runs
    once every rank is gone (the caller's :func:`..runs.reconcile` on the project, passed in so
    this module does not import the runs module that imports it); it returns the runs it marked
    interrupted."""
    if config.batch_size is not None:
        per_device_batch(config.batch_size, processes)  # refused before anything starts
    clean_stale_scratch()
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    (scratch / SCRATCH_OWNER).write_text(json.dumps(_me()))
    stop_file = os.environ.get(STOP_ENV) or str(scratch / "stop")  # the GUI's, when it set one
    cmd = launcher_command(processes, train_argv(project, config, resume_run, events, extra))
    log = open(scratch / "launcher.log", "wb")
    try:
        proc = subprocess.Popen(cmd, env=launcher_env(processes, stop_file, str(scratch)),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=die_with_parent)
        _watch(proc, scratch, stop_file)
    finally:
        log.close()
    return _ended(project, processes, scratch, proc.returncode, reconcile)


def _watch(proc: subprocess.Popen, scratch: Path, stop_file: str) -> None:
    """Show rank 0's console until torchrun ends. The first Ctrl+C (SIGINT) writes the stop
    file the ranks poll; a second one, a SIGTERM, or this launcher's parent going away stops
    every rank now. The previous signal handlers are back on return."""
    asked = {"n": 0}

    def on_signal(signum, frame):
        asked["n"] += 1 if signum == signal.SIGINT else 2
        if asked["n"] == 1:
            Path(stop_file).touch()
            print("cancelling at the next step (Ctrl+C again to abort)...", file=sys.stderr,
                  flush=True)
        else:
            _stop_launcher(proc)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    tails = [_Tail(scratch / "rank-0.out", sys.stdout), _Tail(scratch / "rank-0.err", sys.stderr)]
    parent = os.getppid()
    try:
        while proc.poll() is None:
            for t in tails:
                t.pump()
            if os.getppid() != parent and asked["n"] < 2:  # whoever started us is gone
                asked["n"] = 2
                _stop_launcher(proc)
            time.sleep(0.1)
        for t in tails:
            t.pump()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _ended(project: str, processes: int, scratch: Path, returncode: int | None,
           reconcile: Callable[[], list[int]]) -> int:
    """Rank 0's exit code once every rank is gone. Without one (rank 0 killed, or the launch
    itself failed): 1, and the one error line, with the resume command when a run was left."""
    code = _rank0_exit(scratch)
    if code is None:  # rank 0 ended without reporting: killed, or the launch itself failed
        code = 1
        stale = _best_effort(reconcile)
        print(f"nerstudio: error: training failed: {_launch_failure(scratch, returncode)}"
              + (f"; resume it with: nerstudio train {project} --resume {stale[0]} "
                 f"--processes {processes}" if stale else ""), file=sys.stderr)
    else:
        _best_effort(reconcile)  # a rank 0 killed after reporting leaves nothing behind
    _keep_or_clean(scratch, code)
    return code


def _me() -> dict:
    from ..procs import process_start

    return {"pid": os.getpid(), "start": process_start(os.getpid())}


def clean_stale_scratch(older_than_s: float = 86400) -> list[Path]:
    """Delete the rank-console folders of launchers that are gone (killed, or ended with a
    failure whose logs were kept); a folder without an owner file (an older version's) once it
    is a day old. Returns what was deleted."""
    import shutil

    from ..procs import same_process

    gone = []
    for folder in Path(tempfile.gettempdir()).glob(SCRATCH_PREFIX + "*"):
        try:
            owner = json.loads((folder / SCRATCH_OWNER).read_text())
            alive = same_process(int(owner["pid"]), owner.get("start"))
        except (OSError, ValueError, KeyError, TypeError):
            try:
                alive = time.time() - folder.stat().st_mtime < older_than_s
            except OSError:
                continue
        if not alive and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            gone.append(folder)
    return gone


def _stop_launcher(proc: subprocess.Popen) -> None:
    """SIGTERM to torchrun: it passes it to every rank and kills what is left after a while."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def _rank0_exit(scratch: Path) -> int | None:
    try:
        return int((scratch / "rank-0.exit").read_text())
    except (OSError, ValueError):
        return None


def _launch_failure(scratch: Path, returncode: int | None) -> str:
    """One line on why the ranks ended: the first rank that says so, else the launcher."""
    for err in sorted(scratch.glob("rank-*.err")):
        line = error_line(err.read_text(errors="replace"))
        if line:
            return f"{err.stem}: {line}"
    return (f"a training process stopped (launcher exit code {returncode}); the ranks' logs "
            f"are in {scratch}")


def _best_effort(reconcile: Callable[[], list[int]]) -> list[int]:
    """After every rank is gone: a run left 'running' (rank 0 killed) becomes 'interrupted'."""
    try:
        return reconcile()
    except Exception:  # noqa: BLE001 - best effort; `nerstudio runs` does it too
        return []


def _keep_or_clean(scratch: Path, code: int) -> None:
    import shutil

    if code in (0, 3):
        shutil.rmtree(scratch, ignore_errors=True)


def error_line(stderr: str) -> str | None:
    """The reason of the last ``nerstudio: error: ...`` line of a console, or None."""
    lines = [ln.split("error: ", 1)[1] for ln in stderr.splitlines()
             if ln.startswith("nerstudio: error:")]
    return lines[-1] if lines else None
