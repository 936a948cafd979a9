import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nerstudio.core.domain import Sentence, Span
from nerstudio.core.errors import ImportFormatError
from nerstudio.core.formats import detect_format, export_file, import_file, read
from nerstudio.core.store import ProjectStore


def snapshot(store):
    """Everything an import can change, to compare before and after a failed one."""
    return (store.count(), store.label_set().names,
            [(s.words, s.spans, s.split, s.status) for s in store.iter_sentences()])


def content(store):
    return [(s.words, s.spans, s.split) for s in store.iter_sentences()]


def test_conll_import_keeps_documents_columns_and_splits(store, sample_conll):
    assert import_file(store, sample_conll) == 3
    sents = list(store.iter_sentences())
    assert sents[0].words == ["EU", "rejects", "German", "call", "."]
    assert sents[0].spans == [Span(0, 1, "ORG"), Span(2, 3, "MISC")]
    assert sents[0].columns[0] == ["NNP", "B-NP"]
    assert {s.split for s in sents} == {"train"}  # from the file name
    assert len(list(store.iter_documents())) == 2


def test_conll_export_is_line_for_line(store, sample_conll, tmp_path):
    import_file(store, sample_conll)
    out = tmp_path / "out.conll"
    export_file(store, out, "conll")
    assert out.read_text() == sample_conll.read_text()


def test_conll_iob1_bioes_crlf_bom_tabs(store, tmp_path):
    p = tmp_path / "x.bio"
    p.write_bytes("\ufeffAngela\tI-PER\r\nMerkel\tI-PER\r\nParis\tI-LOC\r\n\r\n".encode())
    import_file(store, p)
    q = tmp_path / "y.conll"
    q.write_text("New S-LOC\nYork O\nBig B-ORG\nCo E-ORG\n")
    import_file(store, q, split="dev")
    s1, s2 = store.iter_sentences()
    assert s1.words == ["Angela", "Merkel", "Paris"]
    assert s1.spans == [Span(0, 2, "PER"), Span(2, 3, "LOC")]
    assert s2.spans == [Span(0, 1, "LOC"), Span(2, 4, "ORG")] and s2.split == "dev"


def test_split_ratio_is_seeded(tmp_path):
    many = tmp_path / "many.conll"
    many.write_text("\n\n".join(f"word{i} O\nParis B-LOC" for i in range(60)))

    def splits(name, seed):
        with ProjectStore.create(tmp_path / name) as s:
            import_file(s, many, ratios=(0.5, 0.25, 0.25), seed=seed)
            return [x.split for x in s.iter_sentences()]
    a, b, c = splits("a.nerproj", 1), splits("b.nerproj", 1), splits("c.nerproj", 2)
    assert a == b and a != c and set(a) == {"train", "dev", "test"}


BAD_CONLL = [
    ("one column", "EU B-ORG\nrejects\n", 2, "column"),
    ("column count", "EU NNP B-ORG\nrejects O\n", 2, "3 columns"),
    ("unknown tag", "EU B-ORG\nrejects X-FOO\n", 2, "malformed tag"),
    ("binary", "EU B-ORG\n\x00\x01\x02 garbage\n", 2, "binary"),
    ("empty", "", None, "empty"),
    ("blank only", "\n\n  \n", None, "empty"),
]


@pytest.mark.parametrize("name, text, line, message", BAD_CONLL, ids=[b[0] for b in BAD_CONLL])
def test_bad_conll_names_line_and_changes_nothing(store, sample_conll, tmp_path, name, text, line,
                                                  message):
    import_file(store, sample_conll)
    before = snapshot(store)
    p = tmp_path / "bad.conll"
    p.write_bytes(text.encode("utf-8"))
    with pytest.raises(ImportFormatError) as err:
        import_file(store, p, "conll")
    assert str(p) in str(err.value) and message in str(err.value)
    if line:
        assert err.value.line == line and f"line {line}" in str(err.value)
    assert snapshot(store) == before


