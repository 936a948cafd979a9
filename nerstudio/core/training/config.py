"""Training configuration: the knobs of the reference recipe.

Batch size, learning rate, epochs, warm-up and early stopping default to ``None`` ("auto"): they
are chosen from the number of training sentences by :func:`.auto.auto_schedule` when the run
starts (:meth:`TrainConfig.resolved`), and the resolved values are what the run records."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

EMBEDDED_MODEL = "embedded"


@dataclass
class TrainConfig:
    base_model: str = EMBEDDED_MODEL      # "embedded", a local folder or a hub name
    learning_rate: float | None = None   # None: auto (by data size, see auto.py)
    batch_size: int | None = None
    epochs: float | None = None
    seed: int = 42
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    weight_decay: float = 0.01
    warmup_ratio: float | None = None
    early_stopping_patience: int | None = None  # evaluations without a better dev F1; 0: never
    gradient_accumulation: int = 1
    mixed_precision: str = "auto"         # auto (bf16/fp16 on a GPU that has it), no, bf16, fp16
    max_length: int = 128                 # subwords; longer sentences are split, never truncated
    eval_every: str = "epoch"             # "epoch", a number of steps ("500"), or "none"
    keep_best: bool = True                # load the best checkpoint by dev F1 at the end
    label_all_subwords: bool = False
    batching: str = "length"              # "length": length-grouped batches; "random": the recipe's
    sparse_embeddings: str = "auto"       # auto (on for CPU), on, off: see training/sparse.py
    pooled_dropout: str = "auto"          # auto (on for CPU), on, off: see training/dropout.py
    eval_batch_size: int = 64
    threads: int = 0                      # 0: all cores
    keep_core_free: bool = False          # leave one core to the GUI
    max_steps: int = -1                   # stop after this many optimizer steps (benchmarks, tests)
    logging_steps: int = 0                # 0: about 100 points per run (1 to 50 steps apart)
    save_total_limit: int = 2
    checkpoint_minutes: float = 10.0      # also save a checkpoint this often (0: only per eval)
    dev_fraction: float = 0.1             # held out from train (seeded) when there is no dev split

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    AUTO_FIELDS = ("learning_rate", "batch_size", "epochs", "warmup_ratio",
                   "early_stopping_patience")

    def auto_fields(self) -> list[str]:
        return [name for name in self.AUTO_FIELDS if getattr(self, name) is None]

    def resolved(self, n_train: int) -> "TrainConfig":
        """A copy with every "auto" field filled in for ``n_train`` training sentences. The
        evaluation interval follows the schedule too when it was left at "epoch" (a long
        schedule on little data evaluates every few epochs, not every one)."""
        from .auto import auto_schedule

        auto = self.auto_fields()
        if not auto:
            return self
        s = auto_schedule(n_train, self.batch_size, self.gradient_accumulation)
        sized = self.epochs is None and self.max_steps <= 0  # the schedule sets the length
        values = {"learning_rate": s.learning_rate, "batch_size": s.batch_size,
                  "epochs": s.epochs if self.max_steps <= 0 else 1.0,
                  # warm-up and early stopping belong to the size-aware schedule; a user who
                  # fixed the epochs (or steps) gets the recipe's: none of either
                  "warmup_ratio": s.warmup_ratio if sized else 0.0,
                  "early_stopping_patience": s.patience if sized else 0}
        out = replace(self, **{k: values[k] for k in auto})
        if sized and self.eval_every == "epoch":
            out.eval_every = s.eval_every
        return out

    def validate(self) -> list[str]:
        missing = self.auto_fields()
        if missing:
            return [f"unresolved auto value(s): {', '.join(missing)} (call resolved() first)"]
        problems = []
        if self.early_stopping_patience < 0:
            problems.append("early stopping patience must be 0 (off) or more")
        if self.learning_rate <= 0:
            problems.append("learning rate must be positive")
        if self.batch_size < 1 or self.gradient_accumulation < 1:
            problems.append("batch size and gradient accumulation must be at least 1")
        if self.epochs <= 0 and self.max_steps <= 0:
            problems.append("epochs must be positive")
        if self.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            problems.append(f"unknown mixed precision {self.mixed_precision!r}")
        if self.eval_every not in ("epoch", "none") and not str(self.eval_every).isdigit():
            problems.append("eval_every must be 'epoch', 'none' or a number of steps")
        if not 16 <= self.max_length <= 4096:
            problems.append("max length must be between 16 and 4096 subwords")
        for knob in ("sparse_embeddings", "pooled_dropout"):
            if getattr(self, knob) not in ("auto", "on", "off"):
                problems.append(f"{knob} must be auto, on or off")
        if self.checkpoint_minutes < 0:
            problems.append("checkpoint minutes must be 0 (off) or positive")
        if self.batching not in ("length", "random"):
            problems.append(f"unknown batching {self.batching!r}")
        return problems
