"""Int8 prediction on CPU: the model exported to ONNX once and quantized with ONNX Runtime.

Why: most people label on a laptop without an NVIDIA GPU, where the paste, pre-annotation and
the active-order refresh spend their time in the encoder's matrix products (issue #28 item 3).
ONNX Runtime's dynamic int8 quantization (weights int8 per channel, activations quantized on
the fly) runs those products in int8 on any x86/ARM CPU. Optimum would wrap the same two steps,
but its ONNX exporter pins transformers < 4.58; so the export is torch's own
(``torch.onnx.export``) and the quantization ``onnxruntime.quantization.quantize_dynamic``
(not ``torch.ao``'s eager ``quantize_dynamic``, which is leaving PyTorch).

The int8 file is built once per model, at its first prediction, and kept: in a run's model
folder (``int8/model.onnx``) when writable, else in the user's cache (a folder nerstudio did
not make is never written into). A file is used only when its ``source.json`` matches the weights it was made
from (size and modification time), so a retrained or replaced model is never predicted with a
stale export. Activations are quantized per batch (one scale per tensor), so a sentence's
probabilities move slightly (about 1e-4) with the sentences batched with it; the tags rarely.
A model that cannot be exported is remembered (``failed.json``) and predicted in
fp32, as it was before. Only ONNX graphs are read here: nothing is unpickled.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from .training.checkpoints import WEIGHTS

FOLDER = "int8"


def available() -> bool:
    """Whether ONNX Runtime (and onnx, for the quantizer) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def source_of(model_dir: Path) -> dict:
    """What the int8 file must have been made from: the weights' size and modification time."""
    for name in WEIGHTS:
        path = model_dir / name
        if path.is_file():
            st = path.stat()
            return {"weights": name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return {}


def cache_folder(model_dir: Path) -> Path:
    """Where the int8 file of ``model_dir`` lives: inside a run's model folder (nerstudio wrote
    it: ``nerstudio.json``) when writable; for any other folder (a downloaded model, a base
    model) in the user cache (XDG_CACHE_HOME or ~/.cache), keyed by the folder's path, so a
    folder nerstudio did not make is never written into."""
    import hashlib

    if (model_dir / "nerstudio.json").is_file() and os.access(model_dir, os.W_OK):
        return model_dir / FOLDER
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha1(str(model_dir.resolve()).encode()).hexdigest()[:16]
    return base / "nerstudio" / FOLDER / key


def cached(model_dir: Path) -> Path | None:
    """The int8 file of ``model_dir`` when one was built from its current weights."""
    folder = cache_folder(model_dir)
    try:
        made_from = json.loads((folder / "source.json").read_text())
    except (OSError, ValueError):
        return None
    source = source_of(model_dir)
    return folder / "model.onnx" if source and made_from == source else None


def failed_before(model_dir: Path) -> bool:
    """Whether exporting these very weights failed before (then fp32, without trying again)."""
    try:
        made_from = json.loads((cache_folder(model_dir) / "failed.json").read_text())
    except (OSError, ValueError):
        return False
    return made_from.get("source") == source_of(model_dir)


def build(model_dir: str | Path, model=None) -> Path | None:
    """Export and quantize ``model_dir`` (its loaded torch ``model`` may be passed) unless done
    already; the int8 file, or None when this model cannot be exported (remembered). Written
    to a temporary folder and moved in whole: a killed build leaves no half file."""
    model_dir = Path(model_dir)
    done = cached(model_dir)
    if done is not None or not available() or failed_before(model_dir):
        return done
    source = source_of(model_dir)
    if not source:
        return None
    folder = cache_folder(model_dir)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".int8-", dir=folder.parent))
    try:
        _export_quantized(model_dir, model, work)
        (work / "source.json").write_text(json.dumps(source))
        _replace_folder(work, folder)
    except Exception as exc:  # noqa: BLE001 - any exporter failure means: predict in fp32
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "failed.json").write_text(json.dumps({"source": source,
                                                        "error": str(exc)[:500]}))
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)  # gone already when it was moved in
    return folder / "model.onnx"


def _replace_folder(new: Path, folder: Path) -> None:
    """Put ``new`` in place of ``folder`` (a rename; the old one, if any, removed first)."""
    old = None
    if folder.exists():
        old = folder.with_name(f".old-{folder.name}-{os.getpid()}")
        os.replace(folder, old)
    os.replace(new, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _export_quantized(model_dir: Path, model, work: Path) -> None:
    """fp32 ONNX (torch's TorchScript exporter: dynamic batch and length), then int8."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if model is None:
        from transformers import AutoModelForTokenClassification

        model = AutoModelForTokenClassification.from_pretrained(
            model_dir, use_safetensors=True, trust_remote_code=False)
    model = model.to("cpu").eval()
    ids = torch.ones((2, 8), dtype=torch.long)
    dims = {0: "batch", 1: "length"}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, torch.ones_like(ids)), str(work / "fp32.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": dims, "attention_mask": dims,
                                        "logits": dims},
                          opset_version=17, dynamo=False)
    root = logging.getLogger()  # the quantizer logs a pre-processing hint at WARNING
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(work / "fp32.onnx", work / "model.onnx", weight_type=QuantType.QInt8,
                         per_channel=True)
    finally:
        root.setLevel(level)
    (work / "fp32.onnx").unlink()


class Int8Logits:
    """The int8 model as a function of (input_ids, attention_mask) -> logits (torch tensors in
    and out, so the Predictor's batching and windows stay as they are)."""

    def __init__(self, path: Path, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])

    def __call__(self, ids, mask):
        import torch

        out = self.session.run(["logits"], {"input_ids": ids.numpy(),
                                            "attention_mask": mask.numpy()})[0]
        return torch.from_numpy(out)
