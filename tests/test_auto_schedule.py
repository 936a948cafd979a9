"""Size-aware defaults: the rule, its resolution into a TrainConfig, and a real run that uses it."""
from nerstudio.core.training import Evaluation, Finished, Started, TrainConfig, TrainingData, train
from nerstudio.core.training.auto import MAX_EPOCHS, MIN_EPOCHS, auto_schedule

from .conftest import TINY_DATA, TINY_TAGS


def test_small_data_gets_enough_steps_large_data_gets_the_recipe():
    tiny, small, large = auto_schedule(20), auto_schedule(200), auto_schedule(14041)
    assert tiny.steps >= 100 and small.steps >= 300  # the recipe would make 4 and 39 steps
    assert tiny.batch_size < small.batch_size <= large.batch_size == 16
    assert large.epochs == MIN_EPOCHS and large.learning_rate == 5e-5  # the recipe, unchanged
    assert large.patience == 0 and large.warmup_ratio == 0.0
    assert tiny.patience > 0 and small.patience > 0
    for n in (1, 5, 20, 50, 200, 1000, 3000, 10000, 100000):
        s = auto_schedule(n)
        assert MIN_EPOCHS <= s.epochs <= MAX_EPOCHS and s.learning_rate > 0


def test_evaluations_per_run_are_bounded():
    s = auto_schedule(20)  # many short epochs: evaluate every few of them
    evals = s.steps / (int(s.eval_every) if s.eval_every != "epoch" else s.steps / s.epochs)
    assert evals <= 15


def test_resolved_fills_only_auto_fields_and_keeps_user_values():
    cfg = TrainConfig(batch_size=4).resolved(200)
    assert cfg.batch_size == 4 and cfg.learning_rate == auto_schedule(200).learning_rate
    assert cfg.auto_fields() == [] and cfg.validate() == []
    fixed = TrainConfig(epochs=3, learning_rate=5e-5, batch_size=16).resolved(200)
    # a user who fixed the length gets the recipe: no warm-up, no early stopping
    assert fixed.epochs == 3 and fixed.warmup_ratio == 0.0 and fixed.early_stopping_patience == 0
    assert TrainConfig().validate(), "an unresolved config must not pass validation"


def test_an_auto_run_records_its_resolved_values_and_stops_early(tiny_bert, tmp_path):
    events = []
    cfg = TrainConfig(base_model=str(tiny_bert), max_length=64, learning_rate=5e-3)
    result = train(TrainingData(TINY_DATA, TINY_DATA[:4], TINY_TAGS), cfg, tmp_path / "run",
                   events.append)
    assert isinstance(result, Finished), result
    started = events[0]
    assert isinstance(started, Started)
    resolved = started.config
    assert resolved["batch_size"] == auto_schedule(40).batch_size
    assert resolved["early_stopping_patience"] > 0 and resolved["epochs"] >= MIN_EPOCHS
    evals = [e for e in events if isinstance(e, Evaluation)]
    planned = auto_schedule(40)
    # the tiny data is learnt at once: early stopping ends the run long before the planned steps
    assert result.steps < planned.steps
    assert result.best_metrics["f1"] == max(e.f1 for e in evals)
