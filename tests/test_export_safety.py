"""Issue #12: an export never harms the project, never leaves a half file, never overwrites
without --force; sentence status survives every interchange format; CLI errors are one line.
Driven as a user does: ``python -m nerstudio ...`` in a subprocess."""
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nerstudio.core.domain import Span
from nerstudio.core.formats import export_file, import_file
from nerstudio.core.store import ProjectStore

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, **kw)


def one_line_error(out, code=None):
    assert out.returncode != 0 and (code is None or out.returncode == code), out
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.fixture
def project(tmp_path, sample_conll):
    """A project with 3 labelled sentences (from CoNLL) and 2 unlabelled raw ones."""
    proj = tmp_path / "p.nerproj"
    with ProjectStore.create(proj, labels=["PER", "ORG", "LOC", "MISC"]) as s:
        import_file(s, sample_conll)
        raw = tmp_path / "raw.txt"
        raw.write_text("Paris is nice. Berlin too.\n")
        import_file(s, raw, split="train")
    return proj


def fingerprint(proj):
    with ProjectStore(proj) as s:
        return [(x.words, x.spans, x.split, x.status) for x in s.iter_sentences()]


# -- 1. the export target ---------------------------------------------------------------------
TARGETS = ["p.nerproj", "./p.nerproj", "link.nerproj", "hard.nerproj", "p.nerproj-wal",
           "p.nerproj-shm", "p.nerproj-journal", "p.nerproj.runs/x.conll", "p.nerproj.runs"]


@pytest.mark.parametrize("target, fmt", [(t, "conll") for t in TARGETS] + [
    (t, f) for t in ("p.nerproj", "link.nerproj", "p.nerproj.runs") for f in ("jsonl", "doccano", "hf")])
def test_export_onto_the_project_is_refused(project, tmp_path, target, fmt):
    before = fingerprint(project)
    (tmp_path / "link.nerproj").symlink_to(project)
    os.link(project, tmp_path / "hard.nerproj")
    (tmp_path / "p.nerproj.runs").mkdir()
    size = project.stat().st_size
    out = cli("export", "p.nerproj", target, "--format", fmt, "--force", cwd=tmp_path)
    assert "refusing to export onto the project" in one_line_error(out, 2)
    assert project.stat().st_size == size and fingerprint(project) == before


def test_hf_export_onto_the_folder_holding_the_project_is_refused(project, tmp_path):
    out = cli("export", project, tmp_path, "--format", "hf", "--force")
    assert "refusing" in one_line_error(out, 2)
    assert project.exists() and fingerprint(project)


@pytest.mark.parametrize("make, target, message", [
    (lambda d: None, "missing/out.conll", "no such folder"),
    (lambda d: (d / "adir").mkdir(), "adir", "is a folder"),
    (lambda d: (d / "ro").mkdir(mode=0o555), "ro/out.conll", "cannot write"),
    (lambda d: (d / "old.conll").write_text("keep me\n"), "old.conll", "--force"),
])
def test_unusable_export_targets_say_so_in_one_line(project, tmp_path, make, target, message):
    make(tmp_path)
    if target.startswith("ro/") and os.access(tmp_path / "ro", os.W_OK):
        pytest.skip("running as root: permissions are not enforced")
    # (to a folder, a conll export of every split writes a file per split: one split is a file)
    split = ["--split", "train"] if target == "adir" else []
    out = cli("export", project, tmp_path / target, "--format", "conll", *split)
    assert message in one_line_error(out, 2)
    if target == "old.conll":
        assert (tmp_path / "old.conll").read_text() == "keep me\n"
        assert cli("export", project, tmp_path / target, "--format", "conll",
                   "--force").returncode == 0
        assert "EU" in (tmp_path / "old.conll").read_text()


def test_hf_export_into_a_non_empty_folder_needs_force_and_then_replaces_it(project, tmp_path):
    import datasets

    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "stale.txt").write_text("old")
    assert "--force" in one_line_error(cli("export", project, hf, "--format", "hf"), 2)
    assert (hf / "stale.txt").exists()
    assert cli("export", project, hf, "--format", "hf", "--force").returncode == 0
    assert not (hf / "stale.txt").exists()  # replaced, not written beside
    assert datasets.load_from_disk(str(hf))["train"].num_rows == 5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_export_leaves_the_old_file(tmp_path):
    from nerstudio.core.formats.safety import atomic_file

    target = tmp_path / "out.conll"
    target.write_text("good\n")
    with pytest.raises(RuntimeError):
        with atomic_file(target) as f:
            f.write("half")
            raise RuntimeError("killed")
    assert target.read_text() == "good\n" and os.listdir(tmp_path) == ["out.conll"]


