"""Typed events a training run emits (the GUI charts them, the CLI prints them, the store keeps
them). Plain frozen dataclasses: safe to pass across threads and to serialise."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Started:
    device: str            # "cuda", "mps" or "cpu"
    device_name: str       # "NVIDIA H100 80GB HBM3" or "CPU, 2 threads"
    total_steps: int
    train_sentences: int
    dev_sentences: int
    precision: str         # "fp32", "bf16" or "fp16"
    config: dict = field(default_factory=dict)  # the run's config, "auto" values resolved
    cpu_tricks: dict = field(default_factory=dict)  # speed-up -> really in effect (CPU only)


@dataclass(frozen=True)
class Step:
    step: int
    total_steps: int
    epoch: float
    loss: float
    learning_rate: float
    sentences_per_s: float
    eta_s: float


@dataclass(frozen=True)
class Evaluation:
    step: int
    epoch: float
    loss: float
    precision: float
    recall: float
    f1: float
    accuracy: float
    per_label: dict = field(default_factory=dict)   # label -> {precision, recall, f1, support}
    confusion: dict = field(default_factory=dict)   # gold label -> {predicted label: count}; "O" = none


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: str


@dataclass(frozen=True)
class Finished:
    model_dir: str
    best_checkpoint: str | None
    best_metrics: dict
    final_metrics: dict
    duration_s: float      # the whole run, model loading and saving included
    train_s: float = 0.0   # the Trainer's training loop alone (what benchmarks compare)
    steps: int = 0
    sentences_per_s: float = 0.0  # training sentences (batch x accumulation x steps) / train_s


@dataclass(frozen=True)
class Failed:
    reason: str


@dataclass(frozen=True)
class Cancelled:
    step: int
    checkpoint: str | None
    best_metrics: dict


Event = Started | Step | Evaluation | CheckpointSaved | Finished | Failed | Cancelled


def event_dict(event) -> dict:
    return {"event": type(event).__name__.lower(), **asdict(event)}
