"""Size-aware training defaults: a schedule that fits the number of labelled sentences.

Why: the reference recipe (3 epochs, batch 16, lr 5e-5) is tuned for CoNLL-2003's 14,041
sentences. On the 20-2,000 sentences a user labels it makes 4-120 optimizer steps and the model
learns nothing (dev F1 0.0 on the demo and on 200 CoNLL sentences). What a small set needs is
enough optimizer *steps*, not epochs: so the rule fixes a step budget, a batch size and a learning
rate by data size, derives the epochs from them, and lets early stopping on dev F1 (best model
kept) end the run when more steps stop helping. Every number comes from the measurements in
``benchmarks/bench_curve.py`` and the table in docs/ARCHITECTURE.md ("Size-aware defaults").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# (largest train size, batch size, learning rate, minimum optimizer steps)
_TIERS = (
    (100, 4, 1e-4, 300),
    (400, 8, 1e-4, 400),
    (2000, 16, 1e-4, 600),
    (5000, 16, 7e-5, 900),
)
_LARGE = (16, 5e-5, 0)            # the recipe's own values for a corpus-sized project (3 epochs)
MIN_EPOCHS, MAX_EPOCHS = 3, 60
MAX_EVALS = 15                    # evaluations (and checkpoints) per run, at most
PATIENCE = 3                      # evaluations without a better dev F1 before stopping
WARMUP_RATIO = 0.1


@dataclass(frozen=True)
class Schedule:
    """Resolved values for the fields a user left on "auto"."""

    batch_size: int
    learning_rate: float
    epochs: float
    warmup_ratio: float
    eval_every: str              # "epoch" or a number of optimizer steps
    patience: int                # 0: no early stopping
    steps: int                   # optimizer steps the epochs amount to (before early stopping)

    def describe(self) -> str:
        stop = f", early stop after {self.patience} evaluations without a better dev F1" \
            if self.patience else ""
        every = "each epoch" if self.eval_every == "epoch" else f"every {self.eval_every} steps"
        return (f"batch {self.batch_size}, lr {self.learning_rate:g}, {self.epochs:g} epochs "
                f"({self.steps} steps), warm-up {self.warmup_ratio:.0%}, dev F1 {every}{stop}")


def auto_schedule(n_train: int, batch_size: int | None = None,
                  gradient_accumulation: int = 1, processes: int = 1) -> Schedule:
    """The schedule for ``n_train`` training sentences (a user's fixed batch size is kept). The
    batch is the global batch of a run on ``processes`` ranks: an auto batch is rounded up to a
    multiple of them (4 on 3 GPUs: 6); the rest of the rule is the global batch's."""
    n = max(1, n_train)
    bs, lr, min_steps = next(((b, r, s) for top, b, r, s in _TIERS if n <= top), (*_LARGE[:2], 0))
    bs = batch_size or -(-bs // max(1, processes)) * max(1, processes)
    per_epoch = math.ceil(n / (bs * gradient_accumulation))
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(min_steps / per_epoch)))
    steps = per_epoch * epochs
    evals_each_epoch = epochs <= MAX_EVALS
    eval_every = "epoch" if evals_each_epoch else str(per_epoch * math.ceil(epochs / MAX_EVALS))
    small = min_steps > 0
    return Schedule(bs, lr, float(epochs), WARMUP_RATIO if small else 0.0, eval_every,
                    PATIENCE if small else 0, steps)
