"""A run's frozen inputs in its folder: ``data.json`` (the data snapshot) and
``train_config.json`` (the config with "auto" resolved), written whole or not at all.

A resume, and the other ranks of a distributed run, read the run from these two files instead
of the project; so a kill mid-write must leave the old file (or none), never half of one, and a
damaged one is one line. Apart from the engine because that is all it is: files, no training.
"""
from __future__ import annotations

import json
from pathlib import Path

from .config import TrainConfig
from .data import TrainingData
from .failures import TrainingFailed, first_line

SNAPSHOT = "data.json"
CONFIG = "train_config.json"


def write_atomic(path: Path, text: str) -> None:
    """``path`` holds ``text`` whole or keeps what it held: a temporary file beside it, synced,
    then renamed over it (a kill mid-write leaves no half file for a resume to trip on). The
    export's :func:`~..formats.safety.atomic_file`, with a write's own OSError kept as it is (a
    run's failure report reads its errno: see ``failures.disk_full``)."""
    from ..formats.safety import ExportWriteError, atomic_file

    try:
        with atomic_file(path) as f:
            f.write(text)
    except ExportWriteError as exc:  # an export's wording of a failed write: the error itself
        raise exc.__cause__ from None


def _rows(examples) -> list:
    return [[list(e.words), list(e.tags)] for e in examples]


def save_snapshot(data: TrainingData, path: Path, learned: list | None = None) -> None:
    """``learned``: a continued run's training sentences are only the new and the replayed
    ones (incremental.py); what its model has learned is all of them, kept for the next run
    that continues from it."""
    raw = {"tags": data.tags, "train": _rows(data.train), "dev": _rows(data.dev)}
    if learned is not None:
        raw["learned"] = _rows(learned)
    write_atomic(path, json.dumps(raw))


def load_snapshot(path: Path, learned: bool = False) -> TrainingData:
    """The run's frozen data (``learned``: with every sentence its model has learned as
    train, see :func:`save_snapshot`); a damaged file (a half write by an older version) is
    one line."""
    from .data import Example

    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        mk = lambda rows: [Example(tuple(w), tuple(t)) for w, t in rows]  # noqa: E731
        data = TrainingData(mk(raw["train"]), mk(raw["dev"]), list(raw["tags"]))
        return (TrainingData(mk(raw.get("learned", raw["train"])), data.dev, data.tags)
                if learned else data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainingFailed(f"{path}: damaged data snapshot, cannot resume this run "
                             f"({first_line(exc)}); start a new run") from exc


def save_run_inputs(data: TrainingData, config: TrainConfig, out: Path,
                    learned: list | None = None) -> None:
    """A new run's snapshot and resolved config, in its folder (created when missing)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_snapshot(data, out / SNAPSHOT, learned)
    write_atomic(out / CONFIG, json.dumps(config.to_dict(), indent=2))


def load_run_inputs(out: Path, config: TrainConfig) -> tuple[TrainingData, TrainConfig]:
    """The very data and settings a run started with (``config`` when it saved none: a run of
    an older version); refused in one line when there is no snapshot or the config is damaged."""
    snapshot = out / SNAPSHOT
    if not snapshot.exists():
        raise TrainingFailed(f"{out}: nothing to resume (no data snapshot)")
    data = load_snapshot(snapshot)
    saved = out / CONFIG
    if saved.exists():
        try:
            config = TrainConfig.from_dict(json.loads(saved.read_text()))
        except (ValueError, TypeError, KeyError) as exc:
            raise TrainingFailed(f"{saved}: damaged ({first_line(exc)})") from exc
    return data, config