def test_invalid_utf8_and_strict_iob2(store, tmp_path):
    p = tmp_path / "bad.conll"
    p.write_bytes(b"EU B-ORG\n\xff\xfe O\n")
    with pytest.raises(ImportFormatError, match="line 2.*UTF-8"):
        import_file(store, p)
    q = tmp_path / "strict.conll"
    q.write_text("a O\nb O\n\nc O\nd I-PER\n")
    with pytest.raises(ImportFormatError, match="line 5.*B-"):
        import_file(store, q, scheme="iob2")
    assert store.count() == 0


def test_jsonl_string_and_integer_tags(store, tmp_path):
    p = tmp_path / "data.jsonl"
    p.write_text(json.dumps({"tokens": ["Angela", "Merkel"], "ner_tags": ["B-PER", "I-PER"],
                             "split": "validation"}) + "\n")
    import_file(store, p)
    q = tmp_path / "ints.json"
    q.write_text(json.dumps([{"tokens": ["Paris"], "ner_tags": [3]}]))
    (tmp_path / "ints.labels.json").write_text(json.dumps(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]))
    import_file(store, q)
    a, b = store.iter_sentences()
    assert a.spans == [Span(0, 2, "PER")] and a.split == "dev"
    assert b.spans == [Span(0, 1, "LOC")]


@pytest.mark.parametrize("record, message", [
    ({"tokens": ["a", "b"], "ner_tags": ["O"]}, "2 tokens but 1 tags"),
    ({"tokens": "a"}, "needs 'tokens' and 'ner_tags'"),
    ({"tokens": ["a"], "ner_tags": ["O"], "status": "gold"}, "unknown status"),
    ({"tokens": ["a"], "ner_tags": [7]}, "integer tags need a label list"),
    ({"tokens": ["a b"], "ner_tags": ["O"]}, "without spaces"),
    ({"tokens": ["a"], "ner_tags": ["O"], "split": "nope"}, "unknown split"),
])
def test_bad_jsonl_record_names_line(store, tmp_path, record, message):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps({"tokens": ["ok"], "ner_tags": ["O"]}) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(ImportFormatError) as err:
        import_file(store, p)
    assert message in str(err.value) and err.value.line == 2
    assert store.count() == 0


def test_doccano_import_maps_offsets_and_splits_sentences(store, tmp_path):
    text = "Angela Merkel visited Paris. Apple Inc. hired John Smith in New York."
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"text": text, "label": [[0, 13, "PER"], [22, 27, "LOC"],
                                                     [29, 39, "ORG"], [60, 68, "LOC"]]}) + "\n" +
                 json.dumps({"text": "NewYork!", "labels": [[0, 3, "LOC"]]}) + "\n")
    import_file(store, p)
    s1, s2, s3 = store.iter_sentences()
    assert s1.words == ["Angela", "Merkel", "visited", "Paris", "."]
    assert s1.spans == [Span(0, 2, "PER"), Span(3, 4, "LOC")]
    assert [s2.words[sp.start] for sp in s2.spans] == ["Apple", "New"]
    assert s3.words == ["New", "York", "!"] and s3.spans == [Span(0, 1, "LOC")]


@pytest.mark.parametrize("labels, message", [
    ([[0, 50, "PER"]], "outside the text"),
    ([[0, 6, "PER"], [3, 9, "LOC"]], "overlap"),
    ([[6, 7, "PER"]], "covers no word"),
    ([[0, "6", "PER"]], "integers"),
])
def test_bad_doccano(store, tmp_path, labels, message):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"text": "Angela Merkel", "label": []}) + "\n" +
                 json.dumps({"text": "Angela Merkel", "label": labels}) + "\n")
    with pytest.raises(ImportFormatError, match=message) as err:
        import_file(store, p)
    assert err.value.line == 2 and store.count() == 0


def test_label_studio_import(store, tmp_path):
    tasks = [{"id": 1, "data": {"text": "Angela Merkel met Macron."},
              "annotations": [{"was_cancelled": False, "result": [
                  {"type": "labels", "from_name": "label", "to_name": "text",
                   "value": {"start": 0, "end": 13, "text": "Angela Merkel", "labels": ["PER"]}},
                  {"type": "labels", "value": {"start": 18, "end": 24, "labels": ["PER"]}}]}]},
             {"id": 2, "data": {"text": "No annotation here."}, "annotations": []}]
    p = tmp_path / "ls.json"
    p.write_text(json.dumps(tasks))
    assert detect_format(p) == "labelstudio"
    import_file(store, p)
    a, b = store.iter_sentences()
    assert a.spans == [Span(0, 2, "PER"), Span(3, 4, "PER")] and a.status == "labelled"
    assert b.status == "unlabelled"


