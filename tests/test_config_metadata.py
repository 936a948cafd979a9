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
    from nerstudio.cli import _config_from_args

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
