"""The project's labels: add, rename, recolour, reorder, merge, delete (ids never reused).

A part of :class:`nerstudio.core.store.ProjectStore` (one class over one connection; this
module holds one concern of it)."""
from __future__ import annotations

from .domain import DEFAULT_COLOURS, Label, LabelSet
from .errors import StoreError


class LabelsPart:
    """The project's labels: add, rename, recolour, reorder, merge, delete (ids never reused)."""

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
        """At creation, rename and import: names end up in tags, files and widgets."""
        from .labels import valid_label_name

        reason = valid_label_name(name)
        if reason:
            raise StoreError(f"invalid label name {name!r}: {reason}")

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
            self._relabel_flags(old, new)
            return self._scalar("SELECT count(*) FROM spans WHERE label_id = ?", [lid])

    def merge_labels(self, source: str, target: str) -> int:
        """Relabel every ``source`` span as ``target`` and drop ``source``. Returns spans changed.
        The merge is recorded in ``label_redirects`` so that undo/redo of an older edit puts a
        ``source`` span under ``target`` instead of dropping it."""
        with self.transaction():
            src, dst = self._label_id(source), self._label_id(target)
            if src == dst:
                raise StoreError("cannot merge a label into itself")
            self.db.execute("UPDATE sentences SET version = version + 1 WHERE id IN "
                            "(SELECT sentence_id FROM spans WHERE label_id = ?)", (src,))
            changed = self.db.execute("UPDATE spans SET label_id = ? WHERE label_id = ?",
                                      (dst, src)).rowcount
            self.db.execute("UPDATE label_redirects SET new_id = ? WHERE new_id = ?", (dst, src))
            self.db.execute("INSERT OR REPLACE INTO label_redirects(old_id, new_id) VALUES (?, ?)",
                            (src, dst))
            self.db.execute("UPDATE predictions SET label = ? WHERE label = ?", (target, source))
            self._relabel_flags(source, target)
            self.db.execute("DELETE FROM labels WHERE id = ?", (src,))
            return changed

    def delete_label(self, name: str) -> int:
        """Delete a label and every span of it (those tokens become O). Returns spans removed.
        Undo/redo of an older edit drops that label's spans (its id is never reused)."""
        with self.transaction():
            lid = self._label_id(name)
            affected = [r[0] for r in self._q(
                "SELECT DISTINCT sentence_id FROM spans WHERE label_id = ?", [lid])]
            removed = self.db.execute("DELETE FROM spans WHERE label_id = ?", (lid,)).rowcount
            self.db.execute("DELETE FROM predictions WHERE label = ?", (name,))
            self._relabel_flags(name, None)
            self.db.execute("DELETE FROM labels WHERE id = ?", (lid,))
            self._refresh_entity_counts(affected)
            return removed

    def _relabel_flags(self, old: str, new: str | None) -> None:
        """Review flags name their tags ("B-PER"): a rename or merge rewrites ``old`` to ``new``
        (a flag left suggesting the tag it gives goes), a delete (``new`` None) drops the flags
        naming ``old``. So accepting a flag never meets an unknown label, nor a new label that
        took the old name. Inside the caller's transaction (issue #25)."""
        if not self._has_table("review_flags"):
            return
        tags = (f"B-{old}", f"I-{old}")
        if new is None:
            self.db.execute("DELETE FROM review_flags WHERE given IN (?, ?) OR predicted IN (?, ?)",
                            tags * 2)
            return
        for col in ("given", "predicted"):
            self.db.execute(f"UPDATE review_flags SET {col} = substr({col}, 1, 2) || ? "
                            f"WHERE {col} IN (?, ?)", (new, *tags))
        self.db.execute("DELETE FROM review_flags WHERE given = predicted")

    def _refresh_entity_counts(self, sentence_ids: list[int]) -> None:
        """After a bulk span change: recount, and bump ``version`` (open views are now stale)."""
        self.db.conn.executemany(
            "UPDATE sentences SET n_entities = (SELECT count(*) FROM spans WHERE sentence_id = ?),"
            " version = version + 1 WHERE id = ?",
            [(i, i) for i in sentence_ids])
