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

A hostile DocBin is one line, nothing imported: its zlib payload is inflated first with a bound
(:func:`check_inflated_size`) so a small file that decompresses to gigabytes is refused before
spaCy allocates it, and nerstudio's ``user_data`` fields of the wrong type (bytes, a dict, a
header that is not one ``-DOCSTART-`` line) are refused by doc number (:func:`_user_fields`):
stored, they would break every later CoNLL export.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from ..domain import SPLITS, STATUSES, Sentence, Span, Token
from ..errors import ImportFormatError, NerStudioError
from ..store import DocumentStart, ProjectStore
from ._io import split_from_name
from .safety import atomic_file

MISSING = "the spaCy format needs spaCy: pip install 'nerstudio[spacy]'"
KEYS = ("nerstudio_status", "nerstudio_split", "nerstudio_document", "nerstudio_header")
# A DocBin may inflate to INFLATE_RATIO times its size on disk, or INFLATE_FLOOR bytes if more
# (real DocBins compress 5-20 times; a zlib bomb ~1000 times). spaCy then holds several times
# the inflated size as Python objects, so the floor stays small: 64 MiB inflated, a few
# hundred MB while spaCy reads it.
INFLATE_RATIO = 50
INFLATE_FLOOR = 64 << 20
_CHUNK = 1 << 20


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
    data = path.read_bytes()
    check_inflated_size(data, path)
    try:
        docbin = DocBin().from_bytes(data)
    except Exception as exc:  # noqa: BLE001 - zlib, msgpack, KeyError...: not a DocBin
        raise _not_a_docbin(exc, path) from exc
    del data
    if len(docbin) == 0:
        raise ImportFormatError("no documents in the DocBin", path)
    default_split = split_from_name(path)
    previous = object()
    for number, doc in _docs(docbin, Vocab(), path):
        document, header, status, doc_split = _user_fields(doc, path, number)
        if document is None or document != previous:
            yield DocumentStart(document or f"{path.name}#{number}", header)
        previous = document
        if status is None:
            status = "labelled" if doc.has_annotation("ENT_IOB") else "unlabelled"
        fields = {"split": split or doc_split or default_split, "status": status}
        for sentence in doc_sentences(doc, **fields):
            if report is not None:
                report.sentence(sentence, f"{path} doc {number}")
            yield sentence


def check_inflated_size(data: bytes, path: Path) -> None:
    """Refuse (one line) a DocBin whose zlib payload inflates beyond the limit (see
    INFLATE_RATIO), counting in bounded chunks that are thrown away: a 10 MB file that inflates
    to 10 GB is refused having held ~1 MB of it, before spaCy inflates it whole."""
    limit = max(INFLATE_FLOOR, INFLATE_RATIO * len(data))
    z, total, rest = zlib.decompressobj(), 0, data
    try:
        while rest and total <= limit:
            total += len(z.decompress(rest, _CHUNK))
            rest = z.unconsumed_tail
    except zlib.error as exc:
        raise _not_a_docbin(exc, path) from exc
    if total > limit:
        raise ImportFormatError(f"decompresses to more than {limit >> 20} MiB ({INFLATE_RATIO} "
                                "times its size): refused as a decompression bomb, not imported",
                                path)


def _not_a_docbin(exc: Exception, path: Path) -> ImportFormatError:
    return ImportFormatError(f"not a spaCy DocBin file ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]})", path)


def _docs(docbin, vocab, path: Path):
    """``(number, doc)`` of the DocBin; a doc spaCy cannot rebuild (a damaged array, user data
    that is not msgpack) is one line naming it."""
    docs = docbin.get_docs(vocab)
    number = 0
    while True:
        number += 1
        try:
            doc = next(docs)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - whatever spaCy / msgpack raise
            raise ImportFormatError(f"damaged doc ({type(exc).__name__}: "
                                    f"{' '.join(str(exc).split())[:200]})", path, number,
                                    "doc") from exc
        yield number, doc


def _user_fields(doc, path: Path, number: int) -> tuple:
    """``(document, header, status, split)`` from the Doc's user_data, each None when absent.
    A field of the wrong type is refused: a bytes or dict document name or header would be
    stored as is and break every CoNLL export; a header must be one ``-DOCSTART-`` line (any
    other line would read back as a token)."""
    data = doc.user_data if isinstance(doc.user_data, dict) else {}
    values = [data.get(key) for key in KEYS]
    for key, value in zip(KEYS, values):
        if value is not None and not isinstance(value, str):
            raise ImportFormatError(f"{key} must be a string, got {type(value).__name__} "
                                    f"{repr(value)[:60]}", path, number, "doc")
    status, doc_split, document, header = values
    if status is not None and status not in STATUSES:
        raise ImportFormatError(f"unknown nerstudio_status {status!r}", path, number, "doc")
    if doc_split is not None and doc_split not in SPLITS:
        raise ImportFormatError(f"unknown nerstudio_split {doc_split!r}", path, number, "doc")
    if header and (not header.startswith("-DOCSTART-") or len(header.splitlines()) > 1):
        raise ImportFormatError(f"nerstudio_header must be one -DOCSTART- line, got "
                                f"{header[:60]!r}", path, number, "doc")
    return document, header, status, doc_split


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
