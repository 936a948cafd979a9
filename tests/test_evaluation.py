"""Evaluation of a finished run on the test split (issue #14 item 4): a real tiny-BERT run on a
tiny project, scored by its saved model, stored with the run, printed by ``evaluate``."""
import json
import sqlite3

import pytest

from nerstudio.core.domain import Sentence
from nerstudio.core.errors import StoreError
from nerstudio.core.iob import tags_to_spans
from nerstudio.core.runs import train_project
from nerstudio.core.store import ProjectStore
from nerstudio.core.training import Finished, TrainConfig
from tests.conftest import TINY_DATA

LABELS = ["PER", "ORG", "LOC"]
TEST = [(("paul", "jones", "visited", "tokyo", "."), ("B-PER", "I-PER", "O", "B-LOC", "O")),
        (("mary", "smith", "works", "for", "sony", "in", "madrid", "."),
         ("B-PER", "I-PER", "O", "O", "B-ORG", "O", "B-LOC", "O")),
        (("john", "merkel", "lives", "near", "berlin", "."),
         ("B-PER", "I-PER", "O", "O", "B-LOC", "O")),
        (("peter", "smith", "met", "google", "in", "london", "."),
         ("B-PER", "I-PER", "O", "B-ORG", "O", "B-LOC", "O"))]


def _sentence(words, tags, split, status="labelled"):
    return Sentence.from_words(list(words), spans=tags_to_spans(tags), split=split, status=status)


def make_project(path, n_train=40, test=True, dev=True):
    """A tiny project: ``n_train`` labelled train sentences (conftest's TINY_DATA), 4 dev, and
    (``test``) 4 labelled plus 1 unlabelled test sentences."""
    items = [_sentence(e.words, e.tags, "train") for e in TINY_DATA[:n_train]]
    if dev:
        items += [_sentence(e.words, e.tags, "dev") for e in TINY_DATA[:4]]
    if test:
        items += [_sentence(w, t, "test") for w, t in TEST]
        items.append(_sentence(("angela", "paul", "said"), ("O", "O", "O"), "test", "unlabelled"))
    with ProjectStore.create(path, labels=LABELS) as s:
        s.import_items(items)
    return path


def tiny_config(model, **kw):
    base = dict(base_model=str(model), epochs=8, batch_size=8, learning_rate=5e-3,
                max_length=64, eval_every="none")
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def finished(tiny_bert, tmp_path_factory):
    """A project with one finished run of the tiny BERT (trained once for this module)."""
    path = make_project(tmp_path_factory.mktemp("eval") / "p.nerproj")
    run_id, event = train_project(path, tiny_config(tiny_bert))
    assert isinstance(event, Finished), event
    return path, run_id


def test_evaluate_run_scores_the_test_split_and_stores_it(finished):
    from nerstudio.core.evaluation import evaluate_run

    path, run_id = finished
    seen = []
    metrics = evaluate_run(path, run_id, "test", on_progress=lambda d, t: seen.append((d, t)))
    assert metrics["split"] == "test" and metrics["sentences"] == 4  # the unlabelled one left out
    assert set(metrics["per_label"]) == {"PER", "ORG", "LOC"}
    assert {k: v["support"] for k, v in metrics["per_label"].items()} == \
        {"PER": 4, "ORG": 2, "LOC": 4}
    for row in [metrics, *metrics["per_label"].values()]:
        assert 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1 and 0 <= row["f1"] <= 1
    assert metrics["f1"] > 0.3  # the tiny model learned something that carries over
    assert seen and seen[-1] == (4, 4)
    with ProjectStore(path) as s:
        run = s.run(run_id)
        assert run["evaluations"]["test"] == json.loads(json.dumps(metrics))
        assert s.runs()[-1]["evaluations"]["test"]["f1"] == metrics["f1"]


def test_scores_match_the_predictor(finished):
    """The stored scores are the saved model's, predicted the way the playground predicts."""
    from nerstudio.core.evaluation import evaluate_run
    from nerstudio.core.inference import Predictor
    from nerstudio.core.iob import repair_iob2
    from nerstudio.core.runs import model_dir
    from nerstudio.core.training.data import entity_metrics

    path, run_id = finished
    with ProjectStore(path) as s:
        folder = model_dir(s, run_id)
    pred = [repair_iob2(p.tags) for p in Predictor(folder).predict_words([w for w, _ in TEST])]
    expected = entity_metrics([list(t) for _, t in TEST], pred)
    got = evaluate_run(path, run_id)
    assert got["f1"] == pytest.approx(expected["f1"])
    assert got["per_label"] == expected["per_label"]


def test_a_second_split_is_kept_beside_the_first(finished):
    from nerstudio.core.evaluation import evaluate_run

    path, run_id = finished
    evaluate_run(path, run_id, "test")
    dev = evaluate_run(path, run_id, "dev")
    with ProjectStore(path) as s:
        stored = s.run(run_id)["evaluations"]
    assert set(stored) == {"test", "dev"} and stored["dev"]["sentences"] == dev["sentences"] == 4


