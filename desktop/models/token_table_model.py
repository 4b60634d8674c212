"""The token table: a ``QAbstractTableModel`` over (configuration, token state) rows.

Sorting and filtering happen here, in Python over plain lists, because a
``QSortFilterProxyModel`` would call back into Python for every comparison (10,000 rows
must load in under 0.5 s and sort or filter in under 100 ms; see bench/bench_startup.py).
Display text is computed lazily for the rows a view asks for, against a "now" that
``tick()`` advances (the window calls it once a minute while visible).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Signal
from PySide6.QtGui import QBrush

from desktop.models.config import TokenConfiguration
from desktop.models.icons import status_icon
from desktop.models.status import StatusText, refresh_status, token_status
from desktop.models.token import TokenState, utcnow
from desktop.models.tones import tone_color
from desktop.qtns import DECORATION_ROLE, DISPLAY_ROLE, FOREGROUND_ROLE, TOOLTIP_ROLE, USER_ROLE, Qt

COL_NAME, COL_TEMPLATE, COL_TOKEN, COL_REFRESH, COL_VALIDITY, COL_ACCOUNT = range(6)
HEADERS = ("Name", "Template", "Token status", "Refresh-token status", "Validity", "Signed in as")

#: the TokenConfiguration of a row
ConfigRole = USER_ROLE + 1
#: the TokenState of a row
StateRole = USER_ROLE + 2
#: the status kind value ('valid', 'expired', ...) of the token or refresh-token column
StatusKindRole = USER_ROLE + 3

#: status kind -> tone (desktop/models/tones.py: readable on light and dark themes)
_STATUS_TONES = {
    "valid": "ok",
    "no_expiry": "ok",
    "expiring": "warn",
    "expired": "error",
    "failed": "error",
    "reauth": "reauth",
    "none": "muted",
}


class SelectedRow(NamedTuple):
    """A row as the table read it: the configuration and its token state (receivers need no store query)."""

    config: TokenConfiguration
    state: TokenState


class Selection(NamedTuple):  # NamedTuple: ~7x quicker to build than a dataclass at start-up
    """What is selected in the token table (``MainWindow.selection_changed`` carries it)."""

    #: the selected rows, top to bottom
    rows: tuple[SelectedRow, ...] = ()
    #: the row the details pane shows (the current one of several; None: nothing selected)
    current: SelectedRow | None = None

    @property
    def configurations(self) -> list[TokenConfiguration]:
        return [row.config for row in self.rows]


def row_status(config: TokenConfiguration, state: TokenState, column: int, now: datetime,
               token_lead: timedelta = timedelta(minutes=5)) -> StatusText:
    """Token column: 'expiring' inside the automatic-refresh lead time; refresh-token column:
    inside the configuration's warning lead time."""
    if column == COL_TOKEN:
        return token_status(state, now, token_lead)
    return refresh_status(state, now, timedelta(minutes=config.notification_lead_time_minutes))


class TokenRow:
    """A row as the table holds it (a plain class with slots: built at every start, 10,000 times for a large
    store - a dataclass costs ~1 ms to define and more memory per row)."""

    __slots__ = ("config", "state", "search_text", "_cache", "_cache_now")

    def __init__(self, config: TokenConfiguration, state: TokenState, search_text: str = "") -> None:
        self.config = config
        self.state = state
        self.search_text = search_text
        self._cache: dict[int, StatusText] = {}
        self._cache_now: datetime | None = None

    def __repr__(self) -> str:
        return f"TokenRow({self.config.name!r})"

    def status(self, column: int, now: datetime, token_lead: timedelta = timedelta(minutes=5)) -> StatusText:
        """Token column: 'expiring' inside the automatic-refresh lead time; refresh-token column:
        inside the configuration's warning lead time."""
        if self._cache_now != now:
            self._cache.clear()
            self._cache_now = now
        cached = self._cache.get(column)
        if cached is None:
            cached = row_status(self.config, self.state, column, now, token_lead)
            self._cache[column] = cached
        return cached


#: the table names the client secret's expiry this many days ahead
CLIENT_SECRET_SHOWN_DAYS = 30


def client_secret_soon(cfg: TokenConfiguration, now: datetime) -> tuple[str, str] | None:
    """(text, tone) when the client secret expires within 30 days or has expired, else None."""
    day = cfg.client_secret_expires
    if day is None:
        return None
    left = (day - now.astimezone().date()).days
    if left > CLIENT_SECRET_SHOWN_DAYS:
        return None
    if left < 0:
        return f"client secret expired {day.isoformat()}", "error"
    if left == 0:
        return "client secret expires today", "error"
    return f"client secret expires {day.isoformat()} (in {left} day{'s' if left != 1 else ''})", "warn"


