"""The Trainer callback of a run: typed events out, cancel and timed checkpoints in.

It turns the Trainer's hooks into :mod:`.events` (Started, Step, Evaluation, CheckpointSaved),
polls ``should_stop`` at every step (agreed on by all ranks of a distributed run), asks for a
checkpoint every ``checkpoint_minutes``, and marks each checkpoint complete once it is written.
Apart from the Trainer's construction because it is the run's live side: what the GUI and the
CLI see while it trains. Its state lives on the run object (``recipe.RunState``), not here.
"""
from __future__ import annotations

import functools
import math
import time

from .checkpoints import COMPLETE_MARKER
from .config import TrainConfig
from .events import CheckpointSaved, Evaluation, Started, Step


@functools.lru_cache(maxsize=1)
def _events_class():
    """The Trainer callback class: typed events out, cancel and timed checkpoints in. Made once
    per process (transformers is imported lazily); it holds no run data, its instances do."""
    from transformers import TrainerCallback

    return type("NerstudioEvents", (TrainerCallback,), dict(_EVENT_METHODS))


def events_callback(run):
    """A callback for ``run`` (a ``recipe.RunState``)."""
    callback = _events_class()()
    callback.run = run
    return callback


def _on_train_begin(self, args_, st, control, **kw):
    r = self.run
    r.t0, r.step0 = time.perf_counter(), st.global_step
    config, name = r.config.to_dict(), r.device_name
    if r.world.size > 1:
        from .distributed import describe

        config["distributed"] = describe(r.config, r.world, args_.ddp_backend or "nccl")
        name = f"{r.world.size} processes ({config['distributed']['backend']}), each on {name}"
    r.on_event(Started(r.device, name, st.max_steps or r.total, len(r.data.train),
                       len(r.data.dev), r.precision, config, dict(r.tricks)))


def _on_step_end(self, args_, st, control, **kw):
    r = self.run
    stop = r.should_stop()
    minutes = r.config.checkpoint_minutes
    save = minutes > 0 and time.monotonic() - r.saved >= minutes * 60
    if r.world.size > 1:  # every rank stops / saves at the same step, or none does
        from .distributed import agree

        stop, save = agree([stop, save], r.device_for_flags)
    if stop:
        r.cancelled = True
        control.should_training_stop = True
        control.should_save = True  # a checkpoint to resume from
    if save:
        control.should_save = True  # a kill mid-epoch loses minutes, not the epoch


def _on_log(self, args_, st, control, logs=None, **kw):
    r = self.run
    logs = logs or {}
    if "loss" not in logs:
        return
    loss = float(logs["loss"])
    if not math.isfinite(loss):
        r.nan = True
        control.should_training_stop = True
        return
    done = st.global_step - r.step0
    elapsed = max(time.perf_counter() - r.t0, 1e-6)
    rate = done * r.config.batch_size * r.config.gradient_accumulation / elapsed
    eta = (st.max_steps - st.global_step) * elapsed / done if done else float("nan")
    r.on_event(Step(st.global_step, st.max_steps, float(st.epoch or 0), loss,
                    float(logs.get("learning_rate", 0.0)), rate, eta))


def _on_evaluate(self, args_, st, control, metrics=None, **kw):
    r, m = self.run, metrics or {}
    r.per_label[st.global_step] = dict(r.details.get("per_label", {}))
    r.on_event(Evaluation(st.global_step, float(st.epoch or 0), float(m.get("eval_loss", 0)),
                          float(m.get("eval_precision", 0)), float(m.get("eval_recall", 0)),
                          float(m.get("eval_f1", 0)), float(m.get("eval_accuracy", 0)),
                          dict(r.details.get("per_label", {})),
                          dict(r.details.get("confusion", {}))))


def _on_save(self, args_, st, control, **kw):
    # the Trainer calls this once the checkpoint is wholly written: mark it complete
    r = self.run
    folder = r.out / f"checkpoint-{st.global_step}"
    if r.world.size > 1:  # every rank has written its part (its RNG state) first
        from .distributed import barrier

        barrier()
    if r.world.main:
        (folder / COMPLETE_MARKER).write_text(str(st.global_step))
    r.saved = time.monotonic()
    r.on_event(CheckpointSaved(st.global_step, str(folder)))


_EVENT_METHODS = {"on_train_begin": _on_train_begin, "on_step_end": _on_step_end,
                  "on_log": _on_log, "on_evaluate": _on_evaluate, "on_save": _on_save}


def early_stopping(config: TrainConfig, strategy: str) -> list:
    """transformers' own EarlyStoppingCallback on dev F1, when the schedule asks for it (it needs
    evaluations and the best model kept, which it then restores)."""
    if not config.early_stopping_patience or strategy == "no" or not config.keep_best:
        return []
    from transformers import EarlyStoppingCallback

    return [EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)]
