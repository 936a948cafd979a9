"""Training on several processes, GPUs or machines with PyTorch's own DDP (issue #16): the ranks.

nerstudio adds no process pool and no gradient all-reduce of its own: the ranks are started by
``torch.distributed.run`` (``torchrun``), the Hugging Face Trainer wraps the model in
``DistributedDataParallel`` through Accelerate, and the gradients are averaged by PyTorch (NCCL
on GPUs, gloo on CPUs). What this module adds is the project side of a run, inside each rank:

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
  same step, so those flags are combined with one small ``all_reduce`` per step (:func:`agree`).

The rest of a distributed run lives beside this: ``world.py`` (who is who, the global batch, the
launcher's environment variables), ``launcher.py`` (``nerstudio train PROJECT --processes N`` on
one machine: :func:`run_local` starts torchrun in its own session, shows rank 0's console, turns
Ctrl+C into a stop request all ranks agree on and a second one, or SIGTERM, into stopping every
rank) and ``stream.py`` (the GUI's "Use all N GPUs"). When a rank dies, torchrun stops the others
(seconds); a rank waiting on a dead machine gives up after :data:`DDP_TIMEOUT_S`. Either way the
run ends failed or interrupted and resumes from its last complete checkpoint with the same
command plus ``--resume RUN``. Their names are re-exported here, where callers found them.

Nothing here imports torch at module level (the CLI starts without it).
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from .launcher import (clean_stale_scratch, free_port, launcher_command,  # noqa: F401
                       launcher_env, run_local, train_argv)
from .stream import (CANCEL_GRACE_S, event_from_dict, events_line,  # noqa: F401
                     last_run_id, stream_processes)
from .world import (CONSOLE_ENV, SCRATCH_OWNER, SCRATCH_PREFIX, STOP_ENV,  # noqa: F401
                    World, die_with_parent, per_device_batch, world)

DDP_TIMEOUT_S = 300          # a collective waiting this long on a silent (dead) machine fails
SNAPSHOT_WAIT_S = 120        # a rank waits this long for the snapshot on a shared file system
CPU_SPEED_UPS_OFF = "off: sparse embeddings are a single-process CPU speed-up"
LR_RULE = ("batch_size is the global batch (all processes together); the learning rate and "
           "the size-aware defaults are those of that global batch, not scaled by the number "
           "of processes")


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
    die_with_parent()
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
    """Rank 0 tells the launcher how the run ended (its exit code). From here on the rank is
    only exiting: a SIGTERM (the launcher stopping the others) ends it at once, without the
    interrupt :func:`terminate_on_sigterm` raises, which would land in some library's exit
    hook (torch's compile-time report) and print its traceback."""
    folder = os.environ.get(CONSOLE_ENV)
    if folder and world().main:
        Path(folder, "rank-0.exit").write_text(str(code))
    try:
        signal.signal(signal.SIGTERM, _exit_quietly)
    except ValueError:  # not the main thread
        pass


def _exit_quietly(signum, frame) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(128 + signum)


