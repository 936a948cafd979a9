"""Prodigy-style JSONL through the command a user runs: a task in Prodigy's documented shape
imports (accept labelled, reject / ignore skipped and reported, no answer and no spans
unlabelled), and an export reads back into a fresh project as it was."""
import json
import subprocess
import sys

from nerstudio.core.domain import Span
from nerstudio.core.formats import detect_format
from nerstudio.core.store import ProjectStore


def nerstudio(*args):
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def sentences(path):
    with ProjectStore(path, read_only=True) as s:
        return [(x.words, x.spans, x.split, x.status) for x in s.iter_sentences()]


# As Prodigy documents an NER task (and `prodigy db-out` writes one): token_end is inclusive,
# _input_hash / _task_hash / _view_id / meta come along and are ignored.
DOCUMENTED = [
    {"text": "Apple updates its analytics service with new metrics",
     "tokens": [{"text": "Apple", "start": 0, "end": 5, "id": 0, "ws": True},
                {"text": "updates", "start": 6, "end": 13, "id": 1, "ws": True},
                {"text": "its", "start": 14, "end": 17, "id": 2, "ws": True},
                {"text": "analytics", "start": 18, "end": 27, "id": 3, "ws": True},
                {"text": "service", "start": 28, "end": 35, "id": 4, "ws": True},
                {"text": "with", "start": 36, "end": 40, "id": 5, "ws": True},
                {"text": "new", "start": 41, "end": 44, "id": 6, "ws": True},
                {"text": "metrics", "start": 45, "end": 52, "id": 7, "ws": False}],
     "spans": [{"start": 0, "end": 5, "token_start": 0, "token_end": 0, "label": "ORG"},
               {"start": 18, "end": 35, "token_start": 3, "token_end": 4, "label": "PRODUCT"}],
     "_input_hash": 1817763153, "_task_hash": -1415366081, "_view_id": "ner_manual",
     "meta": {"source": "news"}, "answer": "accept"},
    {"text": "New  York", "_view_id": "ner_manual", "answer": "accept",  # a spaCy " " token
     "tokens": [{"text": "New", "start": 0, "end": 3, "id": 0, "ws": True},
                {"text": " ", "start": 4, "end": 5, "id": 1, "ws": False},
                {"text": "York", "start": 5, "end": 9, "id": 2, "ws": False}],
     "spans": [{"start": 0, "end": 9, "token_start": 0, "token_end": 2, "label": "GPE"}]},
    {"text": "Rejected Corp", "answer": "reject",
     "spans": [{"start": 0, "end": 13, "token_start": 0, "token_end": 1, "label": "ORG"}]},
    {"text": "Ignored one", "answer": "ignore"},
    {"text": "Berlin is big.", "spans": [], "meta": {"source": "raw"}},  # not annotated yet
    {"text": "Paris in spring.", "answer": "accept",  # no tokens: tokenized like doccano
     "spans": [{"start": 0, "end": 5, "label": "GPE"}]},
]


def test_a_documented_prodigy_file_imports(tmp_path):
    p = tmp_path / "p.nerproj"
    assert nerstudio("init", p, "--labels", "ORG,PRODUCT,GPE").returncode == 0
    data = tmp_path / "annotations.jsonl"
    data.write_text("".join(json.dumps(t) + "\n" for t in DOCUMENTED))
    assert detect_format(data) == "prodigy"
    r = nerstudio("import", p, data)
    assert r.returncode == 0, r.stderr
    assert "imported 4 sentences" in r.stdout
    assert f"skipped 2 records (1 reject, 1 ignore), first at {data}:3" in r.stderr
    assert "new labels" not in r.stderr
    got = sentences(p)
    assert got[0] == (["Apple", "updates", "its", "analytics", "service", "with", "new",
                       "metrics"], [Span(0, 1, "ORG"), Span(3, 5, "PRODUCT")], "unassigned",
                      "labelled")
    assert got[1][:2] == (["New", "York"], [Span(0, 2, "GPE")])  # the whitespace token dropped
    assert got[2][0] == ["Berlin", "is", "big", "."] and got[2][3] == "unlabelled"
    assert got[3][:2] == (["Paris", "in", "spring", "."], [Span(0, 1, "GPE")])


