"""Hugging Face ``datasets``: a DatasetDict saved with ``save_to_disk`` (or, only when asked, a hub
name) with ``tokens`` and ``ner_tags`` (a Sequence of ClassLabel) and, from nerstudio, a ``status``
string column. A dataset without ``ner_tags`` imports unlabelled. ``datasets`` is imported lazily.

A saved folder is checked before ``datasets`` reads it (:func:`check_saved_folder`): its
``state.json`` names the Arrow files to read, and ``datasets`` follows ``../x.arrow``, absolute
paths and repeats as given (1.65 million sentences read from a 388-sentence folder)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..errors import ImportFormatError
from ..iob import spans_to_tags
from ..store import ProjectStore
from ._io import json_loads, record_status, tagged_sentences
from .safety import atomic_folder

_SPLITS = {"train": "train", "validation": "dev", "valid": "dev", "dev": "dev", "test": "test"}


def _load(source: str, hub: bool):
    """A saved DatasetDict folder; a hub dataset only when ``hub`` (never a guess from a path)."""
    if not hub and not Path(source).exists():
        raise ImportFormatError("no such file or folder", source)
    import datasets

    from ..quiet import quiet_loaded

    quiet_loaded()

    if not hub:
        check_saved_folder(Path(source))
    try:
        if not hub:
            data = datasets.load_from_disk(source)
        else:
            data = datasets.load_dataset(source)
    except Exception as exc:  # datasets raises many types: FileNotFoundError, ConnectionError...
        raise ImportFormatError(f"cannot load Hugging Face dataset: {exc}", source) from exc
    if isinstance(data, datasets.Dataset):
        data = datasets.DatasetDict({"train": data})
    return datasets.DatasetDict({k: ds.with_format(None) for k, ds in data.items()})


def check_saved_folder(folder: Path) -> None:
    """Refuse (one line, naming the file) a ``save_to_disk`` folder whose ``dataset_dict.json``
    names a split outside it, or whose ``state.json`` lists a data file outside its folder, the
    same file twice, or a format other than plain rows (None / arrow). A folder without either
    file is left for ``datasets`` to explain."""
    if not folder.is_dir():
        return
    listing = folder / "dataset_dict.json"
    if listing.is_file():
        splits = _json_file(listing).get("splits")
        if not isinstance(splits, list) or not all(isinstance(k, str) for k in splits):
            raise ImportFormatError("'splits' must be a list of split names", listing)
        for k in splits:
            if not _plain_name(k) or splits.count(k) > 1:
                raise ImportFormatError(f"split {k!r} is not a folder inside the dataset "
                                        "(or is listed twice)", listing)
            _check_state(folder / k)
    elif (folder / "state.json").is_file():
        _check_state(folder)


def _check_state(folder: Path) -> None:
    state_path = folder / "state.json"
    if not state_path.is_file():
        return  # datasets says which file is missing
    state = _json_file(state_path)
    files = state.get("_data_files")
    if not isinstance(files, list) or not all(
            isinstance(f, dict) and isinstance(f.get("filename"), str) for f in files):
        raise ImportFormatError("'_data_files' must be a list of {filename} objects", state_path)
    seen, inside = set(), folder.resolve()
    for f in files:
        name = f["filename"]
        target = (folder / name).resolve()
        if not _plain_path(name) or not target.is_relative_to(inside):
            raise ImportFormatError(f"lists a data file outside its folder: {name!r}", state_path)
        if target in seen:
            raise ImportFormatError(f"lists the data file {name!r} more than once", state_path)
        seen.add(target)
    if state.get("_format_type") not in (None, "arrow"):
        raise ImportFormatError(f"format {state.get('_format_type')!r} is not supported (a "
                                "dataset saved with plain rows: None or arrow)", state_path)


def _json_file(path: Path) -> dict:
    try:
        data = json_loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"not valid JSON: {exc}", path) from exc
    if not isinstance(data, dict):
        raise ImportFormatError("expected a JSON object", path)
    return data


def _plain_path(name: str) -> bool:
    """A relative path that stays below its folder: no drive, root or ``..``."""
    return bool(name) and not any(p.is_absolute() or p.drive or p.root or ".." in p.parts
                                  for p in (PurePosixPath(name), PureWindowsPath(name)))


def _plain_name(name: str) -> bool:
    return _plain_path(name) and len(PurePosixPath(name).parts) == 1 and "\\" not in name \
        and name not in (".", "")


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
