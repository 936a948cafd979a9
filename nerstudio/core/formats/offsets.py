"""Character-offset formats: doccano JSONL and Label Studio JSON export.

Text is tokenized with entity edges forced as token boundaries, so every entity maps to whole
tokens; records are split into sentences, never inside an entity.

Offsets are read as characters (code points, as Python and doccano count); a record whose offsets
count UTF-16 code units (older Label Studio, anything written in JavaScript) is detected and
converted, or refused, by :func:`offset_units`; a span edge inside a character cluster is moved
out to keep it whole (:func:`whole_graphemes`). The import report says so."""
from __future__ import annotations

import json
import reprlib
from collections.abc import Iterator
from pathlib import Path

from ..domain import Sentence, Span, Token
from ..errors import ImportFormatError
from ..store import DocumentStart, ProjectStore
from ..tokenize import rebase, split_sentences, tokenize
from ._io import read_lines, record_status, split_from_name
from .report import location
from .safety import atomic_file
from .jsonl import _json_objects, _jsonl_objects, _SPLIT_ALIASES
from .units import offset_units, whole_graphemes

CharSpan = tuple[int, int, str]


def text_to_sentences(text: str, char_spans: list[CharSpan], fail, split: str = "unassigned",
                      sentence_split: bool = True, status: str = "labelled") -> list[Sentence]:
    """Tokenize ``text`` and turn character spans into token Spans, one Sentence per sentence.
    ``fail(message)`` raises the caller's located error."""
    ordered = _checked(text, char_spans, fail)
    tokens = tokenize(text, [o for s, e, _ in ordered for o in (s, e)])
    groups = split_sentences(text, tokens) if sentence_split else ([tokens] if tokens else [])
    # token index -> (sentence, index within it); merge sentences an entity would straddle
    token_spans = []
    for s, e, label in ordered:
        inside = [i for i, t in enumerate(tokens) if t.start >= s and t.end <= e]
        if not inside:
            fail(f"span [{s}, {e}) {label} covers no word (only spaces?)")
        token_spans.append((inside[0], inside[-1] + 1, label))
    groups = _merge_straddled(groups, token_spans)
    out, base = [], 0
    for group in groups:
        sent_text, sent_tokens = rebase(group, text)
        spans = [Span(a - base, b - base, l) for a, b, l in token_spans
                 if base <= a < base + len(group)]
        out.append(Sentence(tokens=sent_tokens, spans=spans, text=sent_text, split=split,
                            status=status))
        base += len(group)
    return out


def given_tokens(text: str, words, char_spans: list[CharSpan]) -> list[Token] | None:
    """The record's own ``tokens`` (a nerstudio doccano export writes them) placed in ``text``,
    or None when they are absent or do not fit it: each word found in order with only spaces
    between, and every span starting and ending on a token edge. Trusted when they fit, so an
    export reads back to the same tokens and one sentence, whatever the tokenizer would do
    (``'s``, ``--``, a closing quote); a text edited since is tokenized afresh."""
    if not isinstance(words, list) or not words or not all(
            isinstance(w, str) and w and not any(c.isspace() for c in w) for w in words):
        return None
    tokens, pos = [], 0
    for w in words:
        i = text.find(w, pos)
        if i < 0 or text[pos:i].strip():
            return None
        tokens.append(Token(w, i, i + len(w)))
        pos = i + len(w)
    starts, ends = {t.start for t in tokens}, {t.end for t in tokens}
    if text[pos:].strip() or not all(
            isinstance(s, int) and isinstance(e, int) and s in starts and e in ends
            for s, e, _l in char_spans):
        return None
    return tokens


