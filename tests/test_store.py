import sqlite3

import pytest

from nerstudio.core.domain import Sentence, Span
from nerstudio.core.errors import StoreError
from nerstudio.core.store import DocumentStart, ProjectStore


def _add(store, *word_lists, split="train"):
    store.import_items([Sentence.from_words(w, split=split) for w in word_lists], source="t")
    return [r.id for r in store.sentence_rows(0, 1000)]


def _rows(path, sql):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_create_open_and_pragmas(tmp_path):
    path = tmp_path / "p.nerproj"
    with ProjectStore.create(path, "demo", ["PER"]) as s:
        assert s.meta("name") == "demo"
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with ProjectStore(path) as s:  # reopening applies no migration twice
        assert s.label_set().names == ["PER"]
    from nerstudio.core.schema import migrations
    n = len(migrations._migrations)
    assert _rows(path, "SELECT count(*) FROM _sqlite_migrations")[0][0] == n
    with pytest.raises(StoreError):
        ProjectStore.create(path)
    with pytest.raises(StoreError, match="no such project"):
        ProjectStore(tmp_path / "missing.nerproj")


def test_not_a_project(tmp_path):
    bad = tmp_path / "x.nerproj"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a nerstudio project"):
        ProjectStore(bad)


def test_edit_is_committed_at_once_and_visible_to_another_connection(store):
    (sid,) = _add(store, ["Angela", "Merkel", "visited", "Paris"])
    store.set_spans(sid, [Span(0, 2, "PER"), Span(3, 4, "LOC")], status="labelled")
    rows = _rows(store.path, 'SELECT start, "end", label_id FROM spans ORDER BY start')
    assert [(r[0], r[1]) for r in rows] == [(0, 2), (3, 4)]
    assert _rows(store.path, "SELECT status, n_entities FROM sentences")[0] == ("labelled", 2)


def test_invalid_edits_change_nothing(store):
    (sid,) = _add(store, ["a", "b", "c"])
    store.set_spans(sid, [Span(0, 1, "PER")])
    for bad in ([Span(0, 2, "PER"), Span(1, 3, "LOC")], [Span(2, 4, "PER")], [Span(0, 1, "NOPE")]):
        with pytest.raises(StoreError):
            store.set_spans(sid, bad)
    assert store.sentence(sid).spans == [Span(0, 1, "PER")]


def test_undo_redo_survive_restart(tmp_path):
    path = tmp_path / "u.nerproj"
    with ProjectStore.create(path, labels=["PER", "LOC"]) as s:
        (sid,) = _add(s, ["Angela", "Merkel", "in", "Paris"])
        s.set_spans(sid, [Span(0, 2, "PER")])
        s.set_spans(sid, [Span(0, 2, "PER"), Span(3, 4, "LOC")], status="labelled")
    with ProjectStore(path) as s:
        assert s.undo() == sid
        assert s.sentence(sid).spans == [Span(0, 2, "PER")]
        assert s.sentence(sid).status == "unlabelled"
        assert s.undo() == sid and s.sentence(sid).spans == []
        assert s.undo() is None
        assert s.redo() == sid and s.sentence(sid).spans == [Span(0, 2, "PER")]
    with ProjectStore(path) as s:
        assert s.can_redo()
        s.set_spans(sid, [Span(3, 4, "LOC")])  # a new edit drops the redo branch
        assert not s.can_redo() and s.redo() is None
        assert s.undo() == sid and s.sentence(sid).spans == [Span(0, 2, "PER")]


def test_rename_merge_delete_rewrite_annotations(store):
    a, b = _add(store, ["Angela", "Merkel", "in", "Paris"], ["Apple", "in", "London"])
    store.set_spans(a, [Span(0, 2, "PER"), Span(3, 4, "LOC")])
    store.set_spans(b, [Span(0, 1, "ORG"), Span(2, 3, "LOC")])
    assert store.label_usage("LOC") == 2
    assert store.rename_label("LOC", "GPE") == 2
    assert [sp.label for sp in store.sentence(a).spans] == ["PER", "GPE"]
    assert store.merge_labels("ORG", "PER") == 1
    assert store.sentence(b).spans == [Span(0, 1, "PER"), Span(2, 3, "GPE")]
    assert "ORG" not in store.label_set()
    assert store.delete_label("GPE") == 2
    assert store.sentence(b).spans == [Span(0, 1, "PER")]
    assert store.sentence_rows(0, 10)[1].n_entities == 1
    with pytest.raises(StoreError):
        store.rename_label("PER", "MISC")  # exists: merge instead
    with pytest.raises(StoreError):
        store.rename_label("PER", "has space")


