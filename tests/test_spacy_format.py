"""spaCy's DocBin (``.spacy``), behind the optional ``spacy`` extra: a round trip through the CLI,
the export read back by spaCy itself, DocBins nerstudio did not write, and one line when spaCy is
not installed (that test always runs)."""
import os
import subprocess
import sys

import pytest

from nerstudio.core.store import ProjectStore

SPACY_MISSING = "spaCy is not installed (pip install 'nerstudio[spacy]')"

TRAIN = """Angela B-PER
Merkel I-PER
visited O
New B-LOC
York I-LOC
. O

The O
Work B-WORK_OF_ART
of I-WORK_OF_ART
Art I-WORK_OF_ART
is O
here O
"""
DEV = "Paris B-LOC\nis O\nnice O\n\nNothing O\nhere O\n"
RAW = "John Smith works for Acme. He lives in Rome.\n"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def _project(tmp_path):
    proj = tmp_path / "p.nerproj"
    (tmp_path / "train.txt").write_text(TRAIN, encoding="utf-8")
    (tmp_path / "dev.txt").write_text(DEV, encoding="utf-8")
    (tmp_path / "raw.txt").write_text(RAW, encoding="utf-8")
    assert cli("init", proj, "--labels", "PER,LOC,WORK_OF_ART").returncode == 0
    out = cli("import", proj, tmp_path / "train.txt", tmp_path / "dev.txt")
    assert out.returncode == 0, out.stderr
    out = cli("import", proj, tmp_path / "raw.txt", "--split", "train")
    assert out.returncode == 0, out.stderr
    return proj


def _sentences(proj):
    with ProjectStore(proj) as s:
        return [(x.text, x.words, [(sp.start, sp.end, sp.label) for sp in x.spans], x.split,
                 x.status, [tuple(t) for t in x.tokens]) for x in s.iter_sentences()]


def test_round_trip_through_the_cli(tmp_path):
    pytest.importorskip("spacy", reason=SPACY_MISSING)
    proj = _project(tmp_path)
    out = tmp_path / "all.spacy"
    res = cli("export", proj, out, "--format", "spacy")
    assert res.returncode == 0, res.stderr
    assert "exported 6 sentences" in res.stdout
    back = tmp_path / "back.nerproj"
    assert cli("init", back).returncode == 0
    res = cli("import", back, out)  # the format is detected from the .spacy suffix
    assert res.returncode == 0, res.stderr
    assert "imported 6 sentences" in res.stdout
    assert _sentences(back) == _sentences(proj)
    with ProjectStore(back) as a, ProjectStore(proj) as b:  # documents are kept
        assert [(name, len(sents)) for (_id, name, _h), sents in a.iter_documents()] == \
            [(name, len(sents)) for (_id, name, _h), sents in b.iter_documents()]


def test_the_export_is_what_spacy_train_reads(tmp_path):
    spacy = pytest.importorskip("spacy", reason=SPACY_MISSING)
    from spacy.tokens import DocBin

    proj = _project(tmp_path)
    out = tmp_path / "train.spacy"
    res = cli("export", proj, out, "--format", "spacy", "--split", "train")
    assert res.returncode == 0, res.stderr
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(out).get_docs(nlp.vocab))
    assert [d.text for d in docs] == ["Angela Merkel visited New York .", "The Work of Art is here",
                                      "John Smith works for Acme.", "He lives in Rome."]
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Angela Merkel", "PER"),
                                                          ("New York", "LOC")]
    assert [t.ent_iob_ for t in docs[0]] == ["B", "I", "O", "B", "I", "O"]
    assert [(e.text, e.label_) for e in docs[1].ents] == [("Work of Art", "WORK_OF_ART")]
    # unlabelled sentences carry no entity annotation at all (missing, not "no entities")
    assert not docs[2].has_annotation("ENT_IOB") and not docs[3].has_annotation("ENT_IOB")
    assert docs[0].user_data["nerstudio_status"] == "labelled"
    assert docs[2].user_data["nerstudio_status"] == "unlabelled"


def test_a_docbin_from_spacy_imports(tmp_path):
    spacy = pytest.importorskip("spacy", reason=SPACY_MISSING)
    from spacy.tokens import Doc, DocBin, Span

    nlp = spacy.blank("en")
    labelled = Doc(nlp.vocab, words=["Ada", "Lovelace", "met", "\n", "Babbage", "."],
                   spaces=[True, True, True, False, False, False])
    labelled.ents = [Span(labelled, 0, 2, "PER"), Span(labelled, 4, 5, "PER")]
    no_entities = Doc(nlp.vocab, words=["Nothing", "here"])
    no_entities.ents = []  # annotated: every token O
    unannotated = Doc(nlp.vocab, words=["Raw", "text"])
    two = Doc(nlp.vocab, words=["Hi", "Bob", ".", "Bye", "."],
              spaces=[True, False, True, False, False], sent_starts=[True, False, False, True, False])
    two.ents = [Span(two, 1, 2, "PER")]
    path = tmp_path / "dev.spacy"
    DocBin(docs=[labelled, no_entities, unannotated, two]).to_disk(path)
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0
    res = cli("import", proj, path)
    assert res.returncode == 0, res.stderr
    got = _sentences(proj)
    assert [(text, words, spans, split, status) for text, words, spans, split, status, _t in got] == [
        ("Ada Lovelace met \nBabbage.", ["Ada", "Lovelace", "met", "Babbage", "."],
         [(0, 2, "PER"), (3, 4, "PER")], "dev", "labelled"),
        ("Nothing here", ["Nothing", "here"], [], "dev", "labelled"),
        ("Raw text", ["Raw", "text"], [], "dev", "unlabelled"),
        ("Hi Bob.", ["Hi", "Bob", "."], [(1, 2, "PER")], "dev", "labelled"),
        ("Bye.", ["Bye", "."], [], "dev", "labelled")]
    for text, _w, _s, _sp, _st, tokens in got:
        assert all(text[a:b] == word for word, a, b in tokens)


def test_a_file_that_is_not_a_docbin_is_one_line(tmp_path):
    pytest.importorskip("spacy", reason=SPACY_MISSING)
    bad = tmp_path / "bad.spacy"
    bad.write_bytes(b"this is not a DocBin\n")
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0
    res = cli("import", proj, bad)
    err = res.stderr.strip()
    assert res.returncode == 1 and err.count("\n") == 0, res.stderr
    assert "bad.spacy" in err and "not a spaCy DocBin" in err


def test_without_spacy_the_error_is_one_line(tmp_path, sample_conll):
    """spaCy made unimportable (a None entry in sys.modules), installed or not."""
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0 and cli("import", proj, sample_conll).returncode == 0
    (tmp_path / "in.spacy").write_bytes(b"whatever")
    code = ("import sys; sys.modules['spacy'] = None; from nerstudio.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    expected = "nerstudio: error: the spaCy format needs spaCy: pip install 'nerstudio[spacy]'"
    for args in (["export", proj, tmp_path / "out.spacy", "--format", "spacy"],
                 ["import", proj, tmp_path / "in.spacy"]):
        res = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                             text=True, timeout=300, env={**os.environ})
        assert res.returncode == 1 and res.stderr.strip() == expected, res.stderr
    assert not (tmp_path / "out.spacy").exists()
    with ProjectStore(proj) as s:
        assert s.count() == 3


def test_formats_do_not_import_spacy():
    code = ("import sys, nerstudio.cli, nerstudio.core.formats; "
            "sys.exit(1 if 'spacy' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
