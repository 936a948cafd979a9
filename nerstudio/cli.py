"""The ``nerstudio`` command. With no arguments it opens the desktop app; subcommands work on a
project file without a window. Errors end with one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path

from .cli_common import add_config_options, config_from_args, ctrl_c_stops
from .cli_common import broken_pipe as _broken_pipe
from .cli_common import fail as _fail
from .cli_common import one_line as _one_line
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
    from . import cli_eval

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

    s = sub.add_parser("init", help="create a new project file")
    s.add_argument("project", help="path of the project file to create (e.g. news.nerproj)")
    s.add_argument("--name", help="display name (default: the file name)")
    s.add_argument("--labels", help="comma-separated entity types, e.g. PER,ORG,LOC,MISC")

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

    s = sub.add_parser("train", help="fine-tune a model on a project's labelled sentences",
                       description="Trains on the labelled train split, evaluates on the dev split "
                       "(or a seeded 10% of train when there is none). Ctrl+C cancels at the next "
                       "step and keeps a checkpoint; --resume RUN continues it.")
    s.add_argument("project", nargs="?", help="project file (or use --data)")
    s.add_argument("--data", help="train directly on CoNLL / JSONL / HF data: a file, or a folder "
                   "holding train/valid(dev)/test files or a saved DatasetDict")
    s.add_argument("--output", help="run folder (with --data; default ./runs/<time>)")
    s.add_argument("--resume", type=int, metavar="RUN", help="resume a cancelled or interrupted run")
    s.add_argument("--processes", type=int, default=1, metavar="N",
                   help="train with N processes on this machine (PyTorch DDP through torchrun: "
                   "one per GPU, or gloo on the CPU); the batch size is the global batch. On "
                   "several machines start 'nerstudio train' with torchrun instead (README)")
    s.add_argument("--events", choices=["jsonl"],
                   help="print each training event as one JSON line on stdout (for programs)")
    add_train_options(s)

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

    s = sub.add_parser("preannotate", help="store a model's suggestions for unlabelled sentences")
    s.add_argument("project")
    s.add_argument("--model", help="a model folder or a run number (default: the project's "
                   "active model, as the app's Pre-annotate)")
    s.add_argument("--split", choices=["train", "dev", "test", "unassigned"])
    s.add_argument("--all", action="store_true", help="labelled sentences too")

    s = sub.add_parser("stats", help="sentences, tokens and entities per label and split")
    s.add_argument("project")
    s.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("runs", help="list a project's training runs",
                       description="A run whose training process is gone (killed, crashed) is "
                       "marked interrupted first; continue it with train --resume RUN.")
    s.add_argument("project")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--activate", type=int, metavar="RUN",
                   help="make this finished run's model the active one (the app's Make active)")
    cli_eval.add_evaluate_parser(sub)
    cli_eval.add_train_curve_parser(sub)
    from . import cli_review

    cli_review.add_review_parser(sub)
    return p


WAIT = {"seconds": 30.0}  # --wait: how long a write waits for another process's lock


def _open(path: str):
    from .core.store import ProjectStore

    return ProjectStore(path, busy_timeout=WAIT["seconds"])


def cmd_init(a) -> int:
    from .core.store import ProjectStore

    labels = [x.strip() for x in a.labels.split(",") if x.strip()] if a.labels else []
    ProjectStore.create(a.project, a.name, labels).close()
    print(f"created {a.project}")
    return 0


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


def _predictor(model: str, project: str | None):
    from .core.inference import Predictor
    from .core.usecases import prediction_model

    folder, run_id = prediction_model(project, model)
    return Predictor(folder), run_id


def cmd_predict(a) -> int:
    from . import cli_predict

    predictor, _run = _predictor(a.model, a.project)
    return cli_predict.run(a, predictor)


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
                       on_progress=on_progress)
    print(f"stored suggestions for {done.sentences} sentences (run {done.run_id}'s model)"
          if done.run_id is not None else f"stored suggestions for {done.sentences} sentences")
    if done.skipped:
        print(skipped_text(done.skipped), file=sys.stderr)
    return 0


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


def add_train_options(parser: argparse.ArgumentParser) -> None:
    """Every TrainConfig field as an option (see cli_common.add_config_options)."""
    add_config_options(parser)


def _data_from_path(path: str):
    """Examples for ``train --data``: a file, a folder of split files, or a DatasetDict folder."""
    from .core.formats import read
    from .core.training import TrainingData

    p = Path(path)
    if p.is_dir() and not (p / "dataset_dict.json").exists():
        files = [f for f in sorted(p.iterdir()) if f.is_file() and f.suffix in
                 (".txt", ".conll", ".iob", ".bio", ".jsonl", ".json") and not f.name.endswith(".labels.json")]
        items = [x for f in files for x in read(f)]
    else:
        items = list(read(p))
    sents = [x for x in items if hasattr(x, "tokens")]
    if not sents:
        raise NerStudioError(f"{path}: no sentences found")
    labels = list(dict.fromkeys(sp.label for s in sents for sp in s.spans))
    return TrainingData.from_sentences([s for s in sents if s.split in ("train", "unassigned")],
                                       [s for s in sents if s.split == "dev"], labels)


def describe_schedule(config: dict, auto: set[str]) -> str:
    """The run's hyperparameters, "auto" ones marked, shown before the first step."""
    names = (("batch_size", "batch"), ("learning_rate", "lr"), ("epochs", "epochs"),
             ("warmup_ratio", "warm-up"), ("early_stopping_patience", "early-stop patience"),
             ("eval_every", "dev F1 every"))
    parts = [f"{label} {config.get(key)!s}{' (auto)' if key in auto else ''}"
             for key, label in names]
    return "schedule: " + ", ".join(parts)


