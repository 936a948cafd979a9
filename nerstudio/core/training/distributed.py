"""Training on several processes, GPUs or machines with PyTorch's own DDP (issue #16).

nerstudio adds no process pool and no gradient all-reduce of its own: the ranks are started by
``torch.distributed.run`` (``torchrun``), the Hugging Face Trainer wraps the model in
``DistributedDataParallel`` through Accelerate, and the gradients are averaged by PyTorch (NCCL
on GPUs, gloo on CPUs). What this module adds is the project side of a run:

* who is who: :func:`world` reads torchrun's ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` /
  ``LOCAL_WORLD_SIZE`` (set by ``torchrun`` or ``accelerate launch`` on one or several machines);
* one writer: rank 0 alone opens the project file, creates (or claims) the run row, exports the
  frozen data snapshot and the resolved config into the run folder and records metrics, the final
  model and checkpoints. It then tells the other ranks the run folder (:func:`share`, a broadcast
  over the process group); they read the snapshot from there and never open the project;
* the global batch: ``batch_size`` (and the size-aware defaults and the learning rate with it) is
  the batch of one optimizer step over all ranks; each rank gets ``batch_size / world size``
  (:func:`per_device_batch`), and the run's config says so (:func:`describe`);
* agreement: a cancel or a timed checkpoint is decided on one rank and must happen on all at the
  same step, so those flags are combined with one small ``all_reduce`` per step (:func:`agree`);
* ``nerstudio train PROJECT --processes N`` on one machine: :func:`run_local` starts
  ``python -m torch.distributed.run --nproc-per-node N ... -m nerstudio train PROJECT ...`` in its
  own session, shows rank 0's console, turns Ctrl+C (or the GUI's Cancel, a SIGINT) into a stop
  request all ranks agree on, and a second one (or SIGTERM) into stopping every rank. When a rank
  dies, torchrun stops the others (seconds); a rank waiting on a dead machine gives up after
  :data:`DDP_TIMEOUT_S`. Either way the run ends failed or interrupted and resumes from its last
  complete checkpoint with the same command plus ``--resume RUN``.

Nothing here imports torch at module level (the CLI starts without it).
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
from dataclasses import dataclass
from pathlib import Path

DDP_TIMEOUT_S = 300          # a collective waiting this long on a silent (dead) machine fails
SNAPSHOT_WAIT_S = 120        # a rank waits this long for the snapshot on a shared file system
CANCEL_GRACE_S = 120         # a GUI cancel not answered within this: every rank is stopped
STOP_ENV = "NERSTUDIO_STOP_FILE"         # a stop request (cancel) when this file exists
CONSOLE_ENV = "NERSTUDIO_CONSOLE_DIR"    # --processes: each rank's stdout / stderr go here
SCRATCH_PREFIX = "nerstudio-ranks-"    # --processes: the ranks' consoles, in the temp folder
SCRATCH_OWNER = "launcher.json"        # the launcher that owns such a folder (pid, start)
CPU_SPEED_UPS_OFF = "off: sparse embeddings are a single-process CPU speed-up"
LR_RULE = ("batch_size is the global batch (all processes together); the learning rate and "
           "the size-aware defaults are those of that global batch, not scaled by the number "
           "of processes")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def world() -> World:
    """This process's place in a torchrun / accelerate launch (one process: rank 0 of 1)."""
    def env(name, default):
        try:
            return int(os.environ.get(name, default))
        except ValueError:
            return default

    size = env("WORLD_SIZE", 1)
    return World(env("RANK", 0), size, env("LOCAL_RANK", 0), env("LOCAL_WORLD_SIZE", size))


