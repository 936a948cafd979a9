"""Training runs of a project: snapshot the labelled sentences, train, record everything.

The bridge between the store and the training engine, shared by ``nerstudio train`` and the GUI's
Train button. It opens its own store connection (it runs on a worker thread), hands the engine a
frozen snapshot (plain data, so the user can keep annotating), and records the config, device,
metric history and outcome of the run in the project file as events arrive.

A run's folder is stored relative to the project file's folder, so a project moved or copied with
its ``.runs`` folder finds its own models from any working directory. The runs folder is beside
the project's real file (symlinks resolved) and a project never uses another project's runs folder:
a copy (``cp p.nerproj p2.nerproj``) has rows naming ``p.nerproj.runs``, which stays the
original's. A running run names its process and its project in ``owner.json``;
:func:`reconcile` marks a run whose process is gone 'interrupted'.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from .domain import LABELLED
from .errors import StoreError
from .paths import project_path as _project_path
from .paths import runs_dir  # noqa: F401  (re-exported: callers find runs here)
from .procs import process_start, same_process
from .store import ProjectStore
from .training import (Cancelled, Evaluation, Failed, Finished, Started, Step, TrainConfig,
                       TrainingData, train)
from .training.checkpoints import checkpoint_step, last_checkpoint

OWNER_FILE = "owner.json"
UNOWNED_GRACE_S = 120  # a run row is written a moment before its owner file



def snapshot(store: ProjectStore) -> TrainingData:
    """The labelled train sentences, the labelled dev sentences and the label set, as plain
    data. Labelled sentences in no split ("unassigned": a file whose name names no split
    imports there) train too, as ``train --data`` does with such a file: a user who labelled
    them should not need a detour to use them (dev is then held out as usual)."""
    return TrainingData.from_sentences(
        list(store.iter_sentences(split="train", status=LABELLED))
        + list(store.iter_sentences(split="unassigned", status=LABELLED)),
        list(store.iter_sentences(split="dev", status=LABELLED)),
        store.label_set().names)


def unassigned_note(store: ProjectStore) -> str | None:
    """The line that says labelled sentences in no split are used as train (None: none are)."""
    n = store.count(split="unassigned", status=LABELLED)
    if not n:
        return None
    dev = store.count(split="dev", status=LABELLED)
    return (f"train: {n} labelled sentence{'s' * (n != 1)} in no split used as train"
            + ("" if dev else "; dev: a seeded share of train held out"))


def run_folder(store_or_path, run: dict | int) -> Path:
    """Where a run's files are. Rows store the folder relative to the project file's folder;
    older rows hold an absolute or working-directory-relative path, which a moved or copied
    project cannot trust: its own ``<project>.runs/<name>`` comes first, that path last."""
    project = _project_path(store_or_path)
    if isinstance(run, int):
        if hasattr(store_or_path, "run"):
            run = store_or_path.run(run)
        else:
            with ProjectStore(project) as store:
                run = store.run(run)
    stored = Path(run.get("output_dir") or f"run-{run['id']}")
    own = runs_dir(project) / stored.name
    if own.is_dir():
        return own
    other = stored if stored.is_absolute() else project.parent / stored
    return other if other.is_dir() and _owning_project(other) in (None, project) else own


def _owning_project(folder: Path) -> Path | None:
    """The project file whose ``.runs`` folder holds ``folder``, when that file exists (a copy's
    rows name the original's runs folder: that folder is the original's, never the copy's)."""
    parent = Path(os.path.realpath(folder)).parent
    if not parent.name.endswith(".runs"):
        return None
    owner = parent.with_name(parent.name[:-len(".runs")])
    return Path(os.path.realpath(owner)) if owner.is_file() else None


def _stored_folder(project: Path, folder: Path) -> str:
    """The ``output_dir`` value: relative to the project's folder (``p.nerproj.runs/run-3``)."""
    return os.path.relpath(Path(folder).absolute(), _project_path(project).parent)


def train_project(project: str | Path, config: TrainConfig,
                  on_event: Callable[[object], None] = lambda e: None,
                  should_stop: Callable[[], bool] = lambda: False,
                  resume_run: int | None = None, data: TrainingData | None = None):
    """Train on a project (or resume one of its runs). Returns the final event. A run left
    by an exception (a second Ctrl+C) is marked 'interrupted' on the way out. Started by
    torchrun (several processes, :mod:`.training.distributed`): rank 0 does all of this, the
    other ranks train on the snapshot rank 0 exported and never open the project."""
    from .training.world import world

    if world().size > 1:
        return _train_project_ranked(Path(project), config, on_event, should_stop, resume_run,
                                     data)
    project = Path(project)
    with ProjectStore(project) as store:
        run_id, out, config, data = _open_run(store, project, config, resume_run, data)
        recorder = _Recorder(store, run_id, on_event, store.run(run_id).get("best_f1"))
        t0 = time.perf_counter()
        try:
            event = train(data, config, out, recorder, should_stop,
                          resume=resume_run is not None)
        except BaseException:
            store.update_run(run_id, status="interrupted", error="stopped by an error or abort")
            raise
        _finish(store, run_id, event, time.perf_counter() - t0, recorder.best_f1)
    return run_id, event


def _open_run(store: ProjectStore, project: Path, config: TrainConfig,
              resume_run: int | None, data: TrainingData | None):
    """The run a training writes to: the resumed one (claimed, with its own config) or a new
    row with its folder and owner file. Returns (run id, folder, config, data)."""
    if resume_run is not None:
        run_id, out, config = _claim_resume(store, resume_run)
        return run_id, out, config, data
    data = data if data is not None else snapshot(store)
    check_writable(runs_dir(project))  # refused before a run row exists
    run_id = store.create_run(config.base_model, config.to_dict(), data.tags)
    out = runs_dir(project) / f"run-{run_id}"
    try:
        _write_owner(out, project)
    except OSError as exc:
        store.update_run(run_id, status="failed", error=_unwritable(out, exc))
        raise StoreError(_unwritable(out, exc)) from exc
    store.update_run(run_id, output_dir=_stored_folder(project, out))
    return run_id, out, config, data


def check_writable(folder: Path) -> None:
    """Create ``folder`` and write a file in it, or refuse in one line: a run whose folder
    cannot be written would sit 'running' and end as an interrupted run with nothing to resume."""
    import tempfile

    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise StoreError(_unwritable(folder, exc)) from exc


def _unwritable(folder: Path, exc: OSError) -> str:
    return (f"{folder}: cannot write the runs folder ({exc.strerror or exc}); a run keeps its "
            "checkpoints and model there")


def _train_project_ranked(project: Path, config: TrainConfig, on_event, should_stop,
                          resume_run: int | None, data: TrainingData | None):
    """One rank of a distributed run. Rank 0: the run row (or the resumed one), the snapshot and
    resolved config in the run folder, then the folder to every rank (a broadcast), then the same
    training and recording as one process. The others: the folder from rank 0, then training on
    its snapshot; their events go nowhere (rank 0's carry the run's metrics)."""
    from .training import distributed as dist
    from .training.engine import prepare_run
    from .training.failures import TrainingFailed

    w = dist.world()
    dist.init_group()
    dist.terminate_on_sigterm()
    try:
        if not w.main:
            shared = dist.share(None)
            if shared.get("error"):
                if shared.get("failed"):  # the run failed before training (rank 0 recorded it)
                    return shared.get("run"), Failed(shared["error"])
                raise StoreError(shared["error"])
            out = Path(shared["folder"])
            dist.wait_for(out / "data.json")
            event = train(None, config, out, lambda e: None, should_stop,
                          resume=shared["resume"])
            return shared["run"], event
        return _rank0(project, config, on_event, should_stop, resume_run, data, dist,
                      TrainingFailed, prepare_run)
    finally:
        dist.close_group()


def _rank0(project, config, on_event, should_stop, resume_run, data, dist, TrainingFailed,
           prepare_run):
    with ProjectStore(project) as store:
        try:
            run_id, out, config, data = _open_run(store, project, config, resume_run, data)
        except BaseException as exc:
            dist.share({"error": str(exc) or type(exc).__name__})
            raise
        recorder = _Recorder(store, run_id, on_event, store.run(run_id).get("best_f1"))
        t0 = time.perf_counter()
        try:
            if resume_run is None:
                try:
                    prepare_run(data, config, out)  # snapshot + config, read by every rank
                except TrainingFailed as exc:
                    event = Failed(str(exc))
                    dist.share({"error": event.reason, "failed": True, "run": run_id})
                    recorder(event)
                    _finish(store, run_id, event, time.perf_counter() - t0, recorder.best_f1)
                    return run_id, event
            dist.share({"folder": str(out.absolute()), "run": run_id,
                        "resume": resume_run is not None})
            event = train(None, config, out, recorder, should_stop,
                          resume=resume_run is not None)
        except BaseException:
            store.update_run(run_id, status="interrupted", error="stopped by an error or abort "
                             "(a process of the distributed run ended)")
            raise
        _finish(store, run_id, event, time.perf_counter() - t0, recorder.best_f1)
    return run_id, event


def _claim_resume(store: ProjectStore, run_id: int) -> tuple[int, Path, TrainConfig]:
    """Check a run can be resumed and mark it running, in one write transaction (two resumes
    cannot both win). Metrics logged after the checkpoint it resumes from are dropped: the
    resumed steps log them again."""
    with store.transaction():
        reconcile(store)
        run = store.run(run_id)
        if run["status"] == "finished":
            raise StoreError(f"run {run_id} already finished; nothing to resume")
        if run["status"] == "running":
            raise StoreError(f"run {run_id} is still running ({_owner_text(run_folder(store, run))})"
                             "; cancel it first")
        out = run_folder(store, run)
        if not out.is_dir():
            raise StoreError(f"run {run_id}: no such run folder {out}")
        _check_not_shared(out, store.path)
        check_writable(out)
        checkpoint = last_checkpoint(out)
        if checkpoint is not None:
            store.delete_run_metrics(run_id, after_step=checkpoint_step(checkpoint))
        _write_owner(out, store.path)
        store.update_run(run_id, status="running", error=None,
                         output_dir=_stored_folder(store.path, out))
    return run_id, out, TrainConfig.from_dict(run["config"])


# -- who runs a run ------------------------------------------------------------------------------
_process_start = process_start  # (the name tests and older callers use)


def _write_owner(folder: Path, project: Path | None = None) -> None:
    """The owner file: this process, and the project (and the very folder) it trains for."""
    folder.mkdir(parents=True, exist_ok=True)
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "start": _process_start(os.getpid()),
             "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    if project is not None:
        owner.update(project=str(_project_path(project)), folder=os.path.realpath(folder))
    tmp = folder / (OWNER_FILE + ".part")
    tmp.write_text(json.dumps(owner))
    os.replace(tmp, folder / OWNER_FILE)


def _read_owner(folder: Path) -> dict | None:
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


def _check_not_shared(folder: Path, project) -> None:
    """Refuse a run folder that another, existing project file trained in (the same folder
    reached through a symlink or a copied row): two resumes would write one folder at once.
    A copy of the folder (``cp -r``) or a moved project is this project's own."""
    owner = _read_owner(folder) or {}
    recorded, mine = owner.get("project"), str(_project_path(project))
    if (isinstance(recorded, str) and recorded != mine and os.path.isfile(recorded)
            and owner.get("folder") == os.path.realpath(folder)):
        raise StoreError(f"{folder}: this run folder belongs to project {recorded}, not to "
                         f"{mine}; resume the run from that project")


def _owner_text(folder: Path) -> str:
    owner = _read_owner(folder) or {}
    return f"process {owner.get('pid', '?')} on {owner.get('host', '?')}"


def owner_alive(folder: Path, created_at: str | None = None) -> bool:
    """Whether the process training this run may still be alive. Another host's process cannot
    be checked from here: assumed alive. No owner file: alive for a short grace period."""
    owner = _read_owner(folder)
    if owner is None:
        return _age_s(created_at) < UNOWNED_GRACE_S
    if owner.get("host") != socket.gethostname() or os.name == "nt":
        return True  # (os.kill on Windows would terminate the process, not probe it)
    return same_process(owner["pid"], owner.get("start"))


def _age_s(created_at: str | None) -> float:
    import calendar

    try:
        return time.time() - calendar.timegm(time.strptime(created_at, "%Y-%m-%d %H:%M:%S"))
    except (TypeError, ValueError):
        return float("inf")


def reconcile(store: ProjectStore) -> list[int]:
    """Mark 'running' runs whose training process is gone (killed, crashed, machine restarted)
    as 'interrupted', so they can be resumed; returns their ids. Call before listing or
    opening runs (CLI and GUI). Best effort: a read-only or busy project is left as it is."""
    stale = [r for r in store.runs() if r["status"] == "running"
             and not owner_alive(run_folder(store, r), r.get("created_at"))]
    try:
        for run in stale:
            store.update_run(run["id"], status="interrupted",
                             error="the training process ended before the run finished")
    except (StoreError, sqlite3.Error):  # ReadOnlyProjectError, ProjectBusyError, locked
        return []
    return [r["id"] for r in stale]


class _Recorder:
    """Writes each event to the store (one short transaction each), then passes it on.
    ``best_f1`` starts from the run's stored best, so a resumed run never lowers it."""

    def __init__(self, store: ProjectStore, run_id: int, forward, best_f1: float | None = None):
        self.store, self.run_id, self.forward = store, run_id, forward
        self.best_f1 = best_f1

    def __call__(self, event):
        if isinstance(event, Started):
            resolved = {"config": event.config} if event.config else {}  # "auto" values filled
            self.store.update_run(self.run_id, device=f"{event.device} ({event.device_name})",
                                  **resolved)
        elif isinstance(event, Step):
            self.store.add_run_metric(self.run_id, "train", event.step, event.epoch,
                                      {"loss": event.loss, "learning_rate": event.learning_rate,
                                       "sentences_per_s": event.sentences_per_s})
        elif isinstance(event, Evaluation):
            self.store.add_run_metric(self.run_id, "eval", event.step, event.epoch, asdict(event))
            if self.best_f1 is None or event.f1 > self.best_f1:
                self.best_f1 = event.f1
                self.store.update_run(self.run_id, best_f1=event.f1)
        self.forward(event)


def _finish(store: ProjectStore, run_id: int, event, seconds: float, best_f1) -> None:
    fields = {"finished_at": time.strftime("%Y-%m-%d %H:%M:%S"), "duration_s": seconds}
    if isinstance(event, Finished):
        fields["duration_s"] = event.duration_s  # the figure the CLI printed, not a second clock
        scores = [f for f in (best_f1, event.best_metrics.get("f1")) if f is not None]
        fields.update(status="finished", best_checkpoint=event.best_checkpoint,
                      final_metrics=event.final_metrics, best_metrics=event.best_metrics,
                      best_f1=max(scores) if scores else None)
    elif isinstance(event, Cancelled):
        fields.update(status="cancelled", best_checkpoint=event.checkpoint,
                      best_metrics=event.best_metrics)
    elif isinstance(event, Failed):
        fields.update(status="failed", error=event.reason)
    store.update_run(run_id, **fields)


def model_dir(store: ProjectStore, run_id: int) -> Path:
    """The saved Hugging Face folder of a finished run (found wherever the project now is)."""
    run = store.run(run_id)
    if run["status"] != "finished" or not run["output_dir"]:
        raise StoreError(f"run {run_id} has no final model (status {run['status']})")
    folder = run_folder(store, run) / "model"
    if not folder.is_dir():
        raise StoreError(f"run {run_id}: no such model folder {folder}")
    return folder
