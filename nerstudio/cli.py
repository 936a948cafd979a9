"""The ``nerstudio`` command. With no arguments it opens the desktop app; subcommands work on a
project file without a window. Errors end with one line on stderr and a non-zero exit.

This module is the entry point (:func:`build_parser`, :func:`main`) and the commands on a
project's data (init, import, export, stats, runs). The other commands live beside their
parsers: cli_train.py (train), cli_predict.py (predict, preannotate), cli_eval.py (evaluate,
train-curve), cli_review.py (review); cli_common.py holds what they share."""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from . import cli_eval, cli_predict, cli_review, cli_train
from .cli_common import WAIT
from .cli_common import broken_pipe as _broken_pipe
from .cli_common import fail as _fail
from .cli_common import one_line as _one_line
from .cli_common import open_project as _open
from .core.errors import NerStudioError


def _ratios(text: str) -> tuple[float, float, float]:
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise argparse.ArgumentTypeError("expected three non-negative numbers: train,dev,test")
    return tuple(parts)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="nerstudio", description="Label, train and try "
                                "named-entity recognition models. Without a command, opens the app.")
    p.add_argument("--version", action="version", version=f"nerstudio {__version__}")
    p.add_argument("--self-test", action="store_true", help="check the installation and exit")
    p.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                   help="how long a write waits while another nerstudio process (the app, a "
                        "training run, an import) writes to the project (default: 30)")
    p.add_argument("--verbose", action="store_true",
                   help="let the libraries (transformers, datasets, Qt) print their own progress "
                        "bars and warnings")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("gui", help="open the desktop app (the default without a command)")
    s.add_argument("project", nargs="?", help="project file to open")
    for add in (add_init_parser, add_import_parser, add_export_parser, cli_train.add_train_parser,
                cli_predict.add_predict_parser, cli_predict.add_preannotate_parser,
                add_stats_parser, add_runs_parser, cli_eval.add_evaluate_parser,
                cli_eval.add_train_curve_parser, cli_review.add_review_parser):
        add(sub)
    return p


def add_init_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser("init", help="create a new project file")
    s.add_argument("project", help="path of the project file to create (e.g. news.nerproj)")
    s.add_argument("--name", help="display name (default: the file name)")
    s.add_argument("--labels", help="comma-separated entity types, e.g. PER,ORG,LOC,MISC")
    return s


def cmd_init(a) -> int:
    from .core.store import ProjectStore

    labels = [x.strip() for x in a.labels.split(",") if x.strip()] if a.labels else []
    ProjectStore.create(a.project, a.name, labels).close()
    print(f"created {a.project}")
    return 0


def add_import_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser("import", help="import annotated or raw data into a project",
                       description="Formats: conll, jsonl (tokens + ner_tags), hf (a saved "
                       "DatasetDict folder), hf-hub (a hub dataset name, also written hub:NAME), "
                       "doccano, labelstudio, text, prodigy (JSONL tasks; reject / ignore answers "
                       "are skipped). All files are imported in one transaction: on "
                       "any error the project is left unchanged.")
    s.add_argument("project")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--format", choices=["conll", "jsonl", "hf", "hf-hub", "doccano", "labelstudio",
                                        "text", "spacy", "prodigy"],
                   help="input format (default: detected)")
    s.add_argument("--split", choices=["train", "dev", "test", "unassigned"],
                   help="put every sentence in this split (default: from the source or file name)")
    s.add_argument("--split-ratio", type=_ratios, metavar="TRAIN,DEV,TEST",
                   help="assign splits at random in these proportions, e.g. 0.8,0.1,0.1")
    s.add_argument("--seed", type=int, default=42, help="seed for --split-ratio (default 42)")
    s.add_argument("--scheme", choices=["auto", "iob2", "iob1", "bioes"], default="auto",
                   help="tag scheme: auto converts IOB1 and BIOES; iob2 is strict (default auto)")
    s.add_argument("--labels-file", type=Path,
                   help="JSON list of tag names for integer ner_tags (default: a *.labels.json beside)")
    s.add_argument("--no-sentence-split", action="store_true",
                   help="doccano / Label Studio: keep each record as one sentence")
    s.add_argument("--labels-strict", action="store_true",
                   help="refuse the import (nothing is written) when the files bring labels the "
                        "project does not declare; without it they are added and reported")
    s.add_argument("--allow-duplicates", action="store_true",
                   help="import a file again though all of its sentences are already in the "
                        "project (by default such a re-import is refused; a file that only "
                        "shares some sentences with the project is imported whole, and the "
                        "count is reported)")
    s.add_argument("--strip-prefix", metavar="PREFIX",
                   help="remove this prefix from every token that starts with it, e.g. en: "
                        "for en:Paris")
    return s


