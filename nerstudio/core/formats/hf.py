"""Hugging Face ``datasets``: a DatasetDict saved with ``save_to_disk`` (or, only when asked, a hub
name) with ``tokens`` and ``ner_tags`` (a Sequence of ClassLabel) and, from nerstudio, a ``status``
string column. A dataset without ``ner_tags`` imports unlabelled. ``datasets`` is imported lazily."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import ImportFormatError
from ..iob import spans_to_tags
from ..store import ProjectStore
from ._io import record_status, tagged_sentences
from .safety import atomic_folder

_SPLITS = {"train": "train", "validation": "dev", "valid": "dev", "dev": "dev", "test": "test"}


def _load(source: str, hub: bool):
    """A saved DatasetDict folder; a hub dataset only when ``hub`` (never a guess from a path)."""
    if not hub and not Path(source).exists():
        raise ImportFormatError("no such file or folder", source)
    import datasets

    from ..quiet import quiet_loaded

    quiet_loaded()

    try:
        if not hub:
            data = datasets.load_from_disk(source)
        else:
            data = datasets.load_dataset(source)
    except Exception as exc:  # datasets raises many types: FileNotFoundError, ConnectionError...
        raise ImportFormatError(f"cannot load Hugging Face dataset: {exc}", source) from exc
    if isinstance(data, datasets.Dataset):
        data = datasets.DatasetDict({"train": data})
    return data


def _tag_names(ds, where: str) -> list[str]:
    feature = ds.features.get("ner_tags")
    inner = getattr(feature, "feature", None)
    names = getattr(inner, "names", None)
    if "tokens" not in ds.features:
        raise ImportFormatError("dataset needs a 'tokens' column (and 'ner_tags')", where)
    return names  # None when the tags are strings (or absent)


def read_hf(source: str | Path, scheme: str = "auto", split: str | None = None,
            hub: bool = False, report=None) -> Iterator:
    source = str(source)
    data = _load(source, hub)

    def records():
        for name, ds in data.items():
            where = f"{source}[{name}]"
            names = _tag_names(ds, where)
            for i, row in enumerate(ds, 1):
                tokens, tags = row["tokens"], row.get("ner_tags")
                if tags is not None and len(tokens) != len(tags):
                    raise ImportFormatError(f"{len(tokens)} tokens but {len(tags)} tags", where,
                                            i, "record")
                if not tokens:
                    continue
                if names is not None and tags is not None:
                    tags = [names[t] for t in tags]
                yield i, tokens, tags, {"split": split or _SPLITS.get(name, "unassigned"),
                                        **record_status(row.get("status"), where, i, "record")}

    return tagged_sentences(records(), Path(source), scheme, "record", report)


def write_hf(store: ProjectStore, path: str | Path, split: str | None = None) -> int:
    """A DatasetDict (train / validation / test, plus unassigned if any) with ClassLabel tags,
    ready for ``datasets.load_from_disk`` and the transformers token-classification recipe."""
    import datasets

    from ..quiet import quiet_loaded

    quiet_loaded()

    tag_list = store.label_set().tags()
    ids = {t: i for i, t in enumerate(tag_list)}
    features = datasets.Features({
        "id": datasets.Value("string"),
        "tokens": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=tag_list)),
        "status": datasets.Value("string"),
    })
    names = {"train": "train", "dev": "validation", "test": "test", "unassigned": "unassigned"}
    parts, n = {}, 0
    for ours, theirs in names.items():
        if split and ours != split:
            continue
        rows = {"id": [], "tokens": [], "ner_tags": [], "status": []}
        for s in store.iter_sentences(split=ours):
            rows["id"].append(str(s.id))
            rows["tokens"].append(s.words)
            rows["ner_tags"].append([ids[t] for t in spans_to_tags(s.spans, len(s.tokens))])
            rows["status"].append(s.status)
        if rows["id"]:  # datasets cannot load back an empty split
            parts[theirs] = datasets.Dataset.from_dict(rows, features=features)
            n += len(rows["id"])
    with atomic_folder(path) as folder:  # replaces an old export whole, never writes beside it
        datasets.DatasetDict(parts).save_to_disk(str(folder))
    return n
