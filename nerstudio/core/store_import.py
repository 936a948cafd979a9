"""Imports: read and checked into TEMP tables without the write lock, then one short copy.

A part of :class:`nerstudio.core.store.ProjectStore` (one class over one connection; this
module holds one concern of it)."""
from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

from .domain import SPLITS, Sentence
from .errors import ReadOnlyProjectError, StoreError
from .store_common import _STAGING, DocumentStart, _draw_split, _ImportBatch


class ImportPart:
    """Imports: read and checked into TEMP tables without the write lock, then one short copy."""

    # -- import ---------------------------------------------------------------------------------
    last_duplicates: tuple[int, int] = (0, 0)  # (already there, read) by the latest import

    def import_items(self, items: Iterable[Sentence | DocumentStart], source: str = "",
                     split: str | None = None, ratios: tuple[float, float, float] | None = None,
                     seed: int = 42, on_progress: Callable[[int], None] | None = None,
                     chunk: int = 2000, refuse_reimport: bool = False) -> int:
        """Insert sentences (and document boundaries) from an importer, all or nothing.

        The whole stream is read and checked first into this connection's TEMP tables, without
        the write lock (an importer's ImportFormatError then leaves the project untouched, and
        memory stays flat); the rows are then copied in ONE short transaction, so a training
        run's metric writes or the GUI wait only for that copy (~0.3 s for CoNLL train), not for
        parsing. Inside :meth:`import_together` the copy waits for the end of the block (several
        files, one transaction). ``split`` overrides the source's splits;
        ``ratios`` assigns train/dev/test at random with ``seed``. ``on_progress(n)`` is called
        every ``chunk`` sentences read. ``refuse_reimport`` refuses a re-import: a file all of
        whose sentences the project already has (same text and tokens; see
        :meth:`_check_duplicates` and :attr:`last_duplicates`; inside :meth:`import_together`
        the block's own flag decides). Returns the number of sentences
        imported (inside :meth:`import_together`: staged)."""
        if self.read_only:
            raise ReadOnlyProjectError(self._read_only_message())
        if split is not None and split not in SPLITS:
            raise StoreError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
        with self._sqlite_errors():
            return self._import_items(items, source, split, ratios, seed, on_progress, chunk,
                                      refuse_reimport)

    def _import_items(self, items, source, split, ratios, seed, on_progress, chunk,
                      refuse_reimport=False) -> int:
        together = self._together
        if together is not None:  # staged now, copied when import_together's block ends
            before = (together.sentences, together.documents, len(together.labels))
            try:
                self._read_import(together, items, source, split, ratios, random.Random(seed),
                                  on_progress, chunk)
            except BaseException:  # this stream stages nothing, even if the block goes on
                self._unstage(together, *before)
                raise
            n = together.sentences - before[0]
        else:
            # inside a caller's transaction the staging rows join it; otherwise they are
            # committed to the temp tables chunk by chunk (that takes no lock on the project)
            self._staging_commits = not self.db.conn.in_transaction
            try:
                batch = self._begin_staging()
                batch.refuse_reimport = refuse_reimport
                self._read_import(batch, items, source, split, ratios, random.Random(seed),
                                  on_progress, chunk)
                n = self._write_import(batch)
            finally:
                self._drop_staging()
        if on_progress:
            on_progress(n)
        return n

    @contextmanager
    def import_together(self, refuse_reimport: bool = False):
        """Several imports (files) as one: each ``import_items`` call in the block only reads
        and checks its stream into the TEMP tables (no lock on the project); at the end of the
        block all of it is copied in ONE short transaction, or, if the block raised, nothing.

        Use this, not ``transaction()``, around a multi-file import: a transaction would hold
        the write lock while every file is parsed, and other writers (the GUI, a training run)
        would wait for all of it or give up with ProjectBusyError. ``refuse_reimport``: as
        :meth:`import_items`', for the whole block."""
        if self.read_only:
            raise ReadOnlyProjectError(self._read_only_message())
        if self._together is not None:
            raise StoreError("import_together() blocks cannot be nested")
        self._staging_commits = not self.db.conn.in_transaction
        try:
            with self._sqlite_errors():
                self._together = self._begin_staging()
                self._together.refuse_reimport = refuse_reimport
            yield
            batch, self._together = self._together, None
            self._write_import(batch)
        finally:
            self._together = None
            with self._sqlite_errors():
                self._drop_staging()

    def _unstage(self, batch: _ImportBatch, sentences: int, documents: int, labels: int) -> None:
        """Forget what one failed stream added to ``batch`` (its rows and its new labels)."""
        conn = self.db.conn
        conn.execute("DELETE FROM temp.import_spans WHERE sent > ?", (sentences,))
        conn.execute("DELETE FROM temp.import_sentences WHERE i > ?", (sentences,))
        conn.execute("DELETE FROM temp.import_documents WHERE i > ?", (documents,))
        if self._staging_commits and conn.in_transaction:
            conn.commit()  # temp tables only; an open transaction would swallow the final copy
        batch.sentences, batch.documents = sentences, documents
        del batch.labels[labels:]

    def _begin_staging(self) -> _ImportBatch:
        for sql in _STAGING:
            self.db.conn.execute(sql)
        return _ImportBatch()

    def _read_import(self, batch: _ImportBatch, items, source, split, ratios, rng, on_progress,
                     chunk) -> None:
        """Read the stream into TEMP tables (this connection's temp file, not the project: no
        lock on it, memory flat however large the input), ``chunk`` rows at a time, numbering
        on from what ``batch`` already holds."""
        conn = self.db.conn
        known = set(self._label_ids()) | set(batch.labels)
        sent_rows, span_rows, position, in_document, first = [], [], 0, False, batch.sentences
        for item in items:
            if isinstance(item, DocumentStart):
                batch.documents += 1
                conn.execute("INSERT INTO temp.import_documents VALUES (?, ?, ?, ?)",
                             (batch.documents, item.name, source, item.header))
                position, in_document = 0, True
                continue
            if not in_document:
                batch.documents += 1
                conn.execute("INSERT INTO temp.import_documents VALUES (?, ?, ?, NULL)",
                             (batch.documents, Path(source).name or "document", source))
                in_document = True
            batch.sentences += 1
            for span in item.spans:
                if span.label not in known:
                    self._check_label_name(span.label)
                    known.add(span.label)
                    batch.labels.append(span.label)
                span_rows.append((batch.sentences, span.start, span.end, span.label))
            sent_split = _draw_split(rng, ratios) if ratios is not None else split or item.split
            sent_rows.append((
                batch.sentences, batch.documents, position, item.text,
                json.dumps(item.words, ensure_ascii=False),
                json.dumps([t.start for t in item.tokens]),
                json.dumps(item.columns, ensure_ascii=False) if item.columns else None,
                sent_split, item.status, len(item.spans)))
            position += 1
            if len(sent_rows) >= chunk:
                self._stage(sent_rows, span_rows)
                if on_progress:
                    on_progress(batch.sentences - first)
        self._stage(sent_rows, span_rows)

    def _stage(self, sent_rows: list, span_rows: list) -> None:
        conn = self.db.conn
        conn.executemany("INSERT INTO temp.import_sentences VALUES (?,?,?,?,?,?,?,?,?,?)",
                         sent_rows)
        conn.executemany("INSERT INTO temp.import_spans VALUES (?,?,?,?)", span_rows)
        if self._staging_commits and conn.in_transaction:  # only the temp tables: no lock
            conn.commit()
        sent_rows.clear()
        span_rows.clear()

    def _write_import(self, batch: _ImportBatch) -> int:
        """Copy a staged import in one short transaction (ids are taken inside it: another
        process may have imported meanwhile); returns the sentences copied."""
        already = self._check_duplicates(batch.refuse_reimport)
        self.last_duplicates = (already, batch.sentences)
        with self.transaction():
            labels = self._label_ids()
            used = [r[0] for r in self._q("SELECT DISTINCT label FROM temp.import_spans")]
            # the labels the staged spans use (and one deleted meanwhile)
            for name in [n for n in batch.labels if n in used] + used:
                if name not in labels:
                    labels[name] = self._add_label(name)
            first_doc = self._scalar("SELECT coalesce(max(id), 0) FROM documents")
            first_sent = self._scalar("SELECT coalesce(max(id), 0) FROM sentences")
            self.db.execute(
                "INSERT INTO documents(id, name, source, header) SELECT ? + i, name, source,"
                " header FROM temp.import_documents ORDER BY i", (first_doc,))
            self.db.execute(
                "INSERT INTO sentences(id, document_id, position, text, tokens, starts, "
                "columns, split, status, n_entities) SELECT ? + i, ? + doc, position, text, "
                "tokens, starts, columns, split, status, n_entities "
                "FROM temp.import_sentences ORDER BY i", (first_sent, first_doc))
            self.db.execute(
                'INSERT INTO spans(sentence_id, start, "end", label_id) SELECT ? + sent, '
                'start, "end", (SELECT id FROM main.labels l WHERE l.name = p.label) '
                "FROM temp.import_spans p", (first_sent,))
        return batch.sentences

    def _check_duplicates(self, refuse_reimport: bool) -> int:
        """How many staged sentences the project already has (same text, tokens and offsets);
        they are imported all the same (a dataset's dev split may repeat a train sentence, and
        an import must bring the file exactly). ``refuse_reimport``: a file ALL of whose
        sentences are already there was imported before: refused in one line, nothing of the
        import written (``--allow-duplicates`` imports it again). Runs before the write lock is
        taken: a temp index on the staged text makes it one scan of the project's sentences."""
        conn = self.db.conn
        conn.execute("CREATE INDEX IF NOT EXISTS temp.import_sentences_text "
                     "ON import_sentences(text)")
        conn.execute("DROP TABLE IF EXISTS temp.import_duplicates")
        conn.execute("CREATE TEMP TABLE import_duplicates AS SELECT DISTINCT t.i FROM "
                     "main.sentences s JOIN temp.import_sentences t ON t.text = s.text "
                     "AND t.tokens = s.tokens AND t.starts = s.starts")
        per_source = conn.execute(
            "SELECT d.source, count(t.i), count(x.i) FROM temp.import_sentences t "
            "JOIN temp.import_documents d ON d.i = t.doc "
            "LEFT JOIN temp.import_duplicates x ON x.i = t.i GROUP BY d.source").fetchall()
        conn.execute("DROP TABLE temp.import_duplicates")
        if self._staging_commits and conn.in_transaction:  # temp tables only: no lock
            conn.commit()
        for source, n, dup in per_source:
            if refuse_reimport and n and dup == n:
                raise StoreError(f"{source or 'the import'}: all {n} of its sentences are "
                                 "already in the project (imported before?); nothing was "
                                 "imported (--allow-duplicates imports them again)")
        return sum(dup for _s, _n, dup in per_source)

    def _drop_staging(self) -> None:
        """Forget a staged import (after it was copied, or after a failure while reading)."""
        conn = self.db.conn
        if self._staging_commits and conn.in_transaction:
            conn.rollback()
        for sql in _STAGING[:3]:
            conn.execute(sql)