def tokens_to_sentence(text: str, tokens: list[Token], char_spans: list[CharSpan], fail,
                       split: str, status: str) -> Sentence:
    """One Sentence of ``tokens`` (see :func:`given_tokens`) with the character spans."""
    ordered = _checked(text, char_spans, fail)
    first = {t.start: i for i, t in enumerate(tokens)}
    last = {t.end: i + 1 for i, t in enumerate(tokens)}
    spans = [Span(first[s], last[e], label) for s, e, label in ordered]
    sent_text, sent_tokens = rebase(tokens, text)
    return Sentence(tokens=sent_tokens, spans=spans, text=sent_text, split=split, status=status)


def _checked(text: str, char_spans: list[CharSpan], fail) -> list[CharSpan]:
    """The spans sorted, each checked: integer offsets inside ``text``, a label without spaces,
    no two overlapping."""
    for s, e, label in char_spans:
        if not (isinstance(s, int) and isinstance(e, int)) or isinstance(s, bool):
            fail(f"span offsets must be integers, got {s!r}, {e!r}")
        if not (0 <= s < e <= len(text)):
            fail(f"span [{s}, {e}) is outside the text of {len(text)} characters")
        if not isinstance(label, str) or not label or any(c.isspace() for c in label):
            fail(f"invalid label {label!r}")
    ordered = sorted(char_spans)
    for (s1, e1, l1), (s2, e2, l2) in zip(ordered, ordered[1:]):
        if s2 < e1:
            fail(f"spans [{s1}, {e1}) {l1} and [{s2}, {e2}) {l2} overlap")
    return ordered


def _repaired(text, spans, quoted, fail, report, where) -> list[CharSpan]:
    """The spans in whole characters (see :func:`offset_units`, :func:`whole_graphemes`), what
    was done told to ``report``."""
    spans, utf16 = offset_units(text, spans, quoted, fail)
    spans, widened = whole_graphemes(text, spans)
    if report is not None:
        report.offsets(utf16, widened, where)
    return spans


def _merge_straddled(groups, token_spans):
    cut_inside = {i for a, b, _ in token_spans for i in range(a + 1, b)}
    merged, current, total = [], [], 0
    for g in groups:
        current += g
        total += len(g)
        if total not in cut_inside:
            merged.append(current)
            current = []
    if current:
        merged.append(current)
    return merged


def _record_split(obj, split, default, fail):
    value = obj.get("split")
    if value is not None and not isinstance(value, str):
        fail(f"unknown split {value!r}")
    value = split or _SPLIT_ALIASES.get(value, value) or default
    if value not in ("train", "dev", "test", "unassigned"):
        fail(f"unknown split {value!r}")
    return value


def _objects(path: Path):
    for _n, line in read_lines(path):
        if line.strip():
            return _json_objects(path) if line.lstrip().startswith("[") else _jsonl_objects(path)
    raise ImportFormatError("empty file: no records", path)


def read_doccano(path: str | Path, split: str | None = None,
                 sentence_split: bool = True, report=None) -> Iterator:
    path = Path(path)
    default = split_from_name(path)
    for where, obj in _objects(path):
        def fail(msg, where=where):
            raise ImportFormatError(msg, path, where)
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            fail("a doccano record needs a 'text' string")
        keys = [k for k in ("label", "labels", "entities") if k in obj]
        raw = obj[keys[0]] if keys else []
        status = record_status(obj.get("status"), path, where).get(
            "status", "labelled" if keys else "unlabelled")  # no labels at all: not gold
        if not isinstance(raw, list):
            fail("'label' must be a list of [start, end, label]")
        spans = []
        for item in raw:
            if isinstance(item, dict):
                item = [item.get("start_offset"), item.get("end_offset"), item.get("label")]
            if not isinstance(item, (list, tuple)) or len(item) != 3:
                fail(f"a label must be [start, end, label], got {reprlib.repr(item)}")
            spans.append(tuple(item))
        tokens = given_tokens(obj["text"], obj.get("tokens"), spans)
        if tokens is None:  # (spans on the record's own tokens need no repair)
            spans = _repaired(obj["text"], spans, None, fail, report, location(path, where))
        record_split = _record_split(obj, split, default, fail)
        if tokens is not None:  # a nerstudio export: its own tokens, one sentence
            sentences = [tokens_to_sentence(obj["text"], tokens, spans, fail, record_split,
                                            status)]
        else:
            sentences = text_to_sentences(obj["text"], spans, fail, record_split,
                                          sentence_split, status)
        yield DocumentStart(f"{path.name}#{where}")
        yield from _told(report, location(path, where), sentences)