def per_device_batch(batch_size: int, size: int) -> int:
    """Each process's share of the global batch; refused when it does not divide evenly."""
    if size > 1 and batch_size % size:
        lower, upper = (batch_size // size) * size, (batch_size // size + 1) * size
        hint = f"{lower} or {upper}" if lower else f"{upper}"
        raise ValueError(f"batch size {batch_size} is the global batch of all {size} processes "
                         f"and must be a multiple of {size} (e.g. {hint})")
    return max(1, batch_size // size)


def describe(config, w: World, backend: str) -> dict:
    """What the run's config records about its processes (stored with the run)."""
    return {"processes": w.size, "machines": max(1, w.size // max(1, w.local_size)),
            "backend": backend, "global_batch_size": config.batch_size,
            "per_device_batch_size": config.batch_size // w.size,
            "effective_batch_size": config.batch_size * config.gradient_accumulation,
            "learning_rate_rule": LR_RULE, "cpu_speed_ups": CPU_SPEED_UPS_OFF}


# -- the process group -------------------------------------------------------------------------
def init_group() -> None:
    """Join torchrun's process group (gloo on CPUs, NCCL for GPU tensors with gloo beside it for
    small host-side messages), with a bounded timeout. Accelerate and the Trainer reuse it."""
    import datetime

    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    _die_with_parent()
    backend = "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(world().local_rank)
        backend = "cpu:gloo,cuda:nccl"
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=DDP_TIMEOUT_S))


def close_group() -> None:
    try:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
    except Exception:  # noqa: BLE001 - a peer already gone: nothing left to close
        pass


def share(payload: dict | None) -> dict:
    """Rank 0's ``payload`` on every rank (a broadcast over the process group)."""
    import torch.distributed as dist

    box = [payload]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def agree(flags: list[bool], device) -> list[bool]:
    """Each flag true on every rank when it is true on any (one all_reduce, MAX)."""
    import torch
    import torch.distributed as dist

    t = torch.tensor([int(bool(f)) for f in flags], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def barrier() -> None:
    import torch.distributed as dist

    dist.barrier()


def wait_for(path: Path, timeout: float = SNAPSHOT_WAIT_S) -> None:
    """A file rank 0 wrote, seen through a shared file system (which may show it late)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise FileNotFoundError(
                f"{path}: not found after {timeout:.0f} s; the run folder must be on a file "
                "system every machine sees at the same path")
        time.sleep(0.5)


def stop_requested() -> bool:
    """The launcher's (or the GUI's) stop request: its stop file exists."""
    path = os.environ.get(STOP_ENV)
    return bool(path) and os.path.exists(path)


def _die_with_parent() -> None:
    """Linux: this rank gets SIGTERM when its launcher dies, even by SIGKILL (no orphans)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def terminate_on_sigterm() -> None:
    """A rank told to stop by the launcher (another rank died) unwinds as an interrupt, so rank 0
    marks its run instead of vanishing mid-write."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"stopped by signal {signum} (another process of the run ended)")

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        pass


def redirect_console() -> None:
    """Under ``--processes``: this rank's stdout / stderr go to files the launcher shows (rank 0)
    or keeps (the others, for a failure report); torchrun's own log goes elsewhere."""
    folder = os.environ.get(CONSOLE_ENV)
    if not folder:
        return
    rank = world().rank
    for fd, name in ((1, "out"), (2, "err")):
        target = os.open(os.path.join(folder, f"rank-{rank}.{name}"),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        sys.stdout.flush() if fd == 1 else sys.stderr.flush()
        os.dup2(target, fd)
        os.close(target)


def report_exit(code: int) -> None:
    """Rank 0 tells the launcher how the run ended (its exit code)."""
    folder = os.environ.get(CONSOLE_ENV)
    if folder and world().main:
        Path(folder, "rank-0.exit").write_text(str(code))


# -- nerstudio train PROJECT --processes N ---------------------------------------------------------
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
    return _child_env(env)


def _child_env(env: dict) -> dict:
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
    stop_file = str(scratch / "stop")
    cmd = launcher_command(processes, train_argv(project, config, resume_run, events, extra))
    log = open(scratch / "launcher.log", "wb")
    proc = subprocess.Popen(cmd, env=launcher_env(processes, stop_file, str(scratch)),
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=_die_with_parent)
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
        log.close()
    code = _rank0_exit(scratch)
    if code is None:  # rank 0 ended without reporting: killed, or the launch itself failed
        code = 1
        stale = _best_effort(reconcile)
        print(f"nerstudio: error: training failed: {_launch_failure(scratch, proc.returncode)}"
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
        line = _error_line(err.read_text(errors="replace"))
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


def event_from_dict(d: dict):
    """A typed event back from its ``--events jsonl`` line (the GUI's side of the stream)."""
    from . import events as ev

    kinds = {"started": ev.Started, "step": ev.Step, "evaluation": ev.Evaluation,
             "checkpointsaved": ev.CheckpointSaved, "finished": ev.Finished,
             "failed": ev.Failed, "cancelled": ev.Cancelled}
    d = dict(d)
    cls = kinds.get(d.pop("event", None))
    if cls is None:
        return None
    from dataclasses import fields

    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def events_line(event, run_id: int | None = None) -> str:
    from .events import event_dict

    return json.dumps({"run": run_id, **event_dict(event)})


# -- the GUI's "use all N GPUs": the same CLI launcher in a subprocess, events over JSON lines -----
def stream_processes(project: str, config, processes: int, resume_run: int | None, emit,
                     should_stop, python: str | None = None) -> tuple[int | None, object]:
    """Run ``nerstudio train PROJECT --processes N --events jsonl`` (the launcher above) as a
    subprocess, hand each of rank 0's events to ``emit`` as the typed event a local run emits,
    and turn ``should_stop()`` into the launcher's Ctrl+C (a stop request every rank agrees on,
    with a checkpoint). Returns ``(run id, final event)``, as ``train_project`` does: the run id
    from the final JSON line, else the run this launch created (found in the project)."""
    import queue
    import threading

    from . import events as ev

    from ..errors import NerStudioError

    if config.batch_size is not None:
        try:
            per_device_batch(config.batch_size, processes)  # refused before anything starts
        except ValueError as exc:
            raise NerStudioError(str(exc)) from exc
    before = _last_run_id(project)
    cmd = [python or sys.executable, "-m", "nerstudio",
           *train_argv(project, config, resume_run, events=True,
                       extra=("--processes", str(processes)))]
    env = _child_env(dict(os.environ))
    err = tempfile.TemporaryFile()
    # no preexec_fn here (the GUI has threads): the launcher stops its ranks when its parent,
    # this process, is gone (run_local watches os.getppid())
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=err, start_new_session=True)
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    run_id, final, asked_at = None, None, None
    try:
        while True:
            if should_stop():
                if asked_at is None:  # Ctrl+C: every rank stops at the next step, checkpointed
                    asked_at = time.monotonic()
                    proc.send_signal(signal.SIGINT)
                elif time.monotonic() - asked_at > CANCEL_GRACE_S and proc.poll() is None:
                    asked_at = float("inf")  # a rank that does not answer: stop them all now
                    proc.send_signal(signal.SIGTERM)
            try:
                raw = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if raw is None:
                break
            try:
                d = json.loads(raw)
            except ValueError:
                continue  # not an event line
            event = event_from_dict(d) if isinstance(d, dict) else None
            if event is None:
                continue
            if "run" in d:  # the final line: {"run": id, "event": ...}
                run_id, final = d["run"], event
            else:
                emit(event)
        code = proc.wait()
        err.seek(0)
        reason = _error_line(err.read().decode("utf-8", "replace"))
    finally:
        if proc.poll() is None:  # an error here: the ranks must not train on unwatched
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        err.close()
        proc.stdout.close()
    if run_id is None:
        run_id = _last_run_id(project)
        run_id = run_id if run_id != before else None
    if final is None:
        if asked_at is not None:  # cancelled before the run could report (or even start)
            final = ev.Cancelled(step=0, checkpoint=None, best_metrics={})
        else:
            final = ev.Failed(reason or f"the training processes stopped (exit code {code})")
    return run_id, final


def _last_run_id(project: str) -> int | None:
    from ..store import ProjectStore

    with ProjectStore(project, read_only=True) as store:
        runs = store.runs()
    return runs[-1]["id"] if runs else None


def _error_line(stderr: str) -> str | None:
    """The reason of the last ``nerstudio: error: ...`` line of a console, or None."""
    lines = [ln.split("error: ", 1)[1] for ln in stderr.splitlines()
             if ln.startswith("nerstudio: error:")]
    return lines[-1] if lines else None