def test_text_import(store, tmp_path):
    p = tmp_path / "raw.txt"
    p.write_text("Angela Merkel visited Paris. She liked it.\n\nSecond paragraph here.\n")
    assert detect_format(p) == "text"
    assert import_file(store, p) == 3
    assert {s.status for s in store.iter_sentences()} == {"unlabelled"}


def _roundtrip(store, tmp_path, fmt, name):
    # CoNLL has no split field: one file per split, named so the importer recognises the split
    parts = [(f"{split}.conll", split) for split in ("train", "dev", "test")] \
        if fmt == "conll" else [(name, None)]
    with ProjectStore.create(tmp_path / f"again-{fmt}.nerproj") as again:
        for file_name, split in parts:
            export_file(store, tmp_path / file_name, fmt, split)
            import_file(again, tmp_path / file_name, fmt)
        return content(again)


@pytest.mark.parametrize("fmt, name", [("conll", None), ("jsonl", "rt.jsonl"),
                                       ("hf", "rt_hf"), ("doccano", "rt_doccano.jsonl"),
                                       ("prodigy", "rt_prodigy.jsonl")])
def test_round_trips_are_lossless(store, sample_conll, tmp_path, fmt, name):
    import_file(store, sample_conll)
    p = tmp_path / "more.jsonl"
    p.write_text(json.dumps({"tokens": ["Tokyo", "and", "Kyoto"], "ner_tags": ["B-LOC", "O", "B-LOC"],
                             "split": "test"}) + "\n" +
                 json.dumps({"tokens": ["Nothing", "here"], "ner_tags": ["O", "O"], "split": "dev"}))
    import_file(store, p)
    key = lambda c: (c[2], c[0])  # noqa: E731  (per-split files come back grouped by split)
    assert sorted(_roundtrip(store, tmp_path, fmt, name), key=key) == sorted(content(store), key=key)
    assert len(content(store)) == 5


def test_hf_export_loads_with_classlabel(store, sample_conll, tmp_path):
    import datasets

    import_file(store, sample_conll)
    export_file(store, tmp_path / "hf", "hf")
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    names = dd["train"].features["ner_tags"].feature.names
    assert names == store.label_set().tags()
    first = dd["train"][0]
    assert [names[i] for i in first["ner_tags"]] == ["B-ORG", "O", "B-MISC", "O", "O"]
    assert set(dd) == {"train"}  # empty splits are left out


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("fmt", ["conll", "jsonl", "doccano", "labelstudio", "text", "prodigy"])
@FUZZ
@given(data=st.one_of(st.binary(max_size=300),
                      st.text(alphabet=st.sampled_from(list('ab \t\n{}[]":,0123456789-BIOSEPR')),
                              max_size=300).map(str.encode)))
def test_fuzzed_input_raises_only_import_errors(tmp_path, fmt, data):
    p = tmp_path / "fuzz.in"
    p.write_bytes(data)
    try:
        for _ in read(p, fmt):
            pass
    except ImportFormatError:
        pass


@FUZZ
@given(records=st.lists(st.fixed_dictionaries({
    "text": st.text(max_size=40),
    "label": st.lists(st.tuples(st.integers(-2, 45), st.integers(-2, 45),
                                st.sampled_from(["PER", "LOC", "", "A B"])).map(list), max_size=4)}),
    max_size=4))
def test_fuzzed_doccano_records(tmp_path, records):
    p = tmp_path / "fuzz.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in records) or "\n")
    try:
        sents = [x for x in read(p, "doccano") if hasattr(x, "tokens")]
    except ImportFormatError:
        return
    for s in sents:
        assert all(s.text[t.start:t.end] == t.text for t in s.tokens)
        assert all(0 <= sp.start < sp.end <= len(s.tokens) for sp in s.spans)


