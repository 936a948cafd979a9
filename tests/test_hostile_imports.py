"""Hostile and unusual input files (issue #25 section 2): each is refused in one line that names
the file, with the project unchanged, or imported exactly. Driven through the CLI as a user
would, except where a limit is lowered to keep the test light."""
import json
import os
import subprocess
import sys
import zlib

import pytest

from nerstudio.core.domain import Sentence, Span, Token
from nerstudio.core.errors import ImportFormatError, NerStudioError
from nerstudio.core.store import ProjectStore

SPACY_MISSING = "spaCy is not installed (pip install 'nerstudio[spacy]')"
CONLL = """-DOCSTART- -X- -X- O

Angela B-PER
Merkel I-PER
visited O
New B-LOC
York I-LOC
. O
"""


def cli(*args):
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def _project(tmp_path, name="p.nerproj"):
    proj = tmp_path / name
    assert cli("init", proj).returncode == 0
    conll = tmp_path / "train.conll"
    conll.write_text(CONLL, encoding="utf-8")
    res = cli("import", proj, conll)
    assert res.returncode == 0, res.stderr
    return proj


def _count(proj) -> int:
    with ProjectStore(proj) as s:
        return s.count()


def _refused(proj, path, *extra, expect=""):
    """Import ``path``: one line naming the file, and the project unchanged."""
    before = _count(proj)
    res = cli("import", proj, path, *extra)
    err = res.stderr.strip()
    assert res.returncode == 1 and err.count("\n") == 0, res.stderr
    assert path.name in err and expect in err, err
    assert _count(proj) == before
    return err


# -- .spacy: a decompression bomb ---------------------------------------------------------------
def _bomb(path, size):
    """A msgpack map whose one value is ``size`` zero bytes, zlib-compressed as a DocBin is:
    about a thousandth of ``size`` on disk."""
    z = zlib.compressobj(9)
    parts = [z.compress(b"\x81\xa6tokens\xc6" + size.to_bytes(4, "big"))]
    chunk = bytes(1 << 20)
    for _ in range(size >> 20):
        parts.append(z.compress(chunk))
    parts.append(z.flush())
    path.write_bytes(b"".join(parts))


def test_a_spacy_decompression_bomb_is_refused_before_it_is_inflated(tmp_path):
    pytest.importorskip("spacy", reason=SPACY_MISSING)
    proj = _project(tmp_path)
    bomb = tmp_path / "bomb.spacy"
    _bomb(bomb, 1 << 30)  # 1 GiB inflated, 1 MB on disk
    assert bomb.stat().st_size < 2 << 20
    err = _refused(proj, bomb, expect="decompresses to more than")
    assert "not imported" in err
    # the import's peak memory, measured from a small parent: Linux keeps the largest RSS a
    # process had across exec, so a child forked straight from a big pytest would inherit it
    code = ("import resource, subprocess, sys\n"
            "rc = subprocess.run([sys.executable, '-m', 'nerstudio', 'import', *sys.argv[1:]], "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
            "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, str(proj), str(bomb)],
                         capture_output=True, text=True, timeout=600)
    rc, peak_kib = map(int, out.stdout.split())
    assert rc == 1
    assert peak_kib / 1024 < 700, f"the import took {peak_kib / 1024:.0f} MiB: the bomb was inflated"


def test_the_decompression_limit_is_proportional_to_the_file(tmp_path, monkeypatch):
    pytest.importorskip("spacy", reason=SPACY_MISSING)
    from nerstudio.core.formats import export_file, import_file
    from nerstudio.core.formats import spacy as spacy_format

    proj = _project(tmp_path)
    good = tmp_path / "good.spacy"
    with ProjectStore(proj) as s:
        export_file(s, good, "spacy")
    monkeypatch.setattr(spacy_format, "INFLATE_FLOOR", 1 << 10)
    monkeypatch.setattr(spacy_format, "INFLATE_RATIO", 20)
    bomb = tmp_path / "small.spacy"
    _bomb(bomb, 4 << 20)
    with ProjectStore(proj) as s:
        with pytest.raises(ImportFormatError, match="small.spacy: decompresses to more than"):
            import_file(s, bomb)
    with ProjectStore.create(tmp_path / "fresh.nerproj") as s:
        assert import_file(s, good) == 1  # a real DocBin stays well inside the limit