def cmd_import(a) -> int:
    from .core.formats import ImportReport, import_file
    from .progress import progress

    tag_names = None
    if a.labels_file:
        try:
            tag_names = json.loads(a.labels_file.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise NerStudioError(f"{a.labels_file}: cannot read label list: {exc}") from exc
    with _open(a.project) as store, progress(None, "sentences", "importing") as bar:
        before, done = store.count(), 0
        report = ImportReport(known=set(store.label_set().names))
        # files parsed without the lock, copied at once
        with store.import_together(refuse_reimport=not a.allow_duplicates):
            for f in a.files:
                bar.set_postfix_str(Path(f).name)
                done += import_file(store, f, a.format, split=a.split, ratios=a.split_ratio,
                                    seed=a.seed, scheme=a.scheme, tag_names=tag_names,
                                    sentence_split=not a.no_sentence_split,
                                    on_progress=lambda n, base=done: bar.update(base + n - bar.n),
                                    report=report, strip_prefix=a.strip_prefix)
            if a.labels_strict:
                report.check_strict()  # every file read, nothing copied yet: nothing is written
        report.duplicates(*store.last_duplicates)
        added = store.count() - before
    print(f"imported {added} sentences into {a.project}")
    for line in report.lines():  # new labels, repaired tags, skipped records: on every import
        print(f"import: {line}", file=sys.stderr)
    return 0


def add_export_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser("export", help="export a project's sentences",
                       description="JSONL, hf and doccano keep each sentence's status; CoNLL has "
                       "no place for it, so it holds labelled and reviewed sentences only unless "
                       "--include-unlabelled. The output is written whole or not at all.")
    s.add_argument("project")
    s.add_argument("output", help="output file (a folder for --format hf; for conll an existing "
                   "folder, or a path ending in /, gets train.txt, dev.txt, test.txt and "
                   "unassigned.txt, one per split that has sentences, unless --split)")
    s.add_argument("--format", choices=["conll", "jsonl", "hf", "doccano", "spacy", "prodigy"],
                   required=True)
    s.add_argument("--split", choices=["train", "dev", "test", "unassigned"])
    s.add_argument("--force", action="store_true",
                   help="overwrite an existing output file (replace a non-empty hf folder)")
    s.add_argument("--include-unlabelled", action="store_true",
                   help="conll: write unlabelled sentences too (they read back as all-O gold)")
    return s


def cmd_export(a) -> int:
    from .core.formats import check_export_target, export_file, left_out

    from .core.formats.conll import folder_files, is_folder_target

    # before the project is opened
    check_export_target(a.project, a.output, a.format, a.force, a.split)
    to_folder = a.format == "conll" and is_folder_target(a.output, a.split)
    from .progress import progress

    with _open(a.project) as store, progress(store.count(split=a.split), "sentences",
                                             "exporting") as bar:
        n = export_file(store, a.output, a.format, a.split, force=a.force,
                        include_unlabelled=a.include_unlabelled, on_progress=bar.set)
        bar.set(max(bar.n, n))
        skipped = left_out(store, a.format, a.split, a.include_unlabelled)
    written = [f.name for f in folder_files(a.output).values() if f.exists()] if to_folder else []
    print(f"exported {n} sentences to {a.output}"
          + (f" ({', '.join(written)}: one file per split)" if written else ""))
    if skipped:
        print(f"left out {skipped} unlabelled sentences ({a.format} has no status: they would "
              "read back as gold); --include-unlabelled writes them", file=sys.stderr)
    return 0


def add_stats_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser("stats", help="sentences, tokens and entities per label and split")
    s.add_argument("project")
    s.add_argument("--json", action="store_true", help="print JSON")
    return s


def cmd_stats(a) -> int:
    from .core.runs import reconcile

    with _open(a.project) as store:
        reconcile(store)
        stats = store.stats()
    if a.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(format_stats(stats))
    return 0


def format_stats(stats: dict) -> str:
    """The stats table: a column per count and per label, each as wide as its widest cell (a
    label name or a number) with two spaces between columns, so long label names
    (``WORK_OF_ART``, ``creative-work``) never run into their neighbours."""
    labels = stats["labels"]
    head = ["split", "sentences", "labelled", "tokens", "entities", *labels]
    rows = [head]
    for split in ("train", "dev", "test", "unassigned"):
        s = stats["splits"].get(split)
        if s:
            rows.append([split, *(f"{s[k]}" for k in ("sentences", "labelled", "tokens",
                                                       "entities")),
                         *(f"{s['per_label'].get(l, 0)}" for l in labels)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"project {stats['name']}: labels {', '.join(labels) or '(none)'}"]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def add_runs_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser("runs", help="list a project's training runs",
                       description="A run whose training process is gone (killed, crashed) is "
                       "marked interrupted first; continue it with train --resume RUN.")
    s.add_argument("project")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--activate", type=int, metavar="RUN",
                   help="make this finished run's model the active one (the app's Make active)")
    return s


def cmd_runs(a) -> int:
    """The project's runs: id, status, best dev F1, test F1, duration, active, base model."""
    from .core.runs import reconcile, run_folder

    with _open(a.project) as store:
        reconcile(store)
        if a.activate is not None:
            from .core.usecases import activate

            activate(store, a.activate)
            print(f"run {a.activate} is now the project's active model", file=sys.stderr)
        active = store.meta("active_run")
        runs = [{"id": r["id"], "status": r["status"], "best_f1": r["best_f1"],
                 "test_f1": ((r.get("evaluations") or {}).get("test") or {}).get("f1"),
                 "duration_s": r["duration_s"], "active": r["id"] == active,
                 "created_at": r["created_at"], "base_model": r["base_model"],
                 "folder": str(run_folder(store, r)), "error": r["error"]} for r in store.runs()]
    if a.json:
        print(json.dumps(runs, indent=2))
        return 0
    if not runs:
        print(f"no runs yet in {a.project}: train one with 'nerstudio train {a.project}'")
        return 0
    score = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    rows = [("run", "status", "dev F1", "test F1", "duration", "active", "started", "base model")]
    rows += [(str(r["id"]), r["status"], score(r["best_f1"]), score(r["test_f1"]),
              "-" if r["duration_s"] is None else f"{r['duration_s'] / 60:.1f} min",
              "*" if r["active"] else "", r["created_at"] or "", r["base_model"]) for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


COMMANDS = {"init": cmd_init, "import": cmd_import, "export": cmd_export, "stats": cmd_stats,
            "runs": cmd_runs, "train": cli_train.cmd_train, "predict": cli_predict.cmd_predict,
            "preannotate": cli_predict.cmd_preannotate, "evaluate": cli_eval.cmd_evaluate,
            "train-curve": cli_eval.cmd_train_curve, "review": cli_review.cmd_review}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS and argv[0] != "gui":
        argv = ["gui", *argv]  # `nerstudio news.nerproj` opens it in the app
    args = parser.parse_args(argv)
    from .core.quiet import quiet_libraries

    quiet_libraries(args.verbose)  # nerstudio's own progress, not the libraries' bars
    WAIT["seconds"] = max(0.0, args.wait)
    try:
        if args.self_test:
            from .selftest import self_test
            return self_test()
        if args.command in (None, "gui"):
            from .ui.app import run_app
            return run_app(getattr(args, "project", None), verbose=args.verbose)
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe fails here, inside the handlers, not at exit
        return code
    except NerStudioError as exc:
        return _fail(str(exc), getattr(exc, "exit_code", 1))
    except sqlite3.Error as exc:
        where = getattr(args, "project", None) or "project"
        return _fail(f"{where}: damaged or locked project file ({_one_line(exc)})")
    except BrokenPipeError:
        return _broken_pipe()
    except OSError as exc:  # a file the user named cannot be read or written
        return _fail(f"{exc.filename or ''}{': ' if exc.filename else ''}"
                     f"{exc.strerror or _one_line(exc)}")
    except KeyboardInterrupt:
        print("nerstudio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
