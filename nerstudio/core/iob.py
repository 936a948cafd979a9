"""IOB2 logic as small pure functions (after spaCy's ``training/iob_utils.py``).

Every function rejects malformed tags with a :class:`TagError` naming the position, so a bad file is
caught where it is read and never reaches the store.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from .domain import Span
from .errors import TagError

_PREFIXES = {"B", "I", "E", "S", "L", "U"}


def parse_tag(tag: str, position: int | None = None) -> tuple[str, str]:
    """Split ``B-PER`` into ``("B", "PER")``; ``O`` gives ``("O", "")``."""
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or prefix not in _PREFIXES or not label or label.strip() != label:
        raise TagError(f"malformed tag {tag!r}", position)
    return prefix, label


def validate_iob2(tags: Sequence[str]) -> None:
    """Raise TagError at the first tag that is not valid IOB2 (I- must continue its own type)."""
    prev = "O"
    for i, tag in enumerate(tags):
        prefix, label = parse_tag(tag, i)
        if prefix not in ("B", "I", "O"):
            raise TagError(f"{tag!r} is not an IOB2 tag", i)
        if prefix == "I" and prev not in (f"B-{label}", f"I-{label}"):
            raise TagError(f"{tag!r} follows {prev!r}: an entity must start with B-", i)
        prev = tag


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """Make tags valid IOB2: an orphan I-X (after O or another type) becomes B-X."""
    out, prev = [], "O"
    for i, tag in enumerate(tags):
        prefix, label = parse_tag(tag, i)
        if prefix not in ("B", "I", "O"):
            raise TagError(f"{tag!r} is not an IOB tag", i)
        if prefix == "I" and prev not in (f"B-{label}", f"I-{label}"):
            tag = f"B-{label}"
        out.append(tag)
        prev = tag
    return out


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 starts entities with I- and uses B- only between two adjacent same-type entities;
    the orphan-I repair is exactly the conversion."""
    return repair_iob2(tags)


def bioes_to_iob2(tags: Sequence[str]) -> list[str]:
    """BIOES / BILOU to IOB2: S-/U- become B-, E-/L- become I-."""
    out = []
    for i, tag in enumerate(tags):
        prefix, label = parse_tag(tag, i)
        if prefix in ("S", "U"):
            out.append(f"B-{label}")
        elif prefix in ("E", "L"):
            out.append(f"I-{label}")
        else:
            out.append(tag)
    return repair_iob2(out)


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> str:
    """Guess ``iob2``, ``iob1`` or ``bioes`` from the tags of a whole file."""
    scheme = "iob2"
    for tags in tag_sequences:
        prev = "O"
        for i, tag in enumerate(tags):
            prefix, label = parse_tag(tag, i)
            if prefix in ("E", "S", "L", "U"):
                return "bioes"
            if prefix == "I" and prev not in (f"B-{label}", f"I-{label}"):
                scheme = "iob1"
            prev = tag
    return scheme


def to_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """Convert one sentence's tags from ``scheme`` (iob2 is validated strictly)."""
    if scheme == "iob2":
        validate_iob2(tags)
        return list(tags)
    if scheme == "iob1":
        return iob1_to_iob2(tags)
    if scheme == "bioes":
        return bioes_to_iob2(tags)
    raise ValueError(f"unknown tag scheme {scheme!r}")


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """Valid IOB2 tags to spans in one pass; raises TagError (with the position) on anything
    else. Hot path of every import, hence no separate validation pass."""
    spans, start, label = [], -1, ""
    for i, tag in enumerate(tags):
        if tag == "O":
            if start >= 0:
                spans.append(Span(start, i, label))
                start = -1
        elif tag.startswith("B-"):
            if start >= 0:
                spans.append(Span(start, i, label))
            start, label = i, tag[2:]
            if label not in _GOOD_LABELS:
                parse_tag(tag, i)
                _GOOD_LABELS.add(label)
        elif not (tag.startswith("I-") and start >= 0 and tag[2:] == label):
            validate_iob2(tags[:i + 1])  # raises the precise error for position i
            raise TagError(f"malformed tag {tag!r}", i)
    if start >= 0:
        spans.append(Span(start, len(tags), label))
    return spans


_GOOD_LABELS: set[str] = set()


def spans_to_tags(spans: Iterable[Span], length: int) -> list[str]:
    """Spans over ``length`` tokens to IOB2 tags; overlapping or out-of-range spans are rejected."""
    tags = ["O"] * length
    for span in sorted(spans):
        if span.end > length:
            raise TagError(f"span [{span.start}, {span.end}) is beyond {length} tokens", span.start)
        if any(t != "O" for t in tags[span.start:span.end]):
            raise TagError(f"span [{span.start}, {span.end}) {span.label} overlaps another span",
                           span.start)
        tags[span.start] = f"B-{span.label}"
        for i in range(span.start + 1, span.end):
            tags[i] = f"I-{span.label}"
    return tags


def check_spans(spans: Sequence[Span], length: int) -> None:
    """Raise TagError unless spans lie inside ``length`` tokens and do not overlap."""
    spans_to_tags(spans, length)