# -- .spacy: user_data of the wrong type --------------------------------------------------------
def _docbin_with(path, **user_data):
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

    doc = Doc(Vocab(), words=["Ada", "Lovelace", "wrote"])
    doc.user_data.update(user_data)
    DocBin(docs=[Doc(Vocab(), words=["Fine", "doc"]), doc], store_user_data=True).to_disk(path)


@pytest.mark.parametrize("field,value", [
    ("nerstudio_document", b"bytes name"),
    ("nerstudio_document", {"a": 1}),
    ("nerstudio_header", b"-DOCSTART- -X- -X- O"),
    ("nerstudio_header", {"x": "y"}),
    ("nerstudio_header", "Ada B-PER\nLovelace I-PER"),  # would read back as two tokens
    ("nerstudio_status", b"labelled"),
    ("nerstudio_split", ["train"]),
])
def test_spacy_user_data_of_the_wrong_type_is_refused(tmp_path, field, value):
    pytest.importorskip("spacy", reason=SPACY_MISSING)
    proj = _project(tmp_path)
    bad = tmp_path / "bad.spacy"
    _docbin_with(bad, **{field: value})
    err = _refused(proj, bad, expect=field)
    assert "doc 2" in err
    out = tmp_path / "out.conll"
    res = cli("export", proj, out, "--format", "conll")  # the project still exports
    assert res.returncode == 0, res.stderr
    assert out.read_text(encoding="utf-8") == CONLL


# -- deeply nested JSON -------------------------------------------------------------------------
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("name,content,where", [
    ("deep.jsonl", '{"tokens": ["a"], "ner_tags": ["O"]}\n{"tokens": ' + DEEP + "}\n", ", line 2"),
    ("deep_doccano.jsonl", '{"text": "Hi Bob", "label": ' + DEEP + "}\n", ", line 1"),
    ("deep_ls.json", '[{"data": {"text": "Hi"}, "annotations": ' + DEEP + "}]", ""),
    ("deep_array.json", DEEP, ""),
    ("deep_first.jsonl", '{"text": ' + DEEP + "}\n", ", line 1"),
])
def test_deeply_nested_json_is_one_line(tmp_path, name, content, where):
    proj = _project(tmp_path)
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    err = _refused(proj, path, expect="nested too deeply")
    assert f"{name}{where}:" in err


# -- offsets in UTF-16 code units, and character clusters ---------------------------------------
EMOJI_TEXT = "😀 Angela Merkel visited Paris 🇫🇷 today."  # 😀 and the flag are beyond the BMP


def _utf16(text, i):
    return len(text[:i].encode("utf-16-le")) // 2


def _spans_of(text, *words):
    return [(text.index(w), text.index(w) + len(w), label) for w, label in words]


ENTITIES = (("Angela Merkel", "PER"), ("Paris", "LOC"))


def _label_studio(text, spans, utf16):
    cut = (lambda i: _utf16(text, i)) if utf16 else (lambda i: i)
    return [{"id": 1, "data": {"text": text}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": cut(s), "end": cut(e), "text": text[s:e],
                                     "labels": [label]}} for s, e, label in spans]}]}]


def _doccano(text, spans, utf16):
    cut = (lambda i: _utf16(text, i)) if utf16 else (lambda i: i)
    return {"text": text, "label": [[cut(s), cut(e), label] for s, e, label in spans]}


def _entities(proj):
    with ProjectStore(proj) as s:
        return [(" ".join(x.words[sp.start:sp.end]), sp.label)
                for x in s.iter_sentences() for sp in x.spans]


