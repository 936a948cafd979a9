"""Training configuration: the knobs of the reference recipe with its defaults."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

EMBEDDED_MODEL = "embedded"


@dataclass
class TrainConfig:
    base_model: str = EMBEDDED_MODEL      # "embedded", a local folder or a hub name
    learning_rate: float = 5e-5
    batch_size: int = 16
    epochs: float = 3.0
    seed: int = 42
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0
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
    dev_fraction: float = 0.1             # held out from train (seeded) when there is no dev split

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def validate(self) -> list[str]:
        problems = []
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
        if self.batching not in ("length", "random"):
            problems.append(f"unknown batching {self.batching!r}")
        return problems
