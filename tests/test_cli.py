import json
import subprocess
import sys

import pytest

from nerstudio.cli import main
from nerstudio.core.store import ProjectStore


def run(*args):
    return main([str(a) for a in args])


def test_init_import_stats_export(tmp_path, sample_conll, capsys):
    proj = tmp_path / "p.nerproj"
    assert run("init", proj, "--labels", "PER,ORG") == 0
    assert run("import", proj, sample_conll) == 0
    assert "imported 3 sentences" in capsys.readouterr().out
    assert run("stats", proj, "--json") == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["splits"]["train"]["sentences"] == 3
    assert stats["splits"]["train"]["per_label"] == {"PER": 2, "ORG": 1, "MISC": 1, "LOC": 1}
    assert run("stats", proj) == 0
    assert "train" in capsys.readouterr().out
    out = tmp_path / "out.conll"
    assert run("export", proj, out, "--format", "conll") == 0
    assert out.read_text() == sample_conll.read_text()


def test_errors_are_one_line_and_change_nothing(tmp_path, sample_conll, capsys):
    proj = tmp_path / "p.nerproj"
    run("init", proj)
    run("import", proj, sample_conll)
    bad = tmp_path / "bad.conll"
    bad.write_text("a O\nb I-PER\n")
    capsys.readouterr()
    # two files in one import: the good one is rolled back with the bad one
    assert run("import", proj, sample_conll, bad, "--scheme", "iob2") == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.conll, line 2" in err
    with ProjectStore(proj) as s:
        assert s.count() == 3
    assert run("stats", tmp_path / "missing.nerproj") == 1
    assert "no such project" in capsys.readouterr().err


def test_split_ratio_option(tmp_path, sample_conll):
    proj = tmp_path / "p.nerproj"
    run("init", proj)
    assert run("import", proj, sample_conll, "--split-ratio", "0,1,0") == 0
    with ProjectStore(proj) as s:
        assert s.count(split="dev") == 3
    with pytest.raises(SystemExit):
        run("import", proj, sample_conll, "--split-ratio", "1,2")


@pytest.mark.parametrize("cmd", ["init", "import", "export", "stats", "runs"])
def test_help(cmd):
    out = subprocess.run([sys.executable, "-m", "nerstudio", cmd, "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "usage: nerstudio " + cmd in out.stdout


def test_train_from_data_folder_and_project(tmp_path, tiny_bert, capsys):
    data = tmp_path / "data"
    data.mkdir()
    rows = "angela B-PER\nmerkel I-PER\nvisited O\nparis B-LOC\n. O\n\njohn B-PER\nsmith I-PER\n"
    (data / "train.txt").write_text("\n\n".join([rows] * 8))
    (data / "valid.txt").write_text(rows)
    out = tmp_path / "run"
    assert run("train", "--data", data, "--output", out, "--base-model", tiny_bert,
               "--max-steps", "3", "--eval-every", "3", "--batch-size", "4") == 0
    assert (out / "model" / "model.safetensors").exists()
    assert "stopping after 3 steps" in capsys.readouterr().err  # the schedule says --max-steps
    proj = tmp_path / "p.nerproj"
    run("init", proj)
    run("import", proj, data / "train.txt", data / "valid.txt")
    capsys.readouterr()
    assert run("train", proj, "--base-model", tiny_bert, "--epochs", "1", "--batch-size", "8") == 0
    printed = capsys.readouterr().out
    result = json.loads(printed[printed.index("{\n"):])
    assert result["event"] == "finished" and result["run"] == 1
    assert 0 <= result["best_metrics"]["f1"] <= 1
    with ProjectStore(proj) as s:
        assert s.run(1)["status"] == "finished"


def test_export_onto_the_project_is_a_usage_error(tmp_path, sample_conll, capsys):
    proj = tmp_path / "p.nerproj"
    run("init", proj)
    run("import", proj, sample_conll)
    capsys.readouterr()
    assert run("export", proj, proj, "--format", "conll") == 2
    assert "refusing to export onto the project" in capsys.readouterr().err
    with ProjectStore(proj) as s:
        assert s.count() == 3


def test_train_help_names_checkpoint_minutes():
    out = subprocess.run([sys.executable, "-m", "nerstudio", "train", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "--checkpoint-minutes" in out.stdout


def test_train_as_a_subprocess_prints_the_schedule_and_the_stored_duration(tmp_path, tiny_bert):
    """Not a terminal: plain lines, the auto schedule before the first step, and a final JSON
    whose duration is the one stored with the run, with sentences per second."""
    data = tmp_path / "train.txt"
    data.write_text("\n\n".join(["angela B-PER\nmerkel I-PER\nvisited O\nparis B-LOC\n. O"] * 12))
    proj = tmp_path / "p.nerproj"
    assert run("init", proj) == 0 and run("import", proj, data, "--split", "train") == 0
    out = subprocess.run([sys.executable, "-m", "nerstudio", "train", str(proj), "--base-model",
                          str(tiny_bert), "--max-length", "64", "--epochs", "2"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "schedule: batch 4 (auto), lr 0.0001 (auto), epochs 2.0," in out.stderr
    assert "stopping after" not in out.stderr
    result = json.loads(out.stdout[out.stdout.index("{"):])
    assert result["sentences_per_s"] > 0
    with ProjectStore(proj) as s:
        assert s.run(1)["duration_s"] == result["duration_s"]
