"""Fine-tune a BERT-family model for token classification with the Hugging Face ``Trainer``.

Takes plain data (:class:`TrainingData`), never the store, so the GUI can keep annotating while a
run trains on a frozen snapshot. Progress goes out as typed events through ``on_event``;
``should_stop`` is polled at every step boundary (cooperative cancel). Errors a user can cause end
the run with a :class:`Failed` event carrying a readable reason instead of a traceback.

Fast by design on a CPU: sentences are encoded once; training batches group sentences of similar
length (seeded, so runs are reproducible) so little compute goes to padding; evaluation runs over
the dev set sorted by length; the word-embedding matrix (half of a small BERT's parameters) gets
sparse gradients and a lazy Adam update instead of a dense 30k-row update every step. (Pooled
dropout masks and last-layer pruning were tried and removed: measured side by side they gave
no speed-up on their own or on top of the others, see benchmarks/results.)

This module is one run from start to end; its parts live beside it: ``loading`` (device, base
model, tokenizer), ``snapshot`` (the run's frozen data and config), ``recipe`` (the Trainer and
its arguments), ``callbacks`` (events, cancel, timed checkpoints), ``dev_metrics`` (the dev F1),
``checkpoints`` and ``resume`` (where a resume starts), ``failures`` (the one-line reasons and
``error.log``).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ..heap import freeze_heap, release_heap
from .checkpoints import last_checkpoint  # noqa: F401  (re-exported: nerstudio/cli_train.py)
from .config import TrainConfig
from .data import TrainingData, check_data, hold_out_dev
from .events import Cancelled, Failed, Finished
from .failures import TrainingFailed, disk_full, explain, log_traceback
from .loading import check_vocabulary, load_model, load_tokenizer, pick_device, resolve_base_model
from .recipe import RunState, build_trainer
from .resume import at_end, restore_end, resume_checkpoint
from .snapshot import load_run_inputs, save_run_inputs, save_snapshot  # noqa: F401  (tests)
from .world import per_device_batch, world


def train(data: TrainingData | None, config: TrainConfig, output_dir: str | Path,
          on_event: Callable[[object], None] = lambda e: None,
          should_stop: Callable[[], bool] = lambda: False,
          resume: bool = False):
    """Run one training run, or resume the one in ``output_dir``. ``data`` None: the run
    folder's own snapshot and config (a resume, or a run :func:`prepare_run` set up, as rank 0
    does for a distributed run). Returns the last event: Finished, Failed or Cancelled, which was
    also sent to ``on_event``. Never raises for a user-caused problem. Under torchrun (several
    processes) every rank calls this; only rank 0 writes files outside the Trainer's own."""
    try:
        event = _train(data, config, Path(output_dir), on_event, should_stop, resume)
        release_heap()  # _train's frame (trainer, model, encoded data) is gone: collect it
        return event
    except TrainingFailed as exc:
        event = Failed(str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure must reach the user as an event
        log = log_traceback(Path(output_dir))  # for a bug report; the user sees one line
        event = Failed(disk_full(exc, Path(output_dir)) or
                       explain(exc, config) + (f" (details in {log})" if log else ""))
    release_heap()
    on_event(event)
    return event


def _train(data, config, out, on_event, should_stop, resume):
    """One run: data and config -> arguments -> trainer -> training -> the run's result."""
    import torch
    from transformers import set_seed

    from ..quiet import quiet_loaded

    quiet_loaded()  # load reports are noise (unless --verbose)
    begun = time.perf_counter()  # the run's duration: loading and saving included
    data, config = _prepare(data, config, out, resume, on_event)
    device, device_name = pick_device(config.keep_core_free, config.threads)
    base = resolve_base_model(config.base_model)
    set_seed(config.seed)
    tokenizer = load_tokenizer(base)
    model = load_model(base, data.tags)
    check_vocabulary(tokenizer, model, base)
    run = RunState(data, config, out, device, device_name, on_event, should_stop)
    trainer = build_trainer(run, model, tokenizer)
    freeze_heap()  # the model, the data, torch: no full GC scans of them mid-run
    checkpoint = resume_checkpoint(out, run.world) if resume else None
    called = time.perf_counter()
    try:
        output = (restore_end(trainer, checkpoint, config) if at_end(checkpoint) else
                  trainer.train(resume_from_checkpoint=checkpoint))
    except torch.cuda.OutOfMemoryError as exc:
        raise TrainingFailed(explain(exc, config)) from exc
    # the whole train() call, sampler and data loader construction included (transformers'
    # train_runtime starts after them): what benchmarks compare with another script's train()
    output.metrics["train_runtime"] = time.perf_counter() - called
    return _collect(run, trainer, tokenizer, output, begun)


def _prepare(data, config, out: Path, resume: bool, say=lambda line: None):
    """The run's data (the run folder's snapshot when ``data`` is None or on resume; dev held
    out when there is none) and its config with the "auto" values resolved for that data; both
    saved beside the run when it starts from given data."""
    if resume or data is None:  # the very data and settings the run started with
        data, config = load_run_inputs(out, config)
        return data, _checked(data, config)
    return prepare_run(data, config, out, say)


def prepare_run(data: TrainingData, config: TrainConfig, out: Path,
                say: Callable[[str], None] = lambda line: None):
    """A new run's frozen inputs in its folder: the data snapshot (dev held out when there is
    none; only the new and replayed sentences when it continues from a run: incremental.py)
    and the config with "auto" resolved, checked. Rank 0 of a distributed run calls this
    before the others start; they read both from the folder. ``say``: a line for the user."""
    reason = check_data(data)
    if reason:
        raise TrainingFailed(reason)
    data = hold_out_dev(data, config.dev_fraction, config.seed)
    learned = None  # a continued run's model knows all of train, not only what it trains on
    if config.continue_from:
        from .incremental import continue_run

        everything = data.train
        data, config, line = continue_run(data, config)
        say(line)
        if config.continue_from:  # it did continue (else it is a run like any other)
            learned = everything
    config = _checked(data, config)
    save_run_inputs(data, config, Path(out), learned)
    return data, config


def _checked(data: TrainingData, config: TrainConfig) -> TrainConfig:
    """``config`` with "auto" resolved for ``data`` (auto.py; under torchrun the batch is the
    global batch, a multiple of the number of processes), validated."""
    reason = check_data(data)
    if reason:
        raise TrainingFailed(reason)
    size = world().size
    config = config.resolved(len(data.train), processes=size)
    problems = config.validate()
    if problems:
        raise TrainingFailed("; ".join(problems))
    try:
        per_device_batch(config.batch_size, size)
    except ValueError as exc:
        raise TrainingFailed(str(exc)) from exc
    return config


def _collect(run: RunState, trainer, tokenizer, output, begun: float):
    """After trainer.train(): Cancelled, or the saved model (+ card) and Finished."""
    config, data = run.config, run.data
    train_s = float(output.metrics.get("train_runtime", time.perf_counter() - begun))
    if run.nan:
        raise TrainingFailed("the loss became NaN: the learning rate is probably too high "
                             f"({config.learning_rate:g}); try a lower one")
    evals = [h for h in trainer.state.log_history if "eval_f1" in h]
    best = max(evals, key=lambda h: h["eval_f1"]) if evals else {}
    best_metrics = {k[5:]: v for k, v in best.items() if k.startswith("eval_")}
    if run.cancelled:
        event = Cancelled(trainer.state.global_step, trainer.state.best_model_checkpoint,
                          best_metrics)
        run.on_event(event)
        return event
    model_dir = run.out / "model"
    if not run.world.main:  # the model, its card and the run's record are rank 0's to write
        return Finished(str(model_dir), trainer.state.best_model_checkpoint, best_metrics, {},
                        time.perf_counter() - begun, train_s, trainer.state.global_step)
    trainer.save_model(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    (model_dir / "nerstudio.json").write_text(json.dumps(
        {"base_model": config.base_model, "tags": data.tags,
         "max_length": run.max_len, "best_metrics": best_metrics}, indent=2))
    last = evals[-1] if evals else {}
    final = {k[5:]: v for k, v in last.items() if k.startswith("eval_")}
    shown = best if config.keep_best else last
    _write_card(model_dir, config, data, best_metrics if config.keep_best else final,
                run.per_label.get(shown.get("step")))
    steps = trainer.state.global_step - run.step0  # this session's steps (a resume: its own)
    rate = steps * config.batch_size * config.gradient_accumulation / max(train_s, 1e-9)
    event = Finished(str(model_dir), trainer.state.best_model_checkpoint, best_metrics, final,
                     time.perf_counter() - begun, train_s, trainer.state.global_step,
                     round(rate, 2))
    run.on_event(event)
    return event


def _write_card(model_dir: Path, config: TrainConfig, data: TrainingData, dev: dict,
                per_label: dict | None) -> None:
    """The Hub's README.md model card beside the weights (labels, data sizes, dev scores)."""
    from ..modelcard import write_model_card

    write_model_card(model_dir, base_model=config.base_model, labels=data.tags,
                     data_sizes={"train": len(data.train), "dev": len(data.dev)},
                     dev_metrics={**dev, "per_label": per_label or {}} if dev else None,
                     test_metrics=None, config=config.to_dict())
