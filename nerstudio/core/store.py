"""The project store: one SQLite file per labelling project.

Why SQLite: one file a user can copy, WAL so the GUI reads while a worker writes, and transactions
so that every user action (an edit, an import, a label merge) lands whole or not at all. Each thread
opens its own :class:`ProjectStore` (sqlite3 connections are not shared across threads).

Gold spans live in ``spans`` (token indices, label id), model predictions in ``predictions`` (kept
apart, with scores). Every annotation edit records its before/after state in ``edits``, so undo and
redo survive a restart.
"""
from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from .domain import DEFAULT_COLOURS, SPLITS, STATUSES, Label, LabelSet, Sentence, Span, Token
from .errors import StoreError, TagError
from .iob import check_spans
from .schema import migrations

_SENTENCE_COLUMNS = "id, document_id, position, text, tokens, starts, columns, split, status"


@dataclass(frozen=True)
class DocumentStart:
    """Importers yield this between sentences to begin a new document (CoNLL ``-DOCSTART-``)."""

    name: str
    header: str | None = None


@dataclass(frozen=True)
class SentenceRow:
    """What the sentence list shows, without loading tokens."""

    id: int
    text: str
    split: str
    status: str
    n_entities: int
    has_predictions: bool


def _tokens_from_row(text: str, tokens_json: str, starts_json: str) -> list[Token]:
    return [Token(w, s, s + len(w)) for w, s in zip(json.loads(tokens_json), json.loads(starts_json))]


