"""``nerstudio train``: fine-tune a model on a project (or on ``--data`` files), on one process
or several (``--processes N``, torchrun), with the terminal's progress and its one-line errors.

Why a module of its own: the command is a use case (``usecases.train_and_publish``) wrapped in
what only a terminal needs (the progress bar, ``--events jsonl``, Ctrl+C, the resume hints, the
ranks of a distributed run); it outgrew cli.py, which now only adds its parser with
:func:`add_train_parser` and dispatches to :func:`cmd_train`. Errors are raised as
NerStudioError: cli.main turns them into one line on stderr."""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path

from .cli_common import add_config_options, config_from_args, ctrl_c_stops, open_project
from .cli_common import one_line as _one_line
from .core.errors import NerStudioError


def add_train_parser(sub) -> argparse.ArgumentParser:
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
    return s


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
    if (config.get("max_steps") or -1) > 0:  # the Trainer stops there, whatever the epochs
        parts.append(f"stopping after {config['max_steps']} steps")
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
    from .core.training.distributed import run_local
    from .core.training.stream import last_run_id

    jsonl = getattr(a, "events", None) == "jsonl"
    extra = ("--data", a.data) if a.data else ()
    with training_slot(a.project, "a training run"):
        code = run_local(a.project, config_from_args(a), processes, a.resume, events=jsonl,
                         extra=extra, reconcile=lambda: _reconcile_runs(a.project))
        if code == 0 and not jsonl:
            result = usecases.judge(a.project, usecases.TrainResult(last_run_id(a.project),
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

    with open_project(project) as store:
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
        with open_project(a.project) as store:
            reconcile(store)
            runs = [store.run(a.resume)] if a.resume is not None else store.runs()[-1:]
            if not runs or runs[-1]["status"] == "finished":
                return None, None
            return runs[-1]["id"], run_folder(store, runs[-1])
    except Exception:  # noqa: BLE001 - the one line matters more than the hint
        return None, None
