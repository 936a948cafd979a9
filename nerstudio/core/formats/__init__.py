"""Import and export formats. ``read(path)`` streams Sentences (and DocumentStart markers) from any
supported format; :func:`import_file` puts them into a project in one transaction.

A sentence's status survives a round trip: JSON, HF and doccano records carry a ``status`` field
(read back when present), records without tags import unlabelled, and CoNLL (no place for it)
exports only labelled / reviewed sentences unless asked."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .. import openfiles
from ..domain import Sentence
from ..errors import ImportFormatError
from ..store import ProjectStore
from ._io import JSONTooDeep, json_loads, read_lines, strip_token_prefix
from .conll import check_folder_export, is_folder_target, read_conll, write_conll
from .hf import read_hf, write_hf
from .jsonl import read_json_records, sidecar_path, write_jsonl
from .offsets import read_doccano, read_label_studio, read_text, write_doccano
from .prodigy import read_prodigy, write_prodigy
from .report import ImportReport, UndeclaredLabelsError  # noqa: F401  (re-exported)
from .safety import ExportTargetError, check_file_target, check_folder_target, check_not_project
from .spacy import read_spacy, write_spacy  # imports spaCy itself only when used

IMPORT_FORMATS = ("conll", "jsonl", "hf", "doccano", "labelstudio", "text", "spacy", "prodigy")
EXPORT_FORMATS = {"conll": write_conll, "jsonl": write_jsonl, "hf": write_hf,
                  "doccano": write_doccano, "spacy": write_spacy, "prodigy": write_prodigy}
HUB_PREFIX = "hub:"
STATUS_FREE_FORMATS = ("conll",)  # no place for a status: unlabelled sentences are left out


def detect_format(path: str | Path) -> str:
    """Guess a format from the extension, then from the first record or line. A missing path is
    "no such file": a Hugging Face hub name is only ever what the user says it is (``hub:``)."""
    if str(path).startswith(HUB_PREFIX):
        return "hf-hub"
    p = Path(path)
    if p.is_dir():
        return "hf"
    if not p.exists():
        raise ImportFormatError("no such file (a Hugging Face hub dataset is written "
                                f"{HUB_PREFIX}NAME or given with --format hf-hub)", path)
    ext = p.suffix.lower()
    if ext == ".spacy":
        return "spacy"
    if ext in (".conll", ".conllu", ".iob", ".iob2", ".bio", ".tsv"):
        return "conll"
    number, first = next(((n, line) for n, line in read_lines(p) if line.strip()), (0, None))
    if first is None:
        raise ImportFormatError("empty file", path)
    stripped = first.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        return _sniff_json(p, stripped, number)
    fields = first.split()
    if fields[0] == "-DOCSTART-" or (len(fields) >= 2 and _looks_like_tag(fields[-1])):
        return "conll"
    return "text"


def _looks_like_tag(s: str) -> bool:
    return s == "O" or (len(s) > 2 and s[1] == "-" and s[0] in "BIESLU")


def _sniff_json(path: Path, first: str, number: int = 1) -> str:
    try:
        obj = json_loads(first) if first.startswith("{") else None
    except JSONTooDeep as exc:
        raise ImportFormatError(f"not valid JSON: {exc}", path, number) from exc
    except ValueError:
        obj = None
    if obj is None:  # a JSON array: peek at the first record
        try:
            data = json_loads(path.read_text(encoding="utf-8-sig"))
            obj = data[0] if isinstance(data, list) and data else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise ImportFormatError(f"not valid JSON: {exc}", path) from exc
    if not isinstance(obj, dict):
        raise ImportFormatError("records must be JSON objects", path, 1)
    if _is_prodigy(obj):
        return "prodigy"
    if "tokens" in obj and not ("text" in obj and "label" in obj and "ner_tags" not in obj):
        return "jsonl"  # (text, label and tokens: a nerstudio doccano export)
    if "data" in obj and ("annotations" in obj or "predictions" in obj or "id" in obj):
        return "labelstudio"
    if "text" in obj:  # a bare text: doccano's, or a Prodigy task not annotated yet
        return "prodigy" if _later_prodigy(path) else "doccano"
    raise ImportFormatError("unrecognised JSON records: expected tokens/ner_tags, doccano "
                            "text/label or a Label Studio export", path, 1)


def _later_prodigy(path: Path, records: int = 200) -> bool:
    """Whether one of the first ``records`` JSONL records is a Prodigy task (a file of Prodigy
    tasks may start with ones not annotated yet, which look like doccano's)."""
    for n, (_number, line) in enumerate(read_lines(path)):
        if n >= records:
            break
        try:
            obj = json_loads(line) if line.strip() else None
        except ValueError:
            return False
        if isinstance(obj, dict) and ("label" in obj or "labels" in obj or "entities" in obj):
            return False
        if isinstance(obj, dict) and _is_prodigy(obj):
            return True
    return False


def _is_prodigy(obj: dict) -> bool:
    """A Prodigy task: text with an answer, spans, or tokens as objects (not words)."""
    tokens = obj.get("tokens")
    return isinstance(obj.get("text"), str) and (
        "answer" in obj or "spans" in obj
        or (isinstance(tokens, list) and bool(tokens) and isinstance(tokens[0], dict)))


def read(path: str | Path, fmt: str | None = None, *, scheme: str = "auto",
         split: str | None = None, tag_names: list[str] | None = None,
         sentence_split: bool = True, report: ImportReport | None = None,
         strip_prefix: str | None = None) -> Iterator:
    """Stream Sentences (and DocumentStart markers). ``report`` collects what the import will
    add besides sentences (see formats.report); ``strip_prefix`` is removed from every token
    that starts with it (``en:Paris`` -> ``Paris``), text and offsets rebuilt to match.
    An open project file is refused before it is opened: reading it raw would drop this
    process's SQLite locks on it (see ``core/openfiles.py``)."""
    if openfiles.is_open_project(path):
        raise ImportFormatError("is an open nerstudio project, not a file to import", path)
    items = _read(path, fmt, scheme, split, tag_names, sentence_split, report)
    if strip_prefix:
        return (strip_token_prefix(x, strip_prefix) if isinstance(x, Sentence) else x
                for x in items)
    return items


def _read(path, fmt, scheme, split, tag_names, sentence_split, report) -> Iterator:
    fmt = fmt or detect_format(path)
    if fmt == "conll":
        return read_conll(path, scheme, split, report)
    if fmt == "jsonl":
        return read_json_records(path, tag_names, scheme, split, report)
    if fmt in ("hf", "hf-hub"):
        hub = fmt == "hf-hub" or str(path).startswith(HUB_PREFIX)
        return read_hf(str(path).removeprefix(HUB_PREFIX), scheme, split, hub=hub, report=report)
    if fmt == "doccano":
        return read_doccano(path, split, sentence_split, report)
    if fmt == "labelstudio":
        return read_label_studio(path, split, sentence_split, report)
    if fmt == "prodigy":
        return read_prodigy(path, split, sentence_split, report)
    if fmt == "text":
        return read_text(path, split)
    if fmt == "spacy":
        return read_spacy(path, split, report)
    raise ImportFormatError(f"unknown format {fmt!r}; one of {', '.join(IMPORT_FORMATS)}", path)


def import_file(store: ProjectStore, path: str | Path, fmt: str | None = None, *,
                split: str | None = None, ratios: tuple[float, float, float] | None = None,
                seed: int = 42, scheme: str = "auto", tag_names: list[str] | None = None,
                sentence_split: bool = True,
                on_progress: Callable[[int], None] | None = None,
                report: ImportReport | None = None, strip_prefix: str | None = None,
                labels_strict: bool = False, refuse_reimport: bool = True) -> int:
    """Import one file (or HF dataset) in one transaction: on any error nothing changes.
    ``report`` (an ImportReport) is filled as the file is read: the project's labels before the
    import are its ``known`` (kept from the first file of an ``import_together`` block).
    ``labels_strict`` refuses a file that brings labels the project does not declare (checked
    after reading, before anything is copied; inside ``import_together`` check the report at
    the end of the block instead, to name every file's labels). ``refuse_reimport`` refuses a
    file all of whose sentences the project already has (same text and tokens: imported
    before); sentences a file only shares with the project are imported and counted in the
    report (inside ``import_together`` the block's flag decides, and the caller tells the
    report with ``report.duplicates(*store.last_duplicates)`` after it)."""
    report = report if report is not None else ImportReport()
    if report.known is None:
        report.known = set(store.label_set().names)
    items = read(path, fmt, scheme=scheme, split=split, tag_names=tag_names,
                 sentence_split=sentence_split, report=report, strip_prefix=strip_prefix)
    if labels_strict:
        items = _strict_at_end(items, report)
    n = store.import_items(items, source=str(path), ratios=ratios, seed=seed,
                           on_progress=on_progress, refuse_reimport=refuse_reimport)
    report.duplicates(*store.last_duplicates)
    return n


def _strict_at_end(items, report: ImportReport):
    yield from items
    report.check_strict()  # raised inside import_items: nothing of this file is kept


def scan_file(path: str | Path, fmt: str | None = None, *, known: Iterable[str] = (),
              should_stop: Callable[[], bool] | None = None, **options) -> ImportReport:
    """Read a file through without a store and return its report (what the app asks about
    before it imports). ``options`` are :func:`read`'s."""
    report = ImportReport(known=set(known))
    for i, _item in enumerate(read(path, fmt, report=report, **options)):
        if should_stop is not None and i % 1000 == 0 and should_stop():
            break
    return report


class _CountingStore:
    """The store as an exporter sees it, counting the sentences it reads (export progress for
    every writer without threading a callback through each of them)."""

    def __init__(self, store: ProjectStore, on_progress: Callable[[int], None], every: int = 500):
        self._store, self._on_progress, self._every, self._n = store, on_progress, every, 0

    def __getattr__(self, name):
        if name.startswith("__"):  # copy / pickle probes: not the store's business
            raise AttributeError(name)
        return getattr(self._store, name)

    def _count(self, n: int = 1) -> None:
        self._n += n
        if self._n % self._every < n:
            self._on_progress(self._n)

    def iter_sentences(self, *args, **kwargs):
        for sentence in self._store.iter_sentences(*args, **kwargs):
            self._count()
            yield sentence

    def iter_documents(self, *args, **kwargs):
        for doc, sentences in self._store.iter_documents(*args, **kwargs):
            self._count(len(sentences))
            yield doc, sentences


def export_file(store: ProjectStore, path: str | Path, fmt: str, split: str | None = None, *,
                force: bool = False, include_unlabelled: bool = False,
                on_progress: Callable[[int], None] | None = None) -> int:
    """Export after checking the target (never the project, its side files or runs; an existing
    output only with ``force``). Formats without a status field leave unlabelled sentences out
    unless ``include_unlabelled``: they would come back as gold (see :func:`left_out`).
    ``on_progress(sentences_read)`` is called every 500 sentences."""
    if on_progress is not None:
        store = _CountingStore(store, on_progress)
    try:
        writer = EXPORT_FORMATS[fmt]
    except KeyError:
        raise ImportFormatError(f"unknown export format {fmt!r}; one of "
                                f"{', '.join(EXPORT_FORMATS)}", path) from None
    check_export_target(store.path, path, fmt, force, split)
    if fmt in STATUS_FREE_FORMATS:
        return writer(store, path, split, include_unlabelled)
    return writer(store, path, split)


def check_export_target(project: str | Path, path: str | Path, fmt: str, force: bool,
                        split: str | None = None) -> None:
    """Raise ExportTargetError (one line) for a target that is unsafe or unusable. A CoNLL
    export of every split to a folder checks each split file it may write."""
    if fmt == "conll" and is_folder_target(path, split):
        return check_folder_export(project, path, force)
    check_not_project(project, path, folder=fmt == "hf")
    (check_folder_target if fmt == "hf" else check_file_target)(path, force)
    if fmt == "jsonl":  # the label list beside it is written too
        check_not_project(project, sidecar_path(Path(path)))
        if sidecar_path(Path(path)).exists() and not force:
            raise ExportTargetError(f"{sidecar_path(Path(path))}: already exists (the label "
                                    f"list of {Path(path).name}); use --force to overwrite it")


def left_out(store: ProjectStore, fmt: str, split: str | None = None,
             include_unlabelled: bool = False) -> int:
    """How many sentences an export of ``fmt`` leaves out (unlabelled, status-free formats)."""
    if fmt not in STATUS_FREE_FORMATS or include_unlabelled:
        return 0
    return store.count(split=split, status=["unlabelled"])