def test_a_killed_export_leaves_the_old_file(project, tmp_path):
    """SIGKILL in the middle of writing (the writer blocks on a sentence): the old file stays."""
    target = tmp_path / "out.jsonl"
    target.write_text("good\n")
    code = ("import os, signal, sys\n"
            "from nerstudio.core.formats import jsonl\n"
            "real = jsonl.spans_to_tags\n"
            "def slow(*a):\n"
            "    sys.stdout.write('writing\\n'); sys.stdout.flush(); os.kill(os.getpid(), 9)\n"
            "jsonl.spans_to_tags = slow\n"
            "from nerstudio.cli import main\n"
            f"main(['export', {str(project)!r}, {str(target)!r}, '--format', 'jsonl', '--force'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == -9 and "writing" in out.stdout
    assert target.read_text() == "good\n"


def test_export_module_refuses_the_project_too(project):
    from nerstudio.core.formats.safety import ExportTargetError

    with ProjectStore(project) as s, pytest.raises(ExportTargetError):
        export_file(s, project, "conll", force=True)
    assert fingerprint(project)


# -- 2. status survives interchange ------------------------------------------------------------
def reimport(tmp_path, files, fmt):
    again = tmp_path / f"again-{fmt}.nerproj"
    assert cli("init", again).returncode == 0
    out = cli("import", again, *files, "--format", fmt)
    assert out.returncode == 0, out.stderr
    with ProjectStore(again) as s:
        return {" ".join(x.words): x.status for x in s.iter_sentences()}


@pytest.mark.parametrize("fmt, name", [("jsonl", "out.jsonl"), ("hf", "out_hf"),
                                       ("doccano", "out_doccano.jsonl")])
def test_status_round_trips(project, tmp_path, fmt, name):
    out = cli("export", project, tmp_path / name, "--format", fmt)
    assert out.returncode == 0 and "left out" not in out.stderr, out.stderr
    statuses = reimport(tmp_path, [tmp_path / name], fmt)
    assert statuses["Paris is nice ."] == "unlabelled" and statuses["Berlin too ."] == "unlabelled"
    assert statuses["Peter Blackburn"] == "labelled" and len(statuses) == 5


def test_conll_export_leaves_unlabelled_out_and_says_so(project, tmp_path):
    out = cli("export", project, tmp_path / "train.conll", "--format", "conll")
    assert out.returncode == 0
    assert "left out 2 unlabelled sentences" in out.stderr and "--include-unlabelled" in out.stderr
    assert "exported 3 sentences" in out.stdout
    assert set(reimport(tmp_path, [tmp_path / "train.conll"], "conll").values()) == {"labelled"}
    out = cli("export", project, tmp_path / "all.conll", "--format", "conll", "--include-unlabelled")
    assert out.returncode == 0 and out.stderr == "" and "exported 5" in out.stdout


def test_reviewed_stays_reviewed_and_untagged_records_stay_unlabelled(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in [
        {"tokens": ["Paris"], "ner_tags": ["B-LOC"], "status": "reviewed"},
        {"tokens": ["raw", "text"]},
        {"tokens": ["all", "O"], "ner_tags": ["O", "O"]}]) + "\n")
    d = tmp_path / "in_doccano.jsonl"
    d.write_text(json.dumps({"text": "No labels key here."}) + "\n" +
                 json.dumps({"text": "Rome.", "label": [[0, 4, "LOC"]], "status": "unlabelled"}) + "\n")
    with ProjectStore.create(tmp_path / "q.nerproj") as s:
        import_file(s, p)
        import_file(s, d, "doccano")
        got = [(x.words, x.status, x.spans) for x in s.iter_sentences()]
    assert got[0] == (["Paris"], "reviewed", [Span(0, 1, "LOC")])
    assert got[1] == (["raw", "text"], "unlabelled", [])
    assert got[2][1] == "labelled"  # all-O tags are gold: they say "no entity here"
    assert got[3][1] == "unlabelled" and got[4][1] == "unlabelled"


def test_hf_dataset_without_tags_imports_unlabelled(tmp_path):
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"tokens": [["a", "b"]]})}) \
        .save_to_disk(str(tmp_path / "hf"))
    with ProjectStore.create(tmp_path / "q.nerproj") as s:
        import_file(s, tmp_path / "hf")
        assert [x.status for x in s.iter_sentences()] == ["unlabelled"]


# -- 3. a path is never taken for a hub name ----------------------------------------------------
@pytest.mark.parametrize("path", ["data/missing", "./missing", "/no/such/dir", "missing.conll"])
def test_import_of_a_missing_path_is_no_such_file(project, tmp_path, path):
    line = one_line_error(cli("import", project, path, cwd=tmp_path))
    assert "no such file" in line and "Hugging Face dataset" not in line
    line = one_line_error(cli("import", project, path, "--format", "hf", cwd=tmp_path))
    assert "no such file" in line


# -- 6. every error is one line ------------------------------------------------------------------
def test_damaged_project_is_one_line(tmp_path):
    """Pages damaged in the middle of the file: it opens, then a query fails (sqlite3 error)."""
    proj = tmp_path / "p.nerproj"
    many = tmp_path / "t.conll"
    many.write_text("\n\n".join(f"word{i} O\nParis B-LOC" for i in range(3000)) + "\n")
    with ProjectStore.create(proj, labels=["LOC"]) as s:
        import_file(s, many)
    data = bytearray(proj.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    middle = len(data) // page // 2 * page
    data[middle:middle + 5 * page] = b"\xa5" * (5 * page)
    proj.write_bytes(bytes(data))
    for args in (["stats", proj], ["export", proj, tmp_path / "o.conll", "--format", "conll"]):
        line = one_line_error(cli(*args))
        assert str(proj) in line and "damaged" in line
    assert not (tmp_path / "o.conll").exists()


def test_locked_project_is_one_line(project, tmp_path):
    before = project.read_bytes()  # (not while locked: closing any fd drops this process's locks)
    holder = sqlite3.connect(project, timeout=0)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        out = cli("--wait", "1", "import", project, tmp_path / "raw.txt")
        line = one_line_error(out)
        assert line.endswith(f"another nerstudio process is writing to {project}; "
                             "try again (waited 1 s)"), line
    finally:
        holder.rollback()
        holder.close()
    assert project.read_bytes() == before


def test_broken_pipe_is_quiet(project):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "nerstudio", "stats", project, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader (`| head`) is gone before the first line
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err and err == ""
    assert proc.returncode != 0
