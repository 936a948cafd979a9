"""The training engine really trains a tiny BERT (built from a config in tests/tiny_model.py)."""
import json

import pytest

from nerstudio.core.domain import Sentence, Span
from nerstudio.core.runs import model_dir, train_project
from nerstudio.core.store import ProjectStore
from nerstudio.core.training import (Cancelled, CheckpointSaved, Evaluation, Example, Failed,
                                     Finished, Started, Step, TrainConfig, TrainingData, train)
from nerstudio.core.training.data import _chunks, encode, entity_metrics

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
TRAIN = [Example(("angela", "merkel", "visited", "paris", "."), ("B-PER", "I-PER", "O", "B-LOC", "O")),
         Example(("john", "smith", "works", "for", "apple"), ("B-PER", "I-PER", "O", "O", "B-ORG")),
         Example(("mary", "jones", "lives", "near", "rome"), ("B-PER", "I-PER", "O", "O", "B-LOC"))] * 12


def tiny_config(model, **kw):
    base = dict(base_model=str(model), epochs=2, batch_size=8, learning_rate=5e-3, logging_steps=2,
                max_length=64)
    base.update(kw)
    return TrainConfig(**base)


def test_train_emits_events_and_saves_a_pipeline_model(tiny_bert, tmp_path):
    events = []
    result = train(TrainingData(TRAIN, TRAIN[:6], TAGS), tiny_config(tiny_bert, epochs=4),
                   tmp_path / "run", events.append)
    assert isinstance(result, Finished), result
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Finished
    assert events[0].device == "cpu" and events[0].train_sentences == 36
    steps = [e for e in events if isinstance(e, Step)]
    evals = [e for e in events if isinstance(e, Evaluation)]
    assert len(evals) == 4 and sum(isinstance(e, CheckpointSaved) for e in events) == 4
    assert steps[-1].loss < steps[0].loss  # it learns
    assert evals[-1].f1 > 0.5 and set(evals[-1].per_label) <= {"PER", "ORG", "LOC"}
    assert "PER" in evals[-1].confusion
    assert result.best_metrics["f1"] == max(e.f1 for e in evals)

    from transformers import pipeline
    nlp = pipeline("token-classification", model=result.model_dir, aggregation_strategy="first",
                   device="cpu")
    ents = nlp("angela merkel visited paris .")
    assert {e["entity_group"] for e in ents} >= {"PER"}
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert config["id2label"]["1"] == "B-PER"
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()


def test_cancel_stops_within_a_step_and_resume_finishes(tiny_bert, tmp_path):
    steps = []

    def on_event(e):
        if isinstance(e, Step):
            steps.append(e.step)

    cfg = tiny_config(tiny_bert, epochs=4, logging_steps=1, eval_every="3")
    cancelled = train(TrainingData(TRAIN, TRAIN[:6], TAGS), cfg, tmp_path / "run", on_event,
                      should_stop=lambda: len(steps) >= 4)
    assert isinstance(cancelled, Cancelled)
    # asked while step 4 was reported: stops at the next step boundary, with a checkpoint there
    assert cancelled.step == 5 and max(steps) == 5
    assert (tmp_path / "run" / "checkpoint-5").exists()
    assert cancelled.checkpoint.endswith("checkpoint-3")  # the best (only) evaluated one
    resumed_steps = []
    done = train(None, cfg, tmp_path / "run", lambda e: isinstance(e, Step) and resumed_steps.append(e.step),
                 resume=True)
    assert isinstance(done, Finished), done
    assert min(resumed_steps) == 6 and done.steps == 20


