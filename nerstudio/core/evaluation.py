"""A finished run's scores on a held-out split (issue #14 item 4): the number to report.

Dev F1 picks the best checkpoint and decides early stopping, so it is an optimistic estimate;
the test split is scored once, after the run, by the run's saved model exactly as it predicts in
the playground and for pre-annotation (:class:`~nerstudio.core.inference.Predictor`: same
windows, same first-subword rule, IOB2 repair), with seqeval's entity-level precision / recall /
F1 per label (:func:`~nerstudio.core.training.data.entity_metrics`). The result is stored with
the run (``runs.evaluations``, ``{split: metrics}``) and shown by the Train view, ``nerstudio
runs`` and ``nerstudio evaluate``.

Gold tags come from the project's labels as they are now: a label added after the run is one the
model cannot predict, and it scores recall 0 rather than being left out.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError
from .iob import repair_iob2, spans_to_tags
from .runs import LABELLED, model_dir
from .store import ProjectStore


@dataclass(frozen=True)
class SplitEvaluationStarted:
    """Sent (through a training worker's events) when a run's evaluation on a split begins."""

    run_id: int
    split: str
    sentences: int


@dataclass(frozen=True)
class SplitEvaluated:
    """Sent when it is done: the stored metrics."""

    run_id: int
    split: str
    metrics: dict


def labelled_count(store: ProjectStore, split: str = "test") -> int:
    """How many labelled (or reviewed) sentences ``split`` holds: 0 means nothing to score."""
    return store.count(split=split, status=LABELLED)


def evaluate_run(project_path: str | Path, run_id: int, split: str = "test",
                 on_progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] = lambda: False, *,
                 threads: int = 0, device: str | None = None) -> dict:
    """Score run ``run_id``'s saved model on ``split``'s labelled sentences, store the result
    with the run and return it: ``{precision, recall, f1, accuracy, per_label: {label:
    {precision, recall, f1, support}}, confusion, split, sentences, seconds, evaluated_at}``.

    ``on_progress(done, total)`` counts sentences. Opens its own store connection (it runs on a
    worker thread). Raises StoreError when the run has no model or the split no labelled
    sentence, and when ``should_stop`` ends it early (nothing is stored then)."""
    from .inference import Predictor
    from .training.data import entity_metrics

    with ProjectStore(project_path) as store:
        folder = model_dir(store, run_id)  # refuses a run that did not finish
        sentences = [s for s in store.iter_sentences(split=split, status=LABELLED) if s.tokens]
        if not sentences:
            raise StoreError(f"the {split} split has no labelled sentence to evaluate run "
                             f"{run_id} on")
        t0 = time.perf_counter()
        total = len(sentences)
        # the run's own score: its fp32 model (an int8 export is a prediction speed-up)
        predictor = Predictor(folder, device=device, threads=threads, precision="fp32")

        def progress(done: int) -> None:  # the predictor counts windows; a sentence may have more
            if on_progress:
                on_progress(min(done, total), total)

        preds = predictor.predict_words([s.words for s in sentences], progress, should_stop)
        if should_stop():
            raise StoreError(f"evaluation of run {run_id} on {split} cancelled")
        gold = [spans_to_tags(s.spans, len(s.tokens)) for s in sentences]
        pred = [repair_iob2(p.tags) for p in preds]  # the spans the predictor would show
        metrics = entity_metrics(gold, pred)
        metrics.update(split=split, sentences=total, seconds=round(time.perf_counter() - t0, 3),
                       evaluated_at=time.strftime("%Y-%m-%d %H:%M:%S"), model=str(folder))
        store.set_run_evaluation(run_id, split, metrics)
    if split == "test":  # the model card (README.md beside the weights) gets the test scores
        from .modelcard import add_test_scores

        add_test_scores(folder, {k: v for k, v in metrics.items() if k != "confusion"},
                        test_size=total)
    if on_progress:
        on_progress(total, total)
    return metrics


def format_table(metrics: dict) -> str:
    """A plain-text per-label table (and the micro average) of :func:`evaluate_run`'s result."""
    rows = [(label, s["precision"], s["recall"], s["f1"], s["support"])
            for label, s in sorted(metrics.get("per_label", {}).items())]
    support = sum(r[4] for r in rows)
    width = max([len("label")] + [len(r[0]) for r in rows] + [len("micro avg")])
    lines = [f"{'label':<{width}}  {'precision':>9}  {'recall':>9}  {'f1':>9}  {'support':>7}"]
    for label, p, r, f, n in rows + [("micro avg", metrics["precision"], metrics["recall"],
                                      metrics["f1"], support)]:
        lines.append(f"{label:<{width}}  {p:>9.4f}  {r:>9.4f}  {f:>9.4f}  {n:>7}")
    return "\n".join(lines)
