"""A run folder's ``checkpoint-N`` folders: which are complete, which is the newest, its step.

Read by the engine (a resume), the failure report (which folder a full disk hit), the runs
module and the CLI (the resume hint) without starting a run; so it is plain file inspection,
apart from the engine, and raises nothing of its own.
"""
from __future__ import annotations

import json
from pathlib import Path

COMPLETE_MARKER = "nerstudio-complete"

WEIGHTS = ("model.safetensors", "pytorch_model.bin")  # what a model folder may hold


def checkpoint_folders(out: Path) -> list[Path]:
    """``checkpoint-N`` folders, newest (highest N) first."""
    found = [p for p in Path(out).glob("checkpoint-*")
             if p.is_dir() and p.name.split("-", 1)[1].isdigit()] if Path(out).is_dir() else []
    return sorted(found, key=lambda p: int(p.name.split("-", 1)[1]), reverse=True)


def checkpoint_complete(folder: Path) -> bool:
    """Written to the end: our marker (set after the Trainer's save), or, for a checkpoint from
    before it, a readable trainer state (written last) beside weights, optimizer and scheduler.
    A process killed mid-save leaves a folder that fails this, and resuming from it would fail."""
    if (folder / COMPLETE_MARKER).exists():
        return True
    try:
        json.loads((folder / "trainer_state.json").read_text())["global_step"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return has_weights(folder) and all((folder / f).is_file() and (folder / f).stat().st_size
                           for f in ("optimizer.pt", "scheduler.pt"))


def has_weights(folder: Path) -> bool:
    """Whether ``folder`` holds a model's weights (a run's model, or a checkpoint's)."""
    return any((Path(folder) / w).is_file() for w in WEIGHTS)


def last_checkpoint(out: Path) -> str | None:
    """The newest complete checkpoint of a run folder (half-written ones are passed over)."""
    return next((str(p) for p in checkpoint_folders(Path(out)) if checkpoint_complete(p)), None)


def checkpoint_step(checkpoint: str | Path) -> int:
    """The optimizer step a checkpoint was saved at."""
    try:
        return int(json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return int(Path(checkpoint).name.split("-", 1)[1])


def drop_incomplete_checkpoints(out: Path) -> None:
    """Delete half-written checkpoints newer than the one a resume starts from: the Trainer's
    rotation (newest kept) would otherwise keep them over good ones."""
    import shutil

    good = last_checkpoint(out)
    for p in checkpoint_folders(out):
        if str(p) == good:
            break
        shutil.rmtree(p, ignore_errors=True)


def drop_checkpoints(out: Path, model: Path) -> int:
    """Delete a finished run's ``checkpoint-N`` folders once its ``model`` folder holds weights;
    how many went. Why: each keeps the weights and the optimizer's state (about 270 MB for the
    embedded model) for a resume that a finished background run never needs; Keep the model
    fresh makes a run every 25 sentences, and they filled the disk of a labelling session."""
    import shutil

    if not has_weights(Path(model)):
        return 0
    folders = checkpoint_folders(out)
    for p in folders:
        shutil.rmtree(p, ignore_errors=True)
    return len(folders)
