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


# ``PRAGMA application_id`` of every nerstudio project ("NERS"): how the store tells its own files
# from other applications' SQLite files before it writes anything to them.
APPLICATION_ID = 0x4E455253


@migrations()
def m003_integrity(db: Database) -> None:
    """Data-integrity fixes (issue #12). Needs ``PRAGMA foreign_keys = OFF`` (the store sets it):

    - ``application_id`` marks the file as a nerstudio project;
    - ``sentences.version`` counts changes of a sentence's spans/status (stale views are refused);
    - ``edits.origin`` + ``sessions``: undo/redo act on the store instance's own edits;
    - ``labels`` rebuilt with AUTOINCREMENT so a deleted label's id is never reused (edits keep
      label ids), seeded above every id the undo history mentions; ``label_redirects`` records
      merges so an old edit's span follows its label into the merge target."""
    if db.execute("PRAGMA foreign_keys").fetchone()[0]:
        raise RuntimeError("m003 rebuilds 'labels': run it with PRAGMA foreign_keys = OFF")
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("ALTER TABLE sentences ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE edits ADD COLUMN origin TEXT")
    db.execute("CREATE INDEX edits_origin ON edits(origin, undone, id)")
    db.execute("CREATE TABLE sessions (origin TEXT PRIMARY KEY, pid INTEGER NOT NULL, "
               "host TEXT NOT NULL, started TEXT NOT NULL DEFAULT '', "  # process start time
               "opened_at TEXT NOT NULL DEFAULT (datetime('now')))")
    db.execute("CREATE TABLE label_redirects (old_id INTEGER PRIMARY KEY, new_id INTEGER NOT NULL)")
    highest = db.execute(
        "SELECT max(coalesce((SELECT max(id) FROM labels), 0), coalesce((SELECT max("
        "json_extract(j.value, '$[2]')) FROM edits e, json_each(e.before, '$.spans') j), 0), "
        "coalesce((SELECT max(json_extract(j.value, '$[2]')) FROM edits e, "
        "json_each(e.after, '$.spans') j), 0))").fetchone()[0]
    db.execute("""CREATE TABLE labels_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (name <> '' AND name NOT LIKE '% %'),
    colour TEXT NOT NULL,
    position INTEGER NOT NULL
)""")
    db.execute("INSERT INTO labels_new(id, name, colour, position) "
               "SELECT id, name, colour, position FROM labels")
    db.execute("DROP TABLE labels")
    db.execute("ALTER TABLE labels_new RENAME TO labels")
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'labels'")
    db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('labels', ?)", (highest,))
    if db.execute("PRAGMA foreign_key_check(spans)").fetchone() is not None:
        raise RuntimeError("m003: spans reference a missing label")


@migrations()
def m004_run_evaluations(db: Database) -> None:
    """A run's scores on a held-out split (issue #14): JSON ``{split: metrics}``, where metrics
    is :func:`nerstudio.core.training.data.entity_metrics`'s dict plus when and on how many
    sentences it was measured. NULL until the run is first evaluated."""
    db.execute("ALTER TABLE runs ADD COLUMN evaluations TEXT")


@migrations()
def m005_active_review(db: Database) -> None:
    """Model in the loop (issue #15):

    - ``active_order``: the unlabelled sentences in Active learning order (``position`` 0 first,
      most useful to label next), with their uncertainty ``score`` (MNLP; lower = less sure);
      computed by one model, whose run id is kept in ``meta`` ``active_order``;
    - ``review_flags``: tokens the k-fold review suspects of a wrong gold tag: the tag given and
      the tag the out-of-fold model predicts, cleanlab's label-quality ``score`` (lower = more
      likely an error), and the sentence ``version`` they were computed on (a flag on a sentence
      changed since no longer shows). Suggestions only: gold changes when a flag is accepted."""
    db.execute("CREATE TABLE active_order (\n"
               "    sentence_id INTEGER PRIMARY KEY REFERENCES sentences(id) ON DELETE CASCADE,\n"
               "    position INTEGER NOT NULL,\n"
               "    score REAL\n"
               ")")
    db.execute("CREATE INDEX active_order_position ON active_order(position)")
    db.execute("CREATE TABLE review_flags (\n"
               "    sentence_id INTEGER NOT NULL REFERENCES sentences(id) ON DELETE CASCADE,\n"
               "    token_index INTEGER NOT NULL,\n"
               "    given TEXT NOT NULL,\n"
               "    predicted TEXT NOT NULL,\n"
               "    score REAL NOT NULL,\n"
               "    version INTEGER NOT NULL,\n"
               "    PRIMARY KEY (sentence_id, token_index)\n"
               ") WITHOUT ROWID")
    db.execute("CREATE INDEX review_flags_score ON review_flags(score)")