@pytest.mark.parametrize("data, config_kw, message", [
    (TrainingData([], [], TAGS), {}, "training set is empty"),
    (TrainingData(TRAIN, [], ["O"]), {}, "no entity types"),
    (TrainingData([Example(("a",), ("B-FOO",))], [], TAGS), {}, "outside the run's label set"),
    (TrainingData(TRAIN, [], TAGS), {"learning_rate": -1}, "learning rate"),
])
def test_bad_input_fails_with_a_reason(tiny_bert, tmp_path, data, config_kw, message):
    events = []
    result = train(data, tiny_config(tiny_bert, **config_kw), tmp_path / "r", events.append)
    assert isinstance(result, Failed) and message in result.reason
    assert events == [result]


def test_base_model_folder_without_weights_fails_clearly(tiny_bert, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_bert.iterdir():
        if f.suffix != ".safetensors":
            (broken / f.name).write_bytes(f.read_bytes())
    result = train(TrainingData(TRAIN, [], TAGS), tiny_config(broken), tmp_path / "r")
    assert isinstance(result, Failed) and "broken" in result.reason


def test_nan_loss_fails(tiny_bert, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    bad = tmp_path / "nan-bert"
    shutil.copytree(tiny_bert, bad)
    weights = load_file(bad / "model.safetensors")
    name = next(k for k in weights if "attention.self.query.weight" in k)
    weights[name][0, 0] = float("nan")  # a corrupted checkpoint: the loss is NaN from step 1
    save_file(weights, bad / "model.safetensors", metadata={"format": "pt"})
    result = train(TrainingData(TRAIN, TRAIN[:3], TAGS), tiny_config(bad, logging_steps=1),
                   tmp_path / "r")
    assert isinstance(result, Failed) and "NaN" in result.reason


def test_no_dev_split_holds_out_ten_percent(tiny_bert, tmp_path):
    events = []
    train(TrainingData(TRAIN * 3, [], TAGS), tiny_config(tiny_bert, max_steps=1, eval_every="none"),
          tmp_path / "r", events.append)
    assert (events[0].train_sentences, events[0].dev_sentences) == (98, 10)


def test_long_sentences_are_split_not_truncated(tiny_bert):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    words = tuple(["angela", "merkel"] * 40)
    tags = tuple(["B-PER", "I-PER"] * 40)
    feats = encode([Example(words, tags)], tok, {t: i for i, t in enumerate(TAGS)}, 32)
    assert len(feats) > 1 and all(len(f["input_ids"]) <= 32 for f in feats)
    labelled = sum(sum(1 for x in f["labels"] if x != -100) for f in feats)
    assert labelled == len(words)  # every word keeps its label
    assert _chunks([5, 5, 5], 10) == [(0, 2), (2, 3)]


def test_label_all_subwords_maps_b_to_i(tiny_bert):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    t2i = {t: i for i, t in enumerate(TAGS)}
    # "xyz" is not in the vocabulary: several subwords
    (f,) = encode([Example(("xyz",), ("B-PER",))], tok, t2i, 32, label_all_subwords=True)
    inner = [x for x in f["labels"] if x != -100]
    assert inner[0] == t2i["B-PER"] and set(inner[1:]) == {t2i["I-PER"]} and len(inner) > 1


def test_entity_metrics_and_confusion():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-LOC"]]
    m = entity_metrics(gold, pred)
    assert m["precision"] == pytest.approx(1 / 3) and m["recall"] == pytest.approx(1 / 3)
    assert m["confusion"]["LOC"] == {"ORG": 1} and m["confusion"]["ORG"] == {"O": 1}
    assert m["confusion"]["O"] == {"LOC": 1}
    assert m["per_label"]["PER"]["f1"] == 1.0


def test_lazy_adamw_matches_adamw_when_every_row_is_touched():
    import torch

    from nerstudio.core.training.sparse import LazyAdamW, clip_grad_norm

    torch.manual_seed(0)
    a, b = torch.nn.Embedding(6, 4, sparse=True), torch.nn.Embedding(6, 4)
    b.weight.data.copy_(a.weight.data)
    oa = LazyAdamW(a.parameters(), lr=0.1, weight_decay=0.01)
    ob = torch.optim.AdamW(b.parameters(), lr=0.1, weight_decay=0.01)
    idx = torch.tensor([0, 1, 2, 3, 4, 5, 5, 1])  # repeated rows: the sparse grad is uncoalesced
    for _ in range(4):
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad()
            (m(idx) ** 2).sum().backward()
        assert float(clip_grad_norm(a.parameters(), 0.5)) == pytest.approx(
            float(torch.nn.utils.clip_grad_norm_(b.parameters(), 0.5)), rel=1e-5)
        oa.step()
        ob.step()
    assert torch.allclose(a.weight, b.weight, atol=1e-6)


def _project(tmp_path):
    path = tmp_path / "p.nerproj"
    with ProjectStore.create(path, labels=["PER", "ORG", "LOC"]) as s:
        sents = []
        for i, ex in enumerate(TRAIN):
            tags = list(ex.tags)
            from nerstudio.core.iob import tags_to_spans
            sents.append(Sentence.from_words(list(ex.words), spans=tags_to_spans(tags),
                                             split="dev" if i < 6 else "train", status="labelled"))
        sents.append(Sentence.from_words(["unlabelled", "one"], split="train"))
        s.import_items(sents)
    return path


def test_train_project_records_the_run(tiny_bert, tmp_path):
    path = _project(tmp_path)
    run_id, event = train_project(path, tiny_config(tiny_bert))
    assert isinstance(event, Finished)
    with ProjectStore(path) as s:
        run = s.run(run_id)
        assert run["status"] == "finished" and run["device"].startswith("cpu")
        assert run["best_f1"] == event.best_metrics["f1"]
        assert run["labels"] == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
        assert len(s.run_metrics(run_id, "eval")) == 2 and s.run_metrics(run_id, "train")
        assert model_dir(s, run_id).is_dir()
        snapshot = json.loads((model_dir(s, run_id).parent / "data.json").read_text())
        assert len(snapshot["train"]) == 30 and len(snapshot["dev"]) == 6  # unlabelled left out


def test_train_project_cancel_then_resume(tiny_bert, tmp_path):
    path = _project(tmp_path)
    n = []
    run_id, event = train_project(path, tiny_config(tiny_bert, logging_steps=1),
                                  lambda e: isinstance(e, Step) and n.append(e),
                                  should_stop=lambda: len(n) >= 2)
    assert isinstance(event, Cancelled)
    with ProjectStore(path) as s:
        assert s.run(run_id)["status"] == "cancelled"
    same, event = train_project(path, TrainConfig(), resume_run=run_id)
    assert same == run_id and isinstance(event, Finished)
    with ProjectStore(path) as s:
        assert s.run(run_id)["status"] == "finished"


def test_reported_dev_f1_matches_an_independent_evaluation(tiny_bert, tmp_path):
    """Dev sentences of varied lengths and small eval batches: the F1 the run reports must be
    the F1 of its saved model's predictions, sentence by sentence (guards the mapping of
    predictions back to sentences, which length-grouped evaluation would scramble)."""
    from nerstudio.core.inference import Predictor

    dev = [TRAIN[0], Example(("john", "smith"), ("B-PER", "I-PER")),
           Example(("mary", "jones", "lives", "near", "rome", "and", "paris", "."),
                   ("B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-LOC", "O")),
           TRAIN[1], Example(("rome",), ("B-LOC",)), TRAIN[2]] * 3
    result = train(TrainingData(TRAIN, dev, TAGS),
                   tiny_config(tiny_bert, epochs=1, keep_best=False, eval_batch_size=2), tmp_path / "r")
    assert isinstance(result, Finished)
    preds = Predictor(result.model_dir).predict_words([list(e.words) for e in dev])
    independent = entity_metrics([list(e.tags) for e in dev], [p.tags for p in preds])
    assert result.final_metrics["f1"] == pytest.approx(independent["f1"])
    assert result.final_metrics["precision"] == pytest.approx(independent["precision"])
