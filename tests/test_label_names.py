"""Label names are limited to a sane character set at creation and import (they become tags,
widget texts and file content)."""
import subprocess
import sys

from nerstudio.core.store import ProjectStore


def nerstudio(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nerstudio", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_import_of_a_hostile_tag_is_refused_in_one_line_and_writes_nothing(tmp_path):
    assert nerstudio("init", "p.nerproj", "--labels", "PER", cwd=tmp_path).returncode == 0
    bad = tmp_path / "bad.conll"
    bad.write_text("Hello O\nWorld B-<img>\n\n", encoding="utf-8")
    out = nerstudio("import", "p.nerproj", "bad.conll", cwd=tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "label" in out.stderr
    with ProjectStore(tmp_path / "p.nerproj") as s:
        assert s.count() == 0 and s.label_set().names == ["PER"]


def test_init_refuses_a_hostile_label(tmp_path):
    out = nerstudio("init", "p.nerproj", "--labels", "PER,<h1>BIG</h1>", cwd=tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert not (tmp_path / "p.nerproj").exists()  # refused before the file is made
