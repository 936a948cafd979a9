"""Continue from a finished run: learn what is new since it, in a fraction of a full run.

Why: Keep the model fresh starts a run after every N newly labelled sentences. A run from
scratch on all of them repeats what the active model already learned, so its time grows with
the project while the news stays N sentences; the model the suggestions come from then lags the
labelling by minutes. Continuing from the active model, a run needs the new sentences (and
sentences whose tags changed), plus a *replay* of as many of the old ones, so that it does not
forget what they taught (catastrophic forgetting), for a fraction of the steps. Measured
(``benchmarks/bench_fresh.py``, CoNLL-2003 subsets growing 50 -> 100 -> 200 -> 500, each size
double the last, the worst case): fewer steps cost dev F1, so the share is a trade-off, chosen on
seed 0 for F1 within about a point (README, Benchmarks).

The rule (:func:`continue_run`), from ``benchmarks/bench_fresh.py``:
  - new = the run's training sentences that are not among those the previous run's model
    learned (its snapshot: same words and tags; a relabelled sentence is new), old = the
    rest; replay = a seeded sample of old, as many as new (all of old when fewer);
  - base model = the previous run's model; batch and learning rate = the size-aware
    schedule's for all the training sentences (auto.py), a step budget of
    :data:`STEP_SHARE` of that schedule's planned steps (a fifth cost 2-5 points of dev F1,
    35 % about one), warm-up 10 %, dev F1 evaluated :data:`EVALS` times, best model kept, no
    early stopping;
  - the dev set is the one a run from scratch would have (held out before this), so the two
    compare;
  - nothing to continue from (no snapshot, other labels, no model): the run trains from the
    configured base model; nothing new (only dev changed): a full run from the previous
    model. Either way a line says why.
Fields a user fixed (batch size, learning rate, epochs) are kept.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

from .auto import WARMUP_RATIO, auto_schedule
from .config import TrainConfig
from .data import TrainingData

STEP_SHARE = 0.35    # of a from-scratch run's planned steps (chosen on seed 0: bench_fresh.py)
EVALS = 3            # dev evaluations per continued run (the best model is kept)
MIN_STEPS = 20


def split_new(train: list, previous: list) -> tuple[list, list]:
    """(new, old): the examples of ``train`` that ``previous`` lacks (counted: a sentence twice
    in train and once before is new once), and the rest, in train's order.

    >>> split_new(["a", "b", "b", "c"], ["b", "a"])
    (['b', 'c'], ['a', 'b'])
    """
    seen = Counter(previous)
    new, old = [], []
    for example in train:
        if seen[example] > 0:
            seen[example] -= 1
            old.append(example)
        else:
            new.append(example)
    return new, old


def replay(old: list, n: int, seed: int) -> list:
    """A seeded sample of ``n`` old examples (all of them when fewer), in their order."""
    if n >= len(old):
        return list(old)
    keep = set(random.Random(seed).sample(range(len(old)), n))
    return [e for i, e in enumerate(old) if i in keep]


def previous_inputs(folder: Path) -> tuple[TrainingData, Path] | str:
    """The previous run's snapshot and model folder, or why it cannot be continued from."""
    from .checkpoints import has_weights
    from .failures import TrainingFailed
    from .snapshot import SNAPSHOT, load_snapshot

    model = folder / "model"
    if not (folder / SNAPSHOT).is_file():
        return f"{folder} has no data snapshot"
    if not has_weights(model):
        return f"{folder} has no finished model"
    try:
        return load_snapshot(folder / SNAPSHOT, learned=True), model
    except TrainingFailed as exc:
        return str(exc)


def continue_run(data: TrainingData, config: TrainConfig) -> tuple[TrainingData, TrainConfig, str]:
    """The data and config of a run that continues from ``config.continue_from`` (dev already
    held out in ``data``), and a line that says what it does. Nothing new since that run (only
    dev changed): a full run from its model. Nothing to continue from: a run from the
    configured base model, and why."""
    folder = Path(config.continue_from)
    found = previous_inputs(folder)
    if isinstance(found, str):
        return data, replace(config, continue_from=""), f"trained from the base model: {found}"
    previous, model = found
    if previous.tags != data.tags:
        return data, replace(config, continue_from=""), (
            f"trained from the base model: the labels changed since {folder.name}")
    new, old = split_new(data.train, previous.train)
    if not new:
        return data, replace(config, continue_from="", base_model=str(model)), (
            f"a full run from {folder.name}'s model: no training sentence is new since it")
    train = new + replay(old, len(new), config.seed)
    return (TrainingData(train, data.dev, data.tags),
            continued_config(config, model, len(data.train), len(train)),
            f"continuing from {folder.name}: {len(new)} new or changed sentences and "
            f"{len(train) - len(new)} of the {len(old)} others replayed")


def continued_config(config: TrainConfig, model: Path, n_all: int, n_run: int) -> TrainConfig:
    """The schedule of a continued run over ``n_run`` sentences, sized by all ``n_all``: the
    from-scratch schedule's batch and rate, :data:`STEP_SHARE` of its steps."""
    full = auto_schedule(n_all, config.batch_size, config.gradient_accumulation)
    per_epoch = math.ceil(n_run / (full.batch_size * config.gradient_accumulation))
    steps = max(MIN_STEPS, math.ceil(full.steps * STEP_SHARE))
    values = {"batch_size": full.batch_size, "learning_rate": full.learning_rate,
              "epochs": round(steps / per_epoch, 3), "warmup_ratio": WARMUP_RATIO,
              "early_stopping_patience": 0}
    out = replace(config, base_model=str(model),
                  **{k: v for k, v in values.items() if getattr(config, k) is None})
    if out.eval_every == "epoch":
        out.eval_every = str(max(1, steps // EVALS))
    return out