def read_label_studio(path: str | Path, split: str | None = None,
                      sentence_split: bool = True, report=None) -> Iterator:
    path = Path(path)
    default = split_from_name(path)
    for where, task in _objects(path):
        def fail(msg, where=where):
            raise ImportFormatError(msg, path, where, "task")
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            fail("a Label Studio task needs a 'data' object")
        text = task["data"].get("text")
        if not isinstance(text, str):
            text = next((v for v in task["data"].values() if isinstance(v, str)), None)
        if text is None:
            fail("task data holds no text")
        annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)
                       and not a.get("was_cancelled")]
        spans, quoted = [], []
        for r in (annotations[0].get("result") or []) if annotations else []:
            if not isinstance(r, dict) or r.get("type") not in ("labels", None):
                continue
            v = r.get("value") or {}
            labels = v.get("labels") or [] if isinstance(v, dict) else None
            if not isinstance(labels, list) or len(labels) != 1:
                fail(f"each region needs exactly one label, got {labels!r}")
            spans.append((v.get("start"), v.get("end"), labels[0]))
            quoted.append(v.get("text"))
        status = "labelled" if annotations else "unlabelled"
        spans = _repaired(text, spans, quoted, fail, report, location(path, where, "task"))
        yield DocumentStart(f"{path.name}#{where}")
        yield from _told(report, location(path, where, "task"), text_to_sentences(
            text, spans, fail, _record_split(task, split, default, fail), sentence_split, status))


def _told(report, where: str, sentences: list[Sentence]) -> list[Sentence]:
    """``sentences``, counted in ``report`` (an ImportReport, or None) as read at ``where``."""
    if report is not None:
        for s in sentences:
            report.sentence(s, where)
    return sentences


def _char_spans(s: Sentence) -> list[list]:
    return [[s.tokens[sp.start].start, s.tokens[sp.end - 1].end, sp.label] for sp in s.spans]


def write_doccano(store: ProjectStore, path: str | Path, split: str | None = None) -> int:
    """One record per sentence: ``{"text", "label": [[start, end, label]], "tokens", "split",
    "status"}`` (written atomically). ``tokens`` (doccano keeps it as metadata) makes the
    export read back to the same tokens and sentences (see :func:`given_tokens`)."""
    n = 0
    with atomic_file(path) as f:
        for s in store.iter_sentences(split=split):
            f.write(json.dumps({"id": s.id, "text": s.text, "label": _char_spans(s),
                                "tokens": s.words, "split": s.split, "status": s.status},
                               ensure_ascii=False) + "\n")
            n += 1
    return n


def read_text(path: str | Path, split: str | None = None) -> Iterator:
    """Plain text: paragraphs (blank-line separated) become documents of unlabelled sentences."""
    path = Path(path)
    paragraph, start_line = [], None

    def flush():
        text = "\n".join(paragraph)
        return text_to_sentences(text, [], lambda m: None, split or "unassigned", True, "unlabelled")

    any_text = False
    for number, line in read_lines(path):
        if line.strip():
            any_text = True
            paragraph.append(line)
            start_line = start_line or number
        elif paragraph:
            yield DocumentStart(f"{path.name}:{start_line}")
            yield from flush()
            paragraph, start_line = [], None
    if paragraph:
        yield DocumentStart(f"{path.name}:{start_line}")
        yield from flush()
    if not any_text:
        raise ImportFormatError("empty file: no text", path)
