"""Active learning: which unlabelled sentence teaches the model most (issue #15 item 1).

Uncertainty is MNLP, the maximum normalised log-probability of Shen et al. (2017, "Deep active
learning for named entity recognition"): the mean over a sentence's words of the log-probability
of the tag the model predicts. It is length-normalised, so long sentences are not preferred just
for having more words; lower means less sure. Pure MNLP overshoots the other way: early on, when
the model is weak, it fills a batch with three-word headlines and table fragments it is unsure
of (on CoNLL-2003 at 50 labelled sentences the first 50 picks averaged 4 words, a third of a
random sentence, and one seed's model fell 16 F1 points below random). :func:`floor_short`
therefore divides a sentence's log-probability by at least the median sentence length of the
candidates, so a sentence shorter than the median counts only as unsure as its words make it.
:func:`diversify` orders candidates most uncertain
first, but defers a sentence that is a near-duplicate of one already picked (word overlap, with
digits folded, at or above ``similarity``) to a later pass, so the first batch a user labels is
not ten copies of one uncertain table row.

The order is computed by :func:`nerstudio.core.preannotate.preannotate` (``active=True``) or
:func:`refresh_active_order` and stored per run (``ProjectStore.set_active_order``); labelled
sentences drop out of it when it is read. Qt-free; torch is imported only by the predictor.
"""
from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .inference import Predictor, WordPrediction

_DIGITS = re.compile(r"\d")
_WORDLIKE = re.compile(r"\w")
DEFAULT_SIMILARITY = 0.5   # Jaccard overlap of word types that makes two sentences near-duplicates
DEFAULT_WINDOW = 5000      # candidates diversified pairwise; the rest follow by uncertainty
HELD_OUT = ("dev", "test")  # splits the order leaves out: they must stay a random sample


def orderable(sentence) -> bool:
    """An unlabelled sentence the active order may ask for: not in the dev or test split,
    whose scores would mean little if the model chose what goes in them."""
    return sentence.status == "unlabelled" and sentence.split not in HELD_OUT


def mnlp(prediction: WordPrediction) -> float:
    """Mean per-word log-probability of the predicted tag (MNLP); lower = more uncertain.
    An empty sentence scores 0.0 (nothing to be unsure about)."""
    if not prediction.probs:
        return 0.0
    total = 0.0
    for p in prediction.probs:
        total += math.log(max(max(p), 1e-12))
    return total / len(prediction.probs)


def floor_short(scored: Sequence[tuple[int, Sequence[str], float]], floor: int | None = None
                ) -> list[tuple[int, Sequence[str], float]]:
    """(id, words, MNLP) rescored as the sum of the words' log-probabilities over
    ``max(len(words), floor)``: unchanged for a sentence of ``floor`` words or more, scaled
    down in proportion for a shorter one. ``floor`` defaults to the median word count of
    ``scored`` (ten on CoNLL-2003's train set)."""
    if not scored:
        return []
    if floor is None:
        floor = statistics.median_high(len(words) for _sid, words, _score in scored)
    floor = max(1, floor)
    return [(sid, words, score * min(1.0, len(words) / floor)) for sid, words, score in scored]


def _features(words: Sequence[str]) -> frozenset[str]:
    """Word types that make two sentences alike: lower-cased, digits folded to 0, punctuation
    left out (a table row of other numbers is still the same row)."""
    return frozenset(_DIGITS.sub("0", w.lower()) for w in words if _WORDLIKE.search(w))


