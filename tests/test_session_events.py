"""ProjectSession (Qt-free): events for label changes, and poll() noticing another
connection's commits (another window or process) without reacting to its own."""
import pytest

from nerstudio.core.domain import Sentence, Span
from nerstudio.core.errors import StoreError
from nerstudio.core.labels import valid_colour, valid_label_name
from nerstudio.core.session import ProjectSession
from nerstudio.core.store import ProjectStore


@pytest.fixture
def session(tmp_path):
    path = tmp_path / "s.nerproj"
    with ProjectStore.create(path, labels=["PER", "ORG", "LOC"]) as s:
        s.import_items([Sentence.from_words(["Ann", "met", "Bob"], split="train")])
    sess = ProjectSession.open(path, busy_timeout=2.0)
    yield sess
    sess.close()


def record(session):
    seen = []
    for name in ("labels_changed", "label_replaced", "sentence_changed", "sentences_changed",
                 "runs_changed", "active_model_changed"):
        getattr(session, name).connect(lambda *a, n=name: seen.append((n, *a)))
    return seen


def test_label_events_name_what_replaced_what(session):
    seen = record(session)
    session.rename_label("LOC", "PLACE")
    session.merge_labels("ORG", "PER")
    session.delete_label("PLACE")
    replaced = [e[1:] for e in seen if e[0] == "label_replaced"]
    assert replaced == [("LOC", "PLACE"), ("ORG", "PER"), ("PLACE", None)]
    assert [e[0] for e in seen].count("labels_changed") == 3


def test_session_refuses_bad_names_and_colours(session):
    for bad in ("<b>x</b>", "a b", "B-PER", "O", ""):
        with pytest.raises(StoreError):
            session.add_label(bad)
    with pytest.raises(StoreError):
        session.recolour_label("PER", "red; background:url(x)")
    with pytest.raises(StoreError):
        session.recolour_label("PER", False)
    assert session.store.label_set().names == ["PER", "ORG", "LOC"]


def test_valid_label_name_admits_dataset_names():
    for good in ("PER", "WORK_OF_ART", "creative-work", "NORP", "org:sub", "B", "人名", "S-Bahn", "ART&ENT"):
        assert valid_label_name(good) is None, good
    for bad in ("<h1>BIG</h1>", "x y", "-x", "x-", "B-PER", "I-LOC", "O", "", "x" * 41, "a&"):
        assert valid_label_name(bad), bad
    assert valid_colour("#12abEF") and not valid_colour("#12ab") and not valid_colour("red")


def test_poll_sees_another_connections_edit_not_its_own(session):
    seen = record(session)
    sid = session.store.sentence_rows(0, 10)[0].id
    session.set_spans(sid, [Span(0, 1, "PER")])
    seen.clear()
    assert session.poll() is False and seen == []  # our own edit: nothing to reload
    with ProjectStore(session.path) as other:
        other.set_spans(sid, [Span(0, 1, "PER"), Span(2, 3, "PER")], "labelled")
    assert session.poll() is True
    assert ("sentences_changed",) in seen and ("labels_changed",) not in seen
    seen.clear()
    assert session.poll() is False and seen == []
    with ProjectStore(session.path) as other:
        other.add_label("MISC")
    assert session.poll() is True and ("labels_changed",) in seen


def test_poll_ignores_run_metric_writes(session):
    seen = record(session)
    with ProjectStore(session.path) as other:
        run = other.create_run("base", {}, ["O", "B-PER", "I-PER"])
    assert session.poll() is True and [e[0] for e in seen] == ["runs_changed"]
    seen.clear()
    with ProjectStore(session.path) as other:
        other.add_run_metric(run, "train", 1, 0.1, {"loss": 1.0})
    assert session.poll() is False and seen == []


def test_edits_pass_expected_version(session):
    from nerstudio.core.errors import StaleEditError

    sid = session.store.sentence_rows(0, 10)[0].id
    version = getattr(session.store.sentence(sid), "version", None)
    if version is None:
        pytest.skip("the store has no sentence versions")
    with ProjectStore(session.path) as other:
        other.set_spans(sid, [Span(2, 3, "ORG")])
    seen = record(session)
    with pytest.raises(StaleEditError):
        session.set_spans(sid, [Span(0, 1, "PER")], expected_version=version)
    assert ("sentence_changed", sid) in seen  # the view re-reads what the file holds
    assert session.store.sentence(sid).spans == [Span(2, 3, "ORG")]


def test_poll_sees_an_undo_and_redo_in_another_process(session):
    """An undo and a redo elsewhere leave every count and maximum as they were; the window must
    still notice (else its next edit is refused as stale)."""
    sid = session.store.sentence_rows(0, 10)[0].id
    with ProjectStore(session.path) as other:
        other.set_spans(sid, [Span(0, 1, "PER")])
    assert session.poll() is True
    seen = record(session)
    with ProjectStore(session.path) as other:
        assert other.undo() == sid and other.redo() == sid
    assert session.poll() is True and seen
    version = session.store.sentence(sid).version
    session.set_spans(sid, [Span(0, 1, "ORG")], expected_version=version)  # not refused


# -- issue #26 item 4: weak subscriptions per owner; the poll covers the order and the flags --
class View:
    def __init__(self):
        self.calls = []

    def on_runs(self, *args):
        self.calls.append(("runs", *args))

    def on_labels(self, *args):
        self.calls.append(("labels", *args))


def test_a_view_is_held_weakly_and_leaves_with_one_unsubscribe(session):
    import gc

    view, other = View(), View()
    session.follow(view, runs_changed=view.on_runs, labels_changed=view.on_labels)
    session.follow(other, runs_changed=other.on_runs)
    session.runs_changed.emit()
    assert view.calls == [("runs",)] and other.calls == [("runs",)]
    session.unsubscribe(view)  # every subscription of the view, none of the other's
    session.runs_changed.emit()
    session.labels_changed.emit()
    assert view.calls == [("runs",)] and other.calls == [("runs",), ("runs",)]
    del other
    gc.collect()
    assert len(session.runs_changed) == 0  # a collected view is neither kept nor called
    with pytest.raises(AttributeError):
        session.follow(view, no_such_event=view.on_runs)


def test_poll_sees_another_processes_order_and_flags(session):
    seen = record(session)
    for name in ("order_changed", "flags_changed"):
        getattr(session, name).connect(lambda *a, n=name: seen.append((n, *a)))
    sid = session.store.sentence_ids()[0] if hasattr(session.store, "sentence_ids") else 1
    with ProjectStore(session.path) as other:  # e.g. `nerstudio preannotate` in a terminal
        other.set_active_order(None, [sid])
    assert session.poll()
    assert [e[0] for e in seen] == ["order_changed"]
    seen.clear()
    with ProjectStore(session.path) as other:  # e.g. `nerstudio review` in a terminal
        other.set_spans(sid, [Span(0, 1, "PER")], status="labelled")
        other.db.execute("INSERT INTO review_flags(sentence_id, token_index, given, predicted, "
                         "score, version) SELECT id, 0, 'B-PER', 'B-ORG', 0.1, version "
                         "FROM sentences WHERE id = ?", (sid,))
        other.db.conn.commit()
    assert session.poll()
    assert "flags_changed" in [e[0] for e in seen] and "order_changed" not in [e[0] for e in seen]
