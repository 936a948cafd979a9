"""Issue #25: review flags follow label edits (rename, merge, delete, also through undo), and
errors a person can act on: a full disk or a file-size limit is named as such with the file, and
an intact project is never called damaged."""
import sqlite3

from nerstudio.core.domain import Sentence, Span
from nerstudio.core.store import ProjectStore


def _flagged(tmp_path):
    """"Ann visited Rome": Ann PER, Rome PER; the review suspects Rome (model: LOC)."""
    store = ProjectStore.create(tmp_path / "p.nerproj", labels=["PER", "LOC"])
    store.import_items([Sentence.from_words(["Ann", "visited", "Rome"], split="train")])
    sid = store.sentence_rows(0, 10)[0].id
    store.set_spans(sid, [Span(0, 1, "PER"), Span(2, 3, "PER")], status="labelled")
    store.set_review_flags(None, [(sid, 2, "B-PER", "B-LOC", 0.01)])
    return store, sid


def _flags(store, sid):
    return [(f.token_index, f.given, f.predicted) for f in store.review_flags(sid)]


def _gold(store, sid):
    return [(s.start, s.label) for s in store.sentence(sid).spans]


def test_a_flag_follows_a_rename_and_not_a_new_label_of_the_old_name(tmp_path):
    store, sid = _flagged(tmp_path)
    store.rename_label("LOC", "PLACE")
    store.add_label("LOC")
    assert _flags(store, sid) == [(2, "B-PER", "B-PLACE")]
    assert store.resolve_flag(sid, 2, accept=True) is True
    assert _gold(store, sid) == [(0, "PER"), (2, "PLACE")]
    store.close()


def test_a_flag_follows_a_rename_of_its_given_label(tmp_path):
    store, sid = _flagged(tmp_path)
    store.rename_label("PER", "PERSON")
    assert _flags(store, sid) == [(2, "B-PERSON", "B-LOC")]
    assert store.resolve_flag(sid, 2, accept=True) is True
    assert _gold(store, sid) == [(0, "PERSON"), (2, "LOC")]
    store.close()


def test_a_flag_follows_a_merge_and_goes_with_a_deleted_label(tmp_path):
    store, sid = _flagged(tmp_path)
    store.add_label("GPE")
    store.merge_labels("LOC", "GPE")
    assert _flags(store, sid) == [(2, "B-PER", "B-GPE")]
    store.delete_label("GPE")
    assert _flags(store, sid) == [] and store.flagged_sentence_ids() == []
    store.add_label("GPE")  # a new label of the old name: no flag comes back for it
    assert _flags(store, sid) == []
    store.close()


def test_an_undo_after_a_rename_brings_the_flag_back_under_the_new_name(tmp_path):
    store, sid = _flagged(tmp_path)
    assert store.resolve_flag(sid, 2, accept=False) is False  # K: the flag goes, undoably
    store.rename_label("LOC", "PLACE")
    store.add_label("LOC")
    assert store.undo() == sid
    assert _flags(store, sid) == [(2, "B-PER", "B-PLACE")]
    assert store.resolve_flag(sid, 2, accept=True) is True
    assert _gold(store, sid) == [(0, "PER"), (2, "PLACE")]
    store.close()


def test_an_undo_after_a_delete_does_not_bring_back_a_flag_for_the_deleted_label(tmp_path):
    store, sid = _flagged(tmp_path)
    assert store.resolve_flag(sid, 2, accept=False) is False
    store.delete_label("LOC")
    store.add_label("LOC")
    assert store.undo() == sid
    assert _flags(store, sid) == []
    store.close()


def test_with_lines_every_line_break_ends_a_sentence_and_none_stays_inside():
    from nerstudio.core.tokenize import split_sentences

    text = "Alice lives in Paris.\r\nbob works at Acme\u2028Carol met Dave. She left.\n"
    texts = [" ".join(t.text for t in s) for s in split_sentences(text, lines=True)]
    assert texts == ["Alice lives in Paris .", "bob works at Acme", "Carol met Dave .",
                     "She left ."]
    assert len(split_sentences(text)) == 2  # without: a wrapped line goes on (imports)


