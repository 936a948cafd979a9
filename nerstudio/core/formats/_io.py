"""Reading helpers shared by the importers: decoding that names the line, and tagged-sentence
conversion with file-level tag-scheme detection."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..domain import STATUSES, Sentence, Token
from ..errors import ImportFormatError, TagError
from ..iob import bioes_to_iob2, tags_to_spans, to_iob2
from .report import location

SCHEMES = ("auto", "iob2", "iob1", "bioes")


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` without line endings. Handles CRLF and a UTF-8 BOM at the start
    of ANY line (files concatenated from several sources carry one per part: a lone BOM line is
    then a blank line); binary data or invalid UTF-8 raise ImportFormatError at that line."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise ImportFormatError(f"cannot read: {exc.strerror or exc}", path) from exc
    with f:
        for number, raw in enumerate(f, 1):
            while raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if b"\x00" in raw:
                raise ImportFormatError("binary data (NUL byte); not a text file", path, number)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ImportFormatError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
                                        path, number) from exc
            yield number, text.rstrip("\r\n")


class JSONTooDeep(ValueError):
    """JSON nested deeper than Python's stack can read."""


def json_loads(text: str):
    """``json.loads``, with nesting too deep for Python's stack (``[[[[...`` by the hundred
    thousand) a ValueError like any other bad JSON, so callers report it in one line with the
    file and line, not a RecursionError traceback."""
    try:
        return json.loads(text)
    except RecursionError:
        raise JSONTooDeep("nested too deeply to read") from None


def strip_token_prefix(sentence: Sentence, prefix: str) -> Sentence:
    """Remove ``prefix`` from every token that starts with it and has more after it (a token
    that is only the prefix stays), keeping the text between tokens, so every token is still
    ``text[start:end]``."""
    n = len(prefix)
    if not any(t.text.startswith(prefix) and len(t.text) > n for t in sentence.tokens):
        return sentence
    parts, tokens, pos, last = [], [], 0, 0
    for t in sentence.tokens:
        gap = sentence.text[last:t.start]
        word = t.text[n:] if t.text.startswith(prefix) and len(t.text) > n else t.text
        parts += [gap, word]
        pos += len(gap)
        tokens.append(Token(word, pos, pos + len(word)))
        pos += len(word)
        last = t.end
    parts.append(sentence.text[last:])
    sentence.tokens, sentence.text = tokens, "".join(parts)
    return sentence


def split_from_name(path: Path) -> str:
    """Guess the split from a file name: train.txt, valid.txt / dev.txt, test.txt."""
    name = Path(path).name.lower()
    if "train" in name:
        return "train"
    if "valid" in name or "dev" in name:
        return "dev"
    if "test" in name:
        return "test"
    return "unassigned"


def tagged_sentences(records: Iterable, path: Path, scheme: str = "auto",
                     unit: str = "line", report=None) -> Iterator:
    """Turn ``(where, words, tags, fields)`` records into Sentences with IOB2 spans.

    ``auto`` needs no detection pass: read as BIOES-then-IOB1, a sentence that is valid IOB2 is
    unchanged, an IOB1 sentence has its orphan I- made B-, and S-/E- (or U-/L-) map to B-/I-. So
    one streaming pass converts IOB2, IOB1 and BIOES files alike. ``iob2`` is strict: an I- after
    O is an error. Other items (document boundaries) pass through. ``where`` is a line number or
    a list of line numbers, one per token, so a tag error names the line of the bad tag.
    ``tags`` None (a record without tags) makes an unlabelled sentence; ``fields`` may carry the
    record's own ``status``, else a tagged sentence is labelled. ``report`` (an ImportReport)
    counts the tags a conversion changed and the labels read, with where they are."""
    if scheme not in SCHEMES:
        raise ImportFormatError(f"unknown tag scheme {scheme!r}", path)
    for rec in records:
        if not isinstance(rec, tuple):
            yield rec
            continue
        where, words, tags, fields = rec
        where_of = lambda i, where=where: location(path, _at(where, i), unit)  # noqa: E731
        try:
            spans = [] if tags is None else _spans(tags, scheme, report, where_of)
        except TagError as exc:
            raise ImportFormatError(_tag_reason(exc, scheme), path, _at(where, exc.position),
                                    unit) from exc
        fields = {"status": "unlabelled" if tags is None else "labelled", **fields}
        sentence = Sentence.from_words(words, spans=spans, **fields)
        if report is not None:
            report.sentence(sentence, where_of)
        yield sentence


def record_status(value, path, where, unit: str = "line") -> dict:
    """``{"status": value}`` for a record's own status field, ``{}`` when it has none."""
    if value is None:
        return {}
    if value not in STATUSES:
        raise ImportFormatError(f"unknown status {value!r}; one of {', '.join(STATUSES)}",
                                path, where, unit)
    return {"status": value}


def _spans(tags, scheme, report, where_of):
    """Spans of one sentence's tags read as ``scheme``; the tags a conversion changed are
    counted in ``report``."""
    if scheme == "iob2":
        return tags_to_spans(to_iob2(tags, scheme))
    if scheme == "auto":
        try:
            return tags_to_spans(tags)  # fast path: already IOB2
        except TagError:
            iob2 = bioes_to_iob2(tags)
    else:
        iob2 = to_iob2(tags, scheme)
    if report is not None:
        report.tags(tags, iob2, where_of)
    return tags_to_spans(iob2)


def _at(where, position):
    if isinstance(where, list):
        return where[position] if position is not None and position < len(where) else where[0]
    return where


def _tag_reason(exc: TagError, scheme: str) -> str:
    reason = str(exc).split(": ", 1)[-1]
    return reason + (" (strict IOB2)" if scheme == "iob2" else "")