@pytest.mark.parametrize("fmt", ["labelstudio", "doccano"])
@pytest.mark.parametrize("utf16", [True, False])
def test_utf16_offsets_are_detected_and_converted(tmp_path, fmt, utf16):
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0
    spans = _spans_of(EMOJI_TEXT, *ENTITIES)
    if fmt == "labelstudio":
        path = tmp_path / "ls.json"
        path.write_text(json.dumps(_label_studio(EMOJI_TEXT, spans, utf16)), encoding="utf-8")
    else:
        path = tmp_path / "doccano.jsonl"
        path.write_text(json.dumps(_doccano(EMOJI_TEXT, spans, utf16)) + "\n", encoding="utf-8")
    res = cli("import", proj, path, "--format", fmt)
    assert res.returncode == 0, res.stderr
    assert _entities(proj) == [("Angela Merkel", "PER"), ("Paris", "LOC")]
    with ProjectStore(proj) as s:
        assert [x.words for x in s.iter_sentences()] == [
            ["😀", "Angela", "Merkel", "visited", "Paris", "🇫🇷", "today", "."]]
    said = "converted the span offsets of 1 record from UTF-16 code units"
    assert (said in res.stderr) == utf16, res.stderr


@pytest.mark.parametrize("fmt", ["labelstudio", "doccano"])
def test_offsets_that_fit_neither_unit_are_refused(tmp_path, fmt):
    proj = _project(tmp_path)
    spans = [(4, 9, "PER")]  # "ngela": inside a word as characters, and as UTF-16 units
    if fmt == "labelstudio":
        path = tmp_path / "ls.json"
        tasks = _label_studio(EMOJI_TEXT, spans, False)
        tasks[0]["annotations"][0]["result"][0]["value"]["text"] = "Angela"
        path.write_text(json.dumps(tasks), encoding="utf-8")
    else:
        path = tmp_path / "doccano.jsonl"
        path.write_text(json.dumps(_doccano(EMOJI_TEXT, spans, False)) + "\n", encoding="utf-8")
    err = _refused(proj, path, "--format", fmt, expect="UTF-16")
    assert "1:" in err  # the task / line


def test_a_span_edge_inside_a_character_is_moved_out_and_reported(tmp_path):
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0
    text = "Cafe\u0301 Noir and 👩\u200d🔬 Ada opened."
    path = tmp_path / "doccano.jsonl"  # "Cafe" without its accent, and half the ZWJ sequence
    spans = [[0, 4, "ORG"], [text.index("👩") + 2, text.index("Ada") + 3, "PER"]]
    path.write_text(json.dumps({"text": text, "label": spans}) + "\n", encoding="utf-8")
    res = cli("import", proj, path)
    assert res.returncode == 0, res.stderr
    assert _entities(proj) == [("Cafe\u0301", "ORG"), ("👩\u200d🔬 Ada", "PER")]
    assert "widened 2 span edges that cut a character" in res.stderr


@pytest.mark.parametrize("text", ["mail x@y.co\u0301 now", "U.S.\u0301 x", "Mr.\u0301 X",
                                  "...\u0301 x", "Tom's\u0301 x", "a\u200db c", "ab\u200d\u0301c"])
def test_tokens_never_split_a_character_cluster(text):
    import regex

    from nerstudio.core.tokenize import tokenize

    bounds = {m.start() for m in regex.finditer(r"\X", text)} | {len(text)}
    tokens = tokenize(text)
    assert all(text[t.start:t.end] == t.text for t in tokens)
    assert all(t.start in bounds and t.end in bounds for t in tokens), tokens


# -- a Hugging Face save_to_disk folder that points outside itself ------------------------------
def _saved(tmp_path, proj):
    folder = tmp_path / "saved"
    res = cli("export", proj, folder, "--format", "hf")
    assert res.returncode == 0, res.stderr
    return folder