# -- a full disk, a file size limit: said as such, naming the file; never "damaged" ---------------
def _limited(limit: int):
    """preexec_fn of a child under a file size limit (``ulimit -f``): a write past it fails
    with EFBIG (SIGXFSZ ignored, as a shell with ``ulimit -f`` leaves a program to see it)."""
    def apply():
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _cli_limited(limit, *args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)],
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=_limited(limit))


def _words(i, n=20):
    return [f"Alice{i}"] + [f"w{i}x{j}" for j in range(n)]


def _project_of(path, n):
    with ProjectStore.create(path, labels=["PER"]) as s:
        items = [Sentence.from_words(_words(i), split="train") for i in range(n)]
        s.import_items(items)
    return path


def _state(path):
    """The project as a user sees it: it opens, passes SQLite's integrity check, and holds
    these sentences."""
    with ProjectStore(path, read_only=True) as s:
        assert s.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return s.count(), [s.sentence(r.id).text for r in s.sentence_rows(0, 100000)]


def _one_line(stderr):
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("importing")
             and not ln.startswith("exporting") and "\r" not in ln]
    errors = [ln for ln in lines if ln.startswith("nerstudio: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def test_import_past_a_file_size_limit_says_so_and_does_not_call_the_project_damaged(tmp_path):
    import os

    project = _project_of(tmp_path / "p.nerproj", 2000)
    before = _state(project)
    big = tmp_path / "big.conll"
    big.write_text("".join(f"{w} {'B-PER' if j == 0 else 'O'}\n" for i in range(20000)
                           for j, w in enumerate(_words(i + 10**6))) + "\n", encoding="utf-8")
    limit = os.path.getsize(project) + 512 * 1024
    out = _cli_limited(limit, "import", project, big)
    assert out.returncode == 1, out
    line = _one_line(out.stderr)
    assert "file size limit exceeded while writing" in line and str(project) in line, line
    assert "damaged" not in line
    assert _state(project) == before  # intact: it opens, integrity ok, same sentences
    out = _cli_limited(2**40, "stats", project)
    assert out.returncode == 0 and "damaged" not in out.stderr


def test_export_past_a_file_size_limit_names_the_file_and_leaves_nothing_half_written(tmp_path):
    project = _project_of(tmp_path / "p.nerproj", 2000)
    before = _state(project)
    for fmt in ("conll", "jsonl"):
        target = tmp_path / f"out.{fmt}"
        out = _cli_limited(100_000, "export", project, target, "--format", fmt,
                           "--include-unlabelled")
        assert out.returncode == 1, out
        line = _one_line(out.stderr)
        assert f"file size limit exceeded while writing {target}" in line, line
        assert "damaged" not in line
        assert not target.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["p.nerproj"]  # no .part left
    assert _state(project) == before


def test_a_full_disk_during_an_export_write_names_the_file(tmp_path):
    import errno

    import pytest

    from nerstudio.core.errors import NerStudioError
    from nerstudio.core.formats.safety import atomic_file

    target = tmp_path / "out.conll"
    target.write_text("old\n")
    with pytest.raises(NerStudioError) as info:
        with atomic_file(target) as f:
            f.write("new\n")
            raise OSError(errno.ENOSPC, "No space left on device")  # a write on a full disk
    assert str(info.value).startswith(f"no space left on device while writing {target}")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.conll"]


def test_sqlite_full_is_no_space_and_only_corruption_is_damage(tmp_path):
    store = ProjectStore.create(tmp_path / "p.nerproj")

    def error(message, name):
        exc = sqlite3.OperationalError(message)
        exc.sqlite_errorname = name
        return str(store._error(exc))

    full = error("database or disk is full", "SQLITE_FULL")
    assert full.startswith(f"no space left on device while writing {store.path}")
    assert "damaged" not in full
    assert "damaged" not in error("disk I/O error", "SQLITE_IOERR_READ")
    assert "damaged" in error("database disk image is malformed", "SQLITE_CORRUPT")
    assert "damaged" in error("file is not a database", "SQLITE_NOTADB")
    store.close()
