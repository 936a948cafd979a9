"""Issue #25 section 3: projects, runs and models in odd places. A copied project never resumes
(or writes into) the original's run folder; a project opened through a symlink keeps its runs
beside the real file; a runs folder that cannot be written is refused before a run row exists;
a run's data snapshot is written whole or not at all; a model folder without its tokenizer is
refused; pre-annotation never stores a label the project lacks. Section 4: a failed training
prints one line (and the resume command), not a traceback."""
import json
import os
import shutil
import sqlite3

import pytest

from nerstudio.core import runs
from nerstudio.core.store import ProjectStore

from .test_runs_integrity import cli, make_project, one_line, train_args


def db_rows(proj, sql):
    con = sqlite3.connect(f"file:{proj}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def trained(tiny_bert, tmp_path_factory):
    """A project with one short run really trained from the command line."""
    proj = make_project(tmp_path_factory.mktemp("trained") / "t", n_train=2)
    out = cli("train", proj, *train_args(tiny_bert, "--max-steps", "2", "--eval-every", "none"))
    assert out.returncode == 0, out.stderr
    return proj.parent


def cancelled_run(trained, tmp_path):
    """A copy of ``trained`` whose run 1 is resumable ('cancelled'), with the folder and owner
    file its training wrote. Returns (project, run folder)."""
    shutil.copytree(trained, tmp_path, dirs_exist_ok=True)
    proj = tmp_path / "p.nerproj"
    with ProjectStore(proj) as s:
        s.update_run(1, status="cancelled")
    folder = tmp_path / "p.nerproj.runs" / "run-1"
    runs._write_owner(folder, proj)  # as this project's own training or resume writes it
    return proj, folder


# -- 1. a copied project ---------------------------------------------------------------------------
def test_a_copied_project_never_resolves_to_the_originals_run_folder(trained, tmp_path):
    proj, original = cancelled_run(trained, tmp_path)
    owner = (original / "owner.json").read_text()
    copy = tmp_path / "p2.nerproj"
    shutil.copyfile(proj, copy)  # cp p.nerproj p2.nerproj, without the runs folder

    assert runs.run_folder(copy, 1) == tmp_path / "p2.nerproj.runs" / "run-1"
    line = one_line(cli("train", copy, "--resume", "1"))
    assert "no such run folder" in line and "p2.nerproj.runs" in line
    assert (original / "owner.json").read_text() == owner  # the original's run untouched
    assert db_rows(copy, "SELECT status FROM runs") == [("cancelled",)]

    shutil.copytree(tmp_path / "p.nerproj.runs", tmp_path / "p2.nerproj.runs",  # with its runs
                    dirs_exist_ok=True)  # (the refused resume left the slot file there)
    assert runs.run_folder(copy, 1) == tmp_path / "p2.nerproj.runs" / "run-1"


def test_a_run_folder_shared_with_another_project_is_refused(trained, tmp_path):
    proj, original = cancelled_run(trained, tmp_path)
    owner = (original / "owner.json").read_text()
    copy = tmp_path / "p2.nerproj"
    shutil.copyfile(proj, copy)
    os.symlink(tmp_path / "p.nerproj.runs", tmp_path / "p2.nerproj.runs")  # the very same folder

    line = one_line(cli("train", copy, "--resume", "1"))
    assert "belongs to" in line and str(proj) in line
    assert (original / "owner.json").read_text() == owner
    assert db_rows(copy, "SELECT status FROM runs") == [("cancelled",)]


# -- 2. a project opened through a symlink -------------------------------------------------------
def test_runs_of_a_project_opened_through_a_symlink_are_beside_the_real_file(tiny_bert, tmp_path):
    proj = make_project(tmp_path / "real", n_train=2)
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "link.nerproj"
    os.symlink(proj, link)
    out = cli("train", link, *train_args(tiny_bert, "--max-steps", "2", "--eval-every", "none"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "real" / "p.nerproj.runs" / "run-1" / "model").is_dir()
    assert not (tmp_path / "links" / "link.nerproj.runs").exists()
    out = cli("predict", "--model", "1", "--project", proj, "--format", "json", "angela merkel")
    assert out.returncode == 0, out.stderr


# -- 3. a runs folder that cannot be written -------------------------------------------------------
def test_an_unwritable_runs_folder_is_refused_before_a_run_row_exists(tmp_path):
    proj = tmp_path / "p.nerproj"
    ProjectStore.create(proj, labels=["PER"]).close()
    (tmp_path / "p.nerproj.runs").write_text("in the way")  # (tests run as root: chmod is no use)
    line = one_line(cli("train", proj, "--base-model", "embedded"))
    assert "p.nerproj.runs" in line and "cannot" in line
    assert db_rows(proj, "SELECT count(*) FROM runs") == [(0,)]


# -- 4. the run's own files, and a resume from the very end ---------------------------------------
def test_a_resume_from_the_last_step_does_not_train_past_the_end(tiny_bert, tmp_path):
    """Killed while the final model was saved: the last checkpoint is the last step. The resume
    saves the model the run ended with (its best checkpoint) and trains no step past the end
    (it did: 13 of 12)."""
    from safetensors.torch import load_file

    from nerstudio.core.training import Finished, Step, TrainingData, train

    from .test_training import TAGS, TRAIN, tiny_config

    cfg = tiny_config(tiny_bert, max_steps=12, logging_steps=1, eval_every="4",
                      learning_rate=1e-2)  # dev F1 1.0 from step 8: the best is not the last
    whole = train(TrainingData(TRAIN, TRAIN[:6], TAGS), cfg, tmp_path)
    assert isinstance(whole, Finished) and whole.steps == 12, whole
    # usually step 8 (dev F1 1.0 there); on a loaded machine the threads' float order made
    # step 12, once step 4, the best: the resume must save the best one, whichever it is
    assert whole.best_checkpoint in [str(tmp_path / f"checkpoint-{n}") for n in (4, 8, 12)]
    weights = load_file(tmp_path / "model" / "model.safetensors")
    shutil.rmtree(tmp_path / "model")  # the kill, mid-save
    events = []
    resumed = train(None, cfg, tmp_path, events.append, resume=True)
    assert isinstance(resumed, Finished) and resumed.steps == 12, resumed
    assert [e.step for e in events if isinstance(e, Step)] == []
    again = load_file(tmp_path / "model" / "model.safetensors")
    assert weights.keys() == again.keys()
    assert all((weights[k] == again[k]).all() for k in weights)


def test_a_snapshot_write_killed_midway_leaves_the_old_file(tmp_path, monkeypatch):
    from nerstudio.core.training import TrainingData, engine

    from .test_training import TAGS, TRAIN

    path = tmp_path / "data.json"
    engine.save_snapshot(TrainingData(TRAIN[:2], TRAIN[:1], TAGS), path)
    before = path.read_text()

    def killed(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        engine.save_snapshot(TrainingData(TRAIN, TRAIN[:6], TAGS), path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json"]


def test_a_damaged_snapshot_is_one_line_on_resume(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "data.json").write_text('{"tags": ["O"], "train": [[["a"')  # cut short
    out = cli("train", "--output", tmp_path / "run", "--resume", "0")
    line = one_line(out)
    assert "data.json" in line and "damaged" in line
    assert out.stdout == ""


# -- section 4: a failed training is one line ------------------------------------------------------
def test_a_failed_train_prints_one_line_and_no_dump(tmp_path):
    proj = make_project(tmp_path, n_train=1)
    out = cli("train", proj, "--base-model", tmp_path / "no-such-model", "--max-length", "64")
    line = one_line(out)
    assert line.startswith("nerstudio: error: training failed: ") and "no-such-model" in line
    assert out.stdout == ""


def test_an_unexpected_error_is_one_line_with_its_traceback_in_the_runs_log(tmp_path, capsys,
                                                                             monkeypatch):
    from nerstudio.core.training import Failed, TrainConfig, engine

    def broken(*args):
        raise RuntimeError("deep inside\nsecond line of a long message")

    monkeypatch.setattr(engine, "_train", broken)
    event = engine.train(None, TrainConfig(), tmp_path)
    assert isinstance(event, Failed)
    assert "deep inside" in event.reason and "\n" not in event.reason
    assert str(tmp_path / "error.log") in event.reason
    assert capsys.readouterr().err == ""
    log = (tmp_path / "error.log").read_text()
    assert "Traceback" in log and "second line of a long message" in log


def test_the_project_reaches_the_ranks_after_double_dash():
    """`nerstudio train --processes 2 -- -odd.nerproj`: each rank gets the same file."""
    from nerstudio.cli import build_parser
    from nerstudio.core.training import TrainConfig
    from nerstudio.core.training.distributed import train_argv

    argv = train_argv("-odd.nerproj", TrainConfig(epochs=3.0), resume_run=2,
                      extra=("--data", "d.txt"))
    a = build_parser().parse_args(argv)
    assert (a.project, a.epochs, a.resume, a.data) == ("-odd.nerproj", 3.0, 2, "d.txt")


def test_rank_console_folders_of_dead_launchers_are_cleaned(tmp_path, monkeypatch):
    import subprocess
    import sys
    import tempfile

    from nerstudio.core.training import distributed

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a launcher that was killed: its pid names no live process
    owners = {"dead": {"pid": child.pid}, "alive": {"pid": os.getpid(),
                                                     "start": runs._process_start(os.getpid())}}
    for name, owner in owners.items():
        folder = tmp_path / f"nerstudio-ranks-{name}"
        folder.mkdir()
        (folder / "launcher.json").write_text(json.dumps(owner))
        (folder / "rank-0.err").write_text("log")
    old = tmp_path / "nerstudio-ranks-old"  # an older version's: no owner file, days old
    old.mkdir()
    os.utime(old, (1, 1))
    distributed.clean_stale_scratch()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nerstudio-ranks-alive"]


# -- 5. a model folder without its tokenizer ------------------------------------------------------
def test_a_model_folder_without_its_tokenizer_is_refused(trained, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(trained / "p.nerproj.runs" / "run-1" / "model", model)
    for f in model.glob("tokenizer*"):
        f.unlink()
    out = cli("predict", "--model", model, "--format", "json", "angela merkel visited paris .")
    line = one_line(out)
    assert line == (f"nerstudio: error: {model}: no tokenizer files (tokenizer.json / vocab.txt / "
                    "vocab.json / *.model); copy them from the model it was trained from")
    assert out.stdout == ""


def test_a_tokenizer_larger_than_the_models_vocabulary_is_refused(trained, tmp_path):
    from transformers import AutoTokenizer

    model = tmp_path / "model"
    shutil.copytree(trained / "p.nerproj.runs" / "run-1" / "model", model)
    tok = AutoTokenizer.from_pretrained(model)
    tok.add_tokens([f"newword{i}" for i in range(20)])  # another model's vocabulary
    tok.save_pretrained(model)
    line = one_line(cli("predict", "--model", model, "angela merkel visited paris ."))
    assert str(model) in line and "do not belong together" in line


# -- 6. pre-annotation keeps little, and only the project's labels ---------------------------------
def head_model(tiny_bert, folder, labels, favourite):
    """The tiny BERT with a token-classification head for ``labels`` (B-/I- tags) whose bias
    makes every word ``favourite``: predictions known in advance."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tags = ["O"] + [f"{p}-{label}" for label in labels for p in "BI"]
    model = AutoModelForTokenClassification.from_pretrained(
        tiny_bert, num_labels=len(tags), id2label=dict(enumerate(tags)),
        label2id={t: i for i, t in enumerate(tags)})
    with torch.no_grad():
        model.classifier.bias[tags.index(favourite)] = 50.0
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    return folder


def sentences_project(path, labels, n):
    from nerstudio.core.domain import Sentence

    words = [["angela", "merkel", "visited", "paris", "."], ["john", "smith", "works", "."]]
    with ProjectStore.create(path, labels=labels) as s:
        s.import_items([Sentence.from_words(words[i % 2]) for i in range(n)])
    return path


def test_predicted_labels_the_project_lacks_are_skipped_and_said(tiny_bert, tmp_path):
    model = head_model(tiny_bert, tmp_path / "model", ["PER", "LOC"], "B-LOC")
    proj = sentences_project(tmp_path / "p.nerproj", ["PER"], 3)  # no LOC in this project
    out = cli("preannotate", proj, "--model", model)
    assert out.returncode == 0, out.stderr
    assert "stored suggestions for 3 sentences" in out.stdout
    assert out.stderr.strip().splitlines()[-1] == (
        "skipped 14 predicted entities whose label the project does not have: LOC (14)")
    assert db_rows(proj, "SELECT count(*) FROM predictions") == [(0,)]


def test_preannotation_keeps_two_probabilities_a_word_not_one_per_tag(tiny_bert, tmp_path):
    """2,000 labels (4,001 tags): a probability per tag per word took 230 MB of Python floats
    for 300 sentences (2.5 GB for 10,000 labels and 388 sentences, as reported)."""
    import tracemalloc

    from nerstudio.core.inference import Predictor
    from nerstudio.core.preannotate import preannotate

    labels = [f"L{i}" for i in range(2000)]
    model = head_model(tiny_bert, tmp_path / "model", labels, "B-L7")
    proj = sentences_project(tmp_path / "p.nerproj", labels, 300)
    predictor = Predictor(model).load()
    tracemalloc.start()
    try:
        assert preannotate(proj, predictor) == 300
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 30e6, f"{peak / 1e6:.0f} MB"
    with ProjectStore(proj) as s:
        first = s.sentence_rows(0, 1)[0]
        assert {sp.label for sp, _score in s.predictions(first.id)} == {"L7"}


def test_summarised_predictions_agree_with_the_full_rows(trained):
    from nerstudio.core.inference import Predictor

    predictor = Predictor(trained / "p.nerproj.runs" / "run-1" / "model")
    words = [["angela", "merkel", "visited", "paris", "."], ["john", "smith", "works", "."], []]
    full, short = predictor.predict_words(words), predictor.predict_words(words, summary=True)
    for f, s in zip(full, short):
        assert f.tags == s.tags and all(len(p) == 2 for p in s.probs)
        assert [sp[:3] for sp in f.spans()] == [sp[:3] for sp in s.spans()]
        assert [sp[3] for sp in f.spans()] == pytest.approx([sp[3] for sp in s.spans()])
        assert f.uncertainty() == pytest.approx(s.uncertainty(), abs=1e-5)


# -- section 4, first bullet (training): a full disk -----------------------------------------------
@pytest.mark.parametrize("error", ["torch", "oserror"])
def test_a_full_disk_while_saving_a_checkpoint_says_so(tiny_bert, tmp_path, monkeypatch, error):
    import errno

    import torch

    from nerstudio.core.training import Failed, TrainingData, train

    from .test_training import TAGS, TRAIN, tiny_config

    def full(obj, f, *args, **kw):
        if error == "torch":
            raise RuntimeError("basic_ios::clear: iostream error")
        raise OSError(errno.ENOSPC, "No space left on device", str(f))

    monkeypatch.setattr(torch, "save", full)
    event = train(TrainingData(TRAIN, TRAIN[:6], TAGS), tiny_config(tiny_bert, max_steps=2,
                                                                    eval_every="2"), tmp_path)
    assert isinstance(event, Failed)
    assert event.reason.startswith(f"no space left on device while writing {tmp_path}"
                                   f"{os.sep}checkpoint-2"), event.reason


@pytest.mark.slow
def test_a_killed_rank_says_one_line_with_the_resume_command(tiny_bert, tmp_path):
    """`--processes 2`, rank 1 killed: rank 0's console ends with one error line that names the
    command to resume (with --processes 2), and no traceback (it is in the run's error.log)."""
    import signal
    import subprocess
    import sys
    import time

    from nerstudio.core.training.checkpoints import last_checkpoint

    from .test_distributed import _rank_process

    proj = make_project(tmp_path, n_train=20)
    run_dir = tmp_path / "p.nerproj.runs" / "run-1"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "nerstudio", "train", str(proj), "--processes", "2",
         *train_args(tiny_bert, "--epochs", "20", "--eval-every", "5",
                     "--sparse-embeddings", "off")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        worker = _rank_process(launcher, "1")
        end = time.monotonic() + 120
        while time.monotonic() < end and not last_checkpoint(run_dir):
            time.sleep(0.2)
        assert last_checkpoint(run_dir), "no checkpoint within 120 s"
        worker.send_signal(signal.SIGKILL)
        _out, err = launcher.communicate(timeout=180)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode != 0
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("nerstudio: ")]
    assert len(errors) == 1, err
    assert errors[0].endswith(f"; resume it with: nerstudio train {proj} --resume 1 "
                              "--processes 2"), err