def _key(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(_DIGITS.sub("0", w.lower()) for w in words)


def diversify(candidates: Iterable[tuple[int, Sequence[str], float]], *,
              similarity: float = DEFAULT_SIMILARITY, window: int = DEFAULT_WINDOW,
              limit: int | None = None) -> list[int]:
    """Sentence ids, most uncertain (lowest score) first, spread over near-duplicates.

    ``candidates``: (sentence id, words, score), lower score = more uncertain (e.g. :func:`mnlp`).
    Candidates are taken in score order; one whose word overlap (Jaccard over lower-cased word
    types, digits folded) with a sentence already picked in this pass is ``similarity`` or more
    is deferred to the next pass, which is ordered the same way. So every pass holds at most one
    sentence of a near-duplicate cluster, and the passes follow each other. Only the ``window``
    most uncertain candidates are compared pairwise (a user labels far fewer before the model is
    retrained and the order refreshed); past the window the order is by score, exact duplicates
    (after folding) moved to the end. ``limit``: return only the first ``limit`` ids."""
    ranked = sorted(candidates, key=lambda c: (c[2], c[0]))
    head, tail = ranked[:window], ranked[window:]
    out: list[int] = []
    pending = [(sid, _features(words), _key(words)) for sid, words, _score in head]
    while pending and (limit is None or len(out) < limit):
        deferred = []
        index: dict[str, list[int]] = defaultdict(list)  # word -> picked feature-set numbers
        sizes: list[int] = []
        keys: set[tuple[str, ...]] = set()
        for sid, feats, key in pending:
            if key in keys or _too_close(feats, index, sizes, similarity):
                deferred.append((sid, feats, key))
                continue
            keys.add(key)
            n = len(sizes)
            sizes.append(len(feats))
            for f in feats:
                index[f].append(n)
            out.append(sid)
        pending = deferred
    if limit is None or len(out) < limit:
        seen = {_key(w) for _sid, w, _s in head}
        first, dupes = [], []
        for sid, words, _score in tail:
            key = _key(words)
            (dupes if key in seen else first).append(sid)
            seen.add(key)
        out += first + dupes
    return out if limit is None else out[:limit]


def _too_close(feats: frozenset[str], index: dict[str, list[int]], sizes: list[int],
               similarity: float) -> bool:
    """Jaccard(feats, some picked set) >= similarity, counted through the inverted index."""
    if not feats or not sizes:
        return False
    shared = Counter()
    for f in feats:
        posting = index.get(f)
        if posting:
            shared.update(posting)
    n = len(feats)
    for other, common in shared.items():
        if common / (n + sizes[other] - common) >= similarity:
            return True
    return False


def score_sentences(predictor: Predictor, sentences: Sequence, chunk: int = 256,
                    on_progress: Callable[[int, int], None] | None = None,
                    should_stop: Callable[[], bool] = lambda: False,
                    done: int = 0, total: int | None = None) -> list[tuple[int, list[str], float]] | None:
    """(id, words, MNLP) for each sentence, in chunks; None when ``should_stop`` cancelled it."""
    total = len(sentences) + done if total is None else total
    out = []
    for start in range(0, len(sentences), chunk):
        if should_stop():
            return None
        part = sentences[start:start + chunk]
        preds = predictor.predict_words([s.words for s in part], should_stop=should_stop,
                                        summary=True)  # mnlp needs each word's top only
        if should_stop():
            return None
        out += [(s.id, list(s.words), mnlp(p)) for s, p in zip(part, preds)]
        done += len(part)
        if on_progress:
            on_progress(done, total)
    return out


def refresh_active_order(project: str | Path, predictor: Predictor, run_id: int | None,
                         on_progress: Callable[[int, int], None] | None = None,
                         should_stop: Callable[[], bool] = lambda: False, *,
                         similarity: float = DEFAULT_SIMILARITY) -> int | None:
    """Score every unlabelled sentence of the project outside dev and test (:func:`orderable`)
    with ``predictor`` (the active model, run ``run_id``) and store the diversified order for
    that run, replacing the old one. Runs on a worker thread with its own store connection.
    Returns how many sentences were ordered, or None when cancelled (then the stored order is
    left as it was). Predictions (suggestions) are not touched: this only orders."""
    from .store import ProjectStore

    with ProjectStore(project) as store:
        sentences = [s for s in store.iter_sentences(status=("unlabelled",)) if orderable(s)]
        scored = score_sentences(predictor, sentences, on_progress=on_progress,
                                 should_stop=should_stop)
        if scored is None or should_stop():
            return None
        scored = floor_short(scored)
        order = diversify(scored, similarity=similarity)
        store.set_active_order(run_id, order, {sid: score for sid, _w, score in scored})
        return len(order)


def active_order_unavailable(store) -> str | None:
    """Why the Active learning order cannot be offered now (one line for the GUI), or None.
    An order computed by an older model than the active one is still offered (the GUI refreshes
    it in the background: compare :meth:`ProjectStore.active_order_run` with the active run)."""
    if store.meta("active_run") is None:
        return "Active learning needs a trained model: train one (or choose the active model) first"
    if store.active_order_info() is None:
        return ("Active learning needs the active model's scores of the unlabelled sentences: "
                "pre-annotate with it (or wait for the background scoring)")
    return None
