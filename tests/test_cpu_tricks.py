"""The CPU speed-ups are on when a run says so, and never on a GPU: there the run is the stock
recipe (the same TrainingArguments as a plain Hugging Face script)."""
import pytest

from nerstudio.core.training import Finished, Started, TrainConfig, TrainingData, train
from nerstudio.core.training.failures import TrainingFailed
from nerstudio.core.training.loading import load_model
from nerstudio.core.training.recipe import apply_cpu_tricks, build_arguments

from .test_training import TAGS, TRAIN, tiny_config


def _started(tiny_bert, tmp_path, **kw):
    events = []
    result = train(TrainingData(TRAIN, TRAIN[:6], TAGS),
                   tiny_config(tiny_bert, epochs=1, eval_every="none", **kw), tmp_path, events.append)
    assert isinstance(result, Finished), result
    return next(e for e in events if isinstance(e, Started))


def test_a_cpu_run_reports_the_trick_really_in_effect(tiny_bert, tmp_path):
    on = _started(tiny_bert, tmp_path / "on").cpu_tricks
    assert on == {"sparse_embeddings": True}
    off = _started(tiny_bert, tmp_path / "off", sparse_embeddings="off").cpu_tricks
    assert off == {"sparse_embeddings": False}


def test_no_trick_touches_the_model_on_a_gpu_and_forcing_one_is_refused(tiny_bert):
    model = load_model(str(tiny_bert), TAGS)
    assert apply_cpu_tricks(model, TrainConfig(), "cuda") is False
    assert not model.get_input_embeddings().sparse
    with pytest.raises(TrainingFailed, match="CPU speed-up"):
        apply_cpu_tricks(model, TrainConfig(sparse_embeddings="on"), "cuda")
    with pytest.raises(TrainingFailed, match="CPU speed-up"):
        apply_cpu_tricks(model, TrainConfig(sparse_embeddings="on"), "distributed")


def test_gpu_arguments_are_the_stock_recipe(tmp_path):
    from transformers import TrainingArguments

    config = TrainConfig(learning_rate=5e-5, batch_size=16, epochs=3).resolved(14041)
    ours = build_arguments(config, tmp_path, "cuda", "fp32", total=2634)
    stock = TrainingArguments(  # the transformers token-classification recipe
        output_dir=str(tmp_path), learning_rate=5e-5, per_device_train_batch_size=16,
        num_train_epochs=3, weight_decay=0.01, seed=42, eval_strategy="epoch",
        save_strategy="epoch", load_best_model_at_end=True, metric_for_best_model="f1")
    for name in ("learning_rate", "per_device_train_batch_size", "num_train_epochs",
                 "weight_decay", "seed", "adam_beta1", "adam_beta2", "adam_epsilon", "optim",
                 "lr_scheduler_type", "warmup_steps", "max_grad_norm",
                 "gradient_accumulation_steps", "eval_strategy", "save_strategy",
                 "load_best_model_at_end", "metric_for_best_model", "fp16", "bf16", "use_cpu"):
        assert getattr(ours, name) == getattr(stock, name), name