def test_undo_after_label_deleted_drops_only_that_label(store):
    (sid,) = _add(store, ["Angela", "in", "Paris"])
    store.set_spans(sid, [Span(0, 1, "PER"), Span(2, 3, "LOC")])
    store.set_spans(sid, [])
    store.delete_label("LOC")
    store.undo()
    assert store.sentence(sid).spans == [Span(0, 1, "PER")]


def test_reorder_and_recolour(store):
    store.reorder_labels(["MISC", "LOC", "ORG", "PER"])
    store.recolour_label("PER", "#123456")
    ls = store.label_set()
    assert ls.names == ["MISC", "LOC", "ORG", "PER"] and ls.labels[-1].colour == "#123456"
    assert ls.tags()[:3] == ["O", "B-MISC", "I-MISC"]


def test_filters_paging_and_fulltext(store):
    store.import_items([DocumentStart("d1")] + [
        Sentence.from_words(["sentence", str(i), "Paris" if i % 3 == 0 else "Rome"],
                            split="train" if i % 2 else "dev",
                            spans=[Span(2, 3, "LOC")] if i % 3 == 0 else [],
                            status="labelled" if i % 3 == 0 else "unlabelled")
        for i in range(30)])
    assert store.count() == 30
    assert store.count(split="dev") == 15
    assert store.count(status="labelled") == 10
    assert store.count(label="LOC") == 10
    assert store.count(search="paris") == 10
    assert store.count(search='Rome "unbalanced') == 0  # user text never breaks the FTS syntax
    page = store.sentence_rows(10, 5)
    assert [r.text for r in page] == [f"sentence {i} {'Paris' if i % 3 == 0 else 'Rome'}"
                                      for i in range(10, 15)]
    assert len(store.search("Rome")) == 20


def test_runs_and_metrics(store):
    rid = store.create_run("tiny", {"lr": 1e-3}, ["O", "B-PER", "I-PER"], "cpu", "/tmp/x")
    store.add_run_metric(rid, "train", 10, 0.5, {"loss": 1.5})
    store.add_run_metric(rid, "eval", 20, 1.0, {"f1": 0.5})
    store.update_run(rid, status="finished", best_f1=0.5, best_metrics={"f1": 0.5})
    run = store.run(rid)
    assert run["status"] == "finished" and run["config"] == {"lr": 1e-3}
    assert run["best_metrics"] == {"f1": 0.5}
    assert [m["kind"] for m in store.run_metrics(rid)] == ["train", "eval"]
    assert store.run_metrics(rid, "eval")[0]["f1"] == 0.5
    with pytest.raises(StoreError):
        store.update_run(rid, nonsense=1)
    with pytest.raises(sqlite3.IntegrityError):
        store.update_run(rid, status="bogus")


def test_predictions_kept_apart_from_gold(store):
    (sid,) = _add(store, ["Angela", "Merkel"])
    store.replace_predictions(None, [(sid, [(0, 2, "PER", 0.9)], (0.1, 0.8))])
    assert store.sentence(sid).spans == []
    assert store.predictions(sid) == [(Span(0, 2, "PER"), 0.9)]
    assert store.sentence_rows(0, 1)[0].has_predictions
    assert store.most_uncertain() == [sid]


def test_import_error_rolls_back_everything(store):
    _add(store, ["before"])

    def items():
        yield Sentence.from_words(["new", "one"], spans=[Span(0, 1, "NEWLABEL")])
        raise RuntimeError("boom mid-import")

    with pytest.raises(RuntimeError):
        store.import_items(items())
    assert store.count() == 1
    assert "NEWLABEL" not in store.label_set()


def test_an_action_that_reads_then_writes_survives_another_connections_commit(store):
    """A deferred transaction would read a snapshot, lose it to the other thread's commit and
    fail with 'database is locked' on its first write (seen with a training run recording
    metrics while the user labels). The action takes the write lock up front instead."""
    import threading

    other_done = []

    def other_thread():
        with ProjectStore(store.path) as other:
            other.set_meta("metrics", 1)
            other_done.append(True)

    with store.transaction():
        store._q("SELECT count(*) FROM sentences")
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(0.5)  # it waits for our write lock
        store.set_meta("label", 1)
    thread.join(10)
    assert other_done == [True]
    assert store.meta("label") == 1 and store.meta("metrics") == 1


def test_delete_run_metrics_after_a_step(store):
    rid = store.create_run("tiny", {}, ["O"])
    for step in (10, 20, 30):
        store.add_run_metric(rid, "train", step, None, {"loss": 1.0})
    assert store.delete_run_metrics(rid, after_step=15) == 2
    assert [m["step"] for m in store.run_metrics(rid)] == [10]
    assert store.delete_run_metrics(rid) == 1 and store.run_metrics(rid) == []
