"""spaCy's ``DocBin`` (``.spacy``), the training format of ``spacy train``, behind the optional
``spacy`` extra (``pip install 'nerstudio[spacy]'``); spaCy is imported only when the format is
used, and its absence is one line.

Export: one ``Doc`` per sentence, its words and spaces from our tokens and text (a gap of any
whitespace becomes the token's one trailing space), gold spans as ``doc.ents``. A labelled or
reviewed sentence has every other token O; an unlabelled one leaves entity annotation *missing*
(what ``spacy train`` ignores, not "no entities"). Each Doc's ``user_data`` keeps what spaCy has no
place for: ``nerstudio_status``, ``nerstudio_split``, ``nerstudio_document`` and
``nerstudio_header`` (the document a sentence belongs to), so a round trip keeps them.

Import: any DocBin. Whitespace tokens (spaCy keeps runs of spaces, newlines) are dropped; a Doc
with sentence boundaries becomes one sentence per ``doc.sents`` (two sentences joined by an entity
across the boundary stay one); each Doc is a document. Status: the one nerstudio wrote, else
labelled when the Doc carries entity annotation (entities, or tokens marked O), else unlabelled.
Split: ``--split``, else the one nerstudio wrote, else from the file name (train.spacy, dev.spacy).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ..domain import SPLITS, STATUSES, Sentence, Span, Token
from ..errors import ImportFormatError, NerStudioError
from ..store import DocumentStart, ProjectStore
from ._io import split_from_name
from .safety import atomic_file

MISSING = "the spaCy format needs spaCy: pip install 'nerstudio[spacy]'"
KEYS = ("nerstudio_status", "nerstudio_split", "nerstudio_document", "nerstudio_header")


class SpacyMissing(NerStudioError):
    """spaCy is not installed (the optional ``spacy`` extra)."""


def require_spacy():
    """The spaCy module, or SpacyMissing with the one line that says how to install it."""
    try:
        import spacy  # noqa: F401
        from spacy.tokens import DocBin  # noqa: F401
    except ImportError as exc:
        raise SpacyMissing(MISSING) from exc
    return spacy


# -- export -------------------------------------------------------------------------------------
def write_spacy(store: ProjectStore, path: str | Path, split: str | None = None, *,
                on_progress: Callable[[int], None] | None = None) -> int:
    """Write the project's sentences (of ``split``) as a DocBin, atomically. ``on_progress(n)``
    is told how many sentences are done, every 1000 and at the end."""
    require_spacy()
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    vocab = Vocab()
    docbin = DocBin(store_user_data=True)
    n = 0
    for (_id, name, header), sentences in store.iter_documents(split=split):
        for s in sentences:
            if s.tokens:
                docbin.add(to_doc(vocab, s, name, header))
                n += 1
                if on_progress and n % 1000 == 0:
                    on_progress(n)
    if on_progress:
        on_progress(n)
    data = docbin.to_bytes()
    with atomic_file(path) as f:  # a text file: its binary buffer takes the bytes
        f.buffer.write(data)
    return n


def to_doc(vocab, s: Sentence, document: str | None = None, header: str | None = None):
    """A spaCy Doc of ``s``: words, spaces (from the text between tokens), gold ents (none
    marked, not even O, for an unlabelled sentence), and nerstudio's fields in user_data."""
    from spacy.tokens import Doc
    from spacy.tokens import Span as SpacySpan

    words = [t.text for t in s.tokens]
    spaces = [s.tokens[i].end < s.tokens[i + 1].start for i in range(len(s.tokens) - 1)]
    spaces.append(len(s.text) > s.tokens[-1].end)
    doc = Doc(vocab, words=words, spaces=spaces)
    if s.status != "unlabelled":
        doc.ents = [SpacySpan(doc, sp.start, sp.end, label=sp.label) for sp in s.spans]
    doc.user_data.update({"nerstudio_status": s.status, "nerstudio_split": s.split})
    if document is not None:
        doc.user_data["nerstudio_document"] = document
    if header is not None:
        doc.user_data["nerstudio_header"] = header
    return doc


# -- import -------------------------------------------------------------------------------------
def read_spacy(path: str | Path, split: str | None = None, report=None) -> Iterator:
    """Stream DocumentStart markers and Sentences from a ``.spacy`` DocBin file."""
    path = Path(path)
    require_spacy()
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    if not path.is_file():
        raise ImportFormatError("no such file", path)
    try:
        docbin = DocBin().from_bytes(path.read_bytes())
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - zlib, msgpack, KeyError...: not a DocBin
        raise ImportFormatError(f"not a spaCy DocBin file ({type(exc).__name__}: "
                                f"{' '.join(str(exc).split())[:200]})", path) from exc
    if len(docbin) == 0:
        raise ImportFormatError("no documents in the DocBin", path)
    default_split = split_from_name(path)
    previous = object()
    for number, doc in enumerate(docbin.get_docs(Vocab()), 1):
        where = f"doc {number}"
        data = doc.user_data if isinstance(doc.user_data, dict) else {}
        document = data.get("nerstudio_document")
        if document is None or document != previous:
            yield DocumentStart(document or f"{path.name}#{number}", data.get("nerstudio_header"))
        previous = document
        status = data.get("nerstudio_status")
        if status is not None and status not in STATUSES:
            raise ImportFormatError(f"unknown nerstudio_status {status!r}", path, number, "doc")
        if status is None:
            status = "labelled" if doc.has_annotation("ENT_IOB") else "unlabelled"
        doc_split = data.get("nerstudio_split")
        if doc_split is not None and doc_split not in SPLITS:
            raise ImportFormatError(f"unknown nerstudio_split {doc_split!r}", path, number, "doc")
        fields = {"split": split or doc_split or default_split, "status": status}
        for sentence in doc_sentences(doc, **fields):
            if report is not None:
                report.sentence(sentence, f"{path} {where}")
            yield sentence


def doc_sentences(doc, split: str = "unassigned", status: str = "labelled") -> list[Sentence]:
    """The Doc's sentences (one when it has no sentence boundaries), whitespace tokens left
    out, offsets relative to each sentence's text."""
    ents = [(e.start, e.end, e.label_) for e in doc.ents] if status != "unlabelled" else []
    bounds = [(s.start, s.end) for s in doc.sents] if doc.has_annotation("SENT_START") \
        else [(0, len(doc))]
    inside_ent = {i for a, b, _label in ents for i in range(a + 1, b)}
    merged = []  # a boundary inside an entity is dropped: the two sentences are one
    for lo, hi in bounds:
        if merged and lo in inside_ent:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    bounds = merged
    out = []
    for lo, hi in bounds:
        keep = [i for i in range(lo, hi) if not doc[i].is_space and doc[i].text.strip()]
        if not keep:
            continue
        base = doc[keep[0]].idx
        end = doc[keep[-1]].idx + len(doc[keep[-1]].text)
        text = doc.text[base:end]
        tokens = [Token(doc[i].text, doc[i].idx - base, doc[i].idx - base + len(doc[i].text))
                  for i in keep]
        index = {i: k for k, i in enumerate(keep)}
        spans = []
        for a, b, label in ents:
            inside = [index[i] for i in range(a, b) if i in index]
            if inside and lo <= a < hi:
                spans.append(Span(inside[0], inside[-1] + 1, label))
        out.append(Sentence(tokens=tokens, spans=spans, text=text, split=split, status=status))
    return out
