"""Label-error review: tokens whose gold tag a model trained without them disagrees with
(issue #15 item 3).

k-fold out-of-fold predictions: the labelled sentences are split into ``k`` seeded folds; for
each fold a model is trained on the other folds (the run's settings; fields left on "auto" get
the size-aware schedule for that fold's size, as a real run would) and predicts the held-out
fold through :class:`~nerstudio.core.inference.Predictor` (per-word tag probabilities, each word
by its first subword). So every sentence is scored by a model that never saw its labels.
The k-fold runs ``repeats`` times (other fold split, other seed) and each held-out fold is
predicted with MC dropout (``DROPOUT_PASSES`` passes, dropout on); the probabilities are
averaged. One round's noise (which sentences share a fold, one seed's training) otherwise
decides many borderline words: on bench_active's planted errors (seed 1) the two rounds with
MC dropout raised precision@flips from 0.468 to 0.540, at twice the training time.
Each word's distribution is then updated by how the same word is tagged elsewhere in the data
(:func:`with_agreement`), and cleanlab's token-classification methods rank the words (confident
learning:
``cleanlab.token_classification.filter.find_label_issues`` picks the likely errors and
``rank.get_label_quality_scores`` scores them, lower = likelier wrong).

Nothing of the project changes but the flags (``ProjectStore.set_review_flags``), written in one
transaction at the end: a cancelled or failed review leaves the project as it was. Flags are
suggestions; gold changes only when the user accepts one (``ProjectStore.resolve_flag``). The
models are trained in a temporary folder that is deleted afterwards.
"""
from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .domain import LABELLED
from .errors import NerStudioError
from .store import ProjectStore, ReviewFlag
from .training import (
    Cancelled,
    Example,
    Failed,
    Finished,
    TrainConfig,
    TrainingData,
    train,
)

AGREEMENT_WEIGHT = 2.0  # the model's pseudo-counts against the word's other tags (with_agreement)
MIN_SENTENCES = 50    # below this, k models on (k-1)/k of the data learn too little to judge
DEFAULT_FOLDS = 5
DEFAULT_REPEATS = 2   # k-fold rounds averaged: one round's fold split and seed are noisy
DROPOUT_PASSES = 8    # MC-dropout passes per held-out prediction, averaged


class TooLittleDataError(NerStudioError):
    """Fewer labelled sentences than a review needs."""


@dataclass(frozen=True)
class FoldStarted:
    """Training model ``index`` (from 0) of ``total`` (k folds × repeats) begins."""

    index: int
    total: int
    n_train: int
    n_held_out: int


@dataclass(frozen=True)
class FoldDone:
    """Model ``index`` trained and its held-out sentences predicted."""

    index: int
    total: int
    seconds: float
    dev_f1: float | None


def too_little_data(n: int) -> str | None:
    """The one line a review on ``n`` labelled sentences gives instead of running, or None."""
    if n >= MIN_SENTENCES:
        return None
    return (f"too little data for a label-error review: {n} labelled sentence"
            f"{'' if n == 1 else 's'}, at least {MIN_SENTENCES} are needed (each of the k models "
            "trains on the others' share)")


def review_unavailable(store: ProjectStore) -> str | None:
    """Why a review cannot run on this project now (one line for the GUI), or None."""
    n = sum(store.count(split=split, status=LABELLED) for split in ("train", "dev"))
    return too_little_data(n)


