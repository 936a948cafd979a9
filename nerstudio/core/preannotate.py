"""Bulk pre-annotation: a model's predictions for a project's sentences, stored apart from gold.

Runs on a worker thread with its own store connection; writes predictions (with scores) and each
sentence's uncertainty chunk by chunk, so progress is visible and a cancel keeps what is done.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .inference import Predictor
from .store import ProjectStore


def preannotate(project: str | Path, predictor: Predictor, run_id: int | None = None,
                status: tuple[str, ...] = ("unlabelled",), split: str | None = None,
                on_progress: Callable[[int, int], None] | None = None,
                should_stop: Callable[[], bool] = lambda: False, chunk: int = 256) -> int:
    """Predict every matching sentence; returns how many got predictions."""
    done = 0
    with ProjectStore(project) as store:
        total = store.count(split=split, status=status)
        batch = []

        def flush():
            nonlocal done
            results = predictor.predict_sentences(batch)
            store.replace_predictions(run_id, [
                (s.id, spans, unc) for s, (spans, unc) in zip(batch, results)])
            done += len(batch)
            batch.clear()
            if on_progress:
                on_progress(done, total)

        for sentence in store.iter_sentences(split=split, status=status):
            if should_stop():
                break
            batch.append(sentence)
            if len(batch) >= chunk:
                flush()
        if batch and not should_stop():
            flush()
    return done
