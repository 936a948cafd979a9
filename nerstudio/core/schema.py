"""The project file's schema, versioned with sqlite-utils ``Migrations``.

Append new migrations at the end; never edit one that has shipped. Each runs in a transaction.
"""
from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("nerstudio")

SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (name <> '' AND name NOT LIKE '% %'),
    colour TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT,
    header TEXT,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    tokens TEXT NOT NULL,          -- JSON list of token strings
    starts TEXT NOT NULL,          -- JSON list of character offsets into text
    columns TEXT,                  -- JSON: extra CoNLL columns per token, or NULL
    split TEXT NOT NULL DEFAULT 'unassigned'
        CHECK (split IN ('train', 'dev', 'test', 'unassigned')),
    status TEXT NOT NULL DEFAULT 'unlabelled'
        CHECK (status IN ('unlabelled', 'labelled', 'reviewed')),
    n_entities INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT
);
CREATE INDEX sentences_split_status ON sentences(split, status);
CREATE INDEX sentences_document ON sentences(document_id, position);
CREATE TABLE spans (
    sentence_id INTEGER NOT NULL REFERENCES sentences(id) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    label_id INTEGER NOT NULL REFERENCES labels(id),
    PRIMARY KEY (sentence_id, start),
    CHECK (start >= 0 AND "end" > start)
) WITHOUT ROWID;
CREATE INDEX spans_label ON spans(label_id);
CREATE TABLE edits (
    id INTEGER PRIMARY KEY,
    sentence_id INTEGER NOT NULL REFERENCES sentences(id) ON DELETE CASCADE,
    before TEXT NOT NULL,          -- JSON {"spans": [[start, end, label_id]...], "status": ...}
    after TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX edits_undone ON edits(undone, id);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    finished_at TEXT,
    base_model TEXT NOT NULL,
    config TEXT NOT NULL,          -- JSON
    labels TEXT NOT NULL,          -- JSON list of IOB2 tags in id order
    device TEXT,
    status TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'finished', 'failed', 'cancelled', 'interrupted')),
    error TEXT,
    output_dir TEXT,
    best_checkpoint TEXT,
    best_f1 REAL,
    final_metrics TEXT,            -- JSON
    best_metrics TEXT,             -- JSON
    duration_s REAL
);
CREATE TABLE run_metrics (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('train', 'eval')),
    step INTEGER NOT NULL,
    epoch REAL,
    data TEXT NOT NULL             -- JSON
);
CREATE INDEX run_metrics_run ON run_metrics(run_id, kind, step);
CREATE TABLE predictions (
    sentence_id INTEGER NOT NULL REFERENCES sentences(id) ON DELETE CASCADE,
    run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    label TEXT NOT NULL,
    score REAL NOT NULL
);
CREATE INDEX predictions_sentence ON predictions(sentence_id);
CREATE TABLE uncertainty (
    sentence_id INTEGER PRIMARY KEY REFERENCES sentences(id) ON DELETE CASCADE,
    run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
    entropy REAL NOT NULL,
    margin REAL NOT NULL
);
"""


@migrations()
def m001_initial(db: Database) -> None:
    # executescript() would COMMIT the migration's transaction first, so run statement by statement.
    for statement in SCHEMA_V1.split(";\n"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m002_fulltext(db: Database) -> None:
    db["sentences"].enable_fts(["text"], create_triggers=True, tokenize="unicode61")
    # sqlite-utils' update trigger re-indexes on ANY column change; a label edit updates the
    # sentence's status, so re-index only when the text itself changes (keeps edits < 5 ms).
    db.execute("DROP TRIGGER sentences_au")
    db.execute(
        'CREATE TRIGGER sentences_au AFTER UPDATE OF text ON sentences BEGIN '
        "INSERT INTO sentences_fts (sentences_fts, rowid, text) VALUES('delete', old.rowid, old.text); "
        "INSERT INTO sentences_fts (rowid, text) VALUES (new.rowid, new.text); END")
