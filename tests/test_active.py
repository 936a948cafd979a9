"""Issue #15's Qt-free core: the Active learning order (MNLP + near-duplicate spreading), the
stored order and review flags on a real SQLite file, cleanlab's ranking over planted errors, and
`nerstudio review` refusing too little data as a user runs it."""
import json
import math
import subprocess
import sys
import time

import pytest

from nerstudio.core.active import diversify, floor_short, mnlp
from nerstudio.core.domain import Sentence, Span
from nerstudio.core.inference import WordPrediction
from nerstudio.core.store import ProjectStore
from nerstudio.core.training import Example

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _store(tmp_path, *word_lists):
    store = ProjectStore.create(tmp_path / "p.nerproj", labels=["PER", "LOC"])
    store.import_items([Sentence.from_words(w, split="train") for w in word_lists], source="t")
    return store, [r.id for r in store.sentence_rows(0, 1000)]


def test_mnlp_is_the_mean_log_probability_of_the_chosen_tags():
    sure = WordPrediction(["O", "O"], [[0.99, 0.01], [0.98, 0.02]])
    unsure = WordPrediction(["O", "B-PER"], [[0.55, 0.45], [0.4, 0.6]])
    assert mnlp(sure) == pytest.approx((math.log(0.99) + math.log(0.98)) / 2)
    assert mnlp(unsure) < mnlp(sure)


def test_short_sentences_count_only_as_unsure_as_their_words_make_them():
    long_ = "Rain is expected in Lisbon and Porto tomorrow".split()  # 8 words
    mid = "Talks resume in Geneva on Monday".split()               # 6 words
    short = "Leeds 2".split()
    scored = [(1, long_, -0.5), (2, mid, -0.5), (3, short, -0.9)]
    floored = {sid: score for sid, _w, score in floor_short(scored)}  # median length: 6
    assert floored[1] == floored[2] == -0.5  # at or over the floor: plain MNLP
    assert floored[3] == pytest.approx(-0.9 * 2 / 6)  # total log-probability over 6 words
    assert diversify(floor_short(scored))[-1] == 3  # the most unsure per word, but 2 words
    assert diversify(scored)[0] == 3  # plain MNLP would have asked for it first
    assert floor_short(scored, floor=1) == scored
    assert floor_short([]) == []


def test_order_puts_the_most_uncertain_first_and_spreads_near_duplicates():
    dup = "Shares of Acme rose 3 percent on Monday".split()
    dup2 = "Shares of Acme rose 5 percent on Monday".split()  # digits fold: a near-duplicate
    other = "Rain is expected in Lisbon tomorrow".split()
    calm = "The meeting ended".split()
    order = diversify([(1, dup, -2.0), (2, dup2, -1.9), (3, other, -1.0), (4, calm, -0.1)])
    assert order[0] == 1  # the most uncertain
    assert order.index(3) < order.index(2)  # the near-duplicate waits for a later pass
    assert sorted(order) == [1, 2, 3, 4]
    plain = sorted([(1, dup, -2.0), (2, dup2, -1.9), (3, other, -1.0)], key=lambda c: c[2])
    assert [c[0] for c in plain] == [1, 2, 3]  # without spreading 2 would come second


def test_stored_order_drops_labelled_sentences_and_remembers_its_run(tmp_path):
    store, ids = _store(tmp_path, ["a", "b"], ["c", "d"], ["e", "f"])
    assert store.active_order() == [] and store.active_order_run() is None
    store.set_active_order(None, [ids[2], ids[0], ids[1]])
    assert store.active_order() == [ids[2], ids[0], ids[1]]
    store.set_spans(ids[0], [], status="labelled")
    assert store.active_order() == [ids[2], ids[1]]
    store.close()
    with ProjectStore(tmp_path / "p.nerproj") as again:  # committed, survives a reopen
        assert again.active_order() == [ids[2], ids[1]]


