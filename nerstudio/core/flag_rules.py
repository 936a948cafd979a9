"""The tag rules of the label-error review's flags and of the suggestions, as pure functions
(beside ``iob.py``); :func:`accept_all_spans` is the rule "Accept all never replaces gold".

Why here and not in the store: what M (take the model's tag) does to a sentence's tags, and
which flags stay open once the tags changed, are rules about IOB2 tags, not about SQLite. Kept
pure, they are read and tested on their own (the doctests below run in
``tests/test_flag_rules.py``); the store only applies them inside one transaction."""
from __future__ import annotations


def accept_tag(tags: list[str], i: int, predicted: str,
               flagged: dict[int, str] | None = None) -> list[str]:
    """``tags`` with token ``i`` taking ``predicted``. When a span's type changes (an entity
    tag to another type's), the rest of the gold span after ``i`` follows the new type, so a
    wrongly typed entity is fixed by one accept. When a span's first token becomes O, the
    span's next tokens that are flagged O too (``flagged``: token -> the flag's predicted tag)
    go with it, so the model's "not an entity" is one accept, not a stub span made of the
    rest. The caller repairs the result to IOB2.

    A wrongly typed two-word name is fixed by one accept on its first word:

    >>> accept_tag(["B-ORG", "I-ORG", "O"], 0, "B-PER")
    ['B-PER', 'I-PER', 'O']

    "Not an entity" on the first word takes the next words flagged O along, and only those:

    >>> accept_tag(["B-LOC", "I-LOC", "I-LOC"], 0, "O", flagged={1: "O"})
    ['O', 'O', 'I-LOC']

    Inside a span, the token and the rest of the span after it take the new type (the IOB2
    repair then makes them a span of their own):

    >>> accept_tag(["B-PER", "I-PER", "I-PER"], 1, "B-ORG")
    ['B-PER', 'B-ORG', 'I-ORG']
    """
    tags = list(tags)
    old = tags[i]
    tags[i] = predicted
    flagged = flagged or {}
    j = i + 1
    if old != "O" and predicted != "O" and old[2:] != predicted[2:]:
        while j < len(tags) and tags[j] == "I-" + old[2:]:
            tags[j] = "I-" + predicted[2:]
            j += 1
    elif old.startswith("B-") and predicted == "O":
        while j < len(tags) and tags[j] == "I-" + old[2:] and flagged.get(j) == "O":
            tags[j] = "O"
            j += 1
    return tags


def open_flags(flags: list[list], tags: list[str]) -> list[list]:
    """The flags ``[token, given, predicted, score]`` still open once a sentence has ``tags``:
    a flag stays while its token keeps the given entity type (a B-/I- prefix changed by the
    IOB2 repair is followed) and has not taken the predicted tag; the rest are settled.

    >>> flags = [[0, "B-ORG", "B-PER", 0.1], [2, "B-LOC", "O", 0.2]]
    >>> open_flags(flags, ["B-ORG", "O", "B-LOC"])  # nothing changed: both stay
    [[0, 'B-ORG', 'B-PER', 0.1], [2, 'B-LOC', 'O', 0.2]]
    >>> open_flags(flags, ["B-PER", "O", "I-LOC"])  # token 0 took the model's tag; 2 is LOC still
    [[2, 'I-LOC', 'O', 0.2]]
    >>> open_flags(flags, ["B-MISC", "O", "O"])  # relabelled by hand: both settled
    []
    """
    out = []
    for tok, given, predicted, score in flags:
        tag = tags[tok] if tok < len(tags) else None
        same = tag == given or (tag not in (None, "O") and given != "O" and tag[2:] == given[2:])
        if same and tag != predicted:
            out.append([tok, tag, predicted, score])
    return out


def accept_all_spans(gold, suggestions) -> list:
    """Accept all never replaces gold: the ``gold`` spans, plus each suggestion (``(span,
    score)``, taken in text order) that overlaps no span taken so far, sorted.

    >>> from nerstudio.core.domain import Span
    >>> gold = [Span(0, 5, "PER")]
    >>> accept_all_spans(gold, [(Span(0, 11, "ORG"), 0.9), (Span(12, 18, "LOC"), 0.8)])
    [Span(start=0, end=5, label='PER'), Span(start=12, end=18, label='LOC')]
    """
    taken = list(gold)
    for sp, _score in sorted(suggestions, key=lambda s: (s[0].start, s[0].end)):
        if all(sp.end <= t.start or sp.start >= t.end for t in taken):
            taken.append(sp)
    return sorted(taken)
