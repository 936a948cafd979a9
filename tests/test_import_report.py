"""What an import tells besides "imported N sentences", through the command a user runs: new
labels with their span counts, repaired tags with the first file:line, --labels-strict refusing
undeclared labels, BOMs at the start of any line, invisible characters shown escaped in errors,
and --strip-prefix."""
import subprocess
import sys

from nerstudio.core.domain import Span
from nerstudio.core.store import ProjectStore


def nerstudio(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def project(tmp_path, labels="PER,ORG,LOC"):
    path = tmp_path / "p.nerproj"
    assert nerstudio("init", path, "--labels", labels).returncode == 0
    return path


def everything(path):
    with ProjectStore(path, read_only=True) as s:
        return (s.label_set().names,
                [(x.words, x.spans, x.split, x.status, x.text) for x in s.iter_sentences()])


def test_a_lone_bom_line_at_the_end_of_a_dev_file_imports(tmp_path):
    """Files concatenated from several sources: a BOM starts a later part, or is the last line."""
    p = project(tmp_path)
    dev = tmp_path / "dev.txt"
    dev.write_bytes("Anna B-PER\nsings O\n\n\ufeffOslo B-LOC\nwins O\n\n\ufeff\n".encode())
    r = nerstudio("import", p, dev)
    assert r.returncode == 0, r.stderr
    _labels, sents = everything(p)
    assert [s[0] for s in sents] == [["Anna", "sings"], ["Oslo", "wins"]]
    assert sents[1][1] == [Span(0, 1, "LOC")] and {s[2] for s in sents} == {"dev"}


def test_an_error_shows_invisible_characters_escaped(tmp_path):
    p = project(tmp_path)
    bad = tmp_path / "bad.conll"
    bad.write_text("Anna B-PER\nOslo\u200bB-LOC\n", encoding="utf-8")
    r = nerstudio("import", p, bad)
    assert r.returncode == 1
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "line 2" in line
    assert "\\u200b" in line and "\u200b" not in line  # seen, not invisible
    tabbed = tmp_path / "tabbed.conll"
    tabbed.write_text("Anna PER O\nOslo\tB-LOC\n", encoding="utf-8")
    r = nerstudio("import", p, tabbed)
    assert "\\t" in r.stderr and "line 2" in r.stderr
    assert everything(p)[1] == []


def test_every_import_reports_new_labels_and_repaired_tags(tmp_path):
    p = project(tmp_path)
    data = tmp_path / "train.conll"
    data.write_text("Anna B-PER\nsaw O\nthe O\nXYZ1 B-XYZ\n\n"
                    "Bob I-PER\nand O\nAcme I-ORG\nco I-ORG\n\n"
                    "Q B-XYZ\nR B-FOO\n")
    r = nerstudio("import", p, data)
    assert r.returncode == 0, r.stderr
    assert "new labels added to the project: XYZ (2 spans), FOO (1 span)" in r.stderr
    assert "repaired 2 tags" in r.stderr and f"first at {data}:6" in r.stderr
    assert everything(p)[0] == ["PER", "ORG", "LOC", "XYZ", "FOO"]
    clean = tmp_path / "clean.conll"
    clean.write_text("Anna B-PER\n")
    r = nerstudio("import", p, clean)
    assert "no new labels, no tags repaired" in r.stderr


def test_labels_strict_refuses_undeclared_labels_and_writes_nothing(tmp_path):
    p = project(tmp_path)
    good = tmp_path / "a.conll"
    good.write_text("Anna B-PER\n")
    bad = tmp_path / "b.conll"
    bad.write_text("Anna B-PER\nsaw O\n\nit O\nXYZ1 B-XYZ\n")
    before = everything(p)
    r = nerstudio("import", p, good, bad, "--labels-strict")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "XYZ (1 span)" in lines[0] and f"{bad}:5" in lines[0]
    assert everything(p) == before  # not even the good file
    r = nerstudio("import", p, good, "--labels-strict")
    assert r.returncode == 0 and len(everything(p)[1]) == 1


def test_labels_strict_names_records_of_offset_formats(tmp_path):
    import json
    p = project(tmp_path)
    d = tmp_path / "d.jsonl"
    d.write_text(json.dumps({"text": "Anna is here", "label": [[0, 4, "PER"]]}) + "\n" +
                 json.dumps({"text": "Acme Corp", "label": [[0, 9, "COMPANY"]]}) + "\n")
    r = nerstudio("import", p, d, "--labels-strict")
    assert r.returncode == 1 and "COMPANY (1 span)" in r.stderr and f"{d}:2" in r.stderr


def test_strip_prefix(tmp_path):
    import json
    p = project(tmp_path)
    data = tmp_path / "train.conll"
    data.write_text("en:Angela B-PER\nen:Merkel I-PER\nen:visited O\nen:Paris B-LOC\nen: O\n")
    r = nerstudio("import", p, data, "--strip-prefix", "en:")
    assert r.returncode == 0, r.stderr
    d = tmp_path / "d.jsonl"  # JSONL tokens: the same
    d.write_text(json.dumps({"tokens": ["en:Anna", "en:sings", "in", "en:Oslo"],
                             "ner_tags": ["B-PER", "O", "O", "B-LOC"]}) + "\n")
    assert nerstudio("import", p, d, "--strip-prefix", "en:").returncode == 0
    with ProjectStore(p, read_only=True) as s:
        a, b = s.iter_sentences()
    assert a.words == ["Angela", "Merkel", "visited", "Paris", "en:"]  # only the prefix: kept
    assert a.spans == [Span(0, 2, "PER"), Span(3, 4, "LOC")]
    assert b.text == "Anna sings in Oslo" and b.words == ["Anna", "sings", "in", "Oslo"]
    for s in (a, b):
        assert all(s.text[t.start:t.end] == t.text for t in s.tokens)
    assert b.spans == [Span(0, 1, "PER"), Span(3, 4, "LOC")]


def test_strip_prefix_keeps_the_text_between_tokens():
    from nerstudio.core.domain import Sentence, Token
    from nerstudio.core.formats._io import strip_token_prefix

    text = "en:Anna  en:sings, en:"
    s = Sentence(tokens=[Token("en:Anna", 0, 7), Token("en:sings", 9, 17), Token(",", 17, 18),
                         Token("en:", 19, 22)], text=text, spans=[Span(0, 1, "PER")])
    out = strip_token_prefix(s, "en:")
    assert out.text == "Anna  sings, en:" and out.words == ["Anna", "sings", ",", "en:"]
    assert all(out.text[t.start:t.end] == t.text for t in out.tokens)


# -- the app: File > Import, the file picked with Browse…, OK clicked ----------------------------
try:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import (QApplication, QDialogButtonBox, QFileDialog, QMessageBox,
                                   QPushButton)

    from nerstudio.ui.import_dialog import ImportDialog
    from tests.test_gui import settings, window  # noqa: F401  (fixtures)
except ImportError:  # no Qt: the CLI tests above still run
    ImportDialog = None


def import_through_the_dialog(qtbot, window, path, monkeypatch, answer):
    import pytest
    if ImportDialog is None:
        pytest.skip("PySide6 is not installed")
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: (asked.append(a[2]), answer)[1])
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: asked.append(("warning", a[2])))

    def fill():
        dialog = next(w for w in QApplication.topLevelWidgets()
                      if isinstance(w, ImportDialog) and w.isVisible())
        browse = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Browse…")
        qtbot.mouseClick(browse, Qt.LeftButton)
        assert dialog.path.text() == str(path)
        qtbot.mouseClick(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok),
                         Qt.LeftButton)

    QTimer.singleShot(200, fill)
    window.import_action.trigger()
    return asked


