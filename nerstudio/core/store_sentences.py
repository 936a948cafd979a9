"""Sentences: reading (lists, filters, documents) and editing (spans, status, splits; stale views refused).

A part of :class:`nerstudio.core.store.ProjectStore` (one class over one connection; this
module holds one concern of it)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from .domain import SPLITS, STATUSES, Sentence, Span
from .errors import StaleEditError, StoreError, TagError
from .iob import check_spans
from .store_common import (
    SentenceRow,
    _filters,
    _fts_query,
    _span_key,
    _spans_fit,
    _tokens_from_row,
)


class SentencesPart:
    """Sentences: reading (lists, filters, documents) and editing (spans, status, splits; stale views refused)."""

    # -- reading --------------------------------------------------------------------------------
    def _sentence_from_row(self, row, spans: list[Span]) -> Sentence:
        sid, _doc, _pos, text, toks, starts, cols, split, status, version = row
        return Sentence(tokens=_tokens_from_row(text, toks, starts), spans=spans, text=text,
                        split=split, status=status, id=sid,
                        columns=json.loads(cols) if cols else None, version=version)

    def _spans_of(self, sentence_id: int) -> list[Span]:
        return [Span(s, e, l) for s, e, l in self._q(
            'SELECT s.start, s."end", l.name FROM spans s JOIN labels l ON l.id = s.label_id '
            "WHERE s.sentence_id = ? ORDER BY s.start", [sentence_id])]

    def sentence(self, sentence_id: int) -> Sentence:
        rows = self._q(f"SELECT {self._sentence_columns()} FROM sentences WHERE id = ?",
                       [sentence_id])
        if not rows:
            raise StoreError(f"no sentence {sentence_id}")
        return self._sentence_from_row(rows[0], self._spans_of(sentence_id))

    def sentence_version(self, sentence_id: int) -> tuple[int, str]:
        """(version, status) of a sentence: what a view that just wrote its spans needs to
        know, without re-reading (and re-building) 50,000 tokens."""
        rows = self._q("SELECT version, status FROM sentences WHERE id = ?", [sentence_id])
        if not rows:
            raise StoreError(f"no sentence {sentence_id}")
        return rows[0]

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
                f"SELECT {self._sentence_columns('s.')}, d.name, d.header "
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
                yield (r[1], r[10], r[11]), self._sentence_from_row(r[:10], spans[r[0]])
            last = (rows[-1][1], rows[-1][2], rows[-1][0])

    def count(self, split: str | None = None, status: Iterable[str] | None = None,
              label: str | None = None, search: str | None = None) -> int:
        where, params = self._list_filters(split, status, label, search)
        return self._scalar(f"SELECT count(*) FROM sentences s WHERE 1 {where}", params)

    def split_changed_since(self, split: str, timestamp: str) -> bool:
        """Whether a sentence of ``split`` was added or edited after ``timestamp`` (as
        SQLite's ``datetime('now')`` writes it), or any sentence moved between splits since
        (a move changes two splits; which ones is not kept): two runs' dev scores compare only
        when not."""
        moved = self.meta("splits_moved_at")
        if moved is not None and moved > timestamp:
            return True
        added = self._scalar("SELECT max(d.created_at) FROM documents d JOIN sentences s "
                             "ON s.document_id = d.id WHERE s.split = ?", [split])
        edited = self._scalar("SELECT max(e.created_at) FROM edits e JOIN sentences s "
                              "ON s.id = e.sentence_id WHERE s.split = ?", [split])
        return any(t is not None and t > timestamp for t in (added, edited))

    def existing_texts(self, texts: Iterable[str]) -> set[str]:
        """Which of ``texts`` some sentence of the project already has, exactly (the playground
        does not add a sentence twice)."""
        wanted = list(dict.fromkeys(texts))
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._q(
                f"SELECT DISTINCT text FROM sentences WHERE text IN ({marks})", chunk))
        return found

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

    def _resolve(self, state: dict) -> dict:
        """An edit's recorded state in today's labels: a merged label's spans follow the merge
        target (``label_redirects``), a deleted label's spans are dropped (ids are never reused,
        so an id is either live, redirected or gone)."""
        live = {r[0] for r in self._q("SELECT id FROM labels")}
        redirects = dict(self._q("SELECT old_id, new_id FROM label_redirects"))
        spans = [[s, e, redirects.get(lid, lid)] for s, e, lid in state["spans"]]
        return {"spans": sorted(sp for sp in spans if sp[2] in live), "status": state["status"]}

    def _apply_state(self, sentence_id: int, state: dict) -> None:
        spans = self._resolve(state)["spans"]
        self.db.execute("DELETE FROM spans WHERE sentence_id = ?", (sentence_id,))
        self.db.conn.executemany(
            'INSERT INTO spans(sentence_id, start, "end", label_id) VALUES (?,?,?,?)',
            [(sentence_id, *s) for s in spans])
        self.db.execute("UPDATE sentences SET status = ?, n_entities = ?, version = version + 1, "
                        "updated_at = datetime('now') WHERE id = ?",
                        (state["status"], len(spans), sentence_id))
        if "flags" in state:  # an edit that settled or answered review flags (_record_edit)
            self.db.execute("DELETE FROM review_flags WHERE sentence_id = ?", (sentence_id,))
            self.db.conn.executemany(
                "INSERT INTO review_flags(sentence_id, token_index, given, predicted, score, "
                "version) SELECT ?, ?, ?, ?, ?, version FROM sentences WHERE id = ?",
                [(sentence_id, *flag, sentence_id) for flag in self._flags_by_name(state)])
        self._count_change()

    def _count_change(self) -> None:
        """One more change to sentences (edit, undo, redo, split): a counter other windows poll,
        since an undo and a redo between two polls leave every count and maximum as it was."""
        self.db.execute("INSERT INTO meta(key, value) VALUES ('changes', '1') ON CONFLICT(key) "
                        "DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def changes(self) -> int:
        """The change counter (see :meth:`_count_change`)."""
        return int(self._scalar("SELECT value FROM meta WHERE key = 'changes'") or 0)

    def _check_version(self, sentence_id: int, expected: int | None) -> None:
        """Refuse an edit made on a view older than the file (another window or process wrote
        the sentence since the view loaded it)."""
        version = self._scalar("SELECT version FROM sentences WHERE id = ?", [sentence_id])
        if version is None:
            raise StoreError(f"no sentence {sentence_id}")
        if expected is not None and version != expected:
            raise StaleEditError(f"sentence {sentence_id} was changed elsewhere since it was "
                                 "loaded; reload it and edit again (nothing was written)")

    def _check_suggestions(self, sentence_id: int, expected: list[Span]) -> None:
        held = {tuple(r) for r in self._q(
            'SELECT start, "end", label FROM predictions WHERE sentence_id = ?', [sentence_id])}
        if held != {(s.start, s.end, s.label) for s in expected}:
            raise StaleEditError(f"sentence {sentence_id}: its suggestions were changed elsewhere "
                                 "since they were shown; look at them again (nothing was "
                                 "written)")

    def set_spans(self, sentence_id: int, spans: list[Span], status: str | None = None, *,
                  expected_version: int | None = None,
                  expected_suggestions: list[Span] | None = None) -> None:
        """Replace a sentence's gold spans (one user edit: one transaction, one undo step).
        ``expected_version``: the ``Sentence.version`` the view showed; if the file holds
        another, :class:`StaleEditError` and nothing is written. ``expected_suggestions``: the
        suggestions the view showed, for an edit made of them (Accept all): suggestions carry
        no version, so a re-prediction by another process is caught by comparing them."""
        if status is not None and status not in STATUSES:
            raise StoreError(f"unknown status {status!r}")
        with self.transaction():
            self._check_version(sentence_id, expected_version)
            if expected_suggestions is not None:
                self._check_suggestions(sentence_id, expected_suggestions)
            n_tokens = self._scalar(  # counted by SQLite: parsing 50,000 tokens took 0.4 s
                "SELECT json_array_length(tokens) FROM sentences WHERE id = ?", [sentence_id]) or 0
            spans = sorted(spans, key=_span_key)  # (Span's own order compares in Python: slow)
            if not _spans_fit(spans, n_tokens):
                try:
                    check_spans(spans, n_tokens)  # says which span and why
                except TagError as exc:
                    raise StoreError(f"sentence {sentence_id}: {exc}") from exc
            ids = self._label_ids()
            missing = {s.label for s in spans} - set(ids)
            if missing:
                raise StoreError(f"unknown label(s): {', '.join(sorted(missing))}")
            before = self._state(sentence_id)
            after = {"spans": [[s.start, s.end, ids[s.label]] for s in spans],
                     "status": status or before["status"]}
            self._record_edit(sentence_id, before, after)

    def set_status(self, sentence_id: int, status: str, *,
                   expected_version: int | None = None) -> None:
        """Set a sentence's status (an undo step); ``expected_version`` as in set_spans."""
        if status not in STATUSES:
            raise StoreError(f"unknown status {status!r}")
        with self.transaction():
            self._check_version(sentence_id, expected_version)
            before = self._state(sentence_id)
            self._record_edit(sentence_id, before, {**before, "status": status})

    def set_split(self, sentence_ids: Iterable[int], split: str) -> None:
        if split not in SPLITS:
            raise StoreError(f"unknown split {split!r}")
        with self.transaction():
            changed = self.db.conn.executemany(
                "UPDATE sentences SET split = ? WHERE id = ? AND split != ?",
                [(split, i, split) for i in sentence_ids]).rowcount
            if changed:
                self.set_meta("splits_moved_at", self._scalar("SELECT datetime('now')"))
            self._count_change()
