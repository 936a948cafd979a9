"""Domain dataclasses shared by every layer.

Glossary: a *Token* is a word as the user sees and labels it (with character offsets into its
sentence's text); a *Subword* is what a model tokenizer makes of a Token. A *Tag* is a per-token IOB2
string (``B-PER``); a *Label* is an entity type (``PER``). A *Span* is a labelled run of tokens
``[start, end)``. A *Sentence* is tokens plus gold spans.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

SPLITS = ("train", "dev", "test", "unassigned")
STATUSES = ("unlabelled", "labelled", "reviewed")
# The statuses whose tags are gold: what training, scoring, the review and exports read.
LABELLED = ("labelled", "reviewed")


class Token(NamedTuple):
    """A word and where it sits in its sentence's text: ``text == sentence_text[start:end]``.
    A NamedTuple, not a dataclass: hundreds of thousands are built per import."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Tokens ``start`` (inclusive) to ``end`` (exclusive) carry entity type ``label``."""

    start: int
    end: int
    label: str

    def __post_init__(self):
        if not (0 <= self.start < self.end):
            raise ValueError(f"invalid span [{self.start}, {self.end})")


@dataclass(slots=True)
class Sentence:
    """One unit of labelling. ``spans`` are gold entities over token indices, never overlapping."""

    tokens: list[Token]
    spans: list[Span] = field(default_factory=list)
    text: str = ""
    split: str = "unassigned"
    status: str = "unlabelled"
    id: int | None = None
    columns: list[list[str]] | None = None  # extra CoNLL columns (POS, chunk...) kept for export
    version: int = 0  # the store's change counter: an edit made on an older version is refused

    @property
    def words(self) -> list[str]:
        return [t.text for t in self.tokens]

    @classmethod
    def from_words(cls, words: list[str], **kw) -> "Sentence":
        """Build a sentence from pre-tokenized words joined by single spaces (CoNLL, JSONL)."""
        tokens, pos = [], 0
        for w in words:
            tokens.append(Token(w, pos, pos + len(w)))
            pos += len(w) + 1
        return cls(tokens=tokens, text=" ".join(words), **kw)


# Colours readable with black text on light and dark backgrounds alike (pastel, high lightness).
DEFAULT_COLOURS = ("#7fb3ff", "#ffb870", "#8fe0a0", "#f5a3c7", "#c7a6ff", "#ffe07a",
                   "#7fe0e0", "#ff9f9f", "#bfe07f", "#d9c3a5")


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    colour: str


@dataclass(slots=True)
class LabelSet:
    """Ordered entity types. The order fixes tag ids: O, B-L1, I-L1, B-L2, I-L2, ..."""

    labels: list[Label] = field(default_factory=list)

    @classmethod
    def of(cls, names) -> "LabelSet":
        return cls([Label(n, DEFAULT_COLOURS[i % len(DEFAULT_COLOURS)]) for i, n in enumerate(names)])

    @property
    def names(self) -> list[str]:
        return [l.name for l in self.labels]

    def tags(self) -> list[str]:
        """The IOB2 tag list in id order."""
        out = ["O"]
        for n in self.names:
            out += [f"B-{n}", f"I-{n}"]
        return out

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def __len__(self) -> int:
        return len(self.labels)