def test_accepting_a_flag_changes_gold_undoably_keeping_leaves_it(tmp_path):
    store, ids = _store(tmp_path, ["Ann", "visited", "Rome"], ["Bob", "left"])
    store.set_spans(ids[0], [Span(0, 1, "PER"), Span(2, 3, "PER")], status="labelled")
    store.set_spans(ids[1], [Span(0, 1, "PER")], status="labelled")
    store.set_review_flags(None, [(ids[0], 2, "B-PER", "B-LOC", 0.01),
                                  (ids[1], 0, "B-PER", "O", 0.2)])
    assert store.flagged_sentence_ids() == [ids[0], ids[1]]  # likeliest error first
    assert store.resolve_flag(ids[0], 2, accept=True) is True
    assert [(s.start, s.label) for s in store.sentence(ids[0]).spans] == [(0, "PER"), (2, "LOC")]
    assert store.review_flags(ids[0]) == []
    assert store.undo() == ids[0]
    assert [(s.start, s.label) for s in store.sentence(ids[0]).spans] == [(0, "PER"), (2, "PER")]
    assert [(f.token_index, f.predicted) for f in store.review_flags(ids[0])] == [(2, "B-LOC")]
    assert store.flagged_sentence_ids() == [ids[0], ids[1]]  # the undo brought the flag back
    assert store.resolve_flag(ids[1], 0, accept=False) is False
    assert [(s.start, s.label) for s in store.sentence(ids[1]).spans] == [(0, "PER")]
    assert store.flagged_sentence_ids() == [ids[0]]
    assert store.undo() == ids[1]  # keeping is an undo step of its own: the flag is back ...
    assert store.flagged_sentence_ids() == [ids[0], ids[1]]
    assert [(s.start, s.label) for s in store.sentence(ids[0]).spans] == [(0, "PER"), (2, "PER")]
    assert store.redo() == ids[1]  # ... and a redo answers it again
    assert store.flagged_sentence_ids() == [ids[0]]
    store.close()
    with ProjectStore(tmp_path / "p.nerproj") as again:  # committed
        assert again.flagged_sentence_ids() == [ids[0]]


def test_an_undone_edit_brings_back_the_flags_it_settled(tmp_path):
    store, ids = _store(tmp_path, ["Ann", "visited", "Rome"])
    store.set_spans(ids[0], [Span(0, 1, "PER"), Span(2, 3, "PER")], status="labelled")
    store.set_review_flags(None, [(ids[0], 2, "B-PER", "B-LOC", 0.01)])
    store.set_spans(ids[0], [Span(0, 1, "PER")])  # a plain edit: its flags are about old tags
    assert store.review_flags(ids[0]) == []
    store.undo()
    assert [(f.token_index, f.given) for f in store.review_flags(ids[0])] == [(2, "B-PER")]
    store.close()


def test_dropping_an_entity_takes_its_flagged_tokens_along_and_keeps_the_other_flags(tmp_path):
    words = "the Association for Relations Across the Straits said".split()
    store, ids = _store(tmp_path, words)
    store.set_spans(ids[0], [Span(1, 7, "PER")], status="labelled")
    store.set_review_flags(None, [(ids[0], 1, "B-PER", "O", 0.01), (ids[0], 2, "I-PER", "O", 0.02),
                                  (ids[0], 3, "I-PER", "B-LOC", 0.03),
                                  (ids[0], 6, "I-PER", "B-LOC", 0.04)])
    assert store.resolve_flag(ids[0], 1, accept=True) is True
    # "for" (flagged O) went with "Association"; "Relations" (flagged otherwise) starts the span
    assert [(s.start, s.end, s.label) for s in store.sentence(ids[0]).spans] == [(3, 7, "PER")]
    left = [(f.token_index, f.given, f.predicted) for f in store.review_flags(ids[0])]
    assert left == [(3, "B-PER", "B-LOC"), (6, "I-PER", "B-LOC")]  # the repair is followed
    store.close()


def test_a_flag_on_a_sentence_edited_since_the_review_is_dropped_not_applied(tmp_path):
    store, ids = _store(tmp_path, ["Ann", "visited", "Rome"])
    store.set_spans(ids[0], [Span(0, 1, "PER")], status="labelled")
    store.set_review_flags(None, [(ids[0], 0, "B-PER", "O", 0.01)])
    store.set_spans(ids[0], [Span(0, 1, "PER"), Span(2, 3, "PER")])  # edited after the review
    assert store.review_flags(ids[0]) == []
    with pytest.raises(Exception):
        store.resolve_flag(ids[0], 0, accept=True)
    assert len(store.sentence(ids[0]).spans) == 2  # nothing applied
    store.close()


def test_cleanlab_ranks_a_planted_error_first():
    from nerstudio.core.review import label_issues

    examples, probs = [], []
    for i in range(40):
        tags = ["B-PER", "O", "B-LOC"]
        p = [[0.02, 0.9, 0.02, 0.04, 0.02], [0.9, 0.03, 0.03, 0.02, 0.02],
             [0.02, 0.03, 0.02, 0.9, 0.03]]
        if i == 7:
            tags = ["B-PER", "O", "B-PER"]  # planted: the model is sure it is a place
        examples.append(Example(("Ann", "in", "Rome"), tuple(tags)))
        probs.append(p)
    flags = label_issues(examples, TAGS, probs)
    assert flags and (flags[0].sentence_id, flags[0].token_index) == (7, 2)
    assert (flags[0].given, flags[0].predicted) == ("B-PER", "B-LOC")


