"""Issue #17, the way in: quiet libraries, where the demo project lives, the model card."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, env: dict | None = None, timeout: int = 300):
    full_env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT), **(env or {}))
    for key in ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY", "TQDM_DISABLE"):
        full_env.pop(key, None)  # start from a noisy default, as a user's shell would
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=str(ROOT))


# -- quiet libraries --------------------------------------------------------------------------------
def test_quiet_libraries_imports_no_library_and_sets_the_environment():
    out = _python(
        "import os, sys\n"
        "from nerstudio.core.quiet import quiet_libraries\n"
        "quiet_libraries()\n"
        "heavy = [m for m in ('torch', 'transformers', 'huggingface_hub', 'datasets', 'PySide6')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert os.environ['HF_HUB_DISABLE_PROGRESS_BARS'] == '1'\n"
        "assert os.environ['TRANSFORMERS_VERBOSITY'] == 'error'\n"
        "assert os.environ['TOKENIZERS_PARALLELISM'] == 'false'\n"
        "print('ok')\n")
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


PREDICT = ("from nerstudio.core.inference import Predictor\n"
           "p = Predictor({model!r}).load()\n"
           "print(len(p.predict_text('angela merkel visited paris .')) >= 0)\n")


def test_loading_a_model_after_quiet_libraries_prints_nothing(tiny_bert):
    out = _python("from nerstudio.core.quiet import quiet_libraries\nquiet_libraries()\n"
                  + PREDICT.format(model=str(tiny_bert)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "True"
    assert out.stderr == ""


def test_quiet_libraries_after_the_libraries_are_imported(tiny_bert):
    """Someone imported transformers first: the switches still reach it."""
    out = _python("import transformers, huggingface_hub\n"
                  "from nerstudio.core.quiet import quiet_libraries\nquiet_libraries()\n"
                  + PREDICT.format(model=str(tiny_bert)))
    assert out.returncode == 0 and out.stderr == "", out.stderr[-2000:]


def test_verbose_lets_the_libraries_speak(tiny_bert):
    """The same load with verbose=True shows the library's progress bar: the quiet test above
    is not quiet by accident; and quiet_loaded() (what training/inference call) keeps it."""
    out = _python("from nerstudio.core.quiet import quiet_libraries, quiet_loaded\n"
                  "quiet_libraries(verbose=True)\n"
                  "import transformers\nquiet_loaded()\n"
                  + PREDICT.format(model=str(tiny_bert)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Loading weights" in out.stderr or "it/s]" in out.stderr  # a tqdm bar


# -- the demo project: in the app-data folder, named in the offer and the title ---------------------
def test_demo_offer_names_its_app_data_path(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QLabel, QMessageBox

    from nerstudio.ui.app import create_window

    home, xdg = tmp_path / "home", tmp_path / "xdg-data"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    asked = []

    def question(parent, title, text, *a, **k):
        asked.append(text)
        return QMessageBox.Yes

    monkeypatch.setattr(QMessageBox, "question", question)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    w = create_window(None, settings=settings)
    qtbot.addWidget(w)
    expected = xdg / "nerstudio" / "demo.nerproj"
    assert len(asked) == 1 and str(expected) in asked[0]
    assert w.store is not None and Path(w.store.path) == expected and expected.exists()
    assert w.model.total == 40 and w.store.count(status="labelled") == 20
    assert str(expected) in w.windowTitle()
    assert not (xdg / "nerstudio" / "nerstudio").exists()  # no doubled folder
    # the welcome page (declined offer, or a closed project) names it too
    label = w.findChild(QLabel, "welcome-demo-path")
    assert label is not None and str(expected) in label.text()


def test_demo_falls_back_to_home_local_share(qtbot, tmp_path, monkeypatch):
    from nerstudio.ui.app import demo_path

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("the XDG layout is Linux's")
    assert demo_path() == tmp_path / ".local" / "share" / "nerstudio" / "demo.nerproj"


# -- the model card ---------------------------------------------------------------------------------
PER_LABEL = {"PER": {"precision": 0.9, "recall": 0.8, "f1": 0.847, "support": 10},
             "LOC": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 4},
             'evil"|label\n---': {"precision": 0, "recall": 0, "f1": 0, "support": 1}}


def _front_matter(text: str) -> dict:
    import yaml

    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    data = yaml.safe_load(head)
    assert isinstance(data, dict)
    return data, body


def test_model_card_front_matter_and_sections(tmp_path):
    from nerstudio.core.modelcard import write_model_card

    model = tmp_path / "run-3" / "model"
    model.mkdir(parents=True)
    config = {"learning_rate": 5e-5, "epochs": 3, "batch_size": 16, "base_model": "bert-base-cased",
              "note": "```\n---\nkey: value"}
    path = write_model_card(
        model, base_model="dslim/bert-base-NER", labels=["O", "B-PER", "I-PER", "B-LOC", "I-LOC",
                                                       'B-evil"|label\n---'],
        data_sizes={"train": 900, "dev": 100, "test": 120},
        dev_metrics={"precision": 0.93, "recall": 0.7, "f1": 0.8, "accuracy": 0.97,
                     "loss": 0.1, "per_label": PER_LABEL},
        test_metrics={"test_precision": 0.9, "test_recall": 0.6, "test_f1": 0.72,
                      "per_label": PER_LABEL},
        config=config, name="news: v1 \"final\"")
    assert path == model / "README.md"
    text = path.read_text(encoding="utf-8")
    meta, body = _front_matter(text)
    assert meta["library_name"] == "transformers"
    assert meta["pipeline_tag"] == "token-classification"
    assert {"nerstudio", "ner"} <= set(meta["tags"])
    assert meta["base_model"] == "dslim/bert-base-NER"
    results = meta["model-index"][0]["results"]
    assert meta["model-index"][0]["name"] == 'news: v1 "final"'
    assert [r["dataset"]["split"] for r in results] == ["dev", "test"]
    scores = {(r["dataset"]["split"], m["type"]): m["value"] for r in results for m in r["metrics"]}
    assert scores[("dev", "f1")] == 0.8 and scores[("test", "f1")] == 0.72
    for section in ("## Base model", "## Labels", "## Data", "## Dev scores", "## Test scores",
                    "## Training configuration", "## How to use"):
        assert section in body, section
    assert 'pipeline("token-classification", model="model"' in body
    assert 'aggregation_strategy="first"' in body
    assert "| PER | 0.9000 | 0.8000 | 0.8470 | 10 |" in body
    assert "| 900 |" in body and "| 120 |" in body
    assert '"learning_rate": 5e-05' in body
    # the hostile label stays on one table row, its pipe escaped; the config cannot end its fence
    evil_row = [l for l in body.splitlines() if "evil" in l and l.startswith("|")]
    assert len(evil_row) == 2 and all("\\|label" in l for l in evil_row)
    assert "````json" in body
    # and the Hub's own parser reads it: metadata and one result per split and metric
    from huggingface_hub import ModelCard

    card = ModelCard.load(path)
    assert card.data.library_name == "transformers" and card.data.base_model == "dslim/bert-base-NER"
    found = {(r.dataset_split, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert found[("dev", "f1")] == 0.8 and found[("test", "recall")] == 0.6


def test_model_card_for_a_local_base_model_without_test_split(tmp_path):
    from nerstudio.core.modelcard import write_model_card

    base = tmp_path / "my-base"
    base.mkdir()
    (tmp_path / "out").mkdir()
    text = write_model_card(tmp_path / "out", base_model=str(base), labels=["PER", "ORG"],
                            data_sizes={"train": 40}, dev_metrics=None, test_metrics=None,
                            config={"base_model": str(base), "data": [str(tmp_path / "x.txt")],
                                    "win": "C:\\Users\\me\\base"}).read_text()
    meta, body = _front_matter(text)
    assert "base_model" not in meta and "model-index" not in meta  # a path is not a hub name
    assert "Not measured (no dev split)" in body and "Not measured (no test split)" in body
    assert str(tmp_path) not in text  # no local path (user names) in a card meant for sharing
    assert "Users" not in text and '"./my-base"' in text and "A local model folder: my-base" in text
    assert str(tmp_path) not in (tmp_path / "out" / "model_card.json").read_text()
    embedded = write_model_card(tmp_path / "out", base_model="embedded", labels=["PER"],
                                data_sizes={}, dev_metrics={"f1": 0.5}, test_metrics=None,
                                config={}).read_text()
    assert "base_model" not in _front_matter(embedded)[0]


def test_yaml_quoting_survives_anything():
    import yaml

    from nerstudio.core.modelcard import yaml_str

    for s in ['a: b', '"quoted"', "back\\slash", "new\nline", "tab\t", "\x00\x1b", "\u2028\ufeff",
              "emoji \U0001F600", "{[&*!|>'%@`", "- item", "", "\ud800"]:
        assert yaml.safe_load(f"k: {yaml_str(s)}")["k"] == s, repr(s)


def test_test_scores_added_to_the_card_after_the_run(tmp_path):
    from nerstudio.core.modelcard import add_test_scores, write_model_card

    write_model_card(tmp_path, base_model="embedded", labels=["O", "B-PER", "I-PER"],
                     data_sizes={"train": 45, "dev": 5}, dev_metrics={"f1": 0.5},
                     test_metrics=None, config={"epochs": 3})
    assert "Not measured (no test split)" in (tmp_path / "README.md").read_text()
    add_test_scores(tmp_path, {"f1": 0.4, "precision": 0.5, "recall": 1 / 3,
                               "per_label": {"PER": {"precision": 0.5, "recall": 1 / 3,
                                                     "f1": 0.4, "support": 3}}}, test_size=6)
    meta, body = _front_matter((tmp_path / "README.md").read_text())
    splits = [r["dataset"]["split"] for r in meta["model-index"][0]["results"]]
    assert splits == ["dev", "test"] and "| test | 6 |" in body and "| PER | 0.5000 |" in body
    assert add_test_scores(tmp_path / "nowhere", {"f1": 1.0}) is None