def cmd_train(a) -> int:
    from .core.training import distributed

    w = distributed.world()
    if w.size > 1:
        distributed.redirect_console()  # under --processes: rank 0's console goes to the launcher
    try:
        code = _cmd_train(a, w)
    except BaseException:
        distributed.report_exit(1)
        raise
    distributed.report_exit(code)
    return code


def _cmd_train(a, w) -> int:
    """``nerstudio train``: the train use case (``usecases.train_and_publish``: the training
    slot, the run, test scores, the publish rule), as the app's Train button runs it."""
    import time

    from .core.training import Finished
    from .progress import progress

    processes = _check_train_args(a, w)
    if processes > 1:
        return _train_processes(a, processes)
    jsonl = getattr(a, "events", None) == "jsonl" and w.main
    config = config_from_args(a)
    auto = set() if a.resume is not None else set(config.auto_fields())  # a resume: stored
    out = Path(a.output or Path("runs") / time.strftime("%Y%m%d-%H%M%S"))
    bar = progress(None, "steps", "training", quiet_below=0, interval=10.0,
                   file=None if w.main else open(os.devnull, "w"))  # rank 0 speaks for the run
    result = None
    with ctrl_c_stops("cancelling at the next step", say=bar.write) as stop:
        try:
            result = _run_train(a, w, config, out, _train_printer(bar, jsonl, auto),
                                lambda: stop() or _stop_requested())
        except KeyboardInterrupt as exc:  # a rank told to stop: another rank died (or an abort)
            if w.size > 1 and str(exc).startswith("stopped by signal"):
                raise NerStudioError(_unexpected_train_error(a, out, exc)) from exc
            raise
        except (NerStudioError, OSError, sqlite3.Error):
            raise  # main() prints their one line
        except Exception as exc:  # noqa: BLE001 - e.g. a peer rank gone mid-collective
            raise NerStudioError(_unexpected_train_error(a, out, exc)) from exc
        finally:
            bar.close(failed=not isinstance(getattr(result, "event", None), Finished))
    return _report_train(a, w, result, out, jsonl)


def _check_train_args(a, w) -> int:
    """The refusals of ``train``'s arguments (before anything is opened); the processes."""
    resuming_folder = a.resume is not None and not a.project
    if not a.project and not a.data and not (resuming_folder and a.output):
        raise NerStudioError("give a project file, --data, or --output FOLDER --resume 0")
    processes = getattr(a, "processes", 1) or 1
    if processes < 1:
        raise NerStudioError("--processes must be at least 1")
    if w.size > 1 and processes > 1:
        raise NerStudioError(f"--processes {processes}: this process is already rank {w.rank} of "
                             f"{w.size} started by torchrun; leave --processes out")
    if (processes > 1 or w.size > 1) and not a.project:
        raise NerStudioError("training on several processes needs a project file (import "
                             "the --data files into one)")
    return processes


