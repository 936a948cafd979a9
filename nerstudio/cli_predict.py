"""``nerstudio predict``: text (or each line of it) to entities, as JSON lines or in colour.

Raw text goes through the annotation tokenizer and sentence splitter (as in the app);
``--lines`` makes each input line its own text, numbered from 1, with offsets into that line, and
streams: lines are read, predicted and printed a chunk at a time. ``--pretokenized`` is one
sentence per line, its words separated by whitespace and taken as they are (no re-tokenizing):
the same line by line output (``line``, offsets into the line) plus ``token_start`` /
``token_end`` within the line's words. (It once read the input as one text: offsets counted
across lines, no line field, so a caller could not tell which sentence an entity was in.) Long input shows
nerstudio's progress on stderr (see :mod:`nerstudio.progress`).

``nerstudio preannotate`` lives here too: the other command that runs a trained model, on a
project's sentences (``usecases.suggest``, as the app's Pre-annotate). cli.build_parser() adds
both with :func:`add_predict_parser` / :func:`add_preannotate_parser`; main() dispatches to
:func:`cmd_predict` / :func:`cmd_preannotate`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from .core.domain import Token

CHUNK_SENTENCES = 256
_COLOURS = ["\033[1;44m", "\033[1;43m", "\033[1;42m", "\033[1;45m", "\033[1;46m", "\033[1;41m"]
_WORD = re.compile(r"\S+")


# -- the commands ------------------------------------------------------------------------------
def add_predict_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser("predict", help="find entities in text with a trained model",
                       description="Prints one JSON object per entity (label, character start and "
                       "end, text, score), or the text with entities in colour.")
    s.add_argument("text", nargs="?", default="-",
                   help="the text, or - to read standard input (default); with --lines also a "
                   "file, one text per line")
    s.add_argument("--lines", action="store_true",
                   help="each input line is its own text: offsets are into the line, and each "
                   "entity carries its line number (\"line\": N, from 1)")
    s.add_argument("--pretokenized", action="store_true",
                   help="one sentence per line, its words separated by whitespace and used as "
                   "they are (no re-tokenizing); output line by line as with --lines, entities "
                   "also carry token_start / token_end (word indices within the line)")
    s.add_argument("--model", required=True,
                   help="a model folder, 'embedded', or a run number of --project")
    s.add_argument("--project", help="project whose run --model names")
    s.add_argument("--format", choices=["json", "color"],
                   help="JSON lines, or the text with entities in colour (default: colour on a "
                   "terminal, JSON otherwise)")
    s.add_argument("--threshold", type=float, default=0.0, help="drop entities below this score")
    add_precision_option(s)
    return s


def add_precision_option(s) -> None:
    s.add_argument("--precision", choices=["auto", "fp32", "int8"], default="auto",
                   help="auto: on a CPU the model's int8 export (built once, kept beside it) "
                   "when ONNX Runtime is installed, fp32 on a GPU; fp32: always the full model")


def _predictor(model: str, project: str | None, precision: str = "auto"):
    from .core.inference import Predictor
    from .core.usecases import prediction_model

    folder, run_id = prediction_model(project, model)
    return Predictor(folder, precision=precision), run_id


def cmd_predict(a) -> int:
    predictor, _run = _predictor(a.model, a.project, a.precision)
    return run(a, predictor)


def add_preannotate_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser("preannotate", help="store a model's suggestions for unlabelled sentences")
    s.add_argument("project")
    s.add_argument("--model", help="a model folder or a run number (default: the project's "
                   "active model, as the app's Pre-annotate)")
    s.add_argument("--split", choices=["train", "dev", "test", "unassigned"])
    s.add_argument("--all", action="store_true", help="labelled sentences too")
    add_precision_option(s)
    return s


def cmd_preannotate(a) -> int:
    from .core.preannotate import skipped_text
    from .core.usecases import suggest
    from .progress import progress

    with progress(None, "sentences", "pre-annotating") as bar:
        def on_progress(done, total):
            if bar.total != total:
                bar.reset(total)
            bar.set(done)
        done = suggest(a.project, a.model, labelled=a.all, split=a.split,
                       on_progress=on_progress, precision=a.precision)
    print(f"stored suggestions for {done.sentences} sentences (run {done.run_id}'s model)"
          if done.run_id is not None else f"stored suggestions for {done.sentences} sentences")
    if done.skipped:
        print(skipped_text(done.skipped), file=sys.stderr)
    return 0


# -- predict: text to entities ------------------------------------------------------------------
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
