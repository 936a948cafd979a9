"""Issue #12: runs found from anywhere (moved / copied projects), killed runs become
'interrupted' and resume cleanly (complete checkpoints only, no duplicate metrics, best F1 never
lowered), and a fine-tuned head keeps its rows by tag name. Really trains a tiny BERT and really
kills the training process."""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nerstudio.core import runs
from nerstudio.core.store import ProjectStore

from .waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
ROWS = ["angela B-PER\nmerkel I-PER\nvisited O\nparis B-LOC\n. O",
        "john B-PER\nsmith I-PER\nworks O\nfor O\napple B-ORG\nin O\nlondon B-LOC",
        "mary B-PER\njones I-PER\nlives O\nnear O\nrome B-LOC\n. O"]


def cli(*args, cwd=None, wait=True):
    cmd = [sys.executable, "-m", "nerstudio", *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def make_project(folder: Path, n_train: int = 12, dev=ROWS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text("\n\n".join(ROWS * n_train) + "\n")
    (folder / "valid.txt").write_text("\n\n".join(dev) + "\n")
    proj = folder / "p.nerproj"
    assert cli("init", proj, "--labels", "PER,ORG,LOC").returncode == 0
    assert cli("import", proj, folder / "train.txt", folder / "valid.txt").returncode == 0
    return proj


def train_args(tiny_bert, *extra):
    return ["--base-model", tiny_bert, "--batch-size", "8", "--max-length", "64",
            "--lr", "5e-3", *extra]


def one_line(out):
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    return out.stderr.strip()


# -- 3. runs do not depend on the working directory --------------------------------------------
def test_moved_and_copied_projects_use_their_own_runs(tiny_bert, tmp_path):
    proj = make_project(tmp_path / "a")
    out = cli("train", "a/p.nerproj", *train_args(tiny_bert, "--epochs", "1"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with ProjectStore(proj) as s:
        assert s.run(1)["output_dir"] == "p.nerproj.runs/run-1"  # relative to the project
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")  # the original is gone: the copy can only use its own runs
    elsewhere = tmp_path / "c"
    elsewhere.mkdir()
    out = cli("predict", "--model", "1", "--project", "../b/p.nerproj", "--format", "json",
              "angela merkel visited paris .", cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    assert all(json.loads(line)["label"] in {"PER", "ORG", "LOC"} for line in out.stdout.splitlines())
    listed = json.loads(cli("runs", tmp_path / "b" / "p.nerproj", "--json").stdout)
    assert listed[0]["folder"] == str(tmp_path / "b" / "p.nerproj.runs" / "run-1")

    shutil.rmtree(tmp_path / "b" / "p.nerproj.runs" / "run-1")
    line = one_line(cli("predict", "--model", "1", "--project", tmp_path / "b" / "p.nerproj", "x"))
    assert "no such model folder" in line


@pytest.mark.parametrize("stored", ["absolute", "cwd-relative"])
def test_old_rows_fall_back_to_the_projects_own_runs_folder(tmp_path, stored):
    proj = tmp_path / "copy" / "p.nerproj"
    proj.parent.mkdir()
    with ProjectStore.create(proj, labels=["PER"]) as s:
        run_id = s.create_run("embedded", {}, ["O", "B-PER", "I-PER"])
        old = "/elsewhere/orig/p.nerproj.runs/run-1" if stored == "absolute" else \
            "orig/p.nerproj.runs/run-1"
        s.update_run(run_id, output_dir=old, status="finished")
    (tmp_path / "copy" / "p.nerproj.runs" / "run-1" / "model").mkdir(parents=True)
    with ProjectStore(proj) as s:
        assert runs.model_dir(s, run_id) == proj.parent / "p.nerproj.runs" / "run-1" / "model"
        assert runs.run_folder(proj, run_id) == proj.parent / "p.nerproj.runs" / "run-1"


def test_missing_model_paths_are_no_such_model_folder(tmp_path):
    (tmp_path / "runs").mkdir()
    for model in ("/nonexistent", "./nope", "runs/x/model", "runs/model"):
        assert "no such model folder" in one_line(cli("predict", "--model", model, "x", cwd=tmp_path))


# -- 4. interrupted runs -------------------------------------------------------------------------
def db_rows(proj, sql, params=()):
    con = sqlite3.connect(f"file:{proj}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def complete_checkpoints(run_dir: Path):
    return sorted(int(p.parent.name.split("-")[1]) for p in run_dir.glob("checkpoint-*/nerstudio-complete"))


def test_killed_run_is_interrupted_and_resumes_from_a_complete_checkpoint(tiny_bert, tmp_path):
    # 300 sentences, batch 4: 75 steps, one epoch; a dev set that contradicts train (F1 ~0)
    wrong = [r.replace("PER", "TMP").replace("LOC", "PER").replace("TMP", "LOC") for r in ROWS]
    proj = make_project(tmp_path, n_train=100, dev=wrong)
    run_dir = tmp_path / "p.nerproj.runs" / "run-1"
    proc = cli("train", proj, *train_args(tiny_bert, "--epochs", "1", "--batch-size", "4",
                                          "--checkpoint-minutes", "0.002"), wait=False)
    first = []  # the first complete checkpoint's step

    def logged_past_a_checkpoint() -> bool:
        if not first:
            first.extend(complete_checkpoints(run_dir)[:1])
        return bool(first) and db_rows(proj, "SELECT count(*) FROM run_metrics WHERE kind = "
                                       "'train' AND step > ?", (first[0],))[0][0] > 0

    try:
        # metrics logged after the checkpoint: a resume would log them again
        wait_for(logged_past_a_checkpoint, "train metrics logged after a complete checkpoint",
                 proc=proc, interval=0.05)
        step = first[0]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert 0 < step < 75  # a timed checkpoint: the epoch (75 steps) never ended
    assert db_rows(proj, "SELECT status FROM runs")[0][0] == "running"

    listed = json.loads(cli("runs", proj, "--json").stdout)
    assert listed[0]["status"] == "interrupted"
    # a half checkpoint, newer than every good one (killed while saving)
    half = run_dir / "checkpoint-999"
    half.mkdir()
    (half / "config.json").write_text("{}")
    (half / "model.safetensors").write_bytes(b"\0" * 10)
    with ProjectStore(proj) as s:
        s.update_run(1, best_f1=0.999)  # a best the resumed run cannot beat: it must stay

    out = cli("train", proj, "--resume", "1", "--checkpoint-minutes", "0")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout[out.stdout.index("{\n"):])
    assert result["event"] == "finished" and result["steps"] == 75
    assert not half.exists()
    status, best = db_rows(proj, "SELECT status, best_f1 FROM runs")[0]
    assert status == "finished" and best == pytest.approx(0.999)
    dupes = db_rows(proj, "SELECT kind, step, count(*) FROM run_metrics GROUP BY run_id, kind, "
                    "step HAVING count(*) > 1")
    assert dupes == []
    steps = [r[0] for r in db_rows(proj, "SELECT step FROM run_metrics WHERE kind = 'train' "
                                   "ORDER BY step")]
    assert steps[-1] == 75 and len(steps) == len(set(steps))


def test_reconcile_leaves_live_and_foreign_runs_alone(tmp_path):
    proj = tmp_path / "p.nerproj"
    with ProjectStore.create(proj, labels=["PER"]) as s:
        ids = [s.create_run("embedded", {}, ["O"]) for _ in range(4)]
        for i in ids:
            s.update_run(i, output_dir=f"p.nerproj.runs/run-{i}")
    owners = {ids[0]: {"pid": os.getpid(), "host": socket.gethostname(),
                       "start": runs._process_start(os.getpid())},      # alive: this process
              ids[1]: {"pid": 999999, "host": "another-machine"},       # cannot tell: left
              ids[2]: {"pid": 999999, "host": socket.gethostname()}}    # dead here
    for i, owner in owners.items():
        folder = tmp_path / "p.nerproj.runs" / f"run-{i}"
        folder.mkdir(parents=True)
        (folder / "owner.json").write_text(json.dumps(owner))
    with ProjectStore(proj) as s:
        assert runs.reconcile(s) == [ids[2]]  # ids[3]: no owner yet, just created
        assert [s.run(i)["status"] for i in ids] == ["running", "running", "interrupted", "running"]
    line = one_line(cli("train", proj, "--resume", str(ids[0])))
    assert "still running" in line


def test_incomplete_checkpoints_are_passed_over(tmp_path):
    from nerstudio.core.training.checkpoints import (checkpoint_step, drop_incomplete_checkpoints,
                                                     last_checkpoint)

    good = tmp_path / "checkpoint-4"
    good.mkdir()
    for f in ("model.safetensors", "optimizer.pt", "scheduler.pt"):
        (good / f).write_bytes(b"x")
    (good / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    for n, files in ((6, {"trainer_state.json": "{\"global_st"}), (8, {"model.safetensors": "x"})):
        (tmp_path / f"checkpoint-{n}").mkdir()
        for name, text in files.items():
            (tmp_path / f"checkpoint-{n}" / name).write_text(text)
    assert last_checkpoint(tmp_path) == str(good) and checkpoint_step(good) == 4
    drop_incomplete_checkpoints(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-4"]


# -- 5. a fine-tuned head keeps its rows by tag name ----------------------------------------------
@pytest.mark.parametrize("new_labels", [["PER", "LOC", "ORG"], ["PER", "LOC"]])
def test_existing_head_rows_follow_their_tag_names(tiny_bert, tmp_path, new_labels):
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from nerstudio.core.training.loading import load_model

    old_tags = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    torch.manual_seed(0)
    old = AutoModelForTokenClassification.from_pretrained(
        tiny_bert, num_labels=5, id2label=dict(enumerate(old_tags)),
        label2id={t: i for i, t in enumerate(old_tags)})
    old.save_pretrained(tmp_path / "ner")
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(tmp_path / "ner")
    tags = ["O"] + [f"{p}-{label}" for label in new_labels for p in "BI"]
    new = load_model(str(tmp_path / "ner"), tags).eval()
    old = AutoModelForTokenClassification.from_pretrained(tmp_path / "ner").eval()
    x = AutoTokenizer.from_pretrained(tmp_path / "ner")(["angela merkel visited paris"],
                                                       return_tensors="pt")
    with torch.no_grad():
        before, after = old(**x).logits, new(**x).logits
    assert new.config.id2label == dict(enumerate(tags)) and after.shape[-1] == len(tags)
    for tag in old_tags:
        assert torch.allclose(after[..., tags.index(tag)], before[..., old_tags.index(tag)])
