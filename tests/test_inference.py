"""Inference with a tiny BERT trained in the test session (no download)."""
import json

import pytest

from nerstudio.core.domain import Sentence
from nerstudio.core.inference import Predictor, WordPrediction, _overlapping_windows
from nerstudio.core.preannotate import preannotate
from nerstudio.core.store import ProjectStore
from tests.conftest import TINY_DATA as DATA  # noqa: E402

TEXTS = ["angela merkel visited paris.", "john smith works for apple in london.",
         "mary jones lives near rome. peter paul met acme corp in tokyo.",
         "the bank of france said nothing."]


def test_offsets_slice_the_text_exactly(trained):
    p = Predictor(trained)
    text = "  Angela Merkel visited Paris.\n\nJohn Smith works for Apple in London.  "
    ents = p.predict_text(text)
    assert ents and all(text[e.start:e.end] == e.text for e in ents)
    found = {(e.text, e.label) for e in ents}
    assert ("Angela Merkel", "PER") in found and ("London", "LOC") in found
    assert all(0 < e.score <= 1 for e in ents)


def test_empty_and_unicode(trained):
    p = Predictor(trained)
    assert p.predict_text("") == [] and p.predict_text(" \n\t ") == []
    text = "😀 angela merkel 東京 e\u0301 visited paris ‏مرحبا."
    for e in p.predict_text(text):
        assert text[e.start:e.end] == e.text


def test_agrees_with_transformers_pipeline(trained):
    from transformers import pipeline

    nlp = pipeline("token-classification", model=trained, aggregation_strategy="first", device="cpu")
    p = Predictor(trained)
    for text in TEXTS:
        theirs = [(e["entity_group"], e["start"], e["end"]) for e in nlp(text)]
        ours = [(e.label, e.start, e.end) for e in p.predict_text(text)]
        assert ours == theirs, text


def test_long_sentences_are_windowed(trained):
    """Each word of a long sentence gets the prediction of the window where it has the most
    context on its poorer side; a window is an ordinary sequence, so predicting the windows as
    separate sentences must give the same rows."""
    p = Predictor(trained, max_length=16)
    words = ["angela", "merkel", "visited", "paris", "and"] * 30
    (pred,) = p.predict_words([words])
    assert len(pred.tags) == len(words)
    assert all(abs(sum(row) - 1) < 1e-4 for row in pred.probs)  # a real prediction for every word
    windows = _overlapping_windows([1] * len(words), 16 - 2)  # one subword per word here
    assert len(windows) > 10 and windows[0][0] == 0 and windows[-1][1] == len(words)
    separate = p.predict_words([words[a:b] for a, b in windows])
    for w in range(len(words)):
        k = max(range(len(windows)),
                key=lambda k: (min(w - windows[k][0], windows[k][1] - 1 - w)
                               if windows[k][0] <= w < windows[k][1] else -1, -k))
        row = separate[k].probs[w - windows[k][0]]
        assert row == pytest.approx(pred.probs[w], abs=1e-5), w
    assert _overlapping_windows([1] * 10, 4) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert _overlapping_windows([2, 9, 1], 4) == [(0, 1), (1, 2), (2, 3)]


def test_uncertainty():
    sure = WordPrediction(["B-PER"], [[0.0, 1.0, 0.0]])
    unsure = WordPrediction(["B-PER"], [[0.3, 0.4, 0.3]])
    assert sure.uncertainty() == (0.0, 1.0)
    ent, margin = unsure.uncertainty()
    assert ent > 1.0 and margin == pytest.approx(0.1)


def test_bulk_preannotation_keeps_gold_apart(trained, tmp_path):
    path = tmp_path / "p.nerproj"
    with ProjectStore.create(path, labels=["PER", "ORG", "LOC"]) as s:
        s.import_items([Sentence.from_words(list(e.words)) for e in DATA[:4]] +
                       [Sentence.from_words(["angela", "merkel"], status="labelled")])
    progress = []
    n = preannotate(path, Predictor(trained), on_progress=lambda d, t: progress.append((d, t)),
                    chunk=2)
    assert n == 4 and progress[-1] == (4, 4)
    with ProjectStore(path) as s:
        first = s.sentence_rows(0, 1)[0]
        assert first.has_predictions and s.sentence(first.id).spans == []
        labels = {sp.label for sp, _score in s.predictions(first.id)}
        assert "PER" in labels
        assert not s.predictions(5)  # labelled sentence untouched
        assert len(s.most_uncertain(10)) == 4


def test_preannotate_cancel(trained, tmp_path):
    path = tmp_path / "p.nerproj"
    with ProjectStore.create(path) as s:
        s.import_items([Sentence.from_words(list(e.words)) for e in DATA])
    calls = []
    n = preannotate(path, Predictor(trained), on_progress=lambda d, t: calls.append(d),
                    should_stop=lambda: len(calls) >= 2, chunk=5)
    assert n == 10


