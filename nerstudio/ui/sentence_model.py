"""The sentence list: a Qt table model over the store that fetches on demand.

Rows come from ``ProjectStore.sentence_rows`` a page at a time (``canFetchMore`` / ``fetchMore``),
so a 100,000-sentence project opens as fast as a small one."""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from ..core.store import ProjectStore
from .safe_text import rich_plain
from .text import status_text

COLUMNS = ("Sentence", "Split", "Status", "Entities")
PAGE = 256
SHOWN_CHARS = 300  # a list cell (and its tooltip) shows this much of a long sentence


def elided(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis. Why: the view lays out whatever
    data() returns, on every repaint; a 50,000-token sentence's 300,000 characters made each
    repaint of the list cost 0.4 s. Search still matches the whole text (full-text, in SQL)."""
    if len(text) <= limit:
        return text
    return text[:limit - 1].rstrip() + "\u2026"


class SentenceListModel(QAbstractTableModel):
    def __init__(self, store: ProjectStore, parent=None):
        super().__init__(parent)
        self.store = store
        self.filters: dict = {}
        self.rows: list = []
        self.total = 0
        self.refresh()

    def set_filters(self, split=None, status=None, label=None, search=None) -> None:
        self.filters = {k: v for k, v in dict(split=split, status=status, label=label,
                                               search=search).items() if v}
        self.refresh()

    def refresh(self) -> None:
        """Reload from the store (after an import, a filter change, a label merge...)."""
        self.beginResetModel()
        self.total = self.store.count(**self.filters)
        self.rows = self.store.sentence_rows(0, PAGE, **self.filters)
        self.endResetModel()

    def reload(self) -> bool:
        """Re-read the listed rows after the data changed (another window's edit, a label merge).
        When the same sentences are listed, rows are updated in place (the view keeps its
        selection and scroll position); otherwise the model is reset. Returns True on a reset."""
        total = self.store.count(**self.filters)
        rows = self.store.sentence_rows(0, max(len(self.rows), PAGE), **self.filters)
        if total == self.total and [r.id for r in rows[:len(self.rows)]] == [r.id for r in self.rows]:
            self.rows = rows[:len(self.rows)]
            if self.rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(COLUMNS) - 1))
            return False
        self.beginResetModel()
        self.total, self.rows = total, rows
        self.endResetModel()
        return True

    def update_row(self, sentence_id: int) -> None:
        """Re-read one sentence's row after an edit (status, entity count)."""
        i = self.row_of(sentence_id)
        if i is not None:
            self.rows[i] = self.store.sentence_row(sentence_id)
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    # -- Qt model API ---------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent=QModelIndex()) -> bool:
        return not parent.isValid() and len(self.rows) < self.total

    def fetchMore(self, parent=QModelIndex()) -> None:
        more = self.store.sentence_rows(len(self.rows), PAGE, **self.filters)
        if not more:
            self.total = len(self.rows)
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(more) - 1)
        self.rows.extend(more)
        self.endInsertRows()

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.DisplayRole:
            status = status_text(row.status, row.has_predictions)
            return (elided(row.text), row.split, status, row.n_entities)[index.column()]
        if role == Qt.ToolTipRole and index.column() == 0:
            return rich_plain(elided(row.text))  # literal: a sentence may contain "<img ...>"
        if role == Qt.UserRole:
            return row.id
        return None

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return COLUMNS[section]
        return None

    def row_of(self, sentence_id: int) -> int | None:
        return next((i for i, row in enumerate(self.rows) if row.id == sentence_id), None)