def test_prodigy_round_trip_through_the_cli(tmp_path, sample_conll):
    p = tmp_path / "p.nerproj"
    assert nerstudio("init", p, "--labels", "PER,ORG,LOC,MISC").returncode == 0
    more = tmp_path / "more.jsonl"
    more.write_text("\n".join(json.dumps(r) for r in [
        {"tokens": ["Tokyo", "and", "Kyoto"], "ner_tags": ["B-LOC", "O", "B-LOC"],
         "split": "test", "status": "reviewed"},
        {"tokens": ["Nothing", "here"], "ner_tags": ["O", "O"], "split": "dev"},
        {"tokens": ["Raw", "text", "Osaka"], "split": "dev"}]) + "\n")
    assert nerstudio("import", p, sample_conll, more).returncode == 0
    out = tmp_path / "out.jsonl"
    r = nerstudio("export", p, out, "--format", "prodigy")
    assert r.returncode == 0, r.stderr
    tasks = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(tasks) == 6
    eu = tasks[0]
    assert eu["answer"] == "accept" and eu["text"] == "EU rejects German call ."
    assert eu["spans"][1] == {"start": 11, "end": 17, "token_start": 2, "token_end": 2,
                              "label": "MISC"}
    assert eu["tokens"][1] == {"text": "rejects", "start": 3, "end": 10, "id": 1, "ws": True}
    merkel = tasks[2]["spans"][0]
    assert (merkel["token_start"], merkel["token_end"], merkel["label"]) == (0, 1, "PER")
    raw = tasks[5]
    assert "answer" not in raw and "spans" not in raw  # unlabelled: Prodigy would ask
    q = tmp_path / "q.nerproj"
    assert nerstudio("init", q).returncode == 0
    r = nerstudio("import", q, out)
    assert r.returncode == 0, r.stderr
    assert sentences(q) == sentences(p)
    statuses = [s[3] for s in sentences(q)]
    assert statuses.count("reviewed") == 1 and statuses.count("unlabelled") == 1
    # and Prodigy's own reading of an exported task: accept, spans over whole tokens
    for t in tasks:
        for sp in t.get("spans", []):
            assert t["text"][sp["start"]:sp["end"]] == " ".join(
                tok["text"] for tok in t["tokens"][sp["token_start"]:sp["token_end"] + 1])


def test_bad_prodigy_tasks_name_their_line_and_change_nothing(tmp_path):
    p = tmp_path / "p.nerproj"
    assert nerstudio("init", p).returncode == 0
    good = {"text": "Anna", "tokens": [{"text": "Anna", "start": 0, "end": 4, "id": 0}],
            "spans": [{"start": 0, "end": 4, "token_start": 0, "token_end": 0, "label": "PER"}],
            "answer": "accept"}
    for bad, message in [
            ({**good, "answer": "maybe"}, "unknown answer"),
            ({**good, "spans": [{**good["spans"][0], "token_end": 3}]}, "do not name tokens"),
            ({**good, "spans": [{**good["spans"][0], "start": 1}]}, "does not match its tokens"),
            ({**good, "tokens": [{"text": "Anne", "start": 0, "end": 4}]}, "is not the text")]:
        data = tmp_path / "bad.jsonl"
        data.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
        r = nerstudio("import", p, data, "--format", "prodigy")
        assert r.returncode == 1 and "line 2" in r.stderr and message in r.stderr, r.stderr
    assert sentences(p) == []


def test_fuzzed_prodigy_tasks_raise_only_import_errors(tmp_path):
    from hypothesis import HealthCheck, given, settings, strategies as st

    from nerstudio.core.errors import ImportFormatError
    from nerstudio.core.formats import read

    value = st.one_of(st.none(), st.integers(-2, 12), st.text(max_size=6), st.booleans(),
                      st.lists(st.integers(0, 3), max_size=2))
    token = st.fixed_dictionaries({"text": value, "start": value, "end": value})
    span = st.fixed_dictionaries({}, optional={"start": value, "end": value, "label": value,
                                               "token_start": value, "token_end": value})
    tasks = st.lists(st.fixed_dictionaries({"text": st.text(max_size=12)}, optional={
        "tokens": st.one_of(value, st.lists(token, max_size=4)),
        "spans": st.one_of(value, st.lists(st.one_of(span, value), max_size=3)),
        "answer": st.one_of(value, st.sampled_from(["accept", "reject", "ignore"])),
        "split": value, "status": value}), max_size=3)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(tasks)
    def check(records):
        p = tmp_path / "fuzz.jsonl"
        p.write_text("\n".join(json.dumps(r) for r in records) or "\n")
        try:
            items = [x for x in read(p, "prodigy") if hasattr(x, "tokens")]
        except ImportFormatError:
            return
        for s in items:
            assert all(s.text[t.start:t.end] == t.text for t in s.tokens)
            assert all(0 <= sp.start < sp.end <= len(s.tokens) for sp in s.spans)

    check()


def test_a_prodigy_file_that_starts_with_unannotated_tasks_is_detected(tmp_path):
    p = tmp_path / "tasks.jsonl"
    p.write_text(json.dumps({"text": "Berlin is big."}) + "\n"
                 + json.dumps({"text": "Bad Corp", "answer": "reject"}) + "\n")
    assert detect_format(p) == "prodigy"
    d = tmp_path / "doccano.jsonl"
    d.write_text(json.dumps({"text": "Berlin is big."}) + "\n"
                 + json.dumps({"text": "Anna", "label": [[0, 4, "PER"]]}) + "\n")
    assert detect_format(d) == "doccano"
