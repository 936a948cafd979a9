"""The Hugging Face Trainer of one run: its arguments, encoded datasets and CPU speed-ups.

The recipe is the stock one (AdamW, linear schedule, evaluation and checkpoints per epoch or
every N steps, best model by dev F1); on a single CPU process the word embeddings get sparse
gradients. What the Trainer's callback, the metrics and the engine's result share about the run
is one :class:`RunState`. Apart from the engine, which only runs what this builds, so a test
can check the arguments or the speed-ups without training.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from .callbacks import early_stopping, events_callback
from .config import TrainConfig
from .data import encode
from .dev_metrics import DevMetrics, argmax
from .failures import TrainingFailed
from .world import per_device_batch, world


class RunState:
    """What one run's callback, metrics and result share (instead of closures: a class defined
    inside a function would keep all of it alive past the run)."""

    def __init__(self, data, config, out, device, device_name, on_event, should_stop):
        self.data, self.config, self.out = data, config, out
        self.device, self.device_name = device, device_name
        self.on_event, self.should_stop = on_event, should_stop
        self.precision = pick_precision(config, device)
        self.details: dict = {}      # per-label scores and confusion of the last evaluation
        self.per_label: dict = {}    # step -> per-label scores
        self.tricks: dict = {}
        self.total = 0
        self.nan = self.cancelled = False
        self.t0, self.step0, self.saved = time.perf_counter(), 0, time.monotonic()
        self.max_len = config.max_length
        self.world = world()
        self.device_for_flags = None  # where agree()'s flags live (the Trainer's device)


def pick_precision(config: TrainConfig, device: str) -> str:
    """fp32 off CUDA or when mixed precision is off; else the one asked, or bf16 where the
    GPU supports it (fp16 otherwise)."""
    import torch

    if device != "cuda" or config.mixed_precision == "no":
        return "fp32"
    if config.mixed_precision in ("bf16", "fp16"):
        return config.mixed_precision
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


class ListDataset:
    """Model inputs only; the Trainer collates them with DataCollatorForTokenClassification."""

    def __init__(self, feats):
        self.feats = [{k: f[k] for k in ("input_ids", "attention_mask", "labels")} for f in feats]

    def __len__(self):
        return len(self.feats)

    def __getitem__(self, i):
        return self.feats[i]


def build_arguments(config: TrainConfig, out: Path, device: str, precision: str,
                    total: int):
    """The recipe's TrainingArguments (AdamW, linear schedule, eval/save per epoch, best model by
    dev F1). Nothing device-specific but the precision flags: a GPU run is the stock recipe.
    Under torchrun the batch is shared out (``batch_size`` is the global batch) and DDP runs on
    gloo (CPU) or NCCL (GPU) with a bounded timeout."""
    from transformers import TrainingArguments

    from .distributed import DDP_TIMEOUT_S

    strategy = eval_strategy(config)
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


def eval_strategy(config: TrainConfig) -> str:
    """The Trainer's eval / save strategy for ``eval_every`` ("epoch", "none" or a step count)."""
    return {"epoch": "epoch", "none": "no"}.get(config.eval_every, "steps")


def build_trainer(run: RunState, model, tokenizer):
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
        model=model, args=args, train_dataset=ListDataset(train_feats),
        eval_dataset=ListDataset(dev_feats),
        data_collator=DataCollatorForTokenClassification(
            tokenizer, pad_to_multiple_of=8 if run.device == "cuda" else None),
        processing_class=tokenizer, compute_metrics=DevMetrics(run, dev_feats),
        preprocess_logits_for_metrics=argmax,
        callbacks=[events_callback(run), *early_stopping(config, eval_strategy(config))])
    run.tricks = cpu_tricks_in_effect(model)
    run.device_for_flags = args.device
    trainer.remove_callback(PrinterCallback)  # events replace its prints
    trainer.remove_callback(ProgressCallback)
    return trainer


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
