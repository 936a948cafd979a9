"""The dev F1 a run reports is the saved model's: dev is scored like the Predictor predicts
(whole sentences up to the model's limit), not in the short pieces training uses."""
from nerstudio.core.inference import Predictor
from nerstudio.core.training import Example, Finished, TrainingData, train
from nerstudio.core.training.data import entity_metrics

from .test_training import TAGS, TRAIN, tiny_config


def _long(examples, times):
    words, tags = [], []
    for e in examples[:times]:
        words += e.words
        tags += e.tags
    return Example(tuple(words), tuple(tags))


def test_reported_dev_f1_equals_the_saved_models_f1(tiny_bert, tmp_path):
    # sentences of ~40 subwords: several 16-subword training pieces, one Predictor window
    dev = [_long(TRAIN[i:], 8) for i in range(0, 6)]
    config = tiny_config(tiny_bert, epochs=2, max_length=16)
    result = train(TrainingData(TRAIN, dev, TAGS), config, tmp_path / "run")
    assert isinstance(result, Finished), result
    # fp32: the run is scored in fp32 (int8, the CPU default for prediction, is another model)
    predicted = Predictor(result.model_dir, precision="fp32").predict_words(
        [list(e.words) for e in dev])
    saved = entity_metrics([list(e.tags) for e in dev], [p.tags for p in predicted])["f1"]
    assert abs(result.best_metrics["f1"] - saved) < 1e-9, (result.best_metrics["f1"], saved)
