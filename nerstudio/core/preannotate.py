"""Bulk pre-annotation: a model's predictions for a project's sentences, stored apart from gold.

Runs on a worker thread with its own store connection; writes predictions (with scores) and each
sentence's uncertainty chunk by chunk, so progress is visible and a cancel keeps what is done.

With ``active=True`` (the default) it also ranks every unlabelled sentence for active learning
(issue #15: MNLP uncertainty, near-duplicates spread, :mod:`.active`) from the same predictions,
scoring any unlabelled sentence the filters left out, and stores that order with ``run_id``. The
order is written only when the whole pass ends: a cancelled pass leaves the old order.

Only what is stored is kept: each word's two likeliest tags and the sentence's uncertainty, not a
probability per tag (a model with 10,000 labels kept gigabytes). A predicted entity whose label
the project does not have is never stored (it would make "Accept all" fail for its sentence):
it is counted in ``skipped`` (label -> entities) for the caller to say.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .inference import Predictor
from .store import ProjectStore


def preannotate(project: str | Path, predictor: Predictor, run_id: int | None = None,
                status: tuple[str, ...] = ("unlabelled",), split: str | None = None,
                on_progress: Callable[[int, int], None] | None = None,
                should_stop: Callable[[], bool] = lambda: False, chunk: int = 256,
                active: bool = True, skipped: dict[str, int] | None = None) -> int:
    """Predict every matching sentence; returns how many got predictions. ``active``: also
    store the active-learning order of all unlabelled sentences (see the module docstring).
    ``skipped``: filled with the labels the project lacks and how many predicted entities had
    each (they are not stored)."""
    from .active import diversify, floor_short, mnlp, orderable, score_sentences

    done = 0
    scored: list[tuple[int, list[str], float]] = []
    skipped = {} if skipped is None else skipped
    with ProjectStore(project) as store:
        labels = set(store.label_set().names)
        total = store.count(split=split, status=status)
        extra = []  # unlabelled sentences the filters leave out, scored for the order only
        if active and (split is not None or "unlabelled" not in status):
            extra = [s for s in store.iter_sentences(status=("unlabelled",))
                     if orderable(s) and ((split is not None and s.split != split)
                                          or "unlabelled" not in status)]
        grand = total + len(extra)
        batch = []

        def flush():
            nonlocal done
            preds = predictor.predict_words([s.words for s in batch], should_stop=should_stop,
                                            summary=True)
            if should_stop():  # a cancelled batch is partly unpredicted: store none of it
                batch.clear()
                return
            store.replace_predictions(run_id, [
                (s.id, _known(p.spans(), labels, skipped), p.uncertainty())
                for s, p in zip(batch, preds)])
            if active:
                scored.extend((s.id, list(s.words), mnlp(p))
                              for s, p in zip(batch, preds) if orderable(s))
            done += len(batch)
            batch.clear()
            if on_progress:
                on_progress(done, grand if active else total)

        for sentence in store.iter_sentences(split=split, status=status):
            if should_stop():
                break
            batch.append(sentence)
            if len(batch) >= chunk:
                flush()
        if batch and not should_stop():
            flush()
        if active and not should_stop():
            more = score_sentences(predictor, extra, chunk, on_progress, should_stop,
                                   done=done, total=grand) if extra else []
            if more is not None and not should_stop():
                scored = floor_short(scored + more)
                store.set_active_order(run_id, diversify(scored),
                                       {sid: score for sid, _w, score in scored})
    return done


def _known(spans: list, labels: set[str], skipped: dict[str, int]) -> list:
    """The spans whose label the project has; the others counted by label in ``skipped``."""
    for span in spans:
        if span[2] not in labels:
            skipped[span[2]] = skipped.get(span[2], 0) + 1
    return [span for span in spans if span[2] in labels]


def skipped_text(skipped: dict[str, int]) -> str:
    """One line on the predicted entities not stored, e.g. for the CLI and the app."""
    n = sum(skipped.values())
    names = ", ".join(f"{label} ({k})" for label, k in sorted(skipped.items()))
    return (f"skipped {n} predicted entit{'y' if n == 1 else 'ies'} whose label the project "
            f"does not have: {names}")
