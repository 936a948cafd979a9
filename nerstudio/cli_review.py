"""``nerstudio review``: find likely label errors (issue #15 item 3).

Kept apart from cli.py (like cli_eval.py); cli.build_parser() adds the subcommand with
:func:`add_review_parser` and main() dispatches to :func:`cmd_review`. Errors are raised as
NerStudioError: cli.main turns them into one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import json
import sys

from .cli_common import ctrl_c_stops
from .cli_eval import add_training_options, training_config


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("expected a whole number of at least 1")
    return value


def _folds(text: str) -> int:
    value = _positive(text)
    if value < 2:
        raise argparse.ArgumentTypeError("k-fold needs at least 2 folds")
    return value


def add_review_parser(subparsers) -> argparse.ArgumentParser:
    from .core.review import DEFAULT_FOLDS, DEFAULT_REPEATS, MIN_SENTENCES

    s = subparsers.add_parser(
        "review", help="find likely label errors in the labelled sentences (k-fold + cleanlab)",
        description="Trains k models, each on all labelled train and dev sentences but one "
        "fold, predicts the held-out fold (MC dropout), repeats that with another fold split "
        "and seed (--repeats), averages the probabilities, and ranks every word's gold tag "
        "with cleanlab's token-classification methods. Prints the flagged sentences "
        "(likeliest error first) with the suspected words, the given and the predicted tag, "
        "and stores the flags in the "
        "project (the app's 'Likely errors' filter shows them; gold changes only when a flag is "
        f"accepted there). Needs at least {MIN_SENTENCES} labelled sentences. Ctrl+C stops; "
        "nothing is stored then. Models are trained in a temporary folder, deleted afterwards.")
    s.add_argument("project")
    s.add_argument("--folds", type=_folds, default=DEFAULT_FOLDS, metavar="K",
                   help="number of folds, i.e. models trained per round (default %(default)s)")
    s.add_argument("--repeats", type=_positive, default=DEFAULT_REPEATS, metavar="R",
                   help="k-fold rounds averaged, each with its own fold split and seed: R×K "
                   "models in all (default %(default)s; 1 is R times faster and less precise)")
    s.add_argument("--top", type=_positive, default=20, metavar="N",
                   help="print the N likeliest flagged sentences (default %(default)s; all are "
                   "stored)")
    s.add_argument("--no-store", action="store_true",
                   help="print only: leave the project's flags as they are")
    s.add_argument("--json", action="store_true", help="print JSON")
    add_training_options(s)
    # unset: the review's base-model rule picks it (the active run's base model, as in the app)
    s.set_defaults(func=cmd_review, base_model=None)
    return s


def cmd_review(a) -> int:
    from .core import usecases
    from .core.review import FoldDone, FoldStarted
    from .core.training.config import EMBEDDED_MODEL
    from .core.store import ProjectStore


    def on_event(e):
        if isinstance(e, FoldStarted):
            print(f"[{e.index + 1}/{e.total}] training on {e.n_train} sentences, predicting "
                  f"{e.n_held_out}...", file=sys.stderr, flush=True)
        elif isinstance(e, FoldDone):
            f1 = "" if e.dev_f1 is None else f"dev F1 {e.dev_f1:.4f}, "
            print(f"      {f1}{e.seconds:.1f} s", file=sys.stderr, flush=True)

    given = a.base_model is not None
    if not given:
        a.base_model = EMBEDDED_MODEL
    with ctrl_c_stops("stopping after the current step; nothing is stored") as stop:
        flags = usecases.review(a.project, training_config(a), a.folds, on_event, stop,
                                base_model_given=given, store_flags=not a.no_store,
                                repeats=a.repeats)
    if flags is None:
        print("review cancelled: the project's flags were left as they were", file=sys.stderr)
        return 3
    with ProjectStore(a.project, read_only=True) as store:
        rows = sentence_table(store, flags, a.top)
    n_sent = len({f.sentence_id for f in flags})
    if a.json:
        print(json.dumps({"flags": [f._asdict() for f in flags], "sentences": rows,
                          "stored": not a.no_store}, indent=2, ensure_ascii=False))
        return 0
    print(f"{len(flags)} suspected token{'s' if len(flags) != 1 else ''} in {n_sent} "
          f"sentence{'s' if n_sent != 1 else ''}" + ("" if a.no_store else
                                                      " (stored: 'Likely errors' in the app)"))
    if rows:
        print(format_table(rows))
        if n_sent > len(rows):
            print(f"... {n_sent - len(rows)} more (--top N shows more)")
    return 0


def sentence_table(store, flags, top: int) -> list[dict]:
    """The ``top`` likeliest flagged sentences: id, split, words with the suspects, score."""
    by_sentence: dict[int, list] = {}
    for f in flags:  # flags come likeliest first, so the dict keeps that order
        by_sentence.setdefault(f.sentence_id, []).append(f)
    rows = []
    for sid, fl in list(by_sentence.items())[:top]:
        sentence = store.sentence(sid)
        words = sentence.words
        rows.append({"sentence": sid, "split": sentence.split, "score": min(f.score for f in fl),
                     "text": sentence.text,
                     "tokens": [{"index": f.token_index, "word": words[f.token_index]
                                 if f.token_index < len(words) else "?",
                                 "given": f.given, "predicted": f.predicted,
                                 "score": round(f.score, 4)}
                                for f in sorted(fl, key=lambda f: f.token_index)]})
    return rows


def format_table(rows: list[dict]) -> str:
    """One block per sentence: its id, split and score, the text, then a line per suspect."""
    lines = []
    for r in rows:
        text = " ".join(r["text"].split())
        if len(text) > 100:
            text = text[:97] + "..."
        lines.append(f"#{r['sentence']:<6} {r['split']:<5} score {r['score']:.3f}  {text}")
        for t in r["tokens"]:
            lines.append(f"    word {t['index'] + 1:>3} {t['word']!r:<20} given {t['given']:<10} "
                         f"predicted {t['predicted']:<10} ({t['score']:.3f})")
    return "\n".join(lines)
