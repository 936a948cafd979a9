"""WAL checkpoints off the click: the GUI's store connection (``autocheckpoint=False``) runs no
checkpoint inside a commit (SQLite's automatic one, every 1000 pages, took 0.7 s inside a click
on a 50,000-token sentence); the window checkpoints from a worker thread with a connection of
its own once the edits have stopped; the last connection to close still folds the WAL in.

How "no checkpoint" is seen: in WAL mode only a checkpoint writes the project file itself, and a
WAL that starts over after one gets a new header (salt). So during the edits the project file
is untouched, the WAL's header stays and its file only grows, past the 1000 pages after which
the default connection checkpoints (the same edits through a default store show that it does).
"""
import os
import sqlite3
from pathlib import Path

import pytest

from nerstudio.core.domain import Sentence, Span
from nerstudio.core.session import WAL_CHECKPOINT_BYTES, ProjectSession, checkpoint_file
from nerstudio.core.store import ProjectStore

N_TOKENS = 10_000
EDITS = 50
LABELS = ["PER", "ORG", "LOC", "MISC"]


def _spans(k: int) -> list[Span]:
    """Edit ``k``: a span every 5 tokens, labels shifted by k (every span changes)."""
    return [Span(i, i + 1 + i % 2, LABELS[(i // 5 + k) % 4]) for i in range(0, N_TOKENS - 2, 5)]


@pytest.fixture
def project(tmp_path) -> tuple[Path, int]:
    path = tmp_path / "long.nerproj"
    words = [f"w{i % 97}" for i in range(N_TOKENS)]
    with ProjectStore.create(path, labels=LABELS) as store:
        store.import_items([Sentence.from_words(words[:12]), Sentence.from_words(words)])
        sid = next(r.id for r in store.sentence_rows(0, 10) if r.id != 1)
    assert not Path(f"{path}-wal").exists()  # closed: folded into the file
    return path, sid


def _file_state(path: Path) -> tuple:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _wal_header(path: Path) -> bytes:
    with open(f"{path}-wal", "rb") as f:
        return f.read(32)  # magic, version, page size, checkpoint seq, salts, checksum


def _wal_size(path: Path) -> int:
    return os.stat(f"{path}-wal").st_size


def _edit(session_or_store, sid: int, k: int) -> None:
    session_or_store.set_spans(sid, _spans(k))


def test_the_gui_store_does_not_checkpoint_inside_its_edits(project):
    path, sid = project
    session = ProjectSession.open(path, busy_timeout=2, autocheckpoint=False)
    try:
        assert session.store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        _edit(session, sid, 0)
        before, header, sizes = _file_state(path), _wal_header(path), [_wal_size(path)]
        page = session.store.db.execute("PRAGMA page_size").fetchone()[0]
        for k in range(1, EDITS + 1):
            _edit(session, sid, k)
            sizes.append(_wal_size(path))
            assert _file_state(path) == before, f"edit {k} checkpointed into the project file"
        assert _wal_header(path) == header  # the WAL never started over
        assert sizes == sorted(sizes) and sizes[-1] > sizes[0]  # it only grew
        # ... past where SQLite's automatic checkpoint would have run (the test means something)
        assert sizes[-1] > 1000 * page * 1.5
        assert session.wal_bytes() == sizes[-1]

        # the idle checkpoint: another connection, PASSIVE, copies every frame into the file
        busy, log, done = checkpoint_file(path)
        assert busy == 0 and log > 0 and done == log
        assert _file_state(path) != before
        assert sqlite3.connect(path).execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone() == \
            (0, log, log)  # nothing was left
        # the next edit starts the WAL over, and its file is cut back (journal_size_limit)
        _edit(session, sid, EDITS + 1)
        assert _wal_header(path) != header
        assert _wal_size(path) <= 4 * 2**20 < sizes[-1]
        assert session.store.sentence(sid).spans == sorted(_spans(EDITS + 1),
                                                           key=lambda s: s.start)
    finally:
        session.close()
    # the last connection to close checkpoints and removes the WAL: everything is in the file
    assert not Path(f"{path}-wal").exists()
    with ProjectStore(path, read_only=True) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.sentence(sid).spans == sorted(_spans(EDITS + 1), key=lambda s: s.start)
        assert len(store.sentence(sid).tokens) == N_TOKENS


def test_a_default_store_still_checkpoints_by_itself(project):
    """The control: the same edits through a default connection (CLI, workers) checkpoint."""
    path, sid = project
    with ProjectStore(path) as store:
        assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
        _edit(store, sid, 0)
        before = _file_state(path)
        for k in range(1, EDITS + 1):
            _edit(store, sid, k)
        assert _file_state(path) != before


def test_a_checkpoint_never_blocks_the_gui_store(project):
    """A PASSIVE checkpoint takes no write lock: the GUI's edit commits while another
    connection is in the middle of a read (which stops a checkpoint from finishing)."""
    path, sid = project
    session = ProjectSession.open(path, busy_timeout=0.1, autocheckpoint=False)
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        for k in range(5):
            _edit(session, sid, k)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM spans").fetchone()  # holds a snapshot
        _edit(session, sid, 5)  # a frame after the reader's snapshot
        busy, log, done = checkpoint_file(path, busy_timeout=0.1)
        assert busy == 0 and 0 < done < log  # copied up to the reader's snapshot, no further
        _edit(session, sid, 6)  # and the edit did not wait for anything
        reader.execute("COMMIT")
        busy, log2, done = checkpoint_file(path)  # the reader gone: all of it
        assert busy == 0 and done == log2 > log
    finally:
        reader.close()
        session.close()


def test_the_window_checkpoints_when_idle_not_in_the_click(project, qtbot, tmp_path):
    pytest.importorskip("PySide6")
    from PySide6.QtCore import QSettings

    from nerstudio.ui import main_window
    from nerstudio.ui.main_window import MainWindow

    path, sid = project
    window = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    window.open_project(path)
    assert window.store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    window._checkpoint_timer.setInterval(300)  # (CHECKPOINT_IDLE_MS in the app)
    assert main_window.CHECKPOINT_IDLE_MS == 2000
    window.show_sentence(sid)
    assert window.save_spans(_spans(0))
    before, header = _file_state(path), _wal_header(path)
    for k in range(1, EDITS + 1):
        assert window.save_spans(_spans(k))
        assert _file_state(path) == before  # nothing checkpointed inside an edit
        assert window._checkpoint_timer.isActive() and not window._checkpointing
    assert _wal_header(path) == header
    qtbot.waitUntil(lambda: window.last_checkpoint is not None, timeout=20000)
    busy, log, done = window.last_checkpoint
    assert busy == 0 and log > 0 and done == log
    assert _file_state(path) != before
    assert window.save_spans(_spans(EDITS + 1))  # the WAL starts over: cut back to 4 MB
    assert _wal_size(path) <= 4 * 2**20
    window.close()
    assert not Path(f"{path}-wal").exists()
    with ProjectStore(path, read_only=True) as store:
        assert store.sentence(sid).spans == sorted(_spans(EDITS + 1), key=lambda s: s.start)


def test_the_window_checkpoints_at_once_when_the_wal_is_large(project, qtbot, tmp_path,
                                                              monkeypatch):
    pytest.importorskip("PySide6")
    from PySide6.QtCore import QSettings

    from nerstudio.ui import main_window
    from nerstudio.ui.main_window import MainWindow

    assert WAL_CHECKPOINT_BYTES == 16 * 2**20
    monkeypatch.setattr(main_window, "WAL_CHECKPOINT_BYTES", 2 * 2**20)
    path, sid = project
    window = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    window.open_project(path)
    window._checkpoint_timer.setInterval(60_000)  # the idle one does not come in this test
    window.show_sentence(sid)
    k = 0
    while window.last_checkpoint is None and not window._checkpointing:
        assert window.save_spans(_spans(k))
        k += 1
        assert k < EDITS
    assert window.session.wal_bytes() > 2 * 2**20
    qtbot.waitUntil(lambda: window.last_checkpoint is not None, timeout=20000)
    assert window.last_checkpoint[0] == 0
    window.close()


def test_checkpointing_a_missing_file_says_so_and_creates_nothing(tmp_path):
    from nerstudio.core.errors import StoreError

    with pytest.raises(StoreError):
        checkpoint_file(tmp_path / "gone.nerproj")
    assert not (tmp_path / "gone.nerproj").exists()