def _stop_requested() -> bool:
    from .core.training import distributed

    return distributed.stop_requested()  # the --processes launcher's stop request


def _train_printer(bar, jsonl: bool, auto: set):
    """The run's events as the terminal shows them (``--events jsonl``: as JSON lines too)."""
    from .core.training import Evaluation, Started, Step, event_dict

    def on_event(e):
        if isinstance(e, str):  # a line of the use case ("train: 40 labelled sentences ...")
            bar.write(e)
            return
        if jsonl:
            print(json.dumps(event_dict(e)), flush=True)
        if isinstance(e, Started):
            bar.reset(total=e.total_steps)
            bar.write(f"training on {e.device_name} ({e.precision}): {e.train_sentences} train / "
                      f"{e.dev_sentences} dev sentences, {e.total_steps} steps")
            if e.config:
                bar.write(describe_schedule(e.config, auto))
        elif isinstance(e, Step):
            bar.set_postfix_str(f"loss {e.loss:.3f}, epoch {e.epoch:.2f}, "
                                f"{e.sentences_per_s:.0f} sentences/s")
            bar.set(e.step)
        elif isinstance(e, Evaluation):
            bar.write(f"epoch {e.epoch:.2f} step {e.step}: dev loss {e.loss:.4f} precision "
                      f"{e.precision:.4f} recall {e.recall:.4f} F1 {e.f1:.4f}")
    return on_event


def _run_train(a, w, config, out: Path, on_event, should_stop):
    """The run: a project's through the use case (a rank of ``--processes N`` trains only:
    its launcher holds the slot and concludes), or a folder run of ``--data`` files."""
    from .core import usecases

    resuming_folder = a.resume is not None and not a.project
    data = None if resuming_folder or not a.data else _data_from_path(a.data)
    if a.project and w.size == 1:
        return usecases.train_and_publish(a.project, config, on_event, should_stop, a.resume,
                                          data=data)
    if a.project:
        from .core.runs import train_project

        return usecases.TrainResult(*train_project(a.project, config, on_event, should_stop,
                                                   resume_run=a.resume, data=data))
    from .core.training import train

    return usecases.TrainResult(None, train(data, config, out, on_event, should_stop,
                                            resume=resuming_folder))


def _train_processes(a, processes: int) -> int:
    """``--processes N``: this process launches the ranks and holds the project's training
    slot meanwhile; when they finished the run, it concludes it as one process does (test
    scores, the publish rule), unless an app streams the events and concludes it itself."""
    from .core import usecases
    from .core.slot import training_slot
    from .core.training.distributed import _last_run_id, run_local

    jsonl = getattr(a, "events", None) == "jsonl"
    extra = ("--data", a.data) if a.data else ()
    with training_slot(a.project, "a training run"):
        code = run_local(a.project, config_from_args(a), processes, a.resume, events=jsonl,
                         extra=extra, reconcile=lambda: _reconcile_runs(a.project))
        if code == 0 and not jsonl:
            result = usecases.judge(a.project, usecases.TrainResult(_last_run_id(a.project),
                                                                    None))
            _say_published(a, result, usecases.apply(a.project, result))
    return code


def _say_published(a, result, published: bool) -> None:
    run = result.run_id
    if published:
        print(f"run {run} is now the project's active model", file=sys.stderr)
    else:
        print(f"run {run} finished; {result.why_not}: the active model stays (make it active "
              f"with: nerstudio runs {a.project} --activate {run})", file=sys.stderr)