def folds(n: int, k: int, seed: int) -> list[list[int]]:
    """``k`` seeded folds of ``range(n)`` (sizes differ by at most one), each sorted."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [sorted(order[j::k]) for j in range(k)]


def out_of_fold_probs(examples: Sequence[Example], tags: list[str],
                      config: TrainConfig | None = None, k: int = DEFAULT_FOLDS,
                      on_event: Callable[[object], None] | None = None,
                      should_stop: Callable[[], bool] = lambda: False, *,
                      repeats: int = DEFAULT_REPEATS, dropout_passes: int = DROPOUT_PASSES,
                      workdir: str | Path | None = None) -> list[list[list[float]]] | None:
    """Per sentence, per word, a probability per tag (in ``tags`` order) from the models that
    did not train on that sentence: ``repeats`` k-fold rounds, each with its own fold split
    and training seed, each held-out fold predicted with ``dropout_passes`` MC-dropout passes,
    the probabilities averaged. None when ``should_stop`` cancelled it. Raises
    TooLittleDataError under MIN_SENTENCES sentences, NerStudioError when a fold fails."""
    config = config or TrainConfig()
    if config.eval_every == "none" and config.early_stopping_patience:
        config = replace(config, early_stopping_patience=0)
    reason = too_little_data(len(examples))
    if reason:
        raise TooLittleDataError(reason)
    k = max(2, min(int(k), len(examples)))
    repeats = max(1, int(repeats))
    emit = on_event or (lambda e: None)
    total: list[list[list[float]]] = [[[0.0] * len(tags) for _w in e.words] for e in examples]
    tmp = Path(tempfile.mkdtemp(prefix="nerstudio-review-", dir=workdir))
    try:
        for r in range(repeats):
            run = replace(config, seed=config.seed + r)
            for j, held in enumerate(folds(len(examples), k, run.seed)):
                index = (r * k + j, k * repeats)
                held_probs = _fold_probs(examples, held, tags, run, tmp / f"fold-{index[0]}",
                                         index, emit, should_stop, dropout_passes)
                if held_probs is None:
                    return None
                for i, sentence in zip(held, held_probs):
                    for acc, row in zip(total[i], sentence):
                        for c, p in enumerate(row):
                            acc[c] += p / repeats
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return total


def _fold_probs(examples, held, tags, config, out: Path, index: tuple[int, int], emit,
                should_stop, dropout_passes: int) -> list[list[list[float]]] | None:
    """Train on all ``examples`` but ``held`` (in ``out``, deleted afterwards) and return the
    held-out sentences' probabilities in ``tags`` order; None when cancelled."""
    from .inference import Predictor

    held_set = set(held)
    train_part = [e for i, e in enumerate(examples) if i not in held_set]
    if should_stop():
        return None
    emit(FoldStarted(index[0], index[1], len(train_part), len(held)))
    t0 = time.perf_counter()
    event = train(TrainingData(train_part, [], list(tags)), config, out, emit, should_stop)
    if isinstance(event, Cancelled) or should_stop():
        return None
    if isinstance(event, Failed):
        raise NerStudioError(f"label-error review: training model {index[0] + 1} of "
                             f"{index[1]} failed: {event.reason}")
    assert isinstance(event, Finished)
    predictor = Predictor(event.model_dir, threads=config.threads, precision="fp32",
                          max_length=config.max_length if config.max_length > 512 else 512)
    preds = predictor.predict_words([examples[i].words for i in held], should_stop=should_stop,
                                    dropout_passes=dropout_passes, seed=config.seed)
    if should_stop():
        return None
    columns = [predictor.tags.index(t) if t in predictor.tags else None for t in tags]
    del predictor
    shutil.rmtree(out, ignore_errors=True)
    f1 = (event.best_metrics or {}).get("f1")
    emit(FoldDone(index[0], index[1], round(time.perf_counter() - t0, 2),
                  None if f1 is None else float(f1)))
    return [[[row[c] if c is not None else 0.0 for c in columns] for row in pred.probs]
            for pred in preds]


def token_quality(examples: Sequence[Example], tags: list[str],
                  probs: Sequence[Sequence[Sequence[float]]]) -> list[list[float]]:
    """Every word's label-quality score (lower = likelier wrong): cleanlab's
    ``rank.get_label_quality_scores`` (self-confidence: the probability of the given tag) over
    :func:`with_agreement`'s distributions, i.e. the out-of-fold model's belief updated by how
    the annotator tagged the same word elsewhere (figures: the README's label-error section)."""
    return _quality(_arrays(examples, tags, probs), len(examples))


def _quality(arrays, n: int) -> list[list[float]]:
    """token_quality from :func:`_arrays`' output (computed once per review)."""
    from cleanlab.token_classification.rank import get_label_quality_scores

    labels, pred_probs, keep = arrays
    out: list[list[float]] = [[] for _ in range(n)]
    if not keep:
        return out
    _sentence, per_token = get_label_quality_scores(labels, pred_probs,
                                                    token_score_method="self_confidence")
    for i, scores in zip(keep, per_token):
        out[i] = [float(x) for x in list(scores)]
    return out


def with_agreement(examples: Sequence[Example], tags: list[str],
                   probs: Sequence[Sequence[Sequence[float]]],
                   weight: float = AGREEMENT_WEIGHT) -> list:
    """Per sentence, per word, a tag distribution that also weighs the annotator's consistency:
    the mean of a Dirichlet whose prior is the out-of-fold model's distribution with ``weight``
    pseudo-counts and whose counts are the tags the same word form (exact spelling) has
    everywhere else in ``examples``. A word seen nowhere else keeps the model's belief; a word
    tagged B-LOC twenty times and B-ORG here is suspect even where the held-out model hesitates.
    Why: a k-fold model trained on a few hundred sentences is often unsure of exactly the words
    an annotator got wrong once, and the annotator's own other decisions are the stronger
    witness. Counting O too matters: without it every "of" inside a few names outvotes the
    model wherever "of" is O (on bench_active's 2,000 sentences the flags tripled). The price:
    a frequent word that is O almost everywhere is suspect where it starts a name ("The
    Hague"), however sure the model is; the user answers K. (A word mislabelled the same way
    everywhere looks consistent, as it would to a human reviewer.) Numpy arrays whose rows are
    positive and sum to 1; None for a sentence without tags or probabilities."""
    import numpy as np

    index = {t: i for i, t in enumerate(tags)}
    counts: dict[str, np.ndarray] = {}
    for ex in examples:
        for word, tag in zip(ex.words, ex.tags):
            row = counts.get(word)
            if row is None:
                row = counts[word] = np.zeros(len(tags))
            row[index[tag]] += 1
    out: list = []
    for ex, p in zip(examples, probs):
        if not ex.tags or not p:
            out.append(None)
            continue
        model = np.clip(np.asarray(p, dtype=float), 1e-9, None)
        model /= model.sum(axis=1, keepdims=True)
        others = np.stack([counts[w] for w in ex.words])
        others[np.arange(len(ex.tags)), [index[t] for t in ex.tags]] -= 1  # not this word itself
        out.append((weight * model + others) / (weight + others.sum(axis=1, keepdims=True)))
    return out


