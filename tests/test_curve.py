"""The train curve (issue #14 item 3): nested seeded subsets of the train split, trained with the
tiny BERT, scored on one dev set, nothing written to the project."""
import json
import os

import pytest

from nerstudio.core.curve import (CurvePoint, CurveStarted, check_fractions, prepare, subsets,
                                  train_curve, verdict)
from nerstudio.core.errors import NerStudioError
from nerstudio.core.store import ProjectStore
from nerstudio.core.training import Started, TrainConfig
from tests.test_evaluation import make_project


def small(model, **kw):
    base = dict(base_model=str(model), epochs=2, batch_size=8, learning_rate=5e-3, max_length=64)
    base.update(kw)
    return TrainConfig(**base)


def file_state(path):
    st = os.stat(path)
    return path.read_bytes(), st.st_mtime_ns


def test_subsets_are_nested_seeded_and_at_least_one():
    a = subsets(40, [0.25, 0.5, 0.75, 1.0], seed=7)
    assert [len(s) for s in a] == [10, 20, 30, 40]
    for small_, big in zip(a, a[1:]):
        assert set(small_) < set(big)
    assert a == subsets(40, [0.25, 0.5, 0.75, 1.0], seed=7)
    assert a[0] != subsets(40, [0.25], seed=8)[0]
    assert subsets(3, [0.01], seed=1)[0] != []
    assert check_fractions([1, 0.5, 0.5]) == [0.5, 1.0]
    for bad in ([], [0], [1.5], [-0.2]):
        with pytest.raises(NerStudioError):
            check_fractions(bad)


def test_verdict_rising_or_flat():
    pts = [{"fraction": 0.5, "n_train": 10, "dev_f1": 0.50},
           {"fraction": 1.0, "n_train": 20, "dev_f1": 0.52}]
    assert verdict(pts).startswith("F1 still rising at 100 %: more data will likely help")
    pts[1]["dev_f1"] = 0.505
    assert verdict(pts).startswith("flat")
    assert "not enough" in verdict(pts[:1])


def test_dev_is_held_out_once_when_the_project_has_none(tmp_path):
    path = make_project(tmp_path / "p.nerproj", n_train=20, dev=False)
    data = prepare(path, TrainConfig(dev_fraction=0.1))
    assert len(data.dev) == 2 and len(data.train) == 18
    assert not set(map(id, data.dev)) & set(map(id, data.train))


def test_train_curve_trains_each_fraction_and_leaves_the_project_alone(tiny_bert, tmp_path):
    path = make_project(tmp_path / "p.nerproj", n_train=16)
    with ProjectStore(path) as s:
        runs_before = s.runs()
    before = file_state(path)
    work = tmp_path / "work"
    work.mkdir()
    events = []
    points = train_curve(path, (0.25, 0.5, 0.75, 1.0), small(tiny_bert), events.append,
                         workdir=work)
    assert [p["fraction"] for p in points] == [0.25, 0.5, 0.75, 1.0]
    assert [p["n_train"] for p in points] == [4, 8, 12, 16]
    assert all(0 <= p["dev_f1"] <= 1 and p["seconds"] > 0 for p in points)
    assert [type(e) for e in events].count(CurveStarted) == 4
    assert [e.as_dict() for e in events if isinstance(e, CurvePoint)] == points
    assert [e.train_sentences for e in events if isinstance(e, Started)] == [4, 8, 12, 16]
    assert [e.dev_sentences for e in events if isinstance(e, Started)] == [4] * 4  # one dev set
    assert json.loads(json.dumps(points)) == points
    # nothing recorded: no run, the file untouched, the temporary folder gone
    assert file_state(path) == before
    assert not (tmp_path / "p.nerproj.runs").exists()
    with ProjectStore(path) as s:
        assert s.runs() == runs_before == []
    assert list(work.iterdir()) == []


def test_train_curve_stops_when_asked_and_cleans_up(tiny_bert, tmp_path):
    path = make_project(tmp_path / "p.nerproj", n_train=16)
    work = tmp_path / "work"
    work.mkdir()
    events = []
    # stop once the first fraction's point is in: the curve ends with that one point
    points = train_curve(path, (0.5, 1.0), small(tiny_bert), events.append,
                         lambda: any(isinstance(e, CurvePoint) for e in events), workdir=work)
    assert len(points) == 1 and points[0]["fraction"] == 0.5
    assert list(work.iterdir()) == []


def test_train_curve_failure_is_one_reason_and_cleans_up(tmp_path):
    path = make_project(tmp_path / "p.nerproj", n_train=8)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(NerStudioError, match="failed"):
        train_curve(path, (1.0,), TrainConfig(base_model=str(tmp_path / "no-such-model"),
                                              epochs=1), workdir=work)
    assert list(work.iterdir()) == []
    empty = make_project(tmp_path / "e.nerproj", n_train=0, dev=False)
    with pytest.raises(NerStudioError, match="training set is empty"):
        train_curve(empty, config=TrainConfig(epochs=1))


def test_cli_train_curve_prints_a_table_and_json(tiny_bert, tmp_path, capsys):
    from nerstudio.cli import main as cli_main  # the real door: cli.main

    path = make_project(tmp_path / "p.nerproj", n_train=8)
    args = ["train-curve", str(path), "--fractions", "0.5,1", "--base-model", str(tiny_bert),
            "--epochs", "2", "--lr", "5e-3", "--batch-size", "8", "--max-length", "64"]
    assert cli_main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["fraction", "sentences", "dev", "F1", "seconds"]
    assert [line.split()[:3] for line in out[1:3]] == [["50", "%", "4"], ["100", "%", "8"]]
    assert out[3].startswith(("F1 still rising at 100 %", "flat"))
    assert cli_main(args + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["n_train"] for p in data["points"]] == [4, 8] and data["complete"] is True
    assert data["verdict"] == verdict(data["points"])
    with pytest.raises(SystemExit):
        cli_main(["train-curve", str(path), "--fractions", "0,2"])