class ProjectStore:
    """A project file. Open one per thread; close it (or use ``with``) when done."""

    def __init__(self, path: str | Path, create: bool = False):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(f"{self.path}: no such project (create it with 'nerstudio init')")
        try:
            self.db = Database(self.path)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA busy_timeout = 5000")
            self.db.enable_wal()
            # NORMAL under WAL: a commit is in the WAL (in the OS) when set_spans returns, so
            # killing the app loses no edit and the file never corrupts; FULL would also survive
            # a power cut, at an fsync per click (milliseconds to tens of ms on a busy disk).
            self.db.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(self.db)
        except Exception as exc:  # sqlite3.DatabaseError for a non-SQLite file, etc.
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{self.path}: not a nerstudio project ({exc})") from exc

    @classmethod
    def create(cls, path: str | Path, name: str | None = None,
               labels: Iterable[str] = ()) -> "ProjectStore":
        path = Path(path)
        if path.exists():
            raise StoreError(f"{path}: already exists")
        store = cls(path, create=True)
        with store.transaction():
            store.set_meta("name", name or path.stem)
            for label in labels:
                store._add_label(label)
        return store

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "ProjectStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self):
        """One user action: all of it commits, or none of it (nested calls become savepoints).

        The outermost one is ``BEGIN IMMEDIATE``: it takes the write lock first (waiting up to
        the busy timeout for another thread's write, e.g. a training run recording metrics). A
        plain deferred ``BEGIN`` that reads and then writes fails at once with "database is
        locked" when another connection committed in between, and SQLite gives no retry."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _q(self, sql: str, params: Iterable = ()) -> list[tuple]:
        return self.db.execute(sql, tuple(params)).fetchall()

    def _scalar(self, sql: str, params: Iterable = ()):
        row = self.db.execute(sql, tuple(params)).fetchone()
        return row[0] if row else None

    # -- metadata -------------------------------------------------------------------------------
    def set_meta(self, key: str, value) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                            (key, json.dumps(value)))

    def meta(self, key: str, default=None):
        value = self._scalar("SELECT value FROM meta WHERE key = ?", [key])
        return default if value is None else json.loads(value)

    # -- labels ---------------------------------------------------------------------------------
    def label_set(self) -> LabelSet:
        return LabelSet([Label(n, c) for n, c in
                         self._q("SELECT name, colour FROM labels ORDER BY position, id")])

    def _label_ids(self) -> dict[str, int]:
        return dict(self._q("SELECT name, id FROM labels"))

    def _label_id(self, name: str) -> int:
        lid = self._scalar("SELECT id FROM labels WHERE name = ?", [name])
        if lid is None:
            raise StoreError(f"no label {name!r} in this project")
        return lid

    @staticmethod
    def _check_label_name(name: str) -> None:
        if not name or any(c.isspace() for c in name) or name == "O":
            raise StoreError(f"invalid label name {name!r}: non-empty, no spaces, not 'O'")

    def _add_label(self, name: str, colour: str | None = None) -> int:
        self._check_label_name(name)
        count = self._scalar("SELECT count(*) FROM labels")
        colour = colour or DEFAULT_COLOURS[count % len(DEFAULT_COLOURS)]
        pos = self._scalar("SELECT coalesce(max(position), -1) + 1 FROM labels")
        return self.db.execute("INSERT INTO labels(name, colour, position) VALUES (?, ?, ?)",
                               (name, colour, pos)).lastrowid

    def add_label(self, name: str, colour: str | None = None) -> None:
        with self.transaction():
            if self._scalar("SELECT 1 FROM labels WHERE name = ?", [name]):
                raise StoreError(f"label {name!r} already exists")
            self._add_label(name, colour)

    def recolour_label(self, name: str, colour: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE labels SET colour = ? WHERE id = ?", (colour, self._label_id(name)))

    def reorder_labels(self, names: list[str]) -> None:
        if sorted(names) != sorted(self.label_set().names):
            raise StoreError("reorder must name every label exactly once")
        with self.transaction():
            for pos, name in enumerate(names):
                self.db.execute("UPDATE labels SET position = ? WHERE name = ?", (pos, name))

    def label_usage(self, name: str) -> int:
        """How many spans carry this label (what a rename/merge/delete will change)."""
        return self._scalar("SELECT count(*) FROM spans WHERE label_id = ?", [self._label_id(name)])

    def rename_label(self, old: str, new: str) -> int:
        """Rename a label; its spans follow (they reference the label row). Returns spans changed."""
        self._check_label_name(new)
        with self.transaction():
            lid = self._label_id(old)
            if self._scalar("SELECT 1 FROM labels WHERE name = ?", [new]):
                raise StoreError(f"label {new!r} already exists; merge instead")
            self.db.execute("UPDATE labels SET name = ? WHERE id = ?", (new, lid))
            self.db.execute("UPDATE predictions SET label = ? WHERE label = ?", (new, old))
            return self._scalar("SELECT count(*) FROM spans WHERE label_id = ?", [lid])

    def merge_labels(self, source: str, target: str) -> int:
        """Relabel every ``source`` span as ``target`` and drop ``source``. Returns spans changed."""
        with self.transaction():
            src, dst = self._label_id(source), self._label_id(target)
            if src == dst:
                raise StoreError("cannot merge a label into itself")
            changed = self.db.execute("UPDATE spans SET label_id = ? WHERE label_id = ?",
                                      (dst, src)).rowcount
            self.db.execute("UPDATE predictions SET label = ? WHERE label = ?", (target, source))
            self.db.execute("DELETE FROM labels WHERE id = ?", (src,))
            return changed

    def delete_label(self, name: str) -> int:
        """Delete a label and every span of it (those tokens become O). Returns spans removed."""
        with self.transaction():
            lid = self._label_id(name)
            affected = [r[0] for r in self._q(
                "SELECT DISTINCT sentence_id FROM spans WHERE label_id = ?", [lid])]
            removed = self.db.execute("DELETE FROM spans WHERE label_id = ?", (lid,)).rowcount
            self.db.execute("DELETE FROM predictions WHERE label = ?", (name,))
            self.db.execute("DELETE FROM labels WHERE id = ?", (lid,))
            self._refresh_entity_counts(affected)
            return removed

    def _refresh_entity_counts(self, sentence_ids: list[int]) -> None:
        self.db.conn.executemany(
            "UPDATE sentences SET n_entities = "
            "(SELECT count(*) FROM spans WHERE sentence_id = ?) WHERE id = ?",
            [(i, i) for i in sentence_ids])

    # -- import ---------------------------------------------------------------------------------
    def import_items(self, items: Iterable[Sentence | DocumentStart], source: str = "",
                     split: str | None = None, ratios: tuple[float, float, float] | None = None,
                     seed: int = 42, on_progress: Callable[[int], None] | None = None,
                     chunk: int = 2000) -> int:
        """Insert sentences (and document boundaries) from an importer in ONE transaction.

        Items are consumed as a stream and written in chunks, so memory stays flat; any error
        (a bad line raised by the importer, a bad span) rolls the whole import back. ``split``
        overrides the source's splits; ``ratios`` assigns train/dev/test at random with ``seed``.
        Returns the number of sentences imported."""
        if split is not None and split not in SPLITS:
            raise StoreError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
        rng = random.Random(seed)
        n = 0
        n = self._import(items, source, split, ratios, rng, on_progress, chunk)
        if on_progress:
            on_progress(n)
        return n

    def _import(self, items, source, split, ratios, rng, on_progress, chunk) -> int:
        n = 0
        with self.transaction():
            labels = self._label_ids()
            doc_id, position = None, 0
            sent_rows, span_rows = [], []
            first_id = (self._scalar("SELECT coalesce(max(id), 0) FROM sentences") or 0) + 1

            def flush():
                self.db.conn.executemany(
                    "INSERT INTO sentences(id, document_id, position, text, tokens, starts, columns,"
                    " split, status, n_entities) VALUES (?,?,?,?,?,?,?,?,?,?)", sent_rows)
                self.db.conn.executemany(
                    'INSERT INTO spans(sentence_id, start, "end", label_id) VALUES (?,?,?,?)',
                    span_rows)
                sent_rows.clear()
                span_rows.clear()

            for item in items:
                if isinstance(item, DocumentStart):
                    doc_id = self._new_document(item.name, source, item.header)
                    position = 0
                    continue
                if doc_id is None:
                    doc_id = self._new_document(Path(source).name or "document", source, None)
                sid = first_id + n
                sent_split = split or item.split
                if ratios is not None:
                    sent_split = _draw_split(rng, ratios)
                for span in item.spans:
                    if span.label not in labels:
                        labels[span.label] = self._add_label(span.label)
                    span_rows.append((sid, span.start, span.end, labels[span.label]))
                sent_rows.append((
                    sid, doc_id, position, item.text, json.dumps(item.words, ensure_ascii=False),
                    json.dumps([t.start for t in item.tokens]),
                    json.dumps(item.columns, ensure_ascii=False) if item.columns else None,
                    sent_split, item.status, len(item.spans)))
                n += 1
                position += 1
                if len(sent_rows) >= chunk:
                    flush()
                    if on_progress:
                        on_progress(n)
            flush()
        return n

    def _new_document(self, name: str, source: str, header: str | None) -> int:
        return self.db.execute("INSERT INTO documents(name, source, header) VALUES (?, ?, ?)",
                               (name, source, header)).lastrowid

    # -- reading --------------------------------------------------------------------------------
    def _sentence_from_row(self, row, spans: list[Span]) -> Sentence:
        sid, _doc, _pos, text, toks, starts, cols, split, status = row
        return Sentence(tokens=_tokens_from_row(text, toks, starts), spans=spans, text=text,
                        split=split, status=status, id=sid,
                        columns=json.loads(cols) if cols else None)

    def _spans_of(self, sentence_id: int) -> list[Span]:
        return [Span(s, e, l) for s, e, l in self._q(
            'SELECT s.start, s."end", l.name FROM spans s JOIN labels l ON l.id = s.label_id '
            "WHERE s.sentence_id = ? ORDER BY s.start", [sentence_id])]

    def sentence(self, sentence_id: int) -> Sentence:
        rows = self._q(f"SELECT {_SENTENCE_COLUMNS} FROM sentences WHERE id = ?", [sentence_id])
        if not rows:
            raise StoreError(f"no sentence {sentence_id}")
        return self._sentence_from_row(rows[0], self._spans_of(sentence_id))

    def iter_documents(self, split: str | None = None, status: Iterable[str] | None = None,
                       batch: int = 2000) -> Iterator[tuple[tuple[int, str, str | None], list[Sentence]]]:
        """Yield ``((doc_id, name, header), sentences)`` in file order, streaming in batches."""
        current, sents = None, []
        for doc, sent in self._iter_with_docs(split, status, batch):
            if current is not None and doc[0] != current[0]:
                yield current, sents
                sents = []
            current = doc
            sents.append(sent)
        if current is not None:
            yield current, sents

    def iter_sentences(self, split: str | None = None, status: Iterable[str] | None = None,
                       batch: int = 2000) -> Iterator[Sentence]:
        for _doc, sent in self._iter_with_docs(split, status, batch):
            yield sent

    def _iter_with_docs(self, split, status, batch):
        where, params = _filters(split, status)
        last = (-1, -1, -1)
        while True:
            rows = self._q(
                f"SELECT s.{_SENTENCE_COLUMNS.replace(', ', ', s.')}, d.name, d.header "
                "FROM sentences s JOIN documents d ON d.id = s.document_id "
                f"WHERE (s.document_id, s.position, s.id) > (?, ?, ?) {where} "
                "ORDER BY s.document_id, s.position, s.id LIMIT ?", [*last, *params, batch])
            if not rows:
                return
            ids = [r[0] for r in rows]
            spans: dict[int, list[Span]] = {i: [] for i in ids}
            for sid, s, e, l in self._q(
                    'SELECT s.sentence_id, s.start, s."end", l.name FROM spans s '
                    "JOIN labels l ON l.id = s.label_id WHERE s.sentence_id IN "
                    "(SELECT value FROM json_each(?)) ORDER BY s.sentence_id, s.start",
                    [json.dumps(ids)]):
                spans[sid].append(Span(s, e, l))
            for r in rows:
                yield (r[1], r[9], r[10]), self._sentence_from_row(r[:9], spans[r[0]])
            last = (rows[-1][1], rows[-1][2], rows[-1][0])

    def count(self, split: str | None = None, status: Iterable[str] | None = None,
              label: str | None = None, search: str | None = None) -> int:
        where, params = self._list_filters(split, status, label, search)
        return self._scalar(f"SELECT count(*) FROM sentences s WHERE 1 {where}", params)

    def _list_filters(self, split, status, label, search):
        where, params = _filters(split, status)
        if label:
            where += " AND EXISTS (SELECT 1 FROM spans p WHERE p.sentence_id = s.id AND p.label_id = ?)"
            params.append(self._label_id(label))
        if search:
            where += (" AND s.id IN (SELECT rowid FROM sentences_fts WHERE sentences_fts MATCH ?)")
            params.append(_fts_query(search))
        return where, params

    def sentence_rows(self, offset: int, limit: int, split: str | None = None,
                      status: Iterable[str] | None = None, label: str | None = None,
                      search: str | None = None) -> list[SentenceRow]:
        """A page of the sentence list (for a lazily fetching list model)."""
        where, params = self._list_filters(split, status, label, search)
        rows = self._q(
            "SELECT s.id, s.text, s.split, s.status, s.n_entities, "
            "EXISTS (SELECT 1 FROM predictions p WHERE p.sentence_id = s.id) "
            f"FROM sentences s WHERE 1 {where} ORDER BY s.document_id, s.position, s.id "
            "LIMIT ? OFFSET ?", [*params, limit, offset])
        return [SentenceRow(i, t, sp, st, n, bool(p)) for i, t, sp, st, n, p in rows]

    def sentence_row(self, sentence_id: int) -> SentenceRow:
        """One row of the sentence list, by id (after an edit)."""
        rows = self._q("SELECT s.id, s.text, s.split, s.status, s.n_entities, "
                       "EXISTS (SELECT 1 FROM predictions p WHERE p.sentence_id = s.id) "
                       "FROM sentences s WHERE s.id = ?", [sentence_id])
        if not rows:
            raise StoreError(f"no sentence {sentence_id}")
        i, t, sp, st, n, p = rows[0]
        return SentenceRow(i, t, sp, st, n, bool(p))

    def search(self, query: str, limit: int = 100) -> list[int]:
        """Sentence ids whose text matches ``query`` (full-text, words ANDed)."""
        return [r[0] for r in self._q(
            "SELECT rowid FROM sentences_fts WHERE sentences_fts MATCH ? ORDER BY rank LIMIT ?",
            [_fts_query(query), limit])]

    # -- editing --------------------------------------------------------------------------------
    def _state(self, sentence_id: int) -> dict:
        status = self._scalar("SELECT status FROM sentences WHERE id = ?", [sentence_id])
        if status is None:
            raise StoreError(f"no sentence {sentence_id}")
        spans = self._q('SELECT start, "end", label_id FROM spans WHERE sentence_id = ? '
                        "ORDER BY start", [sentence_id])
        return {"spans": [list(s) for s in spans], "status": status}

    def _apply_state(self, sentence_id: int, state: dict) -> None:
        live = set(r[0] for r in self._q("SELECT id FROM labels"))
        spans = [s for s in state["spans"] if s[2] in live]  # a label deleted since is dropped
        self.db.execute("DELETE FROM spans WHERE sentence_id = ?", (sentence_id,))
        self.db.conn.executemany(
            'INSERT INTO spans(sentence_id, start, "end", label_id) VALUES (?,?,?,?)',
            [(sentence_id, *s) for s in spans])
        self.db.execute("UPDATE sentences SET status = ?, n_entities = ?, updated_at = "
                        "datetime('now') WHERE id = ?", (state["status"], len(spans), sentence_id))

    def set_spans(self, sentence_id: int, spans: list[Span], status: str | None = None) -> None:
        """Replace a sentence's gold spans (one user edit: one transaction, one undo step)."""
        if status is not None and status not in STATUSES:
            raise StoreError(f"unknown status {status!r}")
        with self.transaction():
            n_tokens = len(json.loads(self._scalar(
                "SELECT tokens FROM sentences WHERE id = ?", [sentence_id]) or "[]"))
            try:
                check_spans(spans, n_tokens)
            except TagError as exc:
                raise StoreError(f"sentence {sentence_id}: {exc}") from exc
            ids = self._label_ids()
            missing = {s.label for s in spans} - set(ids)
            if missing:
                raise StoreError(f"unknown label(s): {', '.join(sorted(missing))}")
            before = self._state(sentence_id)
            after = {"spans": [[s.start, s.end, ids[s.label]] for s in sorted(spans)],
                     "status": status or before["status"]}
            self._record_edit(sentence_id, before, after)

    def set_status(self, sentence_id: int, status: str) -> None:
        if status not in STATUSES:
            raise StoreError(f"unknown status {status!r}")
        with self.transaction():
            before = self._state(sentence_id)
            self._record_edit(sentence_id, before, {**before, "status": status})

    def set_split(self, sentence_ids: Iterable[int], split: str) -> None:
        if split not in SPLITS:
            raise StoreError(f"unknown split {split!r}")
        with self.transaction():
            self.db.conn.executemany("UPDATE sentences SET split = ? WHERE id = ?",
                                     [(split, i) for i in sentence_ids])

    def _record_edit(self, sentence_id: int, before: dict, after: dict) -> None:
        if before == after:
            return
        self._apply_state(sentence_id, after)
        self.db.execute("DELETE FROM edits WHERE undone = 1")  # a new edit ends the redo branch
        self.db.execute("INSERT INTO edits(sentence_id, before, after) VALUES (?, ?, ?)",
                        (sentence_id, json.dumps(before), json.dumps(after)))

    def undo(self) -> int | None:
        """Undo the latest edit; returns the sentence it touched, or None if nothing to undo."""
        with self.transaction():
            row = self.db.execute("SELECT id, sentence_id, before FROM edits WHERE undone = 0 "
                                  "ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                return None
            self._apply_state(row[1], json.loads(row[2]))
            self.db.execute("UPDATE edits SET undone = 1 WHERE id = ?", (row[0],))
            return row[1]

    def redo(self) -> int | None:
        """Redo the earliest undone edit; returns its sentence, or None."""
        with self.transaction():
            row = self.db.execute("SELECT id, sentence_id, after FROM edits WHERE undone = 1 "
                                  "ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            self._apply_state(row[1], json.loads(row[2]))
            self.db.execute("UPDATE edits SET undone = 0 WHERE id = ?", (row[0],))
            return row[1]

    def can_undo(self) -> bool:
        return bool(self._scalar("SELECT 1 FROM edits WHERE undone = 0 LIMIT 1"))

    def can_redo(self) -> bool:
        return bool(self._scalar("SELECT 1 FROM edits WHERE undone = 1 LIMIT 1"))

    # -- predictions ----------------------------------------------------------------------------
    def replace_predictions(self, run_id: int | None,
                            items: Iterable[tuple[int, list[tuple[int, int, str, float]],
                                                  tuple[float, float] | None]]) -> int:
        """Store a model's spans (token start, end, label, score) and the sentence's uncertainty
        (entropy, margin), replacing earlier predictions of those sentences. One transaction."""
        n = 0
        with self.transaction():
            for sid, spans, unc in items:
                self.db.execute("DELETE FROM predictions WHERE sentence_id = ?", (sid,))
                self.db.conn.executemany(
                    'INSERT INTO predictions(sentence_id, run_id, start, "end", label, score) '
                    "VALUES (?,?,?,?,?,?)", [(sid, run_id, *s) for s in spans])
                if unc is not None:
                    self.db.execute("INSERT OR REPLACE INTO uncertainty VALUES (?,?,?,?)",
                                    (sid, run_id, *unc))
                n += 1
        return n

    def predictions(self, sentence_id: int) -> list[tuple[Span, float]]:
        return [(Span(s, e, l), sc) for s, e, l, sc in self._q(
            'SELECT start, "end", label, score FROM predictions WHERE sentence_id = ? '
            "ORDER BY start", [sentence_id])]

    def clear_predictions(self, sentence_id: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM predictions WHERE sentence_id = ?", (sentence_id,))

    def most_uncertain(self, limit: int = 50) -> list[int]:
        """Unlabelled sentences, least confident first (lowest margin), for active learning."""
        return [r[0] for r in self._q(
            "SELECT u.sentence_id FROM uncertainty u JOIN sentences s ON s.id = u.sentence_id "
            "WHERE s.status = 'unlabelled' ORDER BY u.margin, u.entropy DESC LIMIT ?", [limit])]

    # -- training runs --------------------------------------------------------------------------
    def create_run(self, base_model: str, config: dict, tags: list[str], device: str | None = None,
                   output_dir: str | None = None) -> int:
        with self.transaction():
            return self.db.execute(
                "INSERT INTO runs(base_model, config, labels, device, output_dir) VALUES (?,?,?,?,?)",
                (base_model, json.dumps(config), json.dumps(tags), device, output_dir)).lastrowid

    _RUN_FIELDS = {"finished_at", "device", "status", "error", "output_dir", "best_checkpoint",
                   "best_f1", "final_metrics", "best_metrics", "duration_s", "config"}

    def update_run(self, run_id: int, **fields) -> None:
        unknown = set(fields) - self._RUN_FIELDS
        if unknown:
            raise StoreError(f"unknown run field(s): {', '.join(sorted(unknown))}")
        values = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in fields.items()}
        with self.transaction():
            self.db.execute(f"UPDATE runs SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                            (*values.values(), run_id))

    def add_run_metric(self, run_id: int, kind: str, step: int, epoch: float | None,
                       data: dict) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO run_metrics(run_id, kind, step, epoch, data) "
                            "VALUES (?,?,?,?,?)", (run_id, kind, step, epoch, json.dumps(data)))

    def runs(self) -> list[dict]:
        return [self._run_dict(r) for r in self.db.execute("SELECT * FROM runs ORDER BY id").fetchall()]

    def run(self, run_id: int) -> dict:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"no run {run_id}")
        return self._run_dict(row)

    def _run_dict(self, row) -> dict:
        cols = [c[0] for c in self.db.execute("SELECT * FROM runs LIMIT 0").description]
        out = dict(zip(cols, row))
        for k in ("config", "labels", "final_metrics", "best_metrics"):
            if out.get(k):
                out[k] = json.loads(out[k])
        return out

    def run_metrics(self, run_id: int, kind: str | None = None) -> list[dict]:
        sql = "SELECT kind, step, epoch, data FROM run_metrics WHERE run_id = ?"
        params = [run_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return [{"kind": k, "step": s, "epoch": e, **json.loads(d)}
                for k, s, e, d in self._q(sql + " ORDER BY id", params)]

    # -- statistics -----------------------------------------------------------------------------
    def summary(self) -> dict:
        """What the status bar shows, from indexes only (cheap enough after every edit):
        {"splits": {split: (sentences, labelled)}, "entities": {label: count}}."""
        splits = {sp: (n, lab) for sp, n, lab in self._q(
            "SELECT split, count(*), sum(status <> 'unlabelled') FROM sentences GROUP BY split")}
        counts = dict(self._q("SELECT label_id, count(*) FROM spans GROUP BY label_id"))
        ids = self._q("SELECT id, name FROM labels ORDER BY position, id")
        return {"splits": splits, "entities": {name: counts.get(i, 0) for i, name in ids}}

    def stats(self) -> dict:
        """Sentences, tokens and entities per split, entities per label and split."""
        out = {"name": self.meta("name"), "splits": {}, "labels": self.label_set().names}
        for split, n, labelled, toks in self._q(
                "SELECT split, count(*), sum(status <> 'unlabelled'), "
                "sum(json_array_length(tokens)) FROM sentences GROUP BY split"):
            out["splits"][split] = {"sentences": n, "labelled": labelled, "tokens": toks,
                                    "entities": 0, "per_label": {}}
        for split, label, n in self._q(
                "SELECT s.split, l.name, count(*) FROM spans p JOIN sentences s ON s.id = "
                "p.sentence_id JOIN labels l ON l.id = p.label_id GROUP BY s.split, l.name"):
            out["splits"][split]["per_label"][label] = n
            out["splits"][split]["entities"] += n
        return out


def _filters(split, status) -> tuple[str, list]:
    where, params = "", []
    if split:
        where += " AND s.split = ?"
        params.append(split)
    if status:
        status = [status] if isinstance(status, str) else list(status)
        where += f" AND s.status IN ({', '.join('?' * len(status))})"
        params += status
    return where, params


def _fts_query(text: str) -> str:
    """User words to an FTS5 query that cannot be a syntax error: each word quoted, ANDed."""
    words = [w.replace('"', '""') for w in text.split()]
    return " ".join(f'"{w}"' for w in words) or '""'


def _draw_split(rng: random.Random, ratios: tuple[float, float, float]) -> str:
    total = sum(ratios)
    x = rng.random() * total
    if x < ratios[0]:
        return "train"
    return "dev" if x < ratios[0] + ratios[1] else "test"
