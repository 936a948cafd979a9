"""What models wrote: suggestions (predictions), the Active learning order, the label-error review's flags.

A part of :class:`nerstudio.core.store.ProjectStore` (one class over one connection; this
module holds one concern of it)."""
from __future__ import annotations

import json
from collections.abc import Iterable

from .domain import Span
from .errors import StaleEditError, StoreError
from .flag_rules import accept_tag, open_flags
from .store_common import ReviewFlag, _span_key


class ModelOutputPart:
    """What models wrote: suggestions (predictions), the Active learning order, the label-error review's flags."""

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

    def drop_prediction(self, sentence_id: int, span: Span) -> int:
        """Drop one suggestion of a sentence (a right click on it); how many rows went."""
        with self.transaction():
            return self.db.execute(
                'DELETE FROM predictions WHERE sentence_id = ? AND start = ? AND "end" = ? '
                "AND label = ?", (sentence_id, span.start, span.end, span.label)).rowcount

    def most_uncertain(self, limit: int = 50) -> list[int]:
        """Unlabelled sentences, least confident first (lowest margin), for active learning."""
        return [r[0] for r in self._q(
            "SELECT u.sentence_id FROM uncertainty u JOIN sentences s ON s.id = u.sentence_id "
            "WHERE s.status = 'unlabelled' ORDER BY u.margin, u.entropy DESC LIMIT ?", [limit])]

    # -- active learning order (issue #15) -----------------------------------------------------
    def _has_table(self, name: str) -> bool:
        """False only for an older project opened read-only (not upgraded: no m005 tables)."""
        return bool(self._scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 [name]))

    def set_active_order(self, run_id: int | None, ordered_ids: Iterable[int],
                         scores: dict[int, float] | None = None) -> None:
        """Store the Active learning order (sentence ids, first = label next) computed with run
        ``run_id``'s model (None: a model folder that is not a run), replacing the old order.
        One transaction. ``scores``: each sentence's uncertainty, kept beside it."""
        scores = scores or {}
        with self.transaction():
            self.db.execute("DELETE FROM active_order")
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO active_order(sentence_id, position, score) "
                "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM sentences WHERE id = ?)",
                [(sid, pos, scores.get(sid), sid) for pos, sid in enumerate(ordered_ids)])
            info = {"run": run_id, "n": self._scalar("SELECT count(*) FROM active_order"),
                    "at": self._scalar("SELECT datetime('now')")}
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('active_order', ?)",
                            (json.dumps(info),))

    def active_order(self, limit: int | None = None) -> list[int]:
        """Unlabelled sentence ids in Active learning order (labelled ones drop out here, so an
        order stays usable while the user labels); [] when none was computed."""
        if not self._has_table("active_order"):
            return []
        return [r[0] for r in self._q(
            "SELECT a.sentence_id FROM active_order a JOIN sentences s ON s.id = a.sentence_id "
            "WHERE s.status = 'unlabelled' ORDER BY a.position LIMIT ?",
            [-1 if limit is None else limit])]

    def active_order_info(self) -> dict | None:
        """{"run": run id or None, "n": sentences ordered, "at": when} of the stored order, or
        None when no order was ever computed."""
        return self.meta("active_order")

    def active_order_run(self) -> int | None:
        """The run whose model computed the stored order (None: none, or not a run's model)."""
        info = self.active_order_info()
        return info.get("run") if info else None

    def active_score(self, sentence_id: int) -> float | None:
        """A sentence's uncertainty in the stored order (lower = less sure), or None."""
        if not self._has_table("active_order"):
            return None
        return self._scalar("SELECT score FROM active_order WHERE sentence_id = ?", [sentence_id])

    # -- label-error review (issue #15) --------------------------------------------------------
    def set_review_flags(self, run_id: int | None, flags: Iterable,
                         versions: dict[int, int] | None = None) -> int:
        """Replace the review's flags with ``flags``: (sentence_id, token_index, given_tag,
        predicted_tag, score) each, score = label quality (lower = likelier an error). Each flag
        belongs to the sentence's current version; ``versions`` ({sentence id: version} the
        review read) drops the flags of sentences changed since. One transaction; returns the
        number of flags stored."""
        rows = [tuple(f)[:5] for f in flags]
        versions = versions or {}
        with self.transaction():
            self.db.execute("DELETE FROM review_flags")
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO review_flags(sentence_id, token_index, given, predicted, "
                "score, version) SELECT ?, ?, ?, ?, ?, version FROM sentences WHERE id = ? "
                "AND (? IS NULL OR version = ?)",
                [(sid, int(tok), given, pred, float(score), sid, versions.get(sid),
                  versions.get(sid)) for sid, tok, given, pred, score in rows])
            n = self._scalar("SELECT count(*) FROM review_flags")
            info = {"run": run_id, "flags": n, "sentences": self._scalar(
                "SELECT count(DISTINCT sentence_id) FROM review_flags"),
                    "at": self._scalar("SELECT datetime('now')")}
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('review', ?)",
                            (json.dumps(info),))
        return n

    def review_info(self) -> dict | None:
        """{"run", "flags", "sentences", "at"} of the last stored review, or None."""
        return self.meta("review")

    _LIVE_FLAGS = ("FROM review_flags f JOIN sentences s ON s.id = f.sentence_id "
                   "AND s.version = f.version")

    def review_flags(self, sentence_id: int) -> list[ReviewFlag]:
        """The sentence's open flags, by token (none once the sentence changed since the review:
        a flag is about the tags it was computed on)."""
        if not self._has_table("review_flags"):
            return []
        return [ReviewFlag(*r) for r in self._q(
            "SELECT f.sentence_id, f.token_index, f.given, f.predicted, f.score "
            f"{self._LIVE_FLAGS} WHERE f.sentence_id = ? ORDER BY f.token_index", [sentence_id])]

    def flagged_sentence_ids(self, limit: int | None = None) -> list[int]:
        """Sentences with open flags, likeliest error first (lowest flag score)."""
        if not self._has_table("review_flags"):
            return []
        return [r[0] for r in self._q(
            f"SELECT f.sentence_id {self._LIVE_FLAGS} GROUP BY f.sentence_id "
            "ORDER BY min(f.score), f.sentence_id LIMIT ?", [-1 if limit is None else limit])]

    def _open_flags(self, sentence_id: int) -> list[list]:
        """The sentence's open flags as [token, given, predicted, score] (an edit's record)."""
        if not self._has_table("review_flags"):
            return []
        return [list(r) for r in self._q(
            f"SELECT f.token_index, f.given, f.predicted, f.score {self._LIVE_FLAGS} "
            "WHERE f.sentence_id = ? ORDER BY f.token_index", [sentence_id])]

    def resolve_flag(self, sentence_id: int, token_index: int, accept: bool, *,
                     expected_version: int | None = None) -> bool:
        """The user's answer to a flag; in both cases the flag goes, as one undo step that
        brings it back. ``accept``: the token takes the model's tag through the normal edit
        path (one transaction, version bumped); a type change at a span's first token relabels
        the whole span, a drop takes the span's next tokens flagged O along, and the tags are
        repaired to valid IOB2. Other flags of the sentence that the edit settled go too, the
        rest stay open (:func:`flag_rules.open_flags`). ``keep``: gold is left as it is. Returns whether gold
        changed. StaleEditError (and the flag dropped) when the sentence changed since the
        review."""
        from .iob import repair_iob2, spans_to_tags, tags_to_spans

        with self.transaction():
            row = self._q("SELECT f.given, f.predicted, f.version, s.version FROM review_flags f "
                          "JOIN sentences s ON s.id = f.sentence_id "
                          "WHERE f.sentence_id = ? AND f.token_index = ?",
                          [sentence_id, token_index])
            if not row:
                raise StoreError(f"sentence {sentence_id} has no flag on token {token_index}")
            _given, predicted, flag_version, version = row[0]
            self._check_version(sentence_id, expected_version)
            if flag_version == version:
                flags = self._open_flags(sentence_id)
                rest = [f for f in flags if f[0] != token_index]
                sentence = self.sentence(sentence_id)
                spans = list(sentence.spans)
                if accept:
                    tags = spans_to_tags(sentence.spans, len(sentence.tokens))
                    tags = repair_iob2(accept_tag(tags, token_index, predicted,
                                                   {f[0]: f[2] for f in rest}))
                    spans, rest = tags_to_spans(tags), open_flags(rest, tags)
                return self._set_spans_in_transaction(sentence_id, spans, (flags, rest))
            self.db.execute("DELETE FROM review_flags WHERE sentence_id = ? AND token_index = ?",
                            (sentence_id, token_index))
        raise StaleEditError(f"sentence {sentence_id} was changed since the review; its flag "
                             "is dropped (nothing else was written)")

    def _set_spans_in_transaction(self, sentence_id: int, spans: list[Span],
                                  flags: tuple[list, list] | None = None) -> bool:
        """set_spans' edit (one undo step) inside the caller's transaction; whether the spans
        changed. ``flags``: the sentence's open review flags before and after the edit, recorded
        with it (an edit that only answers a flag is still an undo step)."""
        ids = self._label_ids()
        missing = {s.label for s in spans} - set(ids)
        if missing:
            raise StoreError(f"unknown label(s): {', '.join(sorted(missing))}")
        before = self._state(sentence_id)
        after = {"spans": [[s.start, s.end, ids[s.label]] for s in sorted(spans, key=_span_key)],
                 "status": before["status"]}
        changed = before != after
        if flags is not None:
            before, after = {**before, "flags": flags[0]}, {**after, "flags": flags[1]}
        self._record_edit(sentence_id, before, after)
        return changed