def test_cli_predict_json(trained, capsys):
    from nerstudio.cli import main

    assert main(["predict", "--model", trained, "--format", "json", "angela merkel visited paris."]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"label": "PER", "start": 0, "end": 13, "text": "angela merkel"} == \
        {k: rows[0][k] for k in ("label", "start", "end", "text")}
    assert main(["predict", "--model", trained, "--format", "color", "angela merkel"]) == 0
    assert "\033[" in capsys.readouterr().out


def same_entities(a, b):
    """Equal entities; scores equal up to noise: batches pad differently, and on a CPU the int8
    model quantizes activations per batch, so a sentence's score moves (by about 1e-4) with the
    sentences batched with it."""
    key = lambda es: [(e.label, e.start, e.end, e.text) for e in es]  # noqa: E731
    return key(a) == key(b) and [e.score for e in a] == pytest.approx([e.score for e in b],
                                                                      abs=5e-3)


def test_sentence_cache_runs_only_edited_sentences(trained):
    cached, plain = Predictor(trained, cache_sentences=3), Predictor(trained)
    ran = []
    real = cached.predict_words
    cached.predict_words = lambda sents, *a, **k: ran.append(list(sents)) or real(sents, *a, **k)
    text = "Angela Merkel visited Paris. John Smith works for Apple. Mary Jones lives near Rome."
    assert same_entities(cached.predict_text(text), plain.predict_text(text))
    assert len(ran[-1]) == 3
    edited = text.replace("Apple", "Google in London")
    assert same_entities(cached.predict_text(edited), plain.predict_text(edited))
    assert ran[-1] == [("John", "Smith", "works", "for", "Google", "in", "London", ".")]
    # the cache holds 3 sentences: the original second one was the least recently used
    cached.predict_text(text)
    assert ran[-1] == [("John", "Smith", "works", "for", "Apple", ".")]
    assert len(cached._cache) == 3
    assert Predictor(trained).cache_sentences == 0  # bulk use and benchmarks run everything


def test_mc_dropout_averages_seeded_passes_with_dropout_on_and_leaves_eval_mode(trained):
    """predict_words(dropout_passes=n, seed=s): n forward passes with dropout on, seeded, the
    softmax averaged (the label-error review's MC dropout). Replayed by hand on one sentence of
    one-subword words: same rows. The model is back in eval mode and the global RNG untouched."""
    import torch

    p = Predictor(trained)
    words = ["angela", "merkel", "visited", "paris", "."]
    (plain,) = p.predict_words([words])
    state = torch.random.get_rng_state()
    (mc,) = p.predict_words([words], dropout_passes=3, seed=5)
    assert torch.equal(state, torch.random.get_rng_state())
    assert not p._model.training
    assert p.predict_words([words])[0].probs == plain.probs  # eval mode again: deterministic
    assert p.predict_words([words], dropout_passes=3, seed=5)[0].probs == mc.probs
    assert p.predict_words([words], dropout_passes=3, seed=6)[0].probs != mc.probs
    assert mc.probs != plain.probs
    assert all(abs(sum(row) - 1) < 1e-4 for row in mc.probs)

    enc = p._tokenizer(words, is_split_into_words=True, return_tensors="pt")
    assert enc["input_ids"].shape[1] == len(words) + 2  # one subword per word
    torch.manual_seed(5)
    p._model.train()
    try:
        with torch.inference_mode():
            by_hand = sum(torch.softmax(p._model(**enc).logits.float(), -1) for _ in range(3)) / 3
    finally:
        p._model.eval()
    for row, ours in zip(by_hand[0, 1:-1].tolist(), mc.probs):
        assert row == pytest.approx(ours, abs=1e-5)


def test_batches_split_by_length_so_short_sentences_are_not_padded_to_long_ones():
    """A pasted text's few sentences of mixed lengths go in batches of similar lengths; a
    corpus's sorted neighbours (about as long as each other) still fill whole batches."""
    from nerstudio.core.inference import Predictor

    def lengths(sizes, **kw):
        predictor = Predictor("unused", **kw)
        return [[len(p[3]) for p in b]
                for b in predictor._batches([(None, 0, 0, [0] * n, None) for n in sizes])]

    assert lengths([5, 6, 7, 30, 31, 200]) == [[5, 6, 7], [30, 31], [200]]
    corpus = sorted(20 + i % 3 for i in range(100))
    assert [len(b) for b in lengths(corpus, batch_size=32)] == [32, 32, 32, 4]
    assert lengths([10] * 5, batch_size=2) == [[10, 10], [10, 10], [10]]