def test_a_word_tagged_otherwise_everywhere_else_is_suspect_where_the_model_hesitates():
    """Agreement with the annotator's other tags of the same word (review.with_agreement): the
    held-out model is unsure of "Rome" (LOC 0.4, PER 0.35) and a little surer that a one-off
    "Zog" is not a person, so the model alone ranks Zog first; "Rome" is tagged LOC in nine
    other sentences and PER once, which makes that once the likeliest error."""
    from nerstudio.core.review import label_issues, token_quality, with_agreement

    hesitant = [0.1, 0.35, 0.05, 0.4, 0.1]
    examples, probs = [], []
    for i in range(10):
        examples.append(Example(("in", "Rome"), ("O", "B-PER" if i == 3 else "B-LOC")))
        probs.append([[0.9, 0.03, 0.03, 0.02, 0.02], hesitant])
    examples.append(Example(("Zog", "said"), ("B-PER", "O")))
    probs.append([[0.6, 0.3, 0.04, 0.03, 0.03], [0.9, 0.03, 0.03, 0.02, 0.02]])
    mixed = with_agreement(examples, TAGS, probs)
    assert mixed[10][0] == pytest.approx(probs[10][0])  # seen nowhere else: the model's belief
    assert mixed[3][1][1] == pytest.approx(2 * 0.35 / (2 + 9))  # PER once, LOC nine times
    assert mixed[0][1][3] == pytest.approx((2 * 0.4 + 8) / (2 + 9))  # its own tag not counted
    quality = token_quality(examples, TAGS, probs)
    ranked = sorted((q, i, t) for i, qs in enumerate(quality) for t, q in enumerate(qs))
    assert ranked[0][1:] == (3, 1)
    flags = label_issues(examples, TAGS, probs)
    assert (flags[0].sentence_id, flags[0].token_index, flags[0].given, flags[0].predicted) \
        == (3, 1, "B-PER", "B-LOC")


