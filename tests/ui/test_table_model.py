"""The token table model without a view: counts, headers, data per role, sorting, filtering, updates, tick."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QIcon

from desktop.models.config import INVALID, INVALID_TEMPORARILY, VALID, TokenConfiguration
from desktop.models.token import TokenState, utcnow
from desktop.models.token_table_model import (
    COL_NAME,
    COL_REFRESH,
    COL_TEMPLATE,
    COL_TOKEN,
    COL_VALIDITY,
    HEADERS,
    ConfigRole,
    StateRole,
    StatusKindRole,
    TokenTableModel,
)

Display = Qt.ItemDataRole.DisplayRole
Decoration = Qt.ItemDataRole.DecorationRole
Foreground = Qt.ItemDataRole.ForegroundRole
ToolTip = Qt.ItemDataRole.ToolTipRole
ASC, DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder
MIN, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def cfg(config_id: int, name: str, template: str = "Google Mail", valid_id: int = VALID,
        secret: bool = True) -> TokenConfiguration:
    c = TokenConfiguration(name=name, config={"TemplateName": template, "ClientID": "id"}, valid_id=valid_id,
                           id=config_id)
    c.has_client_secret = secret
    return c


@pytest.fixture
def now():
    return utcnow().replace(microsecond=0)


@pytest.fixture
def rows(now):
    """One configuration per status, names in no particular order."""
    return [
        (cfg(1, "delta valid", "Microsoft Exchange Online"),
         TokenState(1, has_access_token=True, has_refresh_token=True, token_expires_at=now + 50 * MIN,
                    refresh_token_expires_at=now + 50 * D, last_requested_at=now - H)),
        (cfg(2, "Alpha expired", "Google Mail"),
         TokenState(2, has_access_token=True, has_refresh_token=True, token_expires_at=now - 3 * H,
                    refresh_token_expires_at=now - D, last_requested_at=now - 2 * D)),
        (cfg(3, "charlie failed", "Generic OAuth2", secret=False),
         TokenState(3, error_message="invalid_client", error_code="7000215", error_description="Bad secret.",
                    last_requested_at=now - MIN)),
        (cfg(4, "Echo never", "Generic OpenID Connect", valid_id=INVALID_TEMPORARILY), TokenState(4)),
        (cfg(5, "bravo reauth", "Microsoft Exchange Online"),
         TokenState(5, has_access_token=True, has_refresh_token=True, token_expires_at=now + 20 * MIN,
                    error_message="invalid_grant", reauthorization_needed=True, last_requested_at=now - D)),
        (cfg(6, "foxtrot soon", "Google Mail", valid_id=INVALID),
         TokenState(6, has_access_token=True, has_refresh_token=True, token_expires_at=now + 2 * MIN,
                    last_requested_at=now - H)),
    ]


@pytest.fixture
def model(qapp, rows, now):
    m = TokenTableModel()
    m.set_rows(rows)
    m.tick(now)
    return m


def names(model: TokenTableModel) -> list[str]:
    return [model.data(model.index(r, COL_NAME)) for r in range(model.rowCount())]


def cell(model: TokenTableModel, name: str, column: int, role=Display):
    return model.data(model.index(model.row_of(name), column), role)


# ---- shape


def test_counts_and_headers(model):
    assert model.rowCount() == 6 and model.total_count() == 6
    assert model.columnCount() == 6
    child_parent = model.index(0, 0)
    assert model.rowCount(child_parent) == 0 and model.columnCount(child_parent) == 0
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(6)] == [
        "Name", "Template", "Token status", "Refresh-token status", "Validity", "Signed in as"]
    assert list(HEADERS) == [model.headerData(c, Qt.Orientation.Horizontal) for c in range(6)]
    assert model.headerData(0, Qt.Orientation.Vertical) is None
    assert model.headerData(0, Qt.Orientation.Horizontal, ToolTip) is None
    assert model.headerData(9, Qt.Orientation.Horizontal) is None
    assert model.data(QModelIndex()) is None


def test_empty_model(qapp):
    m = TokenTableModel()
    assert m.rowCount() == 0 and m.total_count() == 0 and m.columnCount() == 6
    assert m.row_at(0) is None and m.config_at(0) is None


# ---- data per role


def test_display_text_per_column(model):
    assert cell(model, "delta valid", COL_TEMPLATE) == "Microsoft Exchange Online"
    assert cell(model, "delta valid", COL_TOKEN).startswith("valid until ")
    assert cell(model, "delta valid", COL_TOKEN).endswith("(in 50 min)")
    assert cell(model, "delta valid", COL_REFRESH).endswith("(in 50 days)")
    assert cell(model, "Alpha expired", COL_TOKEN).startswith("expired on ")
    assert cell(model, "Alpha expired", COL_TOKEN).endswith("(3 h ago)")
    assert cell(model, "Alpha expired", COL_REFRESH).endswith("(24 h ago)")
    assert cell(model, "charlie failed", COL_TOKEN) == (
        "last request failed: invalid_client (error code 7000215): Bad secret.")
    assert cell(model, "charlie failed", COL_REFRESH) == "none"
    assert cell(model, "Echo never", COL_TOKEN) == "no token requested yet"
    assert cell(model, "bravo reauth", COL_TOKEN) == "re-authorization needed: invalid_grant"
    assert cell(model, "bravo reauth", COL_REFRESH) == "valid (no expiry known)"
    assert cell(model, "Echo never", COL_VALIDITY) == "invalid-temporarily"
    assert cell(model, "foxtrot soon", COL_VALIDITY) == "invalid"
    assert cell(model, "delta valid", COL_VALIDITY) == "valid"


def test_status_kinds(model):
    kinds = {n: (cell(model, n, COL_TOKEN, StatusKindRole), cell(model, n, COL_REFRESH, StatusKindRole))
             for n in names(model)}
    assert kinds == {
        "delta valid": ("valid", "valid"),
        "Alpha expired": ("expired", "expired"),
        "charlie failed": ("failed", "none"),
        "Echo never": ("none", "none"),
        "bravo reauth": ("reauth", "no_expiry"),
        "foxtrot soon": ("expiring", "no_expiry"),  # inside the 5-minute refresh lead
    }
    assert cell(model, "delta valid", COL_NAME, StatusKindRole) is None


def test_refresh_token_is_expiring_inside_the_configurations_lead_time(qapp, now):
    c = cfg(1, "Lead")
    c.notification_lead_time_minutes = 60 * 24 * 7
    m = TokenTableModel()
    m.set_rows([(c, TokenState(1, has_refresh_token=True, refresh_token_expires_at=now + 3 * D))])
    assert m.data(m.index(0, COL_REFRESH), StatusKindRole) == "expiring"


def test_decoration_icons_for_status_columns_only(model):
    for name in names(model):
        for column in (COL_TOKEN, COL_REFRESH):
            icon = cell(model, name, column, Decoration)
            assert isinstance(icon, QIcon) and not icon.isNull(), (name, column)
            assert not icon.pixmap(16, 16).isNull()
        assert cell(model, name, COL_NAME, Decoration) is None
        assert cell(model, name, COL_VALIDITY, Decoration) is None
    valid = cell(model, "delta valid", COL_TOKEN, Decoration).pixmap(16, 16).toImage()
    expired = cell(model, "Alpha expired", COL_TOKEN, Decoration).pixmap(16, 16).toImage()
    assert valid != expired  # the states look different, not just read different


def test_foreground_colours(model):
    def colour(name, column):
        brush = cell(model, name, column, Foreground)
        return brush.color().name() if isinstance(brush, QBrush) else None

    assert colour("delta valid", COL_TOKEN) == "#1b5e20"
    assert colour("Alpha expired", COL_TOKEN) == "#b71c1c"
    assert colour("Alpha expired", COL_REFRESH) == "#b71c1c"
    assert colour("charlie failed", COL_TOKEN) == "#b71c1c"
    assert colour("bravo reauth", COL_TOKEN) == "#bf360c"
    assert colour("delta valid", COL_NAME) is None
    # invalid configurations are greyed out in every column
    for column in range(5):
        assert colour("foxtrot soon", column) == "#757575"
        assert colour("Echo never", column) == "#757575"


def test_tooltips(model):
    assert cell(model, "charlie failed", COL_NAME, ToolTip) == (
        "charlie failed: client secret missing (Edit to add it, if the provider requires one)")
    assert cell(model, "delta valid", COL_NAME, ToolTip) is None
    assert cell(model, "Alpha expired", COL_TOKEN, ToolTip) == cell(model, "Alpha expired", COL_TOKEN)
    invalid_tip = "Invalid configurations are not refreshed and do not notify."
    assert cell(model, "Echo never", COL_VALIDITY, ToolTip) == invalid_tip
    assert cell(model, "delta valid", COL_VALIDITY, ToolTip) is None


def test_config_and_state_roles(model, rows):
    for config, state in rows:
        assert cell(model, config.name, COL_TEMPLATE, ConfigRole) is config
        assert cell(model, config.name, COL_TOKEN, StateRole) is state
    assert cell(model, "delta valid", COL_NAME, Qt.ItemDataRole.UserRole + 99) is None


# ---- sorting


def test_default_order_is_by_name_case_insensitively(model):
    assert names(model) == ["Alpha expired", "bravo reauth", "charlie failed", "delta valid", "Echo never",
                            "foxtrot soon"]


def test_sort_by_name_descending(model):
    model.sort(COL_NAME, DESC)
    assert names(model) == ["foxtrot soon", "Echo never", "delta valid", "charlie failed", "bravo reauth",
                            "Alpha expired"]


def test_sort_by_template_then_name(model):
    model.sort(COL_TEMPLATE, ASC)
    assert names(model) == ["charlie failed", "Echo never", "Alpha expired", "foxtrot soon", "bravo reauth",
                            "delta valid"]


def test_sort_by_token_status_is_by_urgency(model):
    model.sort(COL_TOKEN, ASC)
    assert names(model) == ["bravo reauth", "charlie failed", "Alpha expired", "foxtrot soon", "delta valid",
                            "Echo never"]
    model.sort(COL_TOKEN, DESC)
    assert names(model)[0] == "Echo never" and names(model)[-1] == "bravo reauth"


def test_sort_by_refresh_token_status(model):
    model.sort(COL_REFRESH, ASC)
    # expiring soonest first, then valid without a known expiry (by name), then none (by name)
    assert names(model) == ["Alpha expired", "delta valid", "bravo reauth", "foxtrot soon", "charlie failed",
                            "Echo never"]


def test_sort_by_validity(model):
    model.sort(COL_VALIDITY, ASC)
    assert names(model) == ["Alpha expired", "bravo reauth", "charlie failed", "delta valid", "foxtrot soon",
                            "Echo never"]


def test_sort_keeps_persistent_indexes_on_their_rows(model, qtbot):
    persistent = QPersistentModelIndex(model.index(model.row_of("delta valid"), COL_TOKEN))
    with qtbot.waitSignals([model.layoutAboutToBeChanged, model.layoutChanged], timeout=1000):
        model.sort(COL_TOKEN, DESC)
    assert persistent.isValid()
    assert model.data(model.index(persistent.row(), COL_NAME)) == "delta valid"
    assert persistent.column() == COL_TOKEN


# ---- filtering


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpha", ["Alpha expired"]),
        ("  ECHO  ", ["Echo never"]),
        ("google", ["Alpha expired", "foxtrot soon"]),
        ("microsoft exchange", ["bravo reauth", "delta valid"]),
        ("expired", ["Alpha expired"]),
        ("failed", ["charlie failed"]),
        ("7000215", ["charlie failed"]),
        ("re-authorization", ["bravo reauth"]),
        ("no token requested yet", ["Echo never"]),
        ("invalid-temporarily", ["Echo never"]),
        ("client secret missing", ["charlie failed"]),
        ("generic connect", ["Echo never"]),
        ("google reauth", []),
        ("zzz", []),
    ],
)
def test_filter_by_name_template_and_status_words(model, text, expected):
    model.set_filter(text)
    assert names(model) == expected
    assert model.total_count() == 6


def test_filter_signals_and_clearing(model, qtbot):
    with qtbot.waitSignals([model.modelReset, model.rows_changed], timeout=1000):
        model.set_filter("google")
    assert model.filter_text == "google"
    with qtbot.assertNotEmitted(model.modelReset):
        model.set_filter(" GOOGLE ")  # same filter: nothing to do
    model.set_filter("")
    assert model.rowCount() == 6


def test_filter_and_sort_combine(model):
    model.sort(COL_TOKEN, ASC)
    model.set_filter("google")
    assert names(model) == ["Alpha expired", "foxtrot soon"]
    model.sort(COL_NAME, DESC)
    assert names(model) == ["foxtrot soon", "Alpha expired"]
    model.set_filter("")
    assert names(model)[0] == "foxtrot soon"  # the sort order stays


# ---- lookups, updates, time


def test_lookups(model):
    assert model.row_of("ALPHA EXPIRED") == 0
    assert model.row_of("nope") == -1
    assert model.row_of_id(3) == model.row_of("charlie failed")
    assert model.row_of_id(99) == -1
    assert model.config_at(model.row_of("Echo never")).id == 4
    assert [r.config.name for r in model.rows()] == names(model)


def test_update_row_replaces_one_row_and_signals_it(model, qtbot, now):
    row = model.row_of("Echo never")
    new_state = TokenState(4, has_access_token=True, token_expires_at=now + 12 * MIN, last_requested_at=now)
    new_cfg = cfg(4, "Echo never", "Generic OpenID Connect", valid_id=VALID)
    with qtbot.waitSignal(model.dataChanged, timeout=1000) as blocker:
        model.update_row(new_cfg, new_state)
    top_left, bottom_right = blocker.args[:2]
    assert (top_left.row(), top_left.column(), bottom_right.row(), bottom_right.column()) == (row, 0, row, 5)
    assert cell(model, "Echo never", COL_TOKEN).endswith("(in 12 min)")
    assert cell(model, "Echo never", COL_VALIDITY) == "valid"
    model.set_filter("valid until")  # the search text follows the update
    model.set_filter("no token requested yet")
    assert names(model) == []


def test_update_row_of_an_unknown_configuration_is_ignored(model, qtbot):
    with qtbot.assertNotEmitted(model.dataChanged):
        model.update_row(cfg(99, "ghost"), TokenState(99))
    assert model.rowCount() == 6


def test_tick_advances_relative_times_and_kinds(model, qtbot, now):
    assert cell(model, "delta valid", COL_TOKEN).endswith("(in 50 min)")
    with qtbot.waitSignal(model.dataChanged, timeout=1000) as blocker:
        model.tick(now + 48 * MIN)
    top_left, bottom_right = blocker.args[:2]
    assert (top_left.column(), bottom_right.column()) == (COL_TOKEN, COL_REFRESH)
    assert (top_left.row(), bottom_right.row()) == (0, model.rowCount() - 1)
    assert cell(model, "delta valid", COL_TOKEN).endswith("(in 2 min)")
    assert cell(model, "delta valid", COL_TOKEN, StatusKindRole) == "expiring"
    model.tick(now + 51 * MIN)
    assert cell(model, "delta valid", COL_TOKEN).startswith("expired on ")
    assert cell(model, "delta valid", COL_TOKEN, StatusKindRole) == "expired"
    assert model.now == now + 51 * MIN


def test_token_lead_follows_the_setting(model):
    model.token_lead = timedelta(minutes=1)
    model.tick(model.now)
    assert cell(model, "foxtrot soon", COL_TOKEN, StatusKindRole) == "valid"


def test_signed_in_as_column_shows_sorts_and_filters_by_the_account(model, now):
    from desktop.models.token_table_model import COL_ACCOUNT

    signed = TokenState(4, has_access_token=True, token_expires_at=now + 50 * MIN, last_requested_at=now,
                        token_info={"account": "support@contoso.com", "granted_scope": "IMAP"})
    model.update_row(cfg(4, "Echo never", "Generic OpenID Connect", valid_id=VALID), signed)
    assert cell(model, "Echo never", COL_ACCOUNT) == "support@contoso.com"
    assert cell(model, "Alpha expired", COL_ACCOUNT) == ""  # the token does not say
    assert model.index(model.row_of("Echo never"), COL_ACCOUNT).data(ToolTip).startswith(
        "The account that signed in, as the token says")
    model.sort(COL_ACCOUNT, Qt.SortOrder.AscendingOrder)
    assert names(model)[0] == "Echo never"  # the rows that name an account first
    model.set_filter("contoso")
    assert names(model) == ["Echo never"]


def test_status_colours_follow_a_dark_theme(model, qapp):
    from PySide6.QtGui import QColor, QPalette

    def colour(name, column):
        brush = cell(model, name, column, Foreground)
        return brush.color().name() if isinstance(brush, QBrush) else None

    from desktop.models.tones import TONES, is_dark

    light = qapp.palette()
    dark = QPalette(light)
    dark.setColor(QPalette.ColorRole.Window, QColor("#2a2e32"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#1b1e20"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#eff0f1"))
    qapp.setPalette(dark)
    try:
        assert is_dark()
        assert colour("delta valid", COL_TOKEN) == TONES["ok"][1]
        assert colour("Alpha expired", COL_TOKEN) == TONES["error"][1]
        for column in (COL_NAME, COL_TOKEN):
            assert colour("Echo never", column) == TONES["disabled"][1]  # an invalid configuration
        # readable: every dark-theme tone is clearly lighter than the dark background
        assert all(QColor(d).lightness() - QColor("#1b1e20").lightness() > 100 for _l, d in TONES.values())
    finally:
        qapp.setPalette(light)
    assert colour("delta valid", COL_TOKEN) == TONES["ok"][0]