def _edit_state(folder, **changes):
    state_path = folder / "train" / "state.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    state.update(changes)
    state_path.write_text(json.dumps(state), encoding="utf-8")
    return state


@pytest.mark.parametrize("case", ["parent", "absolute", "repeated", "format", "split"])
def test_a_saved_dataset_reads_only_its_own_files_once(tmp_path, case):
    pytest.importorskip("datasets")
    proj = _project(tmp_path)
    folder = _saved(tmp_path, proj)
    arrow = json.loads((folder / "train" / "state.json").read_text())["_data_files"][0]["filename"]
    outside = tmp_path / "x.arrow"
    outside.write_bytes((folder / "train" / arrow).read_bytes())
    if case == "parent":
        _edit_state(folder, _data_files=[{"filename": "../../x.arrow"}])
        expect = "outside its folder"
    elif case == "absolute":
        _edit_state(folder, _data_files=[{"filename": str(outside)}])
        expect = "outside its folder"
    elif case == "repeated":
        _edit_state(folder, _data_files=[{"filename": arrow}] * 1000)
        expect = "more than once"
    elif case == "format":
        _edit_state(folder, _format_type="torch")
        expect = "format 'torch' is not supported"
    else:
        (folder / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "../saved/train"]}))
        expect = "not a folder inside the dataset"
    err = _refused(proj, folder, expect=expect)
    assert ("state.json" if case != "split" else "dataset_dict.json") in err
    res = cli("import", proj, folder, "--format", "hf") if case == "split" else None
    assert res is None or res.returncode == 1


def test_a_plain_saved_dataset_still_imports(tmp_path):
    pytest.importorskip("datasets")
    proj = _project(tmp_path)
    folder = _saved(tmp_path, proj)
    _edit_state(folder, _format_type="arrow")  # plain rows: read as they are
    fresh = tmp_path / "fresh.nerproj"
    assert cli("init", fresh).returncode == 0
    res = cli("import", fresh, folder)
    assert res.returncode == 0, res.stderr
    with ProjectStore(fresh) as s:
        assert [x.words for x in s.iter_sentences()] == [
            ["Angela", "Merkel", "visited", "New", "York", "."]]


# -- importing a file twice ---------------------------------------------------------------------
TWO = CONLL + "\nRain O\nfell O\n"


def test_a_reimport_is_refused_and_shared_sentences_are_imported_and_counted(tmp_path):
    """Re-importing a file added every sentence again without a word. Now a file ALL of whose
    sentences the project has is refused in one line (nothing written); a file that shares
    only some is imported whole (a dataset's dev split may repeat a train sentence: an import
    brings the file exactly), and the report counts them."""
    proj = _project(tmp_path)  # holds CONLL's one sentence
    two = tmp_path / "two.conll"
    two.write_text(TWO, encoding="utf-8")
    res = cli("import", proj, two)
    assert res.returncode == 0, res.stderr
    assert "imported 2 sentences" in res.stdout
    assert "1 of 2 sentences were already in the project (same text and tokens); imported " \
        "all the same" in res.stderr
    assert _count(proj) == 3
    res = cli("import", proj, two)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"nerstudio: error: {two}: all 2 of its sentences are already in the project "
        "(imported before?); nothing was imported (--allow-duplicates imports them again)"]
    assert _count(proj) == 3
    res = cli("import", proj, two, "--allow-duplicates")
    assert res.returncode == 0 and "imported 2 sentences" in res.stdout
    assert _count(proj) == 5


def test_the_app_import_reports_the_same_count(tmp_path):
    from nerstudio.ui.import_dialog import run_import

    proj = _project(tmp_path)
    two = tmp_path / "two.conll"
    two.write_text(TWO, encoding="utf-8")
    n, report = run_import(proj, two, progress=lambda *a: None, should_stop=lambda: False,
                           emit=None)
    assert n == 2 and _count(proj) == 3
    assert report.notable
    assert "1 of 2 sentences were already in the project (same text and tokens); imported " \
        "all the same" in report.lines()
    with pytest.raises(NerStudioError, match="already in the project"):
        run_import(proj, two, progress=lambda *a: None, should_stop=lambda: False, emit=None)
    assert _count(proj) == 3