def _arrays(examples, tags, probs):
    """cleanlab's inputs: given tag ids and :func:`with_agreement`'s rows, non-empty only."""
    import numpy as np

    index = {t: i for i, t in enumerate(tags)}
    labels, pred_probs, keep = [], [], []
    for i, (ex, mixed) in enumerate(zip(examples, with_agreement(examples, tags, probs))):
        if mixed is None:
            continue
        pred_probs.append(mixed)
        labels.append(np.asarray([index[t] for t in ex.tags], dtype=int))
        keep.append(i)
    return labels, pred_probs, keep


def label_issues(examples: Sequence[Example], tags: list[str],
                 probs: Sequence[Sequence[Sequence[float]]],
                 ids: Sequence[int] | None = None) -> list[ReviewFlag]:
    """The words cleanlab's confident learning finds mislabelled, as flags (sentence id from
    ``ids``, default the example's index; the given tag; the likeliest other tag by the model
    and the word's other tags; the label quality score), likeliest error first."""
    import warnings

    from cleanlab.token_classification.filter import find_label_issues

    arrays = _arrays(examples, tags, probs)
    labels, pred_probs, keep = arrays
    if not keep:
        return []
    scores = _quality(arrays, len(examples))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes absent from a small set warn; they count 0
        issues = find_label_issues(labels, pred_probs)
    ids = list(range(len(examples))) if ids is None else list(ids)
    flags = []
    for s, t in issues:
        i = keep[s]
        row = pred_probs[s][t]
        given = examples[i].tags[t]
        best = max((c for c in range(len(tags)) if tags[c] != given), key=lambda c: row[c])
        flags.append(ReviewFlag(ids[i], int(t), given, tags[best], scores[i][t]))
    flags.sort(key=lambda f: (f.score, f.sentence_id, f.token_index))
    return flags


def find_label_errors(examples: Sequence[Example], tags: list[str],
                      config: TrainConfig | None = None, k: int = DEFAULT_FOLDS,
                      on_event: Callable[[object], None] | None = None,
                      should_stop: Callable[[], bool] = lambda: False, *,
                      ids: Sequence[int] | None = None, repeats: int = DEFAULT_REPEATS,
                      workdir: str | Path | None = None) -> list[ReviewFlag] | None:
    """Flags for the likely label errors among ``examples`` (their IOB2 ``tags`` in the run's
    tag list ``tags``): k-fold out-of-fold probabilities (:func:`out_of_fold_probs`), then
    cleanlab (:func:`label_issues`). ``on_event`` gets FoldStarted / FoldDone and the
    engine's events. None when cancelled. TooLittleDataError under MIN_SENTENCES sentences."""
    probs = out_of_fold_probs(examples, tags, config, k, on_event, should_stop, repeats=repeats,
                              workdir=workdir)
    if probs is None:
        return None
    return label_issues(examples, tags, probs, ids)


def review_project(project: str | Path, config: TrainConfig | None = None,
                   k: int = DEFAULT_FOLDS, on_event: Callable[[object], None] | None = None,
                   should_stop: Callable[[], bool] = lambda: False, *,
                   workdir: str | Path | None = None, store_flags: bool = True,
                   repeats: int = DEFAULT_REPEATS) -> list[ReviewFlag] | None:
    """Review a project's labelled train and dev sentences and store the flags (replacing the
    last review's) in one transaction. A sentence edited while the review ran gets no flags
    (they were about its old tags). Returns the flags stored, or None when cancelled (nothing
    written)."""
    from .iob import spans_to_tags
    from .training.data import check_data, run_tags

    with ProjectStore(project, read_only=True) as store:
        labels = store.label_set().names
        sentences = [s for split in ("train", "dev")
                     for s in store.iter_sentences(split=split, status=LABELLED) if s.tokens]
    tags = run_tags(labels)
    examples = [Example(tuple(s.words), tuple(spans_to_tags(s.spans, len(s.tokens))))
                for s in sentences]
    reason = too_little_data(len(examples)) or check_data(TrainingData(examples, [], tags))
    if reason:
        raise TooLittleDataError(reason) if too_little_data(len(examples)) else \
            NerStudioError(reason)
    flags = find_label_errors(examples, tags, config, k, on_event, should_stop,
                              ids=[s.id for s in sentences], repeats=repeats, workdir=workdir)
    if flags is None or should_stop():
        return None
    if store_flags:
        versions = {s.id: s.version for s in sentences}
        with ProjectStore(project) as store:
            store.set_review_flags(None, flags, versions=versions)
            live = set(store.flagged_sentence_ids())
        flags = [f for f in flags if f.sentence_id in live]
    return flags
