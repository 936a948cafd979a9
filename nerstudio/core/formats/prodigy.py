"""Prodigy-style JSONL (what ``prodigy db-out`` writes and ``ner.manual`` reads): one task a line,

    {"text": "Apple hires", "tokens": [{"text": "Apple", "start": 0, "end": 5, "id": 0,
     "ws": true}, ...], "spans": [{"start": 0, "end": 5, "token_start": 0, "token_end": 0,
     "label": "ORG"}], "answer": "accept"}

``token_end`` is INCLUSIVE. Import: ``answer`` accept makes a labelled sentence, reject / ignore
tasks are skipped (counted in the import report); a task without an answer is labelled when it
has spans and unlabelled when it has none. A ``status`` field (nerstudio's own) wins over the
answer. Tasks with ``tokens`` keep them (whitespace tokens, which spaCy makes of double spaces,
are dropped); tasks without are tokenized like doccano. Export: labelled / reviewed sentences
are ``accept`` tasks with spans; unlabelled ones have no answer and no spans, so they read back
unlabelled."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ..domain import Sentence, Span, Token
from ..errors import ImportFormatError
from ..store import DocumentStart, ProjectStore
from ..tokenize import rebase
from ._io import record_status, split_from_name
from .offsets import _objects, _record_split, _told, text_to_sentences
from .units import whole_graphemes
from .report import location
from .safety import atomic_file

ANSWERS = ("accept", "reject", "ignore")


def read_prodigy(path: str | Path, split: str | None = None, sentence_split: bool = True,
                 report=None) -> Iterator:
    path = Path(path)
    default = split_from_name(path)
    for where, task in _objects(path):
        def fail(msg, where=where):
            raise ImportFormatError(msg, path, where)
        if not isinstance(task, dict) or not isinstance(task.get("text"), str):
            fail("a Prodigy task needs a 'text' string")
        answer = task.get("answer")
        if answer is not None and answer not in ANSWERS:
            fail(f"unknown answer {answer!r}; one of {', '.join(ANSWERS)}")
        if answer in ("reject", "ignore"):
            if report is not None:
                report.skip(answer, location(path, where))
            continue
        raw_spans = task.get("spans") or []
        if not isinstance(raw_spans, list):
            fail("'spans' must be a list")
        status = record_status(task.get("status"), path, where).get(
            "status", "labelled" if answer == "accept" or raw_spans else "unlabelled")
        record_split = _record_split(task, split, default, fail)
        yield DocumentStart(f"{path.name}#{where}")
        if task.get("tokens") is None:
            char_spans, widened = whole_graphemes(task["text"],
                                                  [_char_span(s, fail) for s in raw_spans])
            if report is not None:  # an edge inside a letter + accent, an emoji sequence
                report.offsets(False, widened, location(path, where))
            sentences = text_to_sentences(task["text"], char_spans, fail, record_split,
                                          sentence_split, status)
        else:
            sentences = [_tokenized(task, raw_spans, fail, record_split, status)]
        yield from _told(report, location(path, where), sentences)


def _char_span(span, fail) -> tuple:
    if not isinstance(span, dict):
        fail(f"a span must be an object with start, end and label, got {span!r}")
    return span.get("start"), span.get("end"), span.get("label")


def _tokenized(task: dict, raw_spans: list, fail, split: str, status: str) -> Sentence:
    text, raw_tokens = task["text"], task["tokens"]
    if not isinstance(raw_tokens, list) or not raw_tokens:
        fail("'tokens' must be a non-empty list of {text, start, end} objects")
    kept, index = [], {}  # Prodigy token position -> ours (whitespace tokens dropped)
    for i, t in enumerate(raw_tokens):
        if not isinstance(t, dict):
            fail(f"token {i} must be an object with text, start and end, got {t!r}")
        word, start, end = t.get("text"), t.get("start"), t.get("end")
        if not (_int(start) and _int(end)) or not isinstance(word, str):
            fail(f"token {i} needs a 'text' string and integer 'start' / 'end'")
        if not (0 <= start <= end <= len(text)) or text[start:end] != word:
            fail(f"token {i} {word!r} is not the text at [{start}, {end})")
        if not word.strip():
            continue  # spaCy's whitespace token
        if any(c.isspace() for c in word):
            fail(f"token {i} {word!r} holds a space; tokens must be single words")
        if kept and start < kept[-1].end:
            fail(f"token {i} {word!r} overlaps the token before it")
        index[i] = len(kept)
        kept.append(Token(word, start, end))
    if not kept:
        fail("the task has no tokens but whitespace")
    spans = []
    for sp in raw_spans:
        if not isinstance(sp, dict):
            fail(f"a span must be an object, got {sp!r}")
        label = sp.get("label")
        if not isinstance(label, str) or not label or any(c.isspace() for c in label):
            fail(f"invalid label {label!r}")
        a, b = _token_range(sp, kept, index, fail)
        spans.append(Span(a, b, label))
    spans.sort()
    for x, y in zip(spans, spans[1:]):
        if y.start < x.end:
            fail(f"spans {x.label} and {y.label} overlap")
    sent_text, tokens = rebase(kept, text)
    return Sentence(tokens=tokens, spans=spans, text=sent_text, split=split, status=status)


def _token_range(sp: dict, kept: list[Token], index: dict, fail) -> tuple[int, int]:
    """``[start, end)`` over our tokens: from token_start / token_end (inclusive) when given,
    else from the character offsets, which must fall on token edges."""
    ts, te = sp.get("token_start"), sp.get("token_end")
    if ts is not None or te is not None:
        if not (_int(ts) and _int(te)) or ts not in index or te not in index \
                or index[te] < index[ts]:
            fail(f"span token_start {ts!r} / token_end {te!r} (inclusive) do not name tokens "
                 "of the task in order")
        a, b = index[ts], index[te] + 1
        s, e = sp.get("start"), sp.get("end")
        if s is not None and e is not None and (s, e) != (kept[a].start, kept[b - 1].end):
            fail(f"span [{s}, {e}) does not match its tokens {ts}..{te} "
                 f"[{kept[a].start}, {kept[b - 1].end})")
        return a, b
    s, e = sp.get("start"), sp.get("end")
    starts = {t.start: i for i, t in enumerate(kept)}
    ends = {t.end: i for i, t in enumerate(kept)}
    if not (_int(s) and _int(e)) or s not in starts or e not in ends or ends[e] < starts[s]:
        fail(f"span [{s!r}, {e!r}) does not fall on token edges")
    return starts[s], ends[e] + 1


def _int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def task(s: Sentence) -> dict:
    """One sentence as a Prodigy task (see the module docstring)."""
    text = s.text
    out = {"text": text,
           "tokens": [{"text": t.text, "start": t.start, "end": t.end, "id": i,
                       "ws": text[t.end:t.end + 1].isspace()} for i, t in enumerate(s.tokens)]}
    if s.status != "unlabelled":
        out["spans"] = [{"start": s.tokens[sp.start].start, "end": s.tokens[sp.end - 1].end,
                         "token_start": sp.start, "token_end": sp.end - 1, "label": sp.label}
                        for sp in s.spans]
        out["answer"] = "accept"
    out.update({"meta": {"id": s.id, "split": s.split}, "split": s.split, "status": s.status})
    return out


def write_prodigy(store: ProjectStore, path: str | Path, split: str | None = None) -> int:
    """One task per sentence, every status (written atomically)."""
    n = 0
    with atomic_file(path) as f:
        for s in store.iter_sentences(split=split):
            f.write(json.dumps(task(s), ensure_ascii=False) + "\n")
            n += 1
    return n