# -- an export reads back to the same data ------------------------------------------------------
TRICKY = """-DOCSTART- -X- -X- O

Merkel B-PER
's O
party O
-- O
the O
CDU B-ORG
-- O
said O
" O
no O
. O
" O

He O
said O
: O
" O
U.S. B-LOC
's O
deal O
. O
" O
"""


@pytest.mark.parametrize("fmt,name", [("doccano", "out.jsonl"), ("jsonl", "out.jsonl"),
                                      ("prodigy", "out.jsonl")])
def test_an_export_imports_back_to_the_same_sentences(tmp_path, fmt, name):
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0
    conll = tmp_path / "tricky.conll"
    conll.write_text(TRICKY, encoding="utf-8")
    assert cli("import", proj, conll).returncode == 0
    out = tmp_path / name
    res = cli("export", proj, out, "--format", fmt)
    assert res.returncode == 0, res.stderr
    back = tmp_path / "back.nerproj"
    assert cli("init", back).returncode == 0
    res = cli("import", back, out)  # the format detected, as a user would
    assert res.returncode == 0, res.stderr

    def data(p):
        with ProjectStore(p) as s:
            return [(x.words, [(sp.start, sp.end, sp.label) for sp in x.spans], x.split,
                     x.status) for x in s.iter_sentences()]
    assert data(back) == data(proj)
    assert len(data(back)) == 2


def test_a_doccano_record_whose_text_was_edited_is_tokenized_afresh(tmp_path):
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0
    path = tmp_path / "edited.jsonl"  # tokens no longer match the text: they are not trusted
    path.write_text(json.dumps({"text": "Ada Lovelace wrote code.", "label": [[0, 12, "PER"]],
                                "tokens": ["Ada", "Byron", "wrote"]}) + "\n", encoding="utf-8")
    res = cli("import", proj, path)
    assert res.returncode == 0, res.stderr
    with ProjectStore(proj) as s:
        assert [x.words for x in s.iter_sentences()] == [["Ada", "Lovelace", "wrote", "code", "."]]
    assert _entities(proj) == [("Ada Lovelace", "PER")]


def test_a_doccano_export_with_an_emoji_and_a_span_inside_a_word_reads_back(tmp_path):
    """Its own tokens decide: "can" of "cannot" is a span, after an emoji (no unit guessing)."""
    proj = tmp_path / "p.nerproj"
    with ProjectStore.create(proj) as s:
        text = "😀 cannot stop"
        tokens = [Token("😀", 0, 1), Token("can", 2, 5), Token("not", 5, 8), Token("stop", 9, 13)]
        s.import_items([Sentence(tokens=tokens, spans=[Span(1, 2, "X")], text=text,
                                 status="labelled")])
    out = tmp_path / "out.jsonl"
    assert cli("export", proj, out, "--format", "doccano").returncode == 0
    back = tmp_path / "back.nerproj"
    assert cli("init", back).returncode == 0
    res = cli("import", back, out)
    assert res.returncode == 0, res.stderr
    with ProjectStore(back) as s:
        assert [(x.words, x.spans) for x in s.iter_sentences()] == [
            (["😀", "can", "not", "stop"], [Span(1, 2, "X")])]


def test_a_prodigy_span_edge_inside_a_character_is_moved_out(tmp_path):
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"text": "Cafe\u0301 Noir opened.", "answer": "accept",
                                "spans": [{"start": 0, "end": 4, "label": "ORG"}]}) + "\n",
                    encoding="utf-8")
    res = cli("import", proj, path, "--format", "prodigy")
    assert res.returncode == 0, res.stderr
    assert _entities(proj) == [("Cafe\u0301", "ORG")]
    assert "widened 1 span edge that cut a character" in res.stderr
