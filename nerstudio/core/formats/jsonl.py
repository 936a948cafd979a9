"""JSON / JSONL records with ``tokens`` and ``ner_tags``: string tags, or integer ids with a label
list (given, or a sidecar ``<name>.labels.json`` / ``labels.json`` beside the file). An optional
``status`` field keeps unlabelled sentences unlabelled; a record without tags is unlabelled."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ..domain import SPLITS
from ..errors import ImportFormatError
from ..iob import spans_to_tags
from ..store import ProjectStore
from ._io import json_loads, read_lines, record_status, split_from_name, tagged_sentences
from .safety import atomic_file

_SPLIT_ALIASES = {"validation": "dev", "valid": "dev", "val": "dev"}


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name.split(".")[0] + ".labels.json")


def _find_label_list(path: Path) -> list[str] | None:
    for candidate in (sidecar_path(path), path.with_name("labels.json")):
        if candidate.exists():
            try:
                names = json_loads(candidate.read_text(encoding="utf-8-sig"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ImportFormatError(f"label list is not valid JSON: {exc}", candidate) from exc
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ImportFormatError("label list must be a JSON list of tag strings", candidate)
            return names
    return None


def read_json_records(path: str | Path, tag_names: list[str] | None = None, scheme: str = "auto",
                      split: str | None = None, report=None) -> Iterator:
    path = Path(path)
    tag_names = tag_names or _find_label_list(path)
    default_split = split or split_from_name(path)
    jsonl = not _is_json_array(path)
    unit = "line" if jsonl else "record"

    def records():
        objects = _jsonl_objects(path) if jsonl else _json_objects(path)
        for where, obj in objects:
            yield _record(obj, where, path, unit, tag_names, split, default_split)

    return tagged_sentences(records(), path, scheme, unit, report)


def _is_json_array(path: Path) -> bool:
    for _n, line in read_lines(path):
        if line.strip():
            return line.lstrip().startswith("[")
    raise ImportFormatError("empty file: no records", path)


def _jsonl_objects(path: Path):
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            yield number, json_loads(line)
        except ValueError as exc:
            shown = repr(line if len(line) <= 60 else line[:60] + "…")  # invisible chars escaped
            raise ImportFormatError(f"not valid JSON: {exc} in {shown}", path, number) from exc


def _json_objects(path: Path):
    text = "\n".join(line for _n, line in read_lines(path))
    try:
        data = json_loads(text)
    except ValueError as exc:
        raise ImportFormatError(f"not valid JSON: {exc}", path, getattr(exc, "lineno", None)) from exc
    if not isinstance(data, list):
        raise ImportFormatError("expected a JSON list of records", path)
    yield from enumerate(data, 1)


def _record(obj, where, path, unit, tag_names, split, default_split):
    if not isinstance(obj, dict):
        raise ImportFormatError("a record must be a JSON object", path, where, unit)
    tokens, tags = obj.get("tokens"), obj.get("ner_tags", obj.get("tags"))
    untagged = tags is None and "ner_tags" not in obj and "tags" not in obj
    if untagged and isinstance(tokens, list):
        tags = ["O"] * len(tokens)  # checked like any record, imported without tags
    if not isinstance(tokens, list) or not isinstance(tags, list):
        raise ImportFormatError("a record needs 'tokens' and 'ner_tags' lists", path, where, unit)
    if len(tokens) != len(tags):
        raise ImportFormatError(f"{len(tokens)} tokens but {len(tags)} tags", path, where, unit)
    if not tokens:
        raise ImportFormatError("a record has no tokens", path, where, unit)
    for t in tokens:
        if not isinstance(t, str) or not t or any(c.isspace() for c in t):
            raise ImportFormatError(f"token {t!r} must be a non-empty string without spaces",
                                    path, where, unit)
    tags = [_tag(t, tag_names, path, where, unit) for t in tags]
    record_split = obj.get("split")
    record_split = _SPLIT_ALIASES.get(record_split, record_split)
    if record_split is not None and record_split not in SPLITS:
        raise ImportFormatError(f"unknown split {record_split!r}", path, where, unit)
    fields = {"split": split or record_split or default_split,
              **record_status(obj.get("status"), path, where, unit)}
    return where, tokens, None if untagged else tags, fields


def _tag(tag, names, path, where, unit) -> str:
    if isinstance(tag, bool) or not isinstance(tag, (int, str)):
        raise ImportFormatError(f"tag {tag!r} must be a string or an integer id", path, where, unit)
    if isinstance(tag, str):
        return tag
    if names is None:
        raise ImportFormatError("integer tags need a label list (--labels or a "
                                f"{sidecar_path(Path(path)).name} file)", path, where, unit)
    if not 0 <= tag < len(names):
        raise ImportFormatError(f"tag id {tag} is outside the label list of {len(names)}",
                                path, where, unit)
    return names[tag]


def write_jsonl(store: ProjectStore, path: str | Path, split: str | None = None) -> int:
    """JSONL with integer ``ner_tags``, the sentence's ``status``, and the label list in
    ``<name>.labels.json`` beside it (each file written atomically)."""
    path = Path(path)
    tag_list = store.label_set().tags()
    ids = {t: i for i, t in enumerate(tag_list)}
    n = 0
    with atomic_file(path) as f:
        for s in store.iter_sentences(split=split):
            tags = spans_to_tags(s.spans, len(s.tokens))
            f.write(json.dumps({"id": s.id, "tokens": s.words, "ner_tags": [ids[t] for t in tags],
                                "split": s.split, "status": s.status}, ensure_ascii=False) + "\n")
            n += 1
    with atomic_file(sidecar_path(path)) as f:
        f.write(json.dumps(tag_list) + "\n")
    return n
