"""``nerstudio evaluate`` and ``nerstudio train-curve`` (issue #14 items 3 and 4).

Kept apart from cli.py; cli.build_parser() adds the two subcommands with
:func:`add_evaluate_parser` / :func:`add_train_curve_parser`, and main() dispatches to
:func:`cmd_evaluate` / :func:`cmd_train_curve` (both set ``func`` on their parser too).
Errors are raised as NerStudioError: cli.main turns them into one line on stderr."""
from __future__ import annotations

import argparse
import json
import sys

from .cli_common import add_config_options, config_from_args, ctrl_c_stops
from .core.errors import NerStudioError


# -- evaluate ------------------------------------------------------------------------------------
def add_evaluate_parser(subparsers) -> argparse.ArgumentParser:
    s = subparsers.add_parser(
        "evaluate", help="score a finished run's model on the test (or another) split",
        description="Predicts the split's labelled sentences with the run's saved model (as the "
        "playground does) and prints seqeval precision / recall / F1 per label. The scores are "
        "stored with the run (shown in the Train view).")
    s.add_argument("project")
    s.add_argument("--run", type=int, required=True, metavar="N", help="the run to evaluate")
    s.add_argument("--split", choices=["test", "dev", "train", "unassigned"], default="test",
                   help="which split's labelled sentences (default %(default)s)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_evaluate)
    return s


def cmd_evaluate(a) -> int:
    from .core.evaluation import evaluate_run, format_table

    metrics = evaluate_run(a.project, a.run, a.split)
    if a.json:
        print(json.dumps({"run": a.run, **metrics}, indent=2))
        return 0
    print(f"run {a.run} on {a.split}: {metrics['sentences']} sentences, "
          f"F1 {metrics['f1']:.4f} (precision {metrics['precision']:.4f}, "
          f"recall {metrics['recall']:.4f})")
    print(format_table(metrics))
    return 0


# -- train-curve ---------------------------------------------------------------------------------
def _fractions(text: str) -> tuple[float, ...]:
    from .core.curve import check_fractions

    try:
        values = [float(x) for x in text.split(",") if x.strip()]
        return tuple(check_fractions(values))
    except (ValueError, NerStudioError) as exc:
        raise argparse.ArgumentTypeError(
            "expected fractions above 0 and at most 1, comma-separated (e.g. 0.25,0.5,0.75,1)"
        ) from exc


def add_train_curve_parser(subparsers) -> argparse.ArgumentParser:
    from .core.curve import DEFAULT_FRACTIONS

    s = subparsers.add_parser(
        "train-curve", help="will more data help? train on growing shares of the train split",
        description="Trains on nested seeded subsets (by default 25, 50, 75 and 100 %) of the "
        "labelled train split with the same size-aware defaults as train, scores each on the same "
        "dev set and prints dev F1 per share. Nothing is recorded in the project: models are "
        "trained in a temporary folder, deleted afterwards. Ctrl+C stops after the current step.")
    s.add_argument("project")
    s.add_argument("--fractions", type=_fractions, default=DEFAULT_FRACTIONS,
                   help="comma-separated shares of the train split (default 0.25,0.5,0.75,1)")
    s.add_argument("--json", action="store_true", help="print JSON")
    add_training_options(s)
    s.set_defaults(func=cmd_train_curve)
    return s


def add_training_options(s: argparse.ArgumentParser) -> None:
    """The training options of the commands that train models of their own (train-curve,
    review): TrainConfig's fields marked ``everywhere``, generated from its metadata with
    ``train``'s defaults and help (the rest as ``train``'s defaults)."""
    add_config_options(s, everywhere_only=True,
                       title="training (as for train; 'auto' values are chosen by data size)")


def training_config(a):
    """A TrainConfig from ``add_training_options``' values (unset ones stay auto)."""
    return config_from_args(a)


def cmd_train_curve(a) -> int:
    from .core import usecases
    from .core.curve import CurvePoint, CurveStarted, format_table, verdict


    def on_event(e):
        if isinstance(e, CurveStarted):
            print(f"[{e.index + 1}/{e.total}] training on {e.fraction * 100:g} % "
                  f"({e.n_train} sentences)...", file=sys.stderr, flush=True)
        elif isinstance(e, CurvePoint):
            print(f"      dev F1 {e.dev_f1:.4f} in {e.seconds:.1f} s", file=sys.stderr,
                  flush=True)

    with ctrl_c_stops() as stop:
        points = usecases.train_curve(a.project, a.fractions, training_config(a), on_event, stop)
    line = verdict(points)
    if a.json:
        print(json.dumps({"points": points, "verdict": line, "complete": not stop.asked},
                         indent=2))
    else:
        print(format_table(points))
        print(line)
    return 3 if stop.asked else 0
