"""Training runs of a project: snapshot the labelled sentences, train, record everything.

The bridge between the store and the training engine, shared by ``nerstudio train`` and the GUI's
Train button. It opens its own store connection (it runs on a worker thread), hands the engine a
frozen snapshot (plain data, so the user can keep annotating), and records the config, device,
metric history and outcome of the run in the project file as events arrive.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from .errors import StoreError
from .store import ProjectStore
from .training import (Cancelled, Evaluation, Failed, Finished, Started, Step, TrainConfig,
                       TrainingData, train)

LABELLED = ("labelled", "reviewed")


def snapshot(store: ProjectStore) -> TrainingData:
    """The labelled train and dev sentences and the label set, as plain data."""
    return TrainingData.from_sentences(
        list(store.iter_sentences(split="train", status=LABELLED)),
        list(store.iter_sentences(split="dev", status=LABELLED)),
        store.label_set().names)


def runs_dir(project: Path) -> Path:
    return project.with_name(project.name + ".runs")


def train_project(project: str | Path, config: TrainConfig,
                  on_event: Callable[[object], None] = lambda e: None,
                  should_stop: Callable[[], bool] = lambda: False,
                  resume_run: int | None = None, data: TrainingData | None = None):
    """Train on a project (or resume one of its runs). Returns the final event."""
    project = Path(project)
    with ProjectStore(project) as store:
        if resume_run is not None:
            run = store.run(resume_run)
            if run["status"] == "finished":
                raise StoreError(f"run {resume_run} already finished; nothing to resume")
            config = TrainConfig.from_dict(run["config"])
            run_id, out = resume_run, Path(run["output_dir"])
            store.update_run(run_id, status="running", error=None)
        else:
            data = data if data is not None else snapshot(store)
            run_id = store.create_run(config.base_model, config.to_dict(), data.tags)
            out = runs_dir(project) / f"run-{run_id}"
            store.update_run(run_id, output_dir=str(out))
        recorder = _Recorder(store, run_id, on_event)
        t0 = time.perf_counter()
        event = train(data, config, out,
                      recorder, should_stop, resume=resume_run is not None)
        _finish(store, run_id, event, time.perf_counter() - t0, recorder.best)
    return run_id, event


class _Recorder:
    """Writes each event to the store (one short transaction each), then passes it on."""

    def __init__(self, store: ProjectStore, run_id: int, forward):
        self.store, self.run_id, self.forward = store, run_id, forward
        self.best = None

    def __call__(self, event):
        if isinstance(event, Started):
            self.store.update_run(self.run_id, device=f"{event.device} ({event.device_name})")
        elif isinstance(event, Step):
            self.store.add_run_metric(self.run_id, "train", event.step, event.epoch,
                                      {"loss": event.loss, "learning_rate": event.learning_rate,
                                       "sentences_per_s": event.sentences_per_s})
        elif isinstance(event, Evaluation):
            self.store.add_run_metric(self.run_id, "eval", event.step, event.epoch, asdict(event))
            if self.best is None or event.f1 > self.best.f1:
                self.best = event
                self.store.update_run(self.run_id, best_f1=event.f1)
        self.forward(event)


def _finish(store: ProjectStore, run_id: int, event, seconds: float, best) -> None:
    fields = {"finished_at": time.strftime("%Y-%m-%d %H:%M:%S"), "duration_s": seconds}
    if isinstance(event, Finished):
        fields.update(status="finished", best_checkpoint=event.best_checkpoint,
                      final_metrics=event.final_metrics, best_metrics=event.best_metrics,
                      best_f1=event.best_metrics.get("f1"))
    elif isinstance(event, Cancelled):
        fields.update(status="cancelled", best_checkpoint=event.checkpoint,
                      best_metrics=event.best_metrics)
    elif isinstance(event, Failed):
        fields.update(status="failed", error=event.reason)
    store.update_run(run_id, **fields)


def model_dir(store: ProjectStore, run_id: int) -> Path:
    """The saved Hugging Face folder of a finished run."""
    run = store.run(run_id)
    if run["status"] != "finished" or not run["output_dir"]:
        raise StoreError(f"run {run_id} has no final model (status {run['status']})")
    return Path(run["output_dir"]) / "model"
