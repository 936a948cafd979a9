"""What an import did besides adding sentences, told on every import (CLI: stderr; the app: a
message): labels it brings that the project did not have (with their span counts), tags it
repaired (an orphan I- made B-, as IOB1 reads) or converted (BIOES), records it skipped (Prodigy
answers reject / ignore), each with how many and where the first one is.

Readers call :meth:`ImportReport.sentence` / :meth:`tags` / :meth:`skip` as they read; the report
knows nothing of the store, so a read that writes nothing (the app's first pass) fills it too."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..errors import NerStudioError

_BIOES = ("S", "E", "L", "U")


class UndeclaredLabelsError(NerStudioError):
    """``--labels-strict``: the input brings labels the project does not declare; nothing was
    imported."""


def location(path, where, unit: str = "line") -> str:
    """``file:12`` for a line, ``file record 3`` for a record / task."""
    if isinstance(where, list):
        where = where[0] if where else None
    if where is None:
        return str(path)
    return f"{path}:{where}" if unit == "line" else f"{path} {unit} {where}"


@dataclass
class ImportReport:
    known: set[str] | None = None  # the project's labels before the import (None: not yet set)
    sentences: int = 0
    label_spans: Counter = field(default_factory=Counter)
    label_first: dict[str, str] = field(default_factory=dict)  # label -> first file:line
    repaired: int = 0
    repaired_first: str | None = None
    converted: int = 0
    converted_first: str | None = None
    skipped: Counter = field(default_factory=Counter)  # reason (e.g. "reject") -> records
    skipped_first: str | None = None
    utf16: int = 0  # records whose span offsets counted UTF-16 code units, converted
    utf16_first: str | None = None
    widened: int = 0  # span edges inside a character cluster, moved out to keep it whole
    widened_first: str | None = None
    already: int = 0  # sentences the project already had (imported all the same)
    read: int = 0  # sentences read (with those skipped)

    # -- filled by the readers ------------------------------------------------------------------
    def sentence(self, sentence, where) -> None:
        """Count a sentence's spans; ``where`` locates it (a string), or its token ``i``
        (a function of ``i``: CoNLL names the line of the span's first token)."""
        self.sentences += 1
        for span in sentence.spans:
            self.label_spans[span.label] += 1
            if span.label not in self.label_first:
                self.label_first[span.label] = where(span.start) if callable(where) else where

    def tags(self, before, after, where_of) -> None:
        """Count the tags a conversion to IOB2 changed; ``where_of(i)`` locates tag ``i``."""
        for i, (a, b) in enumerate(zip(before, after)):
            if a == b:
                continue
            if a[:1] in _BIOES:
                self.converted += 1
                self.converted_first = self.converted_first or where_of(i)
            else:
                self.repaired += 1
                self.repaired_first = self.repaired_first or where_of(i)

    def offsets(self, utf16: bool, widened: int, where: str) -> None:
        """A record's span offsets were converted from UTF-16 units (``utf16``) and / or had
        ``widened`` edges moved to the edge of a character cluster."""
        if utf16:
            self.utf16 += 1
            self.utf16_first = self.utf16_first or where
        if widened:
            self.widened += widened
            self.widened_first = self.widened_first or where

    def duplicates(self, already: int, read: int) -> None:
        """Of ``read`` sentences, ``already`` were in the project before (the store's
        ``last_duplicates``; imported all the same); set, not added: the store counts a whole
        import."""
        self.already, self.read = already, read

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] += 1
        self.skipped_first = self.skipped_first or where

    # -- read by the callers --------------------------------------------------------------------
    def new_labels(self) -> dict[str, int]:
        """Labels the project did not have before, with their span counts, in order of first use."""
        known = self.known or set()
        return {name: self.label_spans[name] for name in self.label_first if name not in known}

    def new_labels_text(self) -> str:
        """``XYZ (3 spans), ABC (1 span)``."""
        return ", ".join(f"{name} ({_n(count, 'span')})"
                         for name, count in self.new_labels().items())

    def check_strict(self) -> None:
        """Raise UndeclaredLabelsError (one line) when the input brings undeclared labels."""
        new = self.new_labels()
        if new:
            first = self.label_first[next(iter(new))]  # in reading order
            raise UndeclaredLabelsError(
                f"--labels-strict: the input brings labels the project does not declare: "
                f"{self.new_labels_text()}; first at {first}. Nothing was imported (add the "
                "labels to the project, or import without --labels-strict)")

    def lines(self) -> list[str]:
        """The report, one line per fact; something is always said."""
        out = []
        if self.new_labels():
            out.append(f"new labels added to the project: {self.new_labels_text()}")
        if self.repaired:
            out.append(f"repaired {_n(self.repaired, 'tag')} (an I- after O or after another "
                       f"type made B-, as IOB1 reads), first at {self.repaired_first}")
        if self.converted:
            out.append(f"converted {_n(self.converted, 'BIOES tag')} to IOB2, first at "
                       f"{self.converted_first}")
        if self.skipped:
            why = ", ".join(f"{n} {reason}" for reason, n in self.skipped.items())
            out.append(f"skipped {_n(sum(self.skipped.values()), 'record')} ({why}), first at "
                       f"{self.skipped_first}")
        if self.utf16:
            out.append(f"converted the span offsets of {_n(self.utf16, 'record')} from UTF-16 "
                       "code units (older Label Studio, JavaScript) to characters, first at "
                       f"{self.utf16_first}")
        if self.widened:
            out.append(f"widened {_n(self.widened, 'span edge')} that cut a character (a letter "
                       f"and its accent, an emoji sequence), first at {self.widened_first}")
        if self.already:
            out.append(f"{self.already} of {_n(self.read, 'sentence')} were already in the "
                       "project (same text and tokens); imported all the same")
        if not out:
            out.append("no new labels, no tags repaired, nothing skipped")
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    @property
    def notable(self) -> bool:
        """Something beyond sentences imported: worth showing the user."""
        return bool(self.new_labels() or self.repaired or self.converted or self.skipped
                    or self.utf16 or self.widened or self.already)


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
