"""The session benchmark's annotator (benchmarks/bench_session.py): its plans cost what the app's
gestures cost, and its real Qt events leave exactly the gold spans in the project file."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nerstudio.core.domain import Span

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "conll2003"
sys.path.insert(0, str(ROOT / "benchmarks"))

pytest.importorskip("PySide6")
bench_session = pytest.importorskip("bench_session")
plan = bench_session.plan

PER, ORG, LOC = (lambda s, e, label=label: Span(s, e, label) for label in ("PER", "ORG", "LOC"))


def test_a_right_set_of_suggestions_is_one_key():
    gold = [PER(0, 2), LOC(5, 6)]
    assert plan([], [(PER(0, 2), 0.9), (LOC(5, 6), 0.8)], gold, "PER") == [("A",)]


def test_each_common_fix_is_one_input():
    # a wrongly typed suggestion, with its label active: one click; else Alt+N on it
    assert plan([], [(ORG(0, 2), 0.6)], [PER(0, 2)], "PER") == [("click", 0), ("A",)]
    assert plan([], [(ORG(0, 2), 0.6)], [PER(0, 2)], "LOC") == [("chord", "PER", 0), ("A",)]
    # a wrong guess: a right click, then Enter (no suggestion is left to accept)
    assert plan([], [(ORG(3, 4), 0.5)], [], "PER") == [("rclick", 3), ("Enter",)]
    # a boundary one word short: a drag over the right words hides the suggestion
    assert plan([], [(ORG(0, 1), 0.6)], [ORG(0, 2)], "ORG") == [("drag", 0, 1), ("A",)]


def test_manual_is_a_label_key_and_a_click_or_drag_per_label():
    gold = [PER(0, 2), LOC(5, 6), LOC(7, 8)]
    assert plan([], [], gold, "PER", manual=True) == [
        ("drag", 0, 1), ("key", "LOC"), ("click", 5), ("click", 7), ("Enter",)]


@pytest.mark.skipif(not (DATA / "train.txt").exists(),
                    reason=f"CoNLL-2003 not found at {DATA} (see the README)")
def test_the_annotator_labels_through_the_app(tmp_path):
    """A short manual session as a subprocess: every sentence it labels is read back from the
    file (the script stops when a sentence does not hold the gold spans), and it counts at
    least one input per entity and one Enter per sentence."""
    out = tmp_path / "session.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_session.py"),
                           "--policies", "manual", "--seeds", "5", "--pool", "40",
                           "--max-sentences", "12", "--checkpoints", "", "--json", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (result,) = json.loads(out.read_text())
    assert result["labelled"] == 12
    assert result["kinds"]["Enter"] == 12
    assert result["events"] >= result["entities"] + 12