def test_evaluate_refuses_an_unfinished_run_and_an_empty_split(finished, tmp_path):
    from nerstudio.core.evaluation import evaluate_run

    path, run_id = finished
    with pytest.raises(StoreError, match="no labelled sentence"):
        evaluate_run(path, run_id, "unassigned")
    with ProjectStore(path) as s:
        failed = s.create_run("tiny", {}, ["O"])
        s.update_run(failed, status="failed")
        before = s.run(run_id)["evaluations"]
    with pytest.raises(StoreError, match="no final model"):
        evaluate_run(path, failed)
    with ProjectStore(path) as s:
        assert s.run(failed)["evaluations"] == {} and s.run(run_id)["evaluations"] == before


def test_store_round_trip_and_old_files(tmp_path):
    """m004 adds ``runs.evaluations``; a run without one reads as {}; unknown runs/splits are
    refused."""
    path = make_project(tmp_path / "p.nerproj", n_train=2, test=False, dev=False)
    with ProjectStore(path) as s:
        run_id = s.create_run("tiny", {}, ["O"])
        assert s.run(run_id)["evaluations"] == {}
        s.set_run_evaluation(run_id, "test", {"f1": 0.5})
        s.set_run_evaluation(run_id, "test", {"f1": 0.75})  # replaced
        assert s.run(run_id)["evaluations"] == {"test": {"f1": 0.75}}
        with pytest.raises(StoreError):
            s.set_run_evaluation(run_id + 1, "test", {})
        with pytest.raises(StoreError):
            s.set_run_evaluation(run_id, "holdout", {})
    con = sqlite3.connect(path)
    cols = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
    con.close()
    assert "evaluations" in cols


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_evaluate_prints_a_per_label_table(finished, capsys):
    from nerstudio.cli import main as cli_main  # the real door: cli.main

    path, run_id = finished
    assert cli_main(["evaluate", str(path), "--run", str(run_id), "--split", "test"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"run {run_id} on test: 4 sentences, F1 ")
    assert lines[1].split() == ["label", "precision", "recall", "f1", "support"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert set(rows) == {"LOC", "ORG", "PER", "micro"}
    assert rows["PER"][3] == "4" and rows["micro"][-1] == "10"

    assert cli_main(["evaluate", str(path), "--run", str(run_id), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["run"] == run_id and data["split"] == "test"
    assert set(data["per_label"]) == {"PER", "ORG", "LOC"}
    with ProjectStore(path) as s:
        assert s.run(run_id)["evaluations"]["test"]["f1"] == data["f1"]


def test_cli_evaluate_errors_are_one_line(finished, capsys):
    from nerstudio.cli import main as cli_main  # the real door: cli.main

    path, run_id = finished
    assert cli_main(["evaluate", str(path), "--run", "999"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nerstudio: error:") and "no run 999" in err
    assert len(err.splitlines()) == 1
    with pytest.raises(SystemExit):  # argparse: --run is required
        cli_main(["evaluate", str(path)])


def test_evaluate_and_train_curve_as_commands(finished, tiny_bert, tmp_path):
    """`nerstudio evaluate` and `nerstudio train-curve` as a user runs them: subprocesses."""
    import subprocess
    import sys

    path, run_id = finished
    out = subprocess.run([sys.executable, "-m", "nerstudio", "evaluate", str(path), "--run",
                          str(run_id), "--split", "test", "--json"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    scores = json.loads(out.stdout)
    assert 0.0 <= scores["f1"] <= 1.0 and "per_label" in scores and not out.stderr.strip()
    curve = subprocess.run([sys.executable, "-m", "nerstudio", "train-curve", str(path),
                            "--fractions", "0.5,1", "--base-model", str(tiny_bert), "--epochs", "2",
                            "--lr", "5e-3", "--batch-size", "8", "--max-length", "64", "--json"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert curve.returncode == 0, curve.stderr
    points = json.loads(curve.stdout)
    points = points["points"] if isinstance(points, dict) else points
    assert [p["fraction"] for p in points] == [0.5, 1.0]
    assert points[0]["n_train"] < points[1]["n_train"] == 40


def test_the_model_card_gets_the_test_scores(finished):
    from nerstudio.core.evaluation import evaluate_run
    from nerstudio.core.runs import model_dir

    path, run_id = finished
    metrics = evaluate_run(path, run_id, "test")
    with ProjectStore(path) as store:
        card = (model_dir(store, run_id) / "README.md").read_text(encoding="utf-8")
    assert "Test scores" in card or "test f1" in card.lower(), card[:2000]
    assert f"{metrics['f1']:.4f}" in card


def test_runs_lists_scores_duration_and_the_active_run(finished):
    import subprocess
    import sys

    path, run_id = finished
    with ProjectStore(path) as store:
        store.set_meta("active_run", run_id)
    out = subprocess.run([sys.executable, "-m", "nerstudio", "runs", str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()[:2]
    for column in ("run", "status", "dev F1", "test F1", "duration", "active", "base model"):
        assert column in header
    assert row.split()[0] == str(run_id) and "finished" in row and "*" in row and "min" in row
    listed = json.loads(subprocess.run([sys.executable, "-m", "nerstudio", "runs", str(path),
                                        "--json"], capture_output=True, text=True).stdout)
    assert listed[0]["active"] is True and listed[0]["duration_s"] > 0
