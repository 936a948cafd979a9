"""Train curve: will more labelled data help? (issue #14 item 3)

Trains on growing, nested, seeded subsets of the project's labelled train split (25/50/75/100 %
by default) and scores each on the same dev set, the way Prodigy's ``train-curve`` answers "is
annotating more worth it". Every subset gets the run's settings; fields left on "auto" are
resolved by the engine for that subset's size, as a real run on that much data would be.

Nothing is recorded in the project: the project file is only read (opened read-only, so not a
byte of it changes), no run row is created, and every model is trained in a temporary folder
that is deleted afterwards (also when the curve fails or is cancelled).

The dev set is the project's dev split; without one, a seeded ``dev_fraction`` of the labelled
train sentences is held out once, before the subsets are drawn, so every point is scored on the
same sentences and none of them is ever trained on.
"""
from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import NerStudioError
from .runs import snapshot
from .store import ProjectStore
from .training import Cancelled, Failed, Finished, TrainConfig, TrainingData, train
from .training.data import check_data, hold_out_dev

DEFAULT_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
RISING_POINTS = 1.0  # dev F1 points the last step must gain for "still rising"


@dataclass(frozen=True)
class CurveStarted:
    """Training on one fraction begins (``index`` of ``total``, from 0)."""

    index: int
    total: int
    fraction: float
    n_train: int


@dataclass(frozen=True)
class CurvePoint:
    """One fraction trained and scored."""

    index: int
    total: int
    fraction: float
    n_train: int
    dev_f1: float
    seconds: float

    def as_dict(self) -> dict:
        return {"fraction": self.fraction, "n_train": self.n_train, "dev_f1": self.dev_f1,
                "seconds": self.seconds}


def check_fractions(fractions: Sequence[float]) -> list[float]:
    """Sorted, distinct fractions in (0, 1]; raises NerStudioError otherwise."""
    out = sorted({float(f) for f in fractions})
    if not out or any(not 0 < f <= 1 for f in out):
        raise NerStudioError("fractions must be numbers above 0 and at most 1 (e.g. 0.25,0.5,1)")
    return out


def subsets(n: int, fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Nested seeded subsets of ``range(n)``: each fraction's indices (in their original order)
    hold every smaller fraction's. At least one sentence each."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [sorted(order[:max(1, round(f * n))]) for f in fractions]


def prepare(project_path: str | Path, config: TrainConfig) -> TrainingData:
    """The project's labelled train and dev sentences, with dev held out of train (seeded) when
    the project has no dev split. Reads the project file without writing to it."""
    with ProjectStore(project_path, read_only=True) as store:
        data = snapshot(store)
    reason = check_data(data)
    if reason:
        raise NerStudioError(reason)
    data = hold_out_dev(data, config.dev_fraction, config.seed)
    if not data.dev:
        raise NerStudioError("a train curve needs a dev set: label some dev sentences, or at "
                             "least two train sentences (a share is held out as dev)")
    return data


def train_curve(project_path: str | Path, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                config: TrainConfig | None = None,
                on_event: Callable[[object], None] | None = None,
                should_stop: Callable[[], bool] | None = None, *,
                workdir: str | Path | None = None) -> list[dict]:
    """Train on each fraction of the labelled train split; returns ``[{fraction, n_train,
    dev_f1, seconds}]`` in increasing fraction (fewer points when ``should_stop`` cancelled it).

    ``on_event`` gets :class:`CurveStarted` and :class:`CurvePoint` for each fraction and, in
    between, the training engine's own events. ``workdir``: where the temporary folder is made
    (default: the system's temporary folder). Raises NerStudioError when a fraction fails."""
    config = config or TrainConfig()
    if config.eval_every == "none":  # the curve is made of dev scores
        config = replace(config, eval_every="epoch")
    emit = on_event or (lambda e: None)
    stop = should_stop or (lambda: False)
    fractions = check_fractions(fractions)
    data = prepare(project_path, config)
    picks = subsets(len(data.train), fractions, config.seed)
    points: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="nerstudio-curve-", dir=workdir))
    try:
        for i, (fraction, idx) in enumerate(zip(fractions, picks)):
            if stop():
                break
            part = TrainingData([data.train[k] for k in idx], data.dev, data.tags)
            emit(CurveStarted(i, len(fractions), fraction, len(idx)))
            t0 = time.perf_counter()
            out = tmp / f"fraction-{i}"
            event = train(part, config, out, emit, stop)
            seconds = time.perf_counter() - t0
            shutil.rmtree(out, ignore_errors=True)  # a model and checkpoints per fraction
            if isinstance(event, Cancelled):
                break
            if isinstance(event, Failed):
                raise NerStudioError(f"training on {fraction:.0%} of the data failed: "
                                     f"{event.reason}")
            assert isinstance(event, Finished)
            point = CurvePoint(i, len(fractions), fraction, len(idx), _dev_f1(event, config),
                               round(seconds, 2))
            points.append(point.as_dict())
            emit(point)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return points


def _dev_f1(event: Finished, config: TrainConfig) -> float:
    """The kept model's dev F1: the best evaluation's when the best model is kept, else the
    last one's."""
    first, second = ((event.best_metrics, event.final_metrics) if config.keep_best
                     else (event.final_metrics, event.best_metrics))
    for metrics in (first, second):
        if metrics and metrics.get("f1") is not None:
            return float(metrics["f1"])
    return 0.0


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def verdict(points: Sequence[dict]) -> str:
    """One line on the curve's last step: still rising (gained >= 1 dev F1 point) or flat."""
    if len(points) < 2:
        return "not enough points to tell: the curve needs at least two fractions"
    prev, last = points[-2], points[-1]
    gain = (last["dev_f1"] - prev["dev_f1"]) * 100
    step = (f"{gain:+.1f} F1 points from {_pct(prev['fraction'])} to {_pct(last['fraction'])} "
            f"({prev['n_train']} to {last['n_train']} sentences)")
    if gain >= RISING_POINTS:
        return f"F1 still rising at {_pct(last['fraction'])}: more data will likely help ({step})"
    return f"flat: {step}; more data of the same kind will likely help little"


def format_table(points: Sequence[dict]) -> str:
    lines = [f"{'fraction':>8}  {'sentences':>9}  {'dev F1':>7}  {'seconds':>8}"]
    for p in points:
        lines.append(f"{_pct(p['fraction']):>8}  {p['n_train']:>9}  {p['dev_f1']:>7.4f}  "
                     f"{p['seconds']:>8.1f}")
    return "\n".join(lines)
