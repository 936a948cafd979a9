"""``nerstudio predict``: text (or each line of it) to entities, as JSON lines or in colour.

Raw text goes through the annotation tokenizer and sentence splitter (as in the app);
``--lines`` makes each input line its own text, numbered from 1, with offsets into that line, and
streams: lines are read, predicted and printed a chunk at a time. ``--pretokenized`` is one
sentence per line, its words separated by whitespace and taken as they are (no re-tokenizing):
the same line by line output (``line``, offsets into the line) plus ``token_start`` /
``token_end`` within the line's words. (It once read the input as one text: offsets counted
across lines, no line field, so a caller could not tell which sentence an entity was in.) Long input shows
nerstudio's progress on stderr (see :mod:`nerstudio.progress`).
"""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from .core.domain import Token

CHUNK_SENTENCES = 256
_COLOURS = ["\033[1;44m", "\033[1;43m", "\033[1;42m", "\033[1;45m", "\033[1;46m", "\033[1;41m"]
_WORD = re.compile(r"\S+")


def words(text: str) -> list[Token]:
    """Whitespace-separated words with their offsets: ``--pretokenized`` input."""
    return [Token(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def sentences_of(text: str, pretokenized: bool) -> list[list[Token]]:
    """The sentences of ``text`` (offsets into ``text``): split by the annotation tokenizer, or,
    pre-tokenized, one per non-empty line."""
    if pretokenized:
        out, pos = [], 0
        for line in text.splitlines(keepends=True):
            toks = [Token(t.text, t.start + pos, t.end + pos) for t in words(line)]
            if toks:
                out.append(toks)
            pos += len(line)
        return out
    from .core.tokenize import split_sentences, tokenize

    if not text.strip():
        return []
    return split_sentences(text, tokenize(text))


def input_lines(source: str) -> tuple[Iterable[str], int | None]:
    """(lines without their line ends, how many when known) of ``-`` (standard input, read as it
    comes), an existing file, or else the argument itself."""
    if source == "-":
        return (line.rstrip("\r\n") for line in sys.stdin), None
    path = Path(source)
    if "\n" not in source and path.is_file():
        text = path.read_text(encoding="utf-8-sig")
    else:
        text = source
    lines = text.splitlines()
    return lines, len(lines)


def read_text(source: str) -> str:
    return sys.stdin.read() if source == "-" else source


def run(a, predictor) -> int:
    from .progress import progress

    fmt = a.format or ("color" if sys.stdout.isatty() else "json")
    out = _Printer(fmt, predictor, a.threshold, a.pretokenized)
    if a.lines or a.pretokenized:
        lines, total = input_lines(a.text)
        with progress(total, "lines", "predicting") as bar:
            for chunk in _chunks(enumerate(lines, 1), a.pretokenized):
                _predict_chunk(predictor, chunk)
                for number, text, sents, preds in chunk:
                    out.emit(text, sents, preds, number)
                sys.stdout.flush()
                bar.update(len(chunk))
        return 0
    text = read_text(a.text)
    sents = sentences_of(text, a.pretokenized)
    preds = []
    with progress(len(sents), "sentences", "predicting") as bar:
        for i in range(0, len(sents), CHUNK_SENTENCES):
            part = sents[i:i + CHUNK_SENTENCES]
            preds += predictor.predict_words([[t.text for t in s] for s in part])
            bar.update(len(part))
    out.emit(text, sents, preds, None)
    return 0


def _chunks(numbered: Iterable[tuple[int, str]], pretokenized: bool) -> Iterator[list]:
    """[number, text, sentences, None] rows, about CHUNK_SENTENCES sentences at a time."""
    chunk, n = [], 0
    for number, text in numbered:
        sents = [words(text)] if pretokenized else sentences_of(text, False)
        sents = [s for s in sents if s]
        chunk.append([number, text, sents, None])
        n += len(sents)
        if n >= CHUNK_SENTENCES:
            yield chunk
            chunk, n = [], 0
    if chunk:
        yield chunk


def _predict_chunk(predictor, chunk: list) -> None:
    flat = [[t.text for t in s] for row in chunk for s in row[2]]
    preds = iter(predictor.predict_words(flat) if flat else [])
    for row in chunk:
        row[3] = [next(preds) for _ in row[2]]


class _Printer:
    def __init__(self, fmt: str, predictor, threshold: float, pretokenized: bool):
        self.fmt = fmt
        self.threshold = threshold
        self.pretokenized = pretokenized
        self.colours = ({l: _COLOURS[i % len(_COLOURS)] for i, l in enumerate(predictor.labels)}
                        if fmt == "color" else {})

    def emit(self, text: str, sents: list[list[Token]], preds: list, line: int | None) -> None:
        entities = [e for e in _entities(sents, preds) if e["score"] >= self.threshold]
        if self.fmt == "json":
            for e in entities:
                record = {} if line is None else {"line": line}
                record.update(label=e["label"], start=e["start"], end=e["end"],
                              text=text[e["start"]:e["end"]], score=round(e["score"], 4))
                if self.pretokenized:
                    record.update(token_start=e["token_start"], token_end=e["token_end"])
                print(json.dumps(record, ensure_ascii=False))
            return
        parts, pos = [], 0
        for e in entities:
            parts += [text[pos:e["start"]], f"{self.colours[e['label']]}{text[e['start']:e['end']]}"
                      f"\033[0m\033[2m[{e['label']}]\033[0m"]
            pos = e["end"]
        print("".join(parts) + text[pos:])


def _entities(sents: list[list[Token]], preds: list) -> list[dict]:
    """Entities with character offsets (into the text the tokens index) and token indices
    (counted over all of the text's tokens)."""
    out, base = [], 0
    for sent, pred in zip(sents, preds):
        for a, b, label, score in pred.spans():
            out.append({"label": label, "start": sent[a].start, "end": sent[b - 1].end,
                        "score": score, "token_start": base + a, "token_end": base + b})
        base += len(sent)
    return out
