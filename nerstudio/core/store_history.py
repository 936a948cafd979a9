"""The undo history: each window's own edits, undo and redo, a dead window's history taken over.

A part of :class:`nerstudio.core.store.ProjectStore` (one class over one connection; this
module holds one concern of it)."""
from __future__ import annotations

import json
import os

from .errors import ReadOnlyProjectError, StaleEditError
from .procs import process_start as _process_start
from .store_common import _APPLIED, _DROPPED, _HOST, _UNDONE, _own_start


class HistoryPart:
    """The undo history: each window's own edits, undo and redo, a dead window's history taken over."""

    # -- undo history -----------------------------------------------------------------------------
    # Each store instance has an ``origin``; its edits carry it. undo/redo act on this origin's
    # edits; when it has none, on the edits of origins that are no longer live (closed, or a dead,
    # zombie or reused pid on this host; edits made before origins existed), so history survives
    # a restart or a crash but never reaches into another open window's work. A session on
    # another host counts as live (its pid cannot be checked). A step taken over from a dead
    # origin becomes this origin's. Undo/redo whose sentence changed since (its state is not the
    # edit's after/before) is refused with StaleEditError, and that step leaves the history.

    def _register_session(self) -> None:
        """This origin is live (pid + host): its edits are not undoable by other openers. Done
        at the first edit, not on open, so opening writes nothing; the first time, rows of dead
        processes on this host are removed (a missing row means "not live" just the same)."""
        if not self._in_sessions:
            live = set(self._live_origins())
            self.db.conn.executemany("DELETE FROM sessions WHERE origin = ?", [
                (o,) for (o,) in self._q("SELECT origin FROM sessions") if o not in live])
        self.db.execute("INSERT OR IGNORE INTO sessions(origin, pid, host, started) "
                        "VALUES (?, ?, ?, ?)",
                        (self.origin, os.getpid(), _HOST, _own_start()))
        self._in_sessions = True

    def _live_origins(self) -> list[str]:
        """Origins whose process still runs: on this host the pid is alive and started when the
        session was registered (not a reused pid); on another host we cannot tell: live."""
        live = []
        for origin, pid, host, started in self._q("SELECT origin, pid, host, started FROM sessions"):
            now = _process_start(pid) if host == _HOST else started
            if origin == self.origin or (now is not None and (not started or now == started)):
                live.append(origin)
        return live

    def _history_step(self, undone: int, newest: bool) -> tuple | None:
        """The edit undo (undone=0, newest first) or redo (undone=1, oldest first) acts on."""
        order = "DESC" if newest else "ASC"
        cols = "id, sentence_id, before, after"
        row = self._q(f"SELECT {cols} FROM edits WHERE origin = ? AND undone = ? "
                      f"ORDER BY id {order} LIMIT 1", [self.origin, undone])
        if not row:
            row = self._q(f"SELECT {cols} FROM edits WHERE undone = ? AND (origin IS NULL OR "
                          "origin NOT IN (SELECT value FROM json_each(?))) "
                          f"ORDER BY id {order} LIMIT 1",
                          [undone, json.dumps(self._live_origins())])
        return row[0] if row else None

    def _record_edit(self, sentence_id: int, before: dict, after: dict) -> None:
        """Apply ``after`` and record the step. The sentence's open review flags go with the
        edit (a flag is about the tags it was computed on) and are recorded in ``before``, so
        an undo brings them back."""
        if before == after:
            return
        if "flags" not in before:
            flags = self._open_flags(sentence_id)
            if flags:
                before, after = {**before, "flags": flags}, {**after, "flags": []}
        self._apply_state(sentence_id, after)
        self._register_session()
        self._end_redo_branch()
        self.db.execute("INSERT INTO edits(sentence_id, before, after, origin) VALUES (?, ?, ?, ?)",
                        (sentence_id, json.dumps(self._flags_by_id(before)),
                         json.dumps(self._flags_by_id(after)), self.origin))

    def _flags_by_id(self, state: dict) -> dict:
        """An edit's record of review flags names each tag by label id (["B", 3]), as its spans
        do, so that an undo after a rename, merge or delete brings a flag back under today's
        label, not under a name another label may have taken since."""
        if not state.get("flags"):
            return state
        ids = self._label_ids()

        def ref(tag):
            return [tag[:1], ids[tag[2:]]] if tag[2:] in ids else tag
        return {**state, "flags": [[tok, ref(given), ref(predicted), score]
                                   for tok, given, predicted, score in state["flags"]]}

    def _flags_by_name(self, state: dict) -> list[list]:
        """The flags of an edit's record as [token, given, predicted, score] in today's labels
        (see :meth:`_flags_by_id`; a merged label's id follows the merge, a flag naming a
        deleted label goes, a plain tag string, of older records, stays as it is)."""
        names = {lid: name for name, lid in self._label_ids().items()}
        redirects = dict(self._q("SELECT old_id, new_id FROM label_redirects"))

        def name(tag):
            if isinstance(tag, str):
                return tag
            label = names.get(redirects.get(tag[1], tag[1]))
            return None if label is None else f"{tag[0]}-{label}"
        out = []
        for tok, given, predicted, score in state["flags"]:
            given, predicted = name(given), name(predicted)
            if given is not None and predicted is not None and given != predicted:
                out.append([tok, given, predicted, score])
        return out

    def _end_redo_branch(self) -> None:
        """A new edit ends this origin's redo branch, and the one it inherits from dead origins
        (another live window keeps its own). Usually there is none: then no liveness check."""
        branch = {r[0] for r in self._q("SELECT DISTINCT origin FROM edits WHERE undone = 1")}
        if branch - {self.origin}:
            live = set(self._live_origins())
            branch = {o for o in branch if o == self.origin or o not in live}
        self.db.conn.executemany("DELETE FROM edits WHERE undone = 1 AND origin IS ?",
                                 [(o,) for o in branch])

    def _step(self, undo: bool) -> int | None:
        if self.read_only:
            raise ReadOnlyProjectError(self._read_only_message())
        with self.transaction():
            row = self._history_step(_APPLIED if undo else _UNDONE, newest=undo)
            if row is None:
                return None
            edit_id, sid, before, after = row
            expected, target = (after, before) if undo else (before, after)
            if self._state(sid) != self._resolve(json.loads(expected)):
                self.db.execute("UPDATE edits SET undone = ? WHERE id = ?", (_DROPPED, edit_id))
                stale = sid
            else:
                self._apply_state(sid, json.loads(target))
                self._register_session()
                self.db.execute("UPDATE edits SET undone = ?, origin = ? WHERE id = ?",
                                (_UNDONE if undo else _APPLIED, self.origin, edit_id))
                return sid
        raise StaleEditError(f"sentence {stale} was changed elsewhere since; cannot "
                             f"{'undo' if undo else 'redo'} that step (dropped from the history)")

    def undo(self) -> int | None:
        """Undo this origin's latest edit (see above); returns the sentence it touched, or None
        if there is nothing to undo. StaleEditError if the sentence changed since."""
        return self._step(undo=True)

    def redo(self) -> int | None:
        """Redo this origin's earliest undone edit; returns its sentence, or None."""
        return self._step(undo=False)

    def can_undo(self) -> bool:
        return not self.read_only and self._history_step(_APPLIED, newest=True) is not None

    def can_redo(self) -> bool:
        return not self.read_only and self._history_step(_UNDONE, newest=False) is not None
