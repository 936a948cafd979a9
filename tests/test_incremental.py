"""Issue #28 item 2: a run continues from a finished run (Keep the model fresh does, and
``nerstudio train P --continue-from N``): its model as the base, the sentences new since it plus
a replay of as many old ones, 35 % of a full run's steps; it falls back, saying why."""
import doctest
import re
import subprocess
import sys
from pathlib import Path

from nerstudio.core.store import ProjectStore
from nerstudio.core.training import TrainConfig, incremental
from nerstudio.core.training.auto import auto_schedule
from nerstudio.core.training.data import Example, TrainingData
from nerstudio.core.training.snapshot import load_snapshot, save_snapshot

ROOT = Path(__file__).resolve().parents[1]
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def conll(path: Path, first: int, n: int) -> Path:
    rows = [f"name{i} B-PER\nvisited O\ncity{i} B-LOC\n. O" for i in range(first, first + n)]
    path.write_text("\n\n".join(rows) + "\n")
    return path


def example(i: int, tag: str = "B-PER") -> Example:
    return Example((f"w{i}", "x"), (tag, "O"))


def test_the_doctests_pass():
    assert doctest.testmod(incremental).failed == 0


def test_new_and_changed_sentences_are_new_and_as_many_old_ones_are_replayed():
    old = [example(i) for i in range(10)]
    now = old[:9] + [example(9, "B-LOC")] + [example(i) for i in (10, 11)]  # one relabelled
    new, kept = incremental.split_new(now, old)
    assert new == [example(9, "B-LOC"), example(10), example(11)] and kept == old[:9]
    again = incremental.replay(kept, 3, seed=7)
    assert again == incremental.replay(kept, 3, seed=7) and len(set(again)) == 3
    assert set(again) <= set(kept) and incremental.replay(kept, 50, seed=7) == kept


def test_the_schedule_is_a_share_of_the_full_runs_steps_with_its_batch_and_rate(tmp_path):
    config = incremental.continued_config(TrainConfig(), tmp_path / "model", 180, 40)
    full = auto_schedule(180)
    assert (config.batch_size, config.learning_rate) == (full.batch_size, full.learning_rate)
    steps = config.epochs * -(-40 // config.batch_size)
    assert abs(steps - full.steps * incremental.STEP_SHARE) < 1
    assert config.base_model == str(tmp_path / "model") and config.early_stopping_patience == 0
    fixed = incremental.continued_config(TrainConfig(batch_size=2, epochs=1), tmp_path, 180, 40)
    assert (fixed.batch_size, fixed.epochs) == (2, 1)  # what a user fixed is kept


def previous_run(folder: Path, tags=TAGS, weights=True) -> Path:
    folder.mkdir()
    save_snapshot(TrainingData([example(i) for i in range(6)], [], tags), folder / "data.json")
    (folder / "model").mkdir()
    if weights:
        (folder / "model" / "model.safetensors").write_bytes(b"")
    return folder


def test_nothing_to_continue_from_trains_from_the_base_model_and_says_why(tmp_path):
    data = TrainingData([example(i) for i in range(8)], [example(99)], TAGS)
    cases = {"labels changed": previous_run(tmp_path / "a", tags=TAGS[:3]),
             "no finished model": previous_run(tmp_path / "b", weights=False),
             "no data snapshot": tmp_path}
    for why, folder in cases.items():
        out, config, line = incremental.continue_run(
            data, TrainConfig(continue_from=str(folder)))
        assert out is data and config.continue_from == "" and config.base_model == "embedded"
        assert line.startswith("trained from the base model") and why in line
    same = TrainingData([example(i) for i in range(6)], [example(99)], TAGS)
    out, config, line = incremental.continue_run(
        same, TrainConfig(continue_from=str(tmp_path / "a")))
    assert "labels changed" in line  # checked before what is new
    previous_run(tmp_path / "c")
    out, config, line = incremental.continue_run(
        same, TrainConfig(continue_from=str(tmp_path / "c")))
    assert out is same and config.base_model == str(tmp_path / "c" / "model")
    assert "no training sentence is new" in line


def test_train_continue_from_a_run_learns_the_new_sentences_and_a_replay(tmp_path, tiny_bert):
    """As typed in a terminal: train, label (import) six more, train --continue-from 1."""
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj, "--labels", "PER,LOC").returncode == 0
    assert cli("import", proj, conll(tmp_path / "train.conll", 0, 12), "--split", "train",
               ).returncode == 0
    assert cli("import", proj, conll(tmp_path / "valid.conll", 100, 4), "--split", "dev",
               ).returncode == 0
    common = ("--base-model", tiny_bert, "--max-length", "64")
    first = cli("train", proj, *common, "--epochs", "1")
    assert first.returncode == 0, first.stderr
    assert cli("import", proj, conll(tmp_path / "more.conll", 200, 6), "--split", "train",
               ).returncode == 0
    second = cli("train", proj, "--continue-from", "1", "--max-length", "64")
    assert second.returncode == 0, second.stderr
    assert "continuing from run-1: 6 new or changed sentences and 6 of the 12 others " \
           "replayed" in second.stderr
    with ProjectStore(proj, read_only=True) as s:
        from nerstudio.core.runs import model_dir, run_folder

        run = s.run(2)
        assert run["status"] == "finished"
        assert run["config"]["base_model"] == str(model_dir(s, 1))
        assert run["config"]["continue_from"] == str(run_folder(s, 1))
        snapshot = load_snapshot(run_folder(s, 2) / "data.json")
        full = auto_schedule(18)
    new = [e for e in snapshot.train if e.words[0].startswith("name2")]
    assert len(new) == 6 and len(snapshot.train) == 12 and len(snapshot.dev) == 4
    started = re.search(r"(\d+) train / (\d+) dev sentences, (\d+) steps", second.stderr)
    assert started and started.groups()[:2] == ("12", "4")
    assert abs(int(started.group(3)) - full.steps * incremental.STEP_SHARE) <= 1


def test_a_run_that_continues_from_a_continued_run_sees_only_what_is_new_since(tmp_path):
    """A continued run trains on new + replayed sentences, but its model knows all of them:
    its snapshot says so, and the next run continued from it learns only the newer ones."""
    from nerstudio.core.training.engine import prepare_run

    previous_run(tmp_path / "a")  # learned examples 0-5
    said = []
    data, _ = prepare_run(TrainingData([example(i) for i in range(10)], [example(99)], TAGS),
                          TrainConfig(continue_from=str(tmp_path / "a")), tmp_path / "b",
                          said.append)
    assert len(data.train) == 8 and "4 new or changed sentences" in said[-1]
    assert len(load_snapshot(tmp_path / "b" / "data.json").train) == 8  # what a resume trains
    assert len(load_snapshot(tmp_path / "b" / "data.json", learned=True).train) == 10
    (tmp_path / "b" / "model").mkdir()
    (tmp_path / "b" / "model" / "model.safetensors").write_bytes(b"")
    data, _ = prepare_run(TrainingData([example(i) for i in range(12)], [example(99)], TAGS),
                          TrainConfig(continue_from=str(tmp_path / "b")), tmp_path / "c",
                          said.append)
    assert "2 new or changed sentences and 2 of the 10 others" in said[-1]
    assert {e.words[0] for e in data.train} >= {"w10", "w11"} and len(data.train) == 4
