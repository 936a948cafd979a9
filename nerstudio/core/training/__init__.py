"""Training engine (Qt-free). torch / transformers load only when a run starts."""
from .config import EMBEDDED_MODEL, TrainConfig
from .data import Example, TrainingData
from .checkpoints import last_checkpoint
from .engine import train
from .events import (Cancelled, CheckpointSaved, Evaluation, Failed, Finished, Started, Step,
                     event_dict)

__all__ = ["EMBEDDED_MODEL", "TrainConfig", "Example", "TrainingData", "train", "last_checkpoint",
           "Cancelled", "CheckpointSaved", "Evaluation", "Failed", "Finished", "Started", "Step",
           "event_dict"]