def _report_train(a, w, result, out: Path, jsonl: bool) -> int:
    """The run's outcome: JSON on stdout for a finished run, one line on stderr otherwise."""
    from .core.training import Cancelled, Failed, Finished, event_dict

    run_id, event = result
    if not w.main:  # rank 0 reports the run
        return 0 if isinstance(event, Finished) else 3 if isinstance(event, Cancelled) else 1
    report = {"run": run_id, **event_dict(event)}
    if a.project and isinstance(event, Finished) and w.size == 1:
        report.update(active=result.publish, test_f1=(result.test or {}).get("f1"))
        _say_published(a, result, result.publish)
    if jsonl:
        print(json.dumps(report), flush=True)
    elif isinstance(event, Finished):  # a stop says one line, not a dump of its event
        print(json.dumps(report, indent=2), flush=True)
    if isinstance(event, Cancelled):
        print(f"cancelled at step {event.step}; continue with: "
              f"{_resume_command(a, run_id, out, w)}", file=sys.stderr)
        return 3
    if isinstance(event, Failed):
        hint = _resume_hint(a, run_id, out, w)
        print(f"nerstudio: error: training failed: {' '.join(event.reason.split())}{hint}",
              file=sys.stderr)
        return 1
    return 0 if isinstance(event, Finished) else 1


def _reconcile_runs(project: str) -> list[int]:
    """The project's runs whose processes are gone, marked interrupted (after --processes)."""
    from .core.runs import reconcile

    with _open(project) as store:
        return reconcile(store)


def _resume_command(a, run_id: int | None, out: Path, w) -> str:
    """The command that continues this run (``--processes N`` when started with it)."""
    from .core.training.distributed import CONSOLE_ENV

    hint = f"--resume {run_id}" if run_id else f"--output {out} --resume 0"
    processes = f" --processes {w.size}" if w.size > 1 and os.environ.get(CONSOLE_ENV) else ""
    return f"nerstudio train {a.project or ''} {hint}{processes}".replace("  ", " ")


def _resume_hint(a, run_id: int | None, out: Path, w) -> str:
    """``; resume it with: ...`` when the run has a complete checkpoint to resume from."""
    from .core.training.engine import last_checkpoint

    folder = out
    if a.project and run_id:
        from .core.runs import run_folder

        try:
            folder = run_folder(a.project, run_id)
        except Exception:  # noqa: BLE001 - no hint rather than a second error
            return ""
    if not last_checkpoint(folder):
        return ""
    return f"; resume it with: {_resume_command(a, run_id, out, w)}"


def _unexpected_train_error(a, out: Path, exc: BaseException) -> str:
    """The one line for an exception a run did not turn into an event (a rank's collective
    failing when another rank died): its first line, where the traceback went, how to resume."""
    from .core.training import distributed
    from .core.training.engine import log_traceback

    w = distributed.world()
    stopped = isinstance(exc, KeyboardInterrupt)
    text = f"training failed: {type(exc).__name__}: {_one_line(exc)}"
    if stopped:
        text = "training stopped: a process of this distributed run ended or was stopped"
    elif w.size > 1:
        text = ("training failed: another process of this distributed run stopped or cannot be "
                f"reached ({type(exc).__name__})")
    if not w.main:  # rank 0 speaks for the run; the other ranks never open the project
        return text
    run_id, folder = _stopped_run(a, out)
    log = log_traceback(folder) if folder and not stopped else None
    return (text + (f" (details in {log})" if log else "")
            + (_resume_hint(a, run_id, folder, w) if folder else ""))


def _stopped_run(a, out: Path) -> tuple[int | None, Path | None]:
    """(run id, folder) of the run an exception stopped: the resumed one, or the newest one when
    it is not finished (the one this command created); ``out`` for a --data run."""
    if not a.project:
        return None, out
    from .core.runs import reconcile, run_folder

    try:
        with _open(a.project) as store:
            reconcile(store)
            runs = [store.run(a.resume)] if a.resume is not None else store.runs()[-1:]
            if not runs or runs[-1]["status"] == "finished":
                return None, None
            return runs[-1]["id"], run_folder(store, runs[-1])
    except Exception:  # noqa: BLE001 - the one line matters more than the hint
        return None, None


COMMANDS = {"init": cmd_init, "import": cmd_import, "export": cmd_export, "stats": cmd_stats,
            "runs": cmd_runs, "train": cmd_train, "predict": cmd_predict,
            "preannotate": cmd_preannotate}


def _cli_eval(name):
    def run(a):
        from . import cli_eval

        return getattr(cli_eval, name)(a)
    return run


COMMANDS.update({"evaluate": _cli_eval("cmd_evaluate"), "train-curve": _cli_eval("cmd_train_curve")})


def _cmd_review(a):
    from . import cli_review

    return cli_review.cmd_review(a)


COMMANDS["review"] = _cmd_review


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