def _search_text(cfg: TokenConfiguration, state: TokenState) -> str:
    now = utcnow()
    parts = [cfg.name, cfg.template_name, cfg.validity_label, token_status(state, now).kind.value]
    if state.has_error:
        parts.append(state.error_text)
    if state.reauthorization_needed:
        parts.append("re-authorization needed")
    if state.never_requested():
        parts.append("no token requested yet")
    if not cfg.has_client_secret:
        parts.append("client secret missing")
    if state.account:
        parts.append(state.account)
    return " ".join(parts).casefold()


def _status_sort_key(state: TokenState, column: int) -> tuple[int, float]:
    """Urgency order that does not depend on 'now': problems first, then by expiry time."""
    if column == COL_TOKEN:
        if state.reauthorization_needed:
            return (0, 0.0)
        if state.has_error:
            return (1, 0.0)
        if state.never_requested() or not state.has_access_token:
            return (4, 0.0)
        exp = state.token_expires_at
        return (2, exp.timestamp()) if exp else (3, 0.0)
    if not state.has_refresh_token:
        return (4, 0.0)
    exp = state.refresh_token_expires_at
    return (2, exp.timestamp()) if exp else (3, 0.0)


class TokenTableModel(QAbstractTableModel):
    #: emitted after the visible rows changed (filter or reload): the view may update its empty-state text
    rows_changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._all: list[TokenRow] = []
        self._rows: list[TokenRow] = []
        self._filter = ""
        self._sort_column = COL_NAME
        self._descending = False
        self._now = utcnow()
        #: access tokens count as "expiring" inside this lead (the refresh.lead_time_seconds setting)
        self.token_lead = timedelta(minutes=5)

    # ---- loading
    def set_rows(self, rows: list[tuple[TokenConfiguration, TokenState]]) -> None:
        self.beginResetModel()
        self._all = [TokenRow(cfg, st, _search_text(cfg, st)) for cfg, st in rows]
        self._now = utcnow()
        self._apply_filter_and_sort()
        self.endResetModel()
        self.rows_changed.emit()

    def pairs(self) -> list[tuple[TokenConfiguration, TokenState]]:
        """Every loaded configuration with its state (all rows, whatever the filter shows)."""
        return [(row.config, row.state) for row in self._all]

    def update_row(self, cfg: TokenConfiguration, state: TokenState) -> None:
        """Replace one configuration's row in place (after a refresh or an edit)."""
        for row in self._all:
            if row.config.id == cfg.id:
                row.config, row.state = cfg, state
                row.search_text = _search_text(cfg, state)
                row._cache.clear()
                break
        else:
            return
        if row in self._rows:
            r = self._rows.index(row)
            self.dataChanged.emit(self.index(r, 0), self.index(r, len(HEADERS) - 1))

    def tick(self, now: datetime | None = None) -> None:
        """Advance 'now' so relative times ('in 12 min') stay true; repaints the status columns."""
        self._now = now or utcnow()
        if self._rows:
            self.dataChanged.emit(self.index(0, COL_TOKEN), self.index(len(self._rows) - 1, COL_REFRESH))

    @property
    def now(self) -> datetime:
        return self._now

    def total_count(self) -> int:
        return len(self._all)

    # ---- filter and sort
    def set_filter(self, text: str) -> None:
        text = text.strip().casefold()
        if text == self._filter:
            return
        self.beginResetModel()
        self._filter = text
        self._apply_filter_and_sort()
        self.endResetModel()
        self.rows_changed.emit()

    @property
    def filter_text(self) -> str:
        return self._filter

    def _apply_filter_and_sort(self) -> None:
        words = self._filter.split()
        rows = [r for r in self._all if all(w in r.search_text for w in words)] if words else list(self._all)
        rows.sort(key=self._sort_key(self._sort_column), reverse=self._descending)
        self._rows = rows

    @staticmethod
    def _sort_key(column: int):  # type: ignore[no-untyped-def]
        if column == COL_NAME:
            return lambda r: r.config.name.casefold()
        if column == COL_TEMPLATE:
            return lambda r: (r.config.template_name.casefold(), r.config.name.casefold())
        if column == COL_VALIDITY:
            return lambda r: (r.config.valid_id, r.config.name.casefold())
        if column == COL_ACCOUNT:  # rows without an account last, in either order of the others
            return lambda r: (not r.state.account, r.state.account.casefold(), r.config.name.casefold())
        return lambda r: (*_status_sort_key(r.state, column), r.config.name.casefold())

    @property
    def sort_state(self) -> tuple[int, bool]:
        """(column, descending): how the rows are sorted."""
        return self._sort_column, self._descending

    def set_sort_state(self, column: int, descending: bool) -> None:
        """How the next ``set_rows`` sorts, before any view sorts: the first frame's order (ui.ini) without the
        view's ``sortByColumn``, whose ``Qt.SortOrder`` would build PySide6's ``Qt`` namespace (desktop/qtns.py)."""
        if 0 <= column < len(HEADERS):
            self._sort_column, self._descending = column, descending

    def sort(self, column: int, order: Qt.SortOrder | None = None) -> None:  # the view's sortByColumn
        self.layoutAboutToBeChanged.emit()
        old_persistent = self.persistentIndexList()
        old_rows = [(self._rows[i.row()], i.column()) for i in old_persistent]
        self._sort_column, self._descending = column, order == Qt.SortOrder.DescendingOrder
        self._apply_filter_and_sort()
        position = {id(row): n for n, row in enumerate(self._rows)}
        new_indexes = [self.index(position[id(row)], col) for row, col in old_rows]
        self.changePersistentIndexList(old_persistent, new_indexes)
        self.layoutChanged.emit()

    # ---- access
    def row_at(self, row: int) -> TokenRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def config_at(self, row: int) -> TokenConfiguration | None:
        r = self.row_at(row)
        return r.config if r else None

    def row_of(self, name: str) -> int:
        key = name.casefold()
        for n, row in enumerate(self._rows):
            if row.config.name.casefold() == key:
                return n
        return -1

    def row_of_id(self, config_id: int) -> int:
        for n, row in enumerate(self._rows):
            if row.config.id == config_id:
                return n
        return -1

    def rows(self) -> list[TokenRow]:
        return list(self._rows)

    # ---- QAbstractTableModel
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY_ROLE) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == DISPLAY_ROLE
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY_ROLE) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        cfg = row.config
        if role == DISPLAY_ROLE:
            if col == COL_NAME:
                return cfg.name
            if col == COL_TEMPLATE:
                return cfg.template_name
            if col == COL_VALIDITY:
                soon = client_secret_soon(cfg, self._now)
                return f"{cfg.validity_label}; {soon[0]}" if soon else cfg.validity_label
            if col == COL_ACCOUNT:
                return row.state.account
            return row.status(col, self._now, self.token_lead).text
        if role == DECORATION_ROLE and col in (COL_TOKEN, COL_REFRESH):
            return status_icon(row.status(col, self._now, self.token_lead).kind.value)
        if role == FOREGROUND_ROLE:
            if not cfg.is_valid:
                return QBrush(tone_color("disabled"))
            if col in (COL_TOKEN, COL_REFRESH):
                kind = row.status(col, self._now, self.token_lead).kind.value
                return QBrush(tone_color(_STATUS_TONES.get(kind, "disabled")))
            if col == COL_VALIDITY and (soon := client_secret_soon(cfg, self._now)):
                return QBrush(tone_color(soon[1]))
            return None
        if role == TOOLTIP_ROLE:
            if col == COL_NAME and not cfg.has_client_secret:
                return f"{cfg.name}: client secret missing (Edit to add it, if the provider requires one)"
            if col in (COL_TOKEN, COL_REFRESH):
                return row.status(col, self._now, self.token_lead).text
            if col == COL_VALIDITY and not cfg.is_valid:
                return "Invalid configurations are not refreshed and do not notify."
            if col == COL_VALIDITY and client_secret_soon(cfg, self._now):
                return "Make a new client secret at the provider, then enter it and its expiry date with Edit."
            if col == COL_ACCOUNT:
                return ("The account that signed in, as the token says (mail accounts must log in as it)"
                        if row.state.account else "The provider did not say who signed in (or no token is stored)")
            return None
        if role == StatusKindRole and col in (COL_TOKEN, COL_REFRESH):
            return row.status(col, self._now, self.token_lead).kind.value
        if role == ConfigRole:
            return cfg
        if role == StateRole:
            return row.state
        return None
