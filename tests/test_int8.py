"""Int8 prediction on CPU (issue #28 item 3): the model's ONNX export, quantized by ONNX Runtime,
built once, kept beside the weights it was made from, and never used when it is stale."""
import os
import shutil
import stat

import pytest

pytest.importorskip("onnxruntime")

from nerstudio.core import int8  # noqa: E402
from nerstudio.core.errors import NerStudioError  # noqa: E402
from nerstudio.core.inference import Predictor  # noqa: E402
from tests.conftest import TINY_DATA  # noqa: E402


@pytest.fixture
def model(trained, tmp_path):
    """A private copy of the trained tiny BERT (the int8 file is written into its folder)."""
    folder = tmp_path / "model"
    shutil.copytree(trained, folder, ignore=shutil.ignore_patterns(int8.FOLDER))
    return folder


def agreement(a, b) -> float:
    pairs = [(x, y) for p, q in zip(a, b) for x, y in zip(p.tags, q.tags)]
    return sum(x == y for x, y in pairs) / len(pairs)


def test_a_cpu_predicts_with_the_int8_model_and_agrees_with_fp32(model):
    words = [e.words for e in TINY_DATA]
    fast, exact = Predictor(model), Predictor(model, precision="fp32")
    assert fast.int8 and not exact.int8
    assert (model / "int8" / "model.onnx").is_file()
    assert agreement(fast.predict_words(words), exact.predict_words(words)) >= 0.95
    # and it is really the int8 graph that ran: its probabilities are not fp32's to the bit
    p8 = fast.predict_words(words[:4])[0].probs
    p32 = exact.predict_words(words[:4])[0].probs
    assert p8 != p32


def test_the_int8_file_is_built_once_and_rebuilt_when_the_weights_change(model):
    Predictor(model).load()
    onnx = model / "int8" / "model.onnx"
    first = onnx.stat().st_mtime_ns
    Predictor(model).load()
    assert onnx.stat().st_mtime_ns == first  # kept, not rebuilt
    weights = model / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert int8.cached(model) is None  # stale: made from other weights
    assert Predictor(model).int8
    assert int8.cached(model) == onnx and onnx.stat().st_mtime_ns != first


def test_a_read_only_model_folder_keeps_its_int8_file_in_the_user_cache(model, tmp_path,
                                                                         monkeypatch):
    if os.geteuid() == 0:
        monkeypatch.setattr(int8.os, "access", lambda p, mode: False)  # root writes anyway
    else:
        model.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:
        assert Predictor(model).int8
        assert not (model / "int8").exists()
        assert list((tmp_path / "cache" / "nerstudio" / "int8").glob("*/model.onnx"))
    finally:
        model.chmod(stat.S_IRWXU)


def test_a_model_that_cannot_be_exported_predicts_in_fp32_and_is_not_retried(model,
                                                                            monkeypatch):
    calls = []

    def broken(*args):
        calls.append(args)
        raise RuntimeError("this architecture cannot be exported")

    monkeypatch.setattr(int8, "_export_quantized", broken)
    words = [e.words for e in TINY_DATA[:8]]
    auto = Predictor(model)
    assert not auto.int8
    assert [p.tags for p in auto.predict_words(words)] == \
        [p.tags for p in Predictor(model, precision="fp32").predict_words(words)]
    assert not auto.int8 and len(calls) == 1
    Predictor(model).load()
    assert len(calls) == 1  # remembered
    assert not (model / "int8" / "model.onnx").exists()
    assert not [p for p in model.iterdir() if p.name.startswith(".int8-")]  # no half build
    with pytest.raises(NerStudioError, match="could not be exported to int8"):
        Predictor(model, precision="int8").load()


def test_a_killed_build_leaves_no_half_file(model, monkeypatch):
    """The quantizer dies half-way (as under kill -9, the temporary folder is what is left):
    the model folder never holds a partial int8 file that a later run would load."""
    real = int8._export_quantized

    def dies(model_dir, loaded, work):
        real(model_dir, loaded, work)
        (work / "model.onnx").write_bytes(b"half")
        raise KeyboardInterrupt  # not an exporter error: nothing is remembered as failed

    monkeypatch.setattr(int8, "_export_quantized", dies)
    with pytest.raises(KeyboardInterrupt):
        int8.build(model)
    assert int8.cached(model) is None and not (model / "int8" / "model.onnx").exists()
    monkeypatch.setattr(int8, "_export_quantized", real)
    assert Predictor(model).int8  # the next use builds it whole


def test_the_review_and_the_run_scores_stay_fp32(model):
    """MC-dropout passes need the torch model (an exported graph has no dropout)."""
    words = [e.words for e in TINY_DATA[:6]]
    predictor = Predictor(model)
    assert predictor.int8
    a = predictor.predict_words(words, dropout_passes=2, seed=1)
    b = Predictor(model, precision="fp32").predict_words(words, dropout_passes=2, seed=1)
    assert [p.probs for p in a] == [p.probs for p in b]


def test_the_commands_predict_in_int8_unless_told_fp32(model):
    """`nerstudio predict` (and preannotate) take --precision: fp32 builds nothing, the default
    builds the int8 file once and both give the same entities on a clear sentence."""
    import json
    import subprocess
    import sys

    def predict(*extra):
        out = subprocess.run([sys.executable, "-m", "nerstudio", "predict", "--model", str(model),
                              "--format", "json", *extra, "angela merkel visited paris ."],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return [(e["label"], e["start"], e["end"]) for e in map(json.loads,
                                                                out.stdout.splitlines())]

    exact = predict("--precision", "fp32")
    assert not (model / "int8").exists()
    assert predict() == exact and exact
    assert int8.cached(model) is not None


def test_a_folder_nerstudio_did_not_make_is_never_written_into(model, tmp_path, monkeypatch):
    """A downloaded or base model folder (no nerstudio.json): its int8 file goes to the user
    cache, and the folder keeps exactly its files."""
    (model / "nerstudio.json").unlink()
    before = sorted(p.name for p in model.iterdir())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert Predictor(model).int8
    assert sorted(p.name for p in model.iterdir()) == before
    assert list((tmp_path / "cache" / "nerstudio" / "int8").glob("*/model.onnx"))
