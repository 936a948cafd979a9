"""Where a resume starts: the run's newest complete checkpoint, and the end of a run that was
killed while saving its final model (restored without training a step past the end).

Apart from the checkpoint listing (``checkpoints.py``, plain file inspection) because this part
acts: it deletes half-written checkpoints, waits for the other ranks and loads weights into the
Trainer. torch, safetensors and transformers are imported only inside the functions.
"""
from __future__ import annotations

import json
from pathlib import Path

from .checkpoints import drop_incomplete_checkpoints, last_checkpoint
from .config import TrainConfig
from .failures import TrainingFailed


def resume_checkpoint(out: Path, w=None) -> str:
    """The checkpoint a resume starts from; half-written newer ones are deleted (by rank 0 alone,
    the other ranks wait for it)."""
    checkpoint = last_checkpoint(out)
    if checkpoint is None:
        raise TrainingFailed(f"{out}: no complete checkpoint to resume from (stopped before the "
                             "first one was saved); start a new run")
    if w is None or w.main:
        drop_incomplete_checkpoints(out)
    if w is not None and w.size > 1:
        from .distributed import barrier

        barrier()
    return checkpoint


def at_end(checkpoint: str | None) -> bool:
    """Whether a resume starts from the run's last step (killed while saving the final model):
    the Trainer would train one step past the end (31 of 30)."""
    if checkpoint is None:
        return False
    try:
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
        return 0 < int(state["max_steps"]) <= int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def restore_end(trainer, checkpoint: str, config: TrainConfig):
    """The end of training without another step: the checkpoint's state, and the weights the
    run ends with (its best checkpoint when the best is kept, else the last)."""
    from safetensors.torch import load_file
    from transformers import TrainerState
    from transformers.trainer_utils import TrainOutput

    trainer.state = TrainerState.load_from_json(str(Path(checkpoint) / "trainer_state.json"))
    best = trainer.state.best_model_checkpoint  # where it was saved: the run may have moved
    best = Path(checkpoint).parent / Path(best).name if best else None
    source = best if config.keep_best and best and best.is_dir() else Path(checkpoint)
    weights = load_file(str(source / "model.safetensors"))
    trainer.model.load_state_dict(weights, strict=False)
    return TrainOutput(trainer.state.global_step, 0.0, {})
