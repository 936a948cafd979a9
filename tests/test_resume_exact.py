"""Cancel + resume continues exactly: the same final weights as an uninterrupted run."""
import torch
from safetensors.torch import load_file

from nerstudio.core.training import Cancelled, Finished, Step, TrainingData, train
from nerstudio.core.training.batching import LengthGroupedOrder

from .test_training import TAGS, TRAIN, tiny_config
from .waiting import wait_for


def test_each_epoch_order_depends_only_on_seed_and_epoch():
    lengths = [3, 9, 4, 7, 7, 2, 8, 5, 6, 1] * 5
    sampler = LengthGroupedOrder(lengths, 4, seed=1)
    sampler.set_epoch(2)
    torch.manual_seed(0)
    first = list(sampler)
    torch.manual_seed(123)  # the global generator has no say
    torch.rand(10)
    assert list(sampler) == first
    sampler.set_epoch(3)
    assert list(sampler) != first and sorted(sampler) == sorted(first)


def test_cancel_and_resume_give_the_uninterrupted_weights(tiny_bert, tmp_path):
    cfg = tiny_config(tiny_bert, epochs=3, logging_steps=1, eval_every="none")
    data = TrainingData(TRAIN, TRAIN[:6], TAGS)
    whole = train(data, cfg, tmp_path / "whole")
    assert isinstance(whole, Finished), whole

    steps = []
    cancelled = train(data, cfg, tmp_path / "split",
                      lambda e: isinstance(e, Step) and steps.append(e.step),
                      should_stop=lambda: len(steps) >= 7)  # mid-way through the second epoch
    assert isinstance(cancelled, Cancelled) and 5 < cancelled.step < 10
    resumed = train(None, cfg, tmp_path / "split", resume=True)
    assert isinstance(resumed, Finished), resumed
    assert resumed.steps == whole.steps

    a = load_file(tmp_path / "whole" / "model" / "model.safetensors")
    b = load_file(tmp_path / "split" / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert worst < 1e-5, f"resumed weights differ by up to {worst}"


def test_a_resume_uses_the_runs_own_settings_whatever_is_asked(tiny_bert, tmp_path):
    from nerstudio.core.training import TrainConfig

    data = TrainingData(TRAIN, TRAIN[:6], TAGS)
    cfg = tiny_config(tiny_bert, epochs=3, batch_size=4, learning_rate=3e-3, logging_steps=1,
                      eval_every="none")
    steps = []
    cancelled = train(data, cfg, tmp_path / "run",
                      lambda e: isinstance(e, Step) and steps.append(e.step),
                      should_stop=lambda: len(steps) >= 3)
    assert isinstance(cancelled, Cancelled)
    events = []
    resumed = train(None, TrainConfig(base_model=str(tiny_bert)), tmp_path / "run", events.append,
                    resume=True)  # asked with every value on auto: the run's own values win
    assert isinstance(resumed, Finished), resumed
    started = next(e for e in events if type(e).__name__ == "Started")
    assert started.config["learning_rate"] == 3e-3 and started.config["batch_size"] == 4
    assert resumed.steps == 27  # 36 sentences / 4 = 9 steps x 3 epochs


def test_the_printed_resume_command_of_a_data_folder_run_works(tiny_bert, tmp_path):
    """`train --data` cancelled with Ctrl+C prints how to continue; that command resumes.

    Ctrl+C is sent once train_config.json exists: it is written inside train(), after the
    command's handler is in place, so the run cancels at the end of its first step (with a
    checkpoint to resume from), whatever the machine's load. A short run: the resume trains the
    rest of it (it was 40 epochs, and a sleep before Ctrl+C; 300 s were not enough under load)."""
    import json
    import signal
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_text("\n\n".join(
        ["angela B-PER\nmerkel I-PER\nvisited O\nparis B-LOC\n. O"] * 20))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "nerstudio", "train", "--data", str(data), "--output", str(out),
           "--base-model", str(tiny_bert), "--epochs", "2", "--batch-size", "2",
           "--learning-rate", "1e-3", "--max-length", "64", "--eval-every", "none"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (out / "train_config.json").exists(), "the run's train_config.json",
                 proc=proc)
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, stderr
    hint = stderr.strip().splitlines()[-1]
    assert "continue with: nerstudio train" in hint and str(out) in hint, hint
    cancelled_at = int(hint.split("cancelled at step ")[1].split(";")[0])
    again = hint.split("continue with: nerstudio ")[1].split()
    done = subprocess.run([sys.executable, "-m", "nerstudio", *again], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["event"] == "finished" and result["steps"] > cancelled_at, result
    assert (out / "model" / "model.safetensors").exists()