NEW_LABELS = "Zelda B-PER\nfrom O\nXcorp B-XYZ\n\nAcme B-XYZ\n\nQ B-FOO\n"


def test_app_asks_before_adding_labels_and_no_imports_nothing(window, qtbot, tmp_path,
                                                              monkeypatch):
    data = tmp_path / "new.conll"
    data.write_text(NEW_LABELS)
    before = (window.store.count(), window.store.label_set().names)
    asked = import_through_the_dialog(qtbot, window, data, monkeypatch, QMessageBox.No)
    qtbot.waitUntil(lambda: bool(asked) and not window.workers, timeout=20000)
    assert len(asked) == 1
    assert "The file adds labels XYZ (2 spans), FOO (1 span). Add them?" in asked[0]
    assert (window.store.count(), window.store.label_set().names) == before


def test_app_yes_imports_and_shows_the_report(window, qtbot, tmp_path, monkeypatch):
    data = tmp_path / "new.conll"
    data.write_text(NEW_LABELS + "\nBob I-PER\n")
    before = window.store.count()
    asked = import_through_the_dialog(qtbot, window, data, monkeypatch, QMessageBox.Yes)
    qtbot.waitUntil(lambda: window.import_report_box is not None, timeout=20000)
    assert len(asked) == 1 and "XYZ (2 spans)" in asked[0]
    assert window.store.count() == before + 4
    assert {"XYZ", "FOO"} <= set(window.store.label_set().names)
    shown = window.import_report_box.text()
    assert "XYZ (2 spans), FOO (1 span)" in shown and "repaired 1 tag" in shown
    assert f"{data}:9" in shown  # the first repaired tag, file:line


def test_app_import_with_known_labels_asks_nothing(window, qtbot, tmp_path, monkeypatch):
    data = tmp_path / "known.conll"
    data.write_text("Zelda B-PER\nruns O\n")
    before = window.store.count()
    asked = import_through_the_dialog(qtbot, window, data, monkeypatch, QMessageBox.No)
    qtbot.waitUntil(lambda: window.store.count() == before + 1, timeout=20000)
    qtbot.waitUntil(lambda: window.import_report is not None, timeout=5000)
    assert asked == [] and window.import_report_box is None  # nothing to tell: no box