def test_review_cli_refuses_too_little_data_in_one_line_and_changes_nothing(tmp_path):
    store, ids = _store(tmp_path, *[["Ann", "ran", str(i)] for i in range(10)])
    for sid in ids:
        store.set_spans(sid, [Span(0, 1, "PER")], status="labelled")
    store.close()
    before = (tmp_path / "p.nerproj").read_bytes()
    out = subprocess.run([sys.executable, "-m", "nerstudio", "review", str(tmp_path / "p.nerproj")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    message = (out.stderr + out.stdout).strip()
    assert "50" in message and "Traceback" not in message
    with ProjectStore(tmp_path / "p.nerproj") as again:
        assert again.flagged_sentence_ids() == []


def test_split_changed_since_sees_dev_imports_and_edits_not_train_ones(tmp_path):
    """Keep-fresh compares two runs' dev F1 only when the dev split did not change between."""
    import sqlite3

    store = ProjectStore.create(tmp_path / "p.nerproj", labels=["PER"])
    store.import_items([Sentence.from_words(["Ann", "ran"], split="dev")], source="dev")
    store.import_items([Sentence.from_words(["Bob", "ran"], split="train")], source="train")
    assert store.split_changed_since("dev", "2000-01-01 00:00:00")
    future = "2999-01-01 00:00:00"
    assert not store.split_changed_since("dev", future)
    con = sqlite3.connect(store.path)
    with con:  # the import happened long ago
        con.execute("UPDATE documents SET created_at = '2001-01-01 00:00:00'")
    con.close()
    t = "2010-01-01 00:00:00"
    assert not store.split_changed_since("dev", t)
    ids = {r.id: r for r in store.sentence_rows(0, 10)}
    train_id = next(i for i in ids if store.sentence(i).split == "train")
    dev_id = next(i for i in ids if store.sentence(i).split == "dev")
    store.set_spans(train_id, [Span(0, 1, "PER")])  # a train edit: dev unchanged
    assert not store.split_changed_since("dev", t)
    store.set_spans(dev_id, [Span(0, 1, "PER")])  # a dev edit: the dev set changed
    assert store.split_changed_since("dev", t)
    store.close()


def test_a_sentence_moved_between_splits_changes_the_dev_set(tmp_path):
    """Moving a labelled sentence into (or out of) dev changes what a run is scored on, though
    no sentence was added or edited: two runs' dev scores no longer compare."""
    store = ProjectStore.create(tmp_path / "p.nerproj", labels=["PER"])
    store.import_items([Sentence.from_words(["Ann", "ran"], split="dev"),
                        Sentence.from_words(["Bob", "ran"], split="train")], source="data")
    t = store._scalar("SELECT datetime('now', '+1 second')")  # the last run started after
    ids = {store.sentence(r.id).split: r.id for r in store.sentence_rows(0, 10)}
    store.set_split([ids["dev"]], "dev")  # already there: nothing moved
    assert not any(store.split_changed_since(s, t) for s in ("dev", "train"))
    deadline = time.monotonic() + 10
    while store._scalar("SELECT datetime('now')") <= t and time.monotonic() < deadline:
        time.sleep(0.05)  # SQLite's clock has whole seconds
    store.set_split([ids["train"]], "dev")
    assert store.split_changed_since("dev", t) and store.split_changed_since("train", t)
    store.close()


def test_review_averages_k_fold_rounds_each_with_its_own_split_and_seed(tiny_bert, tmp_path):
    """out_of_fold_probs(repeats=2) is the mean of two single rounds, the second with seed + 1
    (its own fold split and training seed); its events count k × repeats models."""
    from dataclasses import replace

    from nerstudio.core.review import FoldDone, FoldStarted, folds, out_of_fold_probs
    from nerstudio.core.training import TrainConfig
    from tests.conftest import TINY_DATA, TINY_TAGS

    examples = TINY_DATA + TINY_DATA[:12]  # 52: just over the review's minimum
    config = TrainConfig(base_model=str(tiny_bert), epochs=1, batch_size=8, learning_rate=5e-3,
                         max_length=64, eval_every="none", seed=3)
    assert folds(52, 2, 3) != folds(52, 2, 4)
    first = out_of_fold_probs(examples, TINY_TAGS, config, 2, dropout_passes=0, repeats=1,
                              workdir=tmp_path)
    second = out_of_fold_probs(examples, TINY_TAGS, replace(config, seed=4), 2, repeats=1,
                               dropout_passes=0, workdir=tmp_path)
    events = []
    both = out_of_fold_probs(examples, TINY_TAGS, config, 2, events.append, dropout_passes=0,
                             repeats=2, workdir=tmp_path)
    assert first != second
    for a, b, mean in zip(first, second, both):
        for ra, rb, rm in zip(a, b, mean):
            assert rm == pytest.approx([(x + y) / 2 for x, y in zip(ra, rb)], abs=1e-6)
    started = [e for e in events if isinstance(e, FoldStarted)]
    assert [(e.index, e.total) for e in started] == [(i, 4) for i in range(4)]
    assert sum(isinstance(e, FoldDone) for e in events) == 4
    assert list(tmp_path.iterdir()) == []  # the fold models are deleted


def test_review_cli_trains_folds_times_repeats_models_and_stores_its_flags(tmp_path, tiny_bert):
    """`nerstudio review --folds 2 --repeats 2` as a user runs it: four models, numbered 1..4
    of 4 on stderr; the planted error is among the flags it prints, which are the ones stored;
    the sentences are unchanged."""
    from tests.conftest import TINY_DATA
    from tests.test_evaluation import LABELS, _sentence

    path = tmp_path / "p.nerproj"
    with ProjectStore.create(path, labels=LABELS) as s:
        examples = TINY_DATA + TINY_DATA[:12]
        planted = ("B-PER", "I-PER", "O", "B-PER", "O")  # "paris" a person, once
        assert examples[4].words[3] == "paris"
        s.import_items([_sentence(e.words, planted if i == 4 else e.tags, "train")
                        for i, e in enumerate(examples)])
        before = [(x.id, x.version, x.spans) for x in s.iter_sentences()]
    out = subprocess.run(
        [sys.executable, "-m", "nerstudio", "review", str(path), "--folds", "2", "--repeats", "2",
         "--base-model", str(tiny_bert), "--epochs", "2", "--lr", "5e-3", "--batch-size", "8",
         "--max-length", "64", "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert [line.split("]")[0] + "]" for line in out.stderr.splitlines()
            if line.startswith("[")] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    printed = json.loads(out.stdout)
    suspects = {(f["token_index"], f["given"], f["predicted"]) for f in printed["flags"]
                if f["sentence_id"] == before[4][0]}
    assert (3, "B-PER", "B-LOC") in suspects, printed["flags"]
    with ProjectStore(path, read_only=True) as s:
        assert [(x.id, x.version, x.spans) for x in s.iter_sentences()] == before
        assert sorted(s.flagged_sentence_ids()) == sorted({f["sentence_id"]
                                                           for f in printed["flags"]})
