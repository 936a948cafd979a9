"""Who is who in a distributed run, and what its launcher and its ranks agree on.

The rank side (``distributed.py``), the ``--processes`` launcher (``launcher.py``) and the GUI's
stream of a launch (``stream.py``) all need these few facts: a process's place in the run, each
rank's share of the global batch, the environment variables the launcher hands its ranks, and
the rule that a child dies with its parent. They live here, below all three, so that none of them
imports another only for these (``distributed`` re-exports the other two: they must not import
it). Nothing here imports torch.
"""
from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass

STOP_ENV = "NERSTUDIO_STOP_FILE"         # a stop request (cancel) when this file exists
CONSOLE_ENV = "NERSTUDIO_CONSOLE_DIR"    # --processes: each rank's stdout / stderr go here
SCRATCH_PREFIX = "nerstudio-ranks-"    # --processes: the ranks' consoles, in the temp folder
SCRATCH_OWNER = "launcher.json"        # the launcher that owns such a folder (pid, start)


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


def die_with_parent() -> None:
    """Linux: this rank gets SIGTERM when its launcher dies, even by SIGKILL (no orphans)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
