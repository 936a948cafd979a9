"""What the Train view runs on worker threads: a run (here or on every GPU), a past run's test
scores, the train curve, and the warm-up that imports torch and names the device.

These are plain functions with the :class:`Worker` signature (``progress``, ``should_stop``,
``emit``), kept apart from the widgets so that nothing here touches Qt: each one calls the same
use case the command line calls. The GUI thread never imports torch; these functions do, on
their worker thread.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..core import usecases
from ..core.curve import DEFAULT_FRACTIONS
from ..core.evaluation import evaluate_run
from .playground import import_ml


def _gui_threads() -> int:
    return max(1, (os.cpu_count() or 1) - 1)  # one core kept for the app


def run_training(project, config, resume_run=None, *, progress, should_stop, emit):
    """Worker function: the train use case (the project's training slot, the run, its test
    scores, the publish decision: ``usecases.train``, as ``nerstudio train`` runs it)."""
    import_ml(training=True)
    return usecases.train(project, config, emit, should_stop, resume_run,
                          threads=_gui_threads())


def run_training_processes(project, config, processes, resume_run=None, *, progress,
                           should_stop, emit):
    """Worker function for "Use all N GPUs": ``nerstudio train --processes N`` in a subprocess
    (PyTorch DDP through torchrun, as on the command line); rank 0's events arrive as JSON lines
    and are emitted as the same typed events a local run emits, Cancel stops every rank. The
    launched command takes the training slot itself."""
    from ..core.training.distributed import stream_processes

    def launch(project, config, emit, should_stop):
        return stream_processes(project, config, processes, resume_run, emit, should_stop)

    return usecases.train(project, config, emit, should_stop, resume_run, slot=False,
                          run=launch, threads=_gui_threads())


def gpu_count() -> int:
    """CUDA devices this machine has (0 without CUDA); called on the warm-up worker."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def run_evaluation(project, run_id, split="test", *, progress, should_stop, emit):
    """Worker function: score a past run on a split (stored with the run)."""
    import_ml(training=True)
    return run_id, evaluate_run(project, run_id, split, progress, should_stop,
                                threads=_gui_threads())


def run_curve(project, config, fractions=DEFAULT_FRACTIONS, *, progress, should_stop, emit):
    """Worker function: the train curve in the training slot (nothing recorded in the project)."""
    import_ml(training=True)
    return usecases.train_curve(project, fractions, config, emit, should_stop)


def describe_model(name: str) -> str:
    """Parameters and cased/uncased for a local model folder (or the embedded one)."""
    from ..core.training.engine import resolve_base_model

    try:
        path = Path(resolve_base_model(name))
    except Exception:  # noqa: BLE001
        return "embedded model package missing"
    cfg_file = path / "config.json"
    if not cfg_file.exists():
        return "hub model: details once downloaded" if "/" in name or not path.exists() else \
            "no config.json in this folder"
    cfg = json.loads(cfg_file.read_text())
    h, n, v = cfg.get("hidden_size", 0), cfg.get("num_hidden_layers", 0), cfg.get("vocab_size", 0)
    params = (12 * h * h * n + v * h) / 1e6
    tok = {}
    tok_file = path / "tokenizer_config.json"
    if tok_file.exists():
        tok = json.loads(tok_file.read_text())
    cased = "uncased" if tok.get("do_lower_case", "uncased" in str(cfg.get("_name_or_path", ""))) \
        else "cased"
    size = f"~{params:.0f}M" if params >= 1 else "<1M"
    return f"{cfg.get('model_type', '?')}, {n} layers, {size} parameters, {cased}"


def warm_up(**_kw) -> tuple[str, int]:
    """Import what a run needs (C extensions hold the GIL while they load), name the device
    and count the GPUs."""
    import_ml(training=True)
    return describe_device(), gpu_count()


def describe_device() -> str:
    """The device a run trains on, as the Device row (and Help ▸ About) shows it."""
    import torch

    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        return f"GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "GPU: Apple MPS"
    n = os.cpu_count() or 1
    return f"CPU: {n} cores ({max(1, n - 1)} used for training, one kept for the app)"