def nerstudio(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_conll_export_to_a_folder_writes_a_file_per_split(tmp_path, sample_conll):
    p = tmp_path / "p.nerproj"
    assert nerstudio("init", p, "--labels", "PER,ORG,LOC,MISC").returncode == 0
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps(r) + "\n" for r in [
        {"tokens": ["Tokyo"], "ner_tags": ["B-LOC"], "split": "test"},
        {"tokens": ["Kyoto"], "ner_tags": ["B-LOC"], "split": "dev"},
        {"tokens": ["Osaka"], "split": "dev"},  # unlabelled
        {"tokens": ["Nara"], "ner_tags": ["B-LOC"]}]))  # unassigned
    assert nerstudio("import", p, sample_conll, more).returncode == 0
    out = tmp_path / "out"
    r = nerstudio("export", p, f"{out}/", "--format", "conll")
    assert r.returncode == 0, r.stderr
    assert sorted(f.name for f in out.iterdir()) == ["dev.txt", "test.txt", "train.txt",
                                                    "unassigned.txt"]
    assert "train.txt, dev.txt, test.txt, unassigned.txt" in r.stdout
    assert (out / "dev.txt").read_text() == "Kyoto B-LOC\n"  # the unlabelled one left out
    assert (out / "train.txt").read_text() == sample_conll.read_text()  # line for line
    # read back: each file's name gives its split
    q = tmp_path / "q.nerproj"
    assert nerstudio("init", q).returncode == 0
    assert nerstudio("import", q, *sorted(out.iterdir())).returncode == 0
    with ProjectStore(p, read_only=True) as a, ProjectStore(q, read_only=True) as b:
        key = lambda c: (c[2], c[0])  # noqa: E731
        want = [c for c, s in zip(content(a), a.iter_sentences()) if s.status != "unlabelled"]
        assert sorted(content(b), key=key) == sorted(want, key=key)
    # an existing export only with --force; --split still writes one file
    r = nerstudio("export", p, out, "--format", "conll")
    assert r.returncode == 2 and "already exists; use --force" in r.stderr
    assert nerstudio("export", p, out / "dev-only.conll", "--format", "conll",
                     "--split", "dev").returncode == 0
    assert (out / "dev-only.conll").read_text() == "Kyoto B-LOC\n"
    r = nerstudio("export", p, out, "--format", "conll", "--split", "dev")
    assert r.returncode == 2 and "is a folder" in r.stderr
    # --force: a split that is empty now leaves no stale file behind
    assert nerstudio("export", p, out, "--format", "conll", "--force").returncode == 0
    r = nerstudio("export", p, f"{p}.runs/", "--format", "conll")
    assert r.returncode == 2 and "refusing" in r.stderr


def test_conll_folder_export_never_writes_onto_the_project(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    p = folder / "train.txt"  # a project that happens to be named like a split file
    with ProjectStore.create(p, labels=["PER"]) as s:
        s.import_items([Sentence.from_words(["Anna"], spans=[Span(0, 1, "PER")], split="train",
                                            status="labelled")])
    before = p.read_bytes()
    r = nerstudio("export", p, folder, "--format", "conll", "--force")
    assert r.returncode == 2 and "refusing" in r.stderr and p.read_bytes() == before


def test_concatenated_files_keep_a_bom_at_the_start_of_any_line(store, tmp_path):
    a = json.dumps({"tokens": ["Anna"], "ner_tags": ["B-PER"]})
    b = json.dumps({"tokens": ["Oslo"], "ner_tags": ["B-LOC"]})
    p = tmp_path / "cat.jsonl"
    p.write_bytes(("\ufeff" + a + "\n\ufeff" + b + "\n\ufeff\n").encode())
    assert import_file(store, p) == 2
    q = tmp_path / "zw.jsonl"
    q.write_text(a + "\n\u200b\n", encoding="utf-8")  # looks like an empty line
    with pytest.raises(ImportFormatError) as err:
        import_file(store, q)
    assert err.value.line == 2 and "'\\u200b'" in str(err.value)
    assert "\u200b" not in str(err.value)
