"""Hyperparameters have one source of truth: TrainConfig's field metadata feeds the CLI options
and the Train view's form (help text, default, range)."""
import subprocess
import sys
from dataclasses import fields

import pytest

from nerstudio.cli import build_parser
from nerstudio.core.training.config import TrainConfig


def _train_options():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return {a.dest: a for a in sub.choices["train"]._actions}


def test_every_field_is_a_cli_option_with_its_help_and_default():
    options = _train_options()
    for f in fields(TrainConfig):
        action = options[f.name]
        assert f.metadata["help"].replace("%", "%%") in action.help
        assert action.default == f.default
        shown = "auto" if f.default is None else f.default
        assert f"(default: {shown})" in action.help


def test_cli_values_reach_the_config_and_auto_stays_auto(tmp_path):
    from nerstudio.cli_common import config_from_args as _config_from_args

    parser = build_parser()
    a = parser.parse_args(["train", "p.nerproj", "--lr", "3e-5", "--no-keep-best",
                           "--early-stopping-patience", "0"])
    config = _config_from_args(a)
    assert config.learning_rate == 3e-5 and config.keep_best is False
    assert config.early_stopping_patience == 0
    assert config.batch_size is None and config.epochs is None  # auto


def test_help_prints_percent_signs_once():
    out = subprocess.run([sys.executable, "-m", "nerstudio", "train", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "%%" not in out.stdout and "10 %" in out.stdout


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_train_view_form_uses_the_same_help_and_ranges(qtbot):
    pytest.importorskip("PySide6")
    from nerstudio.ui.train_view import TRAIN_KNOBS, TrainView

    class Host:  # the view needs only a parent window with a session attribute
        session = None
        store = None

    view = TrainView(Host())
    qtbot.addWidget(view)
    for name, widget in (("learning_rate", view.lr), ("batch_size", view.batch),
                         ("epochs", view.epochs), ("weight_decay", view.wd),
                         ("early_stopping_patience", view.patience)):
        m = TRAIN_KNOBS[name].metadata
        assert widget.toolTip() == m["help"]
        assert widget.maximum() == m["hi"]
        if TRAIN_KNOBS[name].default is None:
            assert widget.value() == widget.minimum() and widget.text() == "auto"
        else:
            assert widget.value() == TRAIN_KNOBS[name].default
    if getattr(view, "_warm", None) is not None:
        view._warm.wait(60000)  # the view's start-up worker (imports torch) ends before the test


def test_the_train_form_is_generated_from_the_metadata_and_reads_back(qtbot):
    """Issue #26 item 5: every ``form`` field is a row labelled from its metadata, and the
    config the Train button starts holds what the form shows (nothing mapped by hand)."""
    pytest.importorskip("PySide6")
    from PySide6.QtWidgets import QComboBox, QLabel

    from nerstudio.ui.train_view import TrainView

    class Host:
        session = None
        store = None

    view = TrainView(Host())
    qtbot.addWidget(view)
    form_fields = [f for f in fields(TrainConfig) if f.metadata.get("form")]
    assert list(view.knobs) == [f.name for f in form_fields]
    labels = {w.text() for w in view.findChildren(QLabel)}
    assert {f.metadata["label"] for f in form_fields} <= labels
    expected = {}
    for f in form_fields:
        w, m = view.knobs[f.name], f.metadata
        if isinstance(w, QComboBox):
            value = (m["choices"] or m["suggestions"])[-1]
            w.setCurrentText(value)
        else:
            value = w.maximum()  # a value no default has
            w.setValue(value)
        expected[f.name] = value
    config = view.config()
    for name, value in expected.items():
        assert getattr(config, name) == pytest.approx(value) if not isinstance(value, str) \
            else getattr(config, name) == value, name
    if getattr(view, "_warm", None) is not None:
        view._warm.wait(60000)


def test_validate_takes_choices_and_ranges_from_the_metadata():
    """Issue #26 item 5: validate() names any field outside its metadata's choices or range."""
    base = TrainConfig(epochs=3, batch_size=8, learning_rate=1e-4, warmup_ratio=0.0,
                       early_stopping_patience=0)
    assert base.validate() == []
    from dataclasses import replace
    for f in fields(TrainConfig):
        m = f.metadata
        if m["choices"]:
            bad = "no-such-choice"
        elif m["hi"] is not None and m["kind"] in (int, float) and f.name != "epochs":
            bad = m["kind"](m["hi"] * 2 + 1)
        else:
            continue
        problems = replace(base, **{f.name: bad}).validate()
        assert any(f.name.replace("_", " ") in p for p in problems), (f.name, problems)
