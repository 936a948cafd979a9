"""The sentence list: a Qt table model over the store that fetches on demand.

Rows come from ``ProjectStore.sentence_rows`` a page at a time (``canFetchMore`` / ``fetchMore``),
so a 100,000-sentence project opens as fast as a small one.

A list of ids instead (``set_filters(ids=...)``: the active-learning order, the likely label
errors) is listed in that order, a page at a time as well; the split / status / label / search
filters still apply (split and status from each row, label and search through one query for the
ids they allow)."""
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
        self.ids = None           # a callable giving the ids to list in order, or None: all
        self._order: list[int] = []  # its ids (when set), read at each refresh / reload
        self._cursor = 0          # how far into ``_order`` rows have been fetched
        self._allowed: set[int] | None = None  # ids the label / search filters allow
        self.rows: list = []
        self.total = 0
        self.refresh()

    def set_filters(self, split=None, status=None, label=None, search=None, ids=None) -> None:
        """``ids``: a function returning the sentence ids to list, in order (None: every
        sentence, in file order)."""
        self.filters = {k: v for k, v in dict(split=split, status=status, label=label,
                                               search=search).items() if v}
        self.ids = ids
        self.refresh()

    # -- an ordered list of ids -----------------------------------------------------------------
    def _read_order(self) -> None:
        self._order = list(self.ids())
        narrowing = {k: v for k, v in self.filters.items() if k in ("label", "search")}
        if narrowing:
            n = self.store.count(**narrowing)
            self._allowed = {r.id for r in self.store.sentence_rows(0, n, **narrowing)}
        else:
            self._allowed = None

    def _listed(self, row) -> bool:
        f = self.filters
        status = f.get("status")
        return ((not f.get("split") or row.split == f["split"])
                and (not status or row.status in ((status,) if isinstance(status, str)
                                                   else status))
                and (self._allowed is None or row.id in self._allowed))

    def _ordered_rows(self, start: int, want: int) -> tuple[list, int]:
        """Up to ``want`` listed rows from ``_order[start:]`` and where the reading stopped."""
        rows, i = [], start
        while i < len(self._order) and len(rows) < want:
            try:
                row = self.store.sentence_row(self._order[i])
            except Exception:  # noqa: BLE001 - deleted meanwhile: not listed
                row = None
            i += 1
            if row is not None and self._listed(row):
                rows.append(row)
        return rows, i

    def _fetch(self, offset: int, limit: int, reread: bool = False) -> tuple[int, list]:
        """(total, rows[offset:offset+limit]) in either mode; ``reread``: the id list afresh."""
        if self.ids is None:
            return (self.store.count(**self.filters),
                    self.store.sentence_rows(offset, limit, **self.filters))
        if reread:
            self._read_order()
        rows, self._cursor = self._ordered_rows(0 if offset == 0 else self._cursor, limit)
        # the total is known once the whole list is read; until then it is "more than shown"
        more = self._cursor < len(self._order)
        return offset + len(rows) + (1 if more else 0), rows

    def refresh(self) -> None:
        """Reload from the store (after an import, a filter change, a label merge...)."""
        self.beginResetModel()
        self.total, self.rows = self._fetch(0, PAGE, reread=True)
        self.endResetModel()

    def reload(self) -> bool:
        """Re-read the listed rows after the data changed (another window's edit, a label merge).
        When the same sentences are listed, rows are updated in place (the view keeps its
        selection and scroll position); otherwise the model is reset. Returns True on a reset."""
        total, rows = self._fetch(0, max(len(self.rows), PAGE), reread=True)
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
        if self.ids is None:
            more = self.store.sentence_rows(len(self.rows), PAGE, **self.filters)
        else:
            self.total, more = self._fetch(len(self.rows), PAGE)
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
