"""Issue 16 ("What a new admin trips over"), part B, in the window as desktop.app builds it: the details pane
(point 9), the toolbar and filter that follow the tab (6), the mail account dialog (7, 16), the default size (10),
Refresh only where it can run (12) and the Help menu (13)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtGui import QGuiApplication, QTextDocument

from desktop.app import FEATURES, Application
from desktop.models.token import utcnow
from desktop.ui.details_pane import ZERO_WIDTH_SPACE
from desktop.ui.enums import MainAction
from desktop.ui.tasks import InlineTaskRunner

LONG_ID = "0oa" + "x7Kq2" * 16  # an 83-character client ID without a place to wrap (Okta-like)


@pytest.fixture
def app(qapp, ctx, make_config):
    """All features: a token, a refresh-token-only row, a row with none, a client-credentials row with none."""
    with_token = make_config("With token")
    ctx.store.update_state(with_token.id, has_access_token=True, has_refresh_token=True,
                           token_expires_at=utcnow() + timedelta(minutes=40), last_requested_at=utcnow(),
                           token_info={"account": "support@example.org"})
    refresh_only = make_config("Refresh only")
    ctx.store.update_state(refresh_only.id, has_refresh_token=True, last_requested_at=utcnow())
    make_config("No token")
    make_config("Daemon", template="Microsoft Exchange Online (client credentials)",
                TokenByClientCredentials="https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token")
    long_id = ctx.templates.require("Generic OAuth2").new_configuration("Long client ID")
    long_id.client_id = LONG_ID
    for key in ("AuthorizationCode", "TokenByAuthorizationCode", "TokenByRefreshToken"):
        long_id.set_endpoint(key, "https://sso.example.org/oauth2/" + key.lower())
    ctx.configurations.add(long_id, "s3cret")
    application = Application(qapp, ctx, tasks=InlineTaskRunner(), features=FEATURES)
    application.window.show()
    qapp.processEvents()
    yield application
    application.window.close_to_tray = None
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()
    qapp.processEvents()


def select(window, *names: str) -> None:
    sel = window.table.selectionModel()
    sel.clearSelection()
    for name in names:
        index = window.model.index(window.model.row_of(name), 0)
        sel.select(index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
        sel.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)


# ---- point 12: Refresh (F5) only where a refresh can run
def test_refresh_is_off_for_a_configuration_without_a_token(app):
    window, refresh = app.window, app.window.action(MainAction.REFRESH)
    select(window, "No token")
    assert not refresh.isEnabled()  # F5 would only say "no token has been requested yet"
    assert window.action(MainAction.REQUEST).isEnabled()  # what to do instead
    for name in ("With token", "Refresh only", "Daemon"):  # a refresh token, or client credentials: a new token
        select(window, name)
        assert refresh.isEnabled(), name
    select(window, "No token", "Refresh only")
    assert refresh.isEnabled()  # one of them can: F5 renews that one


def test_f5_on_a_mixed_selection_renews_only_what_can_be_renewed(app, monkeypatch):
    window, feature = app.window, app.features["oauth"]
    renewed: list[int] = []
    monkeypatch.setattr(feature.service, "refresh_by_id", lambda config_id: renewed.append(config_id))
    select(window, "No token", "Refresh only")
    window.action(MainAction.REFRESH).trigger()
    assert renewed == [app.ctx.store.get("Refresh only").id]
    assert "Refreshed 'Refresh only'" in window.statusBar().currentMessage()


# ---- point 9: the details pane
def test_details_start_at_the_top_for_another_configuration_and_keep_their_place_for_the_same(app, qapp):
    window = app.window
    window.resize(1000, 420)  # short: the pane scrolls
    select(window, "With token")
    qapp.processEvents()
    bar = window.details.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum())
    cfg = app.ctx.store.get("With token")
    app.hub.token_changed.emit(cfg.id)  # the same configuration drawn again: the admin's place stays
    qapp.processEvents()
    assert bar.value() > 0
    select(window, "No token")
    qapp.processEvents()
    assert bar.value() == 0 and window.details_title.isVisible()


def test_long_values_wrap_instead_of_scrolling_sideways(app, qapp):
    window = app.window
    select(window, "Long client ID")
    qapp.processEvents()
    pane = window.details
    assert pane.horizontalScrollBar().maximum() == 0
    assert window.details_text.width() <= pane.viewport().width()
    assert window.details_text.minimumSizeHint().width() < pane.viewport().width()
    # copying from the pane gives the value as stored, without the wrap marks
    text = window.details_text
    doc = QTextDocument()
    doc.setHtml(text.text())
    text.setSelection(0, doc.characterCount() - 1)
    assert ZERO_WIDTH_SPACE in text.selectedText()
    copy = next(a for a in text.actions() if a.text() == "&Copy")
    copy.trigger()
    copied = QGuiApplication.clipboard().text()
    assert LONG_ID in copied and ZERO_WIDTH_SPACE not in copied
