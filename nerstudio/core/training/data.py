"""Plain training data, subword alignment and entity-level metrics.

Sentences are encoded once (never per epoch). A sentence longer than the model's limit is split
into word chunks that fit, so no word is silently truncated away."""
from __future__ import annotations

import random
from dataclasses import dataclass

from ..iob import spans_to_tags, tags_to_spans


def run_tags(label_names) -> list[str]:
    """A run's tag list in id order: O, then B- and I- of each label.

    >>> run_tags(["PER", "LOC"])
    ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC']
    """
    return ["O"] + [f"{p}-{n}" for n in label_names for p in ("B", "I")]


@dataclass(frozen=True)
class Example:
    """One labelled sentence, detached from the store: words and their IOB2 tags."""

    words: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass
class TrainingData:
    """A frozen snapshot of a project's labelled sentences. ``tags`` is the run's tag list in id
    order (O, B-L1, I-L1, ...)."""

    train: list[Example]
    dev: list[Example]
    tags: list[str]

    @classmethod
    def from_sentences(cls, train, dev, label_names) -> "TrainingData":
        tags = run_tags(label_names)
        conv = lambda s: Example(tuple(s.words), tuple(spans_to_tags(s.spans, len(s.tokens))))  # noqa: E731
        return cls([conv(s) for s in train], [conv(s) for s in dev], tags)


def check_data(data: TrainingData) -> str | None:
    """A readable reason the data cannot train, or None."""
    if not data.train:
        return "the training set is empty: label some sentences in the train split first"
    if len(data.tags) < 3:
        return "the label set has no entity types"
    known = set(data.tags)
    for part, examples in (("train", data.train), ("dev", data.dev)):
        for i, ex in enumerate(examples):
            unknown = set(ex.tags) - known
            if unknown:
                return (f"{part} sentence {i + 1} has tags outside the run's label set: "
                        f"{', '.join(sorted(unknown))}")
    return None


def held_out(n_train: int, n_dev: int, fraction: float) -> int:
    """How many train sentences :func:`hold_out_dev` moves to dev: none when there is a dev
    split (or under two train sentences), else a ``fraction`` of them (at least one). The Train
    view's "auto" line counts with the same rule."""
    return 0 if n_dev or n_train < 2 else max(1, int(n_train * fraction))


def hold_out_dev(data: TrainingData, fraction: float, seed: int) -> TrainingData:
    """No dev split: hold out a seeded ``fraction`` of train (at least one sentence)."""
    n_dev = held_out(len(data.train), len(data.dev), fraction)
    if not n_dev:
        return data
    order = list(range(len(data.train)))
    random.Random(seed).shuffle(order)
    dev_idx = set(order[:n_dev])
    return TrainingData([e for i, e in enumerate(data.train) if i not in dev_idx],
                        [e for i, e in enumerate(data.train) if i in dev_idx], data.tags)


def _chunks(word_lengths: list[int], budget: int) -> list[tuple[int, int]]:
    """Greedy word ranges whose subword counts sum to at most ``budget`` (a word longer than the
    budget gets a chunk of its own and is cut to the budget: its first subword, which carries its
    label, is always kept)."""
    out, start, used = [], 0, 0
    for i, n in enumerate(word_lengths):
        n = max(1, n)
        if used + n > budget and i > start:
            out.append((start, i))
            start, used = i, 0
        used += n
    out.append((start, len(word_lengths)))
    return out


def encode(examples: list[Example], tokenizer, tag2id: dict[str, int], max_length: int,
           label_all_subwords: bool = False) -> list[dict]:
    """Subword features: ``input_ids``, ``attention_mask``, ``labels`` (-100 on special tokens
    and, unless ``label_all_subwords``, on continuation subwords), plus ``example`` (the index of
    the source sentence) and ``first_word`` (where this chunk starts in it)."""
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    pieces = []  # (example index, first word, words, tags)
    for start in range(0, len(examples), _ENCODE_CHUNK):
        part = examples[start:start + _ENCODE_CHUNK]
        word_lens = tokenizer([list(e.words) for e in part], is_split_into_words=True,
                              add_special_tokens=False)
        for j, ex in enumerate(part):
            lens = [0] * len(ex.words)
            for w in word_lens.word_ids(j):
                if w is not None:
                    lens[w] += 1
            for a, b in _chunks(lens, budget):
                pieces.append((start + j, a, ex.words[a:b], ex.tags[a:b]))
    feats = []
    for start in range(0, len(pieces), _ENCODE_CHUNK):
        feats += _encode_pieces(pieces[start:start + _ENCODE_CHUNK], tokenizer, tag2id,
                                max_length, label_all_subwords)
    return feats


# The Rust tokenizer holds the GIL for a whole call: chunks keep a GUI thread responsive.
_ENCODE_CHUNK = 512


def _encode_pieces(pieces, tokenizer, tag2id, max_length, label_all_subwords):
    enc = tokenizer([list(p[2]) for p in pieces], is_split_into_words=True, truncation=True,
                    max_length=max_length)
    feats = []
    for k, (i, first, _words, tags) in enumerate(pieces):
        labels, prev = [], None
        for w in enc.word_ids(k):
            if w is None:
                labels.append(-100)
            elif w != prev:
                labels.append(tag2id[tags[w]])
            elif label_all_subwords:
                tag = tags[w]
                labels.append(tag2id["I-" + tag[2:]] if tag.startswith("B-") else tag2id[tag])
            else:
                labels.append(-100)
            prev = w
        feats.append({"input_ids": enc["input_ids"][k], "attention_mask": enc["attention_mask"][k],
                      "labels": labels, "example": i, "first_word": first})
    return feats


def entity_metrics(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """seqeval precision / recall / F1 / accuracy, per label, and an entity-type confusion matrix
    (gold label -> predicted label at the same span; "O" where there was none)."""
    from seqeval.metrics import accuracy_score, classification_report, f1_score, precision_score, recall_score

    per_label = {}
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    for label, row in report.items():
        if not label.endswith("avg"):
            per_label[label] = {"precision": float(row["precision"]), "recall": float(row["recall"]),
                                "f1": float(row["f1-score"]), "support": int(row["support"])}
    return {"precision": float(precision_score(gold, pred, zero_division=0)),
            "recall": float(recall_score(gold, pred, zero_division=0)),
            "f1": float(f1_score(gold, pred, zero_division=0)),
            "accuracy": float(accuracy_score(gold, pred)),
            "per_label": per_label, "confusion": confusion(gold, pred)}


def confusion(gold: list[list[str]], pred: list[list[str]]) -> dict:
    table: dict[str, dict[str, int]] = {}

    def add(g, p):
        table.setdefault(g, {}).setdefault(p, 0)
        table[g][p] += 1

    for g_tags, p_tags in zip(gold, pred):
        g_spans = {(s.start, s.end): s.label for s in tags_to_spans(g_tags)}
        p_spans = {(s.start, s.end): s.label for s in _lenient_spans(p_tags)}
        for key, label in g_spans.items():
            add(label, p_spans.get(key, "O"))
        for key, label in p_spans.items():
            if key not in g_spans:
                add("O", label)
    return table


def _lenient_spans(tags):
    from ..iob import repair_iob2

    return tags_to_spans(repair_iob2(tags))
