"""Training runs (rows, metrics, evaluations) and the project's statistics.

A part of :class:`nerstudio.core.store.ProjectStore` (one class over one connection; this
module holds one concern of it)."""
from __future__ import annotations

import json

from .domain import SPLITS
from .errors import StoreError


class RunsPart:
    """Training runs (rows, metrics, evaluations) and the project's statistics."""

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

    def delete_run_metrics(self, run_id: int, after_step: int | None = None) -> int:
        """Drop a run's metric rows after ``after_step`` (all when None): a run resumed from a
        checkpoint records those steps again. Returns the rows removed."""
        with self.transaction():
            return self.db.execute(
                "DELETE FROM run_metrics WHERE run_id = ? AND step > ?",
                (run_id, -2**63 if after_step is None else after_step)).rowcount

    def runs(self) -> list[dict]:
        return [self._run_dict(r) for r in self._q("SELECT * FROM runs ORDER BY id")]

    def run(self, run_id: int) -> dict:
        rows = self._q("SELECT * FROM runs WHERE id = ?", [run_id])
        if not rows:
            raise StoreError(f"no run {run_id}")
        return self._run_dict(rows[0])

    def _run_dict(self, row) -> dict:
        out = dict(zip([r[1] for r in self._q("PRAGMA table_info(runs)")], row))
        for k in ("config", "labels", "final_metrics", "best_metrics", "evaluations"):
            if out.get(k):
                out[k] = json.loads(out[k])
        out["evaluations"] = out.get("evaluations") or {}  # {split: metrics}; {} before m004
        return out

    def set_run_evaluation(self, run_id: int, split: str, metrics: dict) -> None:
        """Store a run's scores on ``split`` (replacing an earlier evaluation on that split;
        other splits' are kept)."""
        if split not in SPLITS:
            raise StoreError(f"unknown split {split!r}")
        with self.transaction():
            row = self._q("SELECT evaluations FROM runs WHERE id = ?", [run_id])
            if not row:
                raise StoreError(f"no run {run_id}")
            evaluations = json.loads(row[0][0]) if row[0][0] else {}
            evaluations[split] = metrics
            self.db.execute("UPDATE runs SET evaluations = ? WHERE id = ?",
                            (json.dumps(evaluations), run_id))

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
