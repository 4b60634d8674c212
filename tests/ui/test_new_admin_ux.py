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

SUBJECT = "f3a9c2d1-77b4-4e0e-9a51-2c6d8e1b0f42"  # an ID token's sub (Entra, Keycloak): a UUID
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


# ---- point 6: the toolbar and the filter box follow the tab shown
def toolbar_ids(window) -> list[str]:
    return [a.objectName().removeprefix("action_") if not a.isSeparator() else "|"
            for a in window.toolbar.actions() if a.objectName().startswith("action_") or a.isSeparator()]


@pytest.fixture
def mail_accounts(ctx):
    from desktop.usage.accounts import MailAccount
    from desktop.usage.repository import UsageRepository

    repo = UsageRepository(ctx.store)
    repo.add_mail_account(MailAccount(name="Support IMAP", protocol="IMAPS", host="imap.example.org",
                                      login="support@example.org", config_name="With token"))
    repo.add_mail_account(MailAccount(name="Helpdesk SMTP", protocol="SMTP", host="smtp.example.org",
                                      login="helpdesk@example.org", config_name="With token"))


def test_the_toolbar_and_the_filter_follow_the_tab(app, ctx, mail_accounts, qapp):
    window, usage = app.window, app.features["usage"]
    on_tokens = toolbar_ids(window)
    assert on_tokens[:3] == ["add", "edit", "delete"] and "request" in on_tokens and "import" in on_tokens
    window.search.setText("long")  # the token table's filter
    assert window.model.rowCount() == 1
    window.show_tab(usage.mail_tab)
    qapp.processEvents()
    # one Add on this tab: the tab's own (Add mail account); the toolbar keeps what is not about tokens
    assert toolbar_ids(window) == ["import", "export"]
    assert "mail accounts" in window.search.placeholderText() and window.search.text() == ""
    window.search.setText("smtp")
    view = usage.mail_view
    shown = [view.model.item(r).name for r in range(view.model.rowCount()) if not view.table.isRowHidden(r)]
    assert shown == ["Helpdesk SMTP"]
    assert window.model.filter_text == "long"  # typing here did not touch the token table
    window.show_tab(0)
    assert toolbar_ids(window) == on_tokens and window.search.text() == "long"
    assert "mail accounts" not in window.search.placeholderText()
    window.show_tab(usage.mail_tab)
    assert window.search.text() == "smtp"  # each tab keeps its own text
    window.search.clear()
    assert not any(view.table.isRowHidden(r) for r in range(view.model.rowCount()))


def test_selecting_a_configuration_from_another_tab_clears_the_token_filter_not_the_tabs(app, mail_accounts, qapp):
    window, usage = app.window, app.features["usage"]
    window.search.setText("long")
    window.show_tab(usage.mail_tab)
    window.search.setText("smtp")
    assert window.select_configuration("No token")  # a bar or tray click: the row is found behind the filter
    assert window.tabs.currentIndex() == 0 and window.current_configuration().name == "No token"
    assert window.search.text() == ""


# ---- point 16: the mail accounts list gets room
def test_the_mail_account_list_shows_several_rows_beside_the_transcript(app, mail_accounts, qapp):
    window, usage = app.window, app.features["usage"]
    window.resize(1180, 640)
    window.show_tab(usage.mail_tab)
    qapp.processEvents()
    view = usage.mail_view
    row = view.table.verticalHeader().defaultSectionSize()
    assert view.table.height() >= view.table.horizontalHeader().height() + 5 * row
    sizes = view.splitter.sizes()
    assert sizes[0] >= sizes[1]  # the list is not squeezed to a row by the transcript


# ---- point 7 (and point 1 for this dialog): the mail account dialog
@pytest.fixture
def mail_dialog(app, qapp):
    usage = app.features["usage"]
    app.window.show_tab(usage.mail_tab)
    dialog = usage.mail_view.make_dialog(None)
    dialog.show()
    qapp.processEvents()
    yield dialog
    dialog.close()


def test_the_mail_account_dialog_opens_in_its_first_field_and_tabs_top_to_bottom(mail_dialog, qapp):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    d = mail_dialog
    assert qapp.focusWidget() is d.name
    order = [qapp.focusWidget()]
    for _ in range(9):
        QTest.keyClick(qapp.focusWidget(), Qt.Key.Key_Tab)
        order.append(qapp.focusWidget())
    browse = d.ca_file.parentWidget().findChildren(type(d.buttons.buttons()[0]))[0]
    cancel = d.buttons.button(d.buttons.StandardButton.Cancel)
    # the unencrypted-connection box is off for IMAPS and Save is off until the fields are filled: both skipped
    assert order == [d.name, d.protocol, d.host, d.port, d.login, d.config, d.mechanism, d.ca_file, browse, cancel]


def test_the_mail_account_dialog_says_why_save_is_off_and_enter_saves_esc_cancels(app, mail_dialog, qapp):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    d = mail_dialog
    save = d.buttons.button(d.buttons.StandardButton.Save)
    assert not save.isEnabled()
    assert d.errors.isVisible() and d.errors.text() == "To save, fill in: Name, Host, Login."
    d.name.setText("Support IMAP")
    assert d.errors.text() == "To save, fill in: Host, Login."
    d.host.setText("imap.example.org")
    d.login.setText("support@example.org")
    assert save.isEnabled() and not d.errors.isVisible()
    QTest.keyClick(d.ca_file, Qt.Key.Key_Return)  # Enter in any field (even beside Browse) saves
    assert d.result() == d.DialogCode.Accepted and d.saved is not None and d.saved.name == "Support IMAP"
    again = app.features["usage"].mail_view.make_dialog(None)
    again.show()
    qapp.processEvents()
    QTest.keyClick(again.name, Qt.Key.Key_Escape)
    assert again.result() == again.DialogCode.Rejected and not again.isVisible()


def test_the_configuration_list_says_which_have_a_token_and_picks_one_that_has(app, mail_dialog):
    d = mail_dialog
    labels = {d.config.itemData(i): d.config.itemText(i) for i in range(d.config.count())}
    assert labels["With token"] == "With token \u2013 token for support@example.org"
    assert labels["No token"] == "No token \u2013 no token yet"
    assert labels["Refresh only"] == "Refresh only \u2013 token stored"
    # alphabetically "Daemon" and "Long client ID" come first, without a token: the default is one with a token
    assert d.config.currentData() == "Refresh only"
    assert d.login.text() == ""  # "Refresh only" names no account; picking "With token" fills its account in
    d.config.setCurrentIndex(d.config.findData("With token"))
    assert d.login.text() == "support@example.org"


# ---- point 13: the guides in the Help menu
def test_help_opens_the_short_tour_and_the_guide_for_other_programs_from_the_installed_documentation(app, qapp):
    from desktop.ui.enums import MainMenu

    window, help_feature = app.window, app.features["help"]
    help_menu = [a.text() for a in window.menu(MainMenu.HELP).actions() if a.text()]
    assert help_menu[:2] == ["A Short &Tour ...", "Using Tokens in &Other Programs ..."]
    assert window.action(MainAction.TOUR).shortcut().toString() == "F1"
    window.action(MainAction.TOUR).trigger()
    viewer = help_feature.guide_viewer
    text = viewer.browser.toPlainText()
    assert viewer.isVisible() and text.startswith("A short tour for a new admin")
    assert "Register the application at your provider" in text and "Command line" not in text  # the section only
    assert str(viewer.source.text()).endswith("README.md")
    viewer.close()
    window.action(MainAction.OTHER_PROGRAMS).trigger()
    text = help_feature.guide_viewer.browser.toPlainText()
    assert text.startswith("Using Tokendesk's tokens in other programs") and "msmtp" in text
    help_feature.guide_viewer.close()


def test_without_installed_documentation_help_opens_the_project_page(app, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    from desktop import documentation

    opened: list[str] = []
    monkeypatch.setattr(documentation, "documentation_dirs", lambda: [])
    monkeypatch.setattr(documentation, "project_url", lambda: "https://tokendesk.example.org/docs")
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True)
    assert app.features["help"].open_guide(documentation.TOUR) == "web"
    assert opened == ["https://tokendesk.example.org/docs"]
    assert "https://tokendesk.example.org/docs" in app.window.statusBar().currentMessage()
    monkeypatch.setattr(documentation, "project_url", lambda: "")
    assert app.features["help"].open_guide(documentation.OTHER_PROGRAMS) == ""
    assert "docs/usage-with-other-programs.md" in app.window.statusBar().currentMessage()


def test_the_project_page_comes_from_the_package_metadata(monkeypatch):
    from importlib import metadata

    from desktop import documentation

    class Meta:
        def get_all(self, _name):
            return ["Source, https://src.example.org/tokendesk", "Documentation, https://docs.example.org/tokendesk"]

    monkeypatch.setattr(metadata, "metadata", lambda _name: Meta())
    assert documentation.project_url() == "https://docs.example.org/tokendesk"


def test_a_guide_section_ends_at_the_next_heading_of_its_level():
    from desktop.documentation import section

    text = "# T\nintro\n## A\none\n### A.1\ntwo\n## B\nthree\n"
    assert section(text, "A") == "## A\none\n### A.1\ntwo\n"
    assert section(text, "missing") == text and section(text, "") == text


# ---- point 10: the first window size shows every column on a 1400x900 display
def test_on_a_1400x900_display_every_column_shows_without_scrolling_sideways(app, qapp):
    from PySide6.QtCore import QRect

    from desktop.ui.window_layout import apply_default_layout

    window = app.window
    apply_default_layout(window, QRect(0, 0, 1400, 870))  # a panel takes 30 px
    qapp.processEvents()
    assert window.width() <= 1400 - 12 and window.height() <= 870
    table = window.table
    assert table.horizontalScrollBar().maximum() == 0
    viewport = table.viewport().width()
    header = table.horizontalHeader()
    for col in range(window.model.columnCount()):  # Validity and "Signed in as" included
        assert not header.isSectionHidden(col)
        assert table.columnViewportPosition(col) + header.sectionSize(col) <= viewport, col
    assert window.details.width() >= window.details.minimumWidth()


def test_the_first_layout_measures_no_row(app, make_config):
    """Start-up stays as fast with 10,000 rows: the widths come from the font, never from the rows' texts."""
    from PySide6.QtCore import QRect

    from desktop.ui.window_layout import apply_default_layout

    window = app.window
    header = window.table.horizontalHeader()
    apply_default_layout(window, QRect(0, 0, 1400, 870))
    before = [header.sectionSize(c) for c in range(window.model.columnCount() - 1)]  # the last one stretches
    for i in range(30):
        make_config(f"A much longer configuration name than any typical one, number {i}")
    window.reload()
    apply_default_layout(window, QRect(0, 0, 1400, 870))
    assert [header.sectionSize(c) for c in range(window.model.columnCount() - 1)] == before


# ---- point 2, in the window: who signed in, as far as the provider said
def test_the_table_and_details_show_the_subject_or_say_that_nobody_said(app, ctx, qapp):
    from desktop.models.token_table_model import COL_ACCOUNT
    from desktop.usage.service import UsageService

    window = app.window
    no_name = ctx.store.get("No token")
    ctx.store.update_state(no_name.id, has_access_token=True, last_requested_at=utcnow(),
                           token_expires_at=utcnow() + timedelta(hours=1), token_info={"subject": SUBJECT})
    app.hub.token_changed.emit(no_name.id)
    row = window.model.row_of("No token")
    assert window.model.index(row, COL_ACCOUNT).data() == SUBJECT
    select(window, "No token")
    for _ in range(3):
        qapp.processEvents()
    details = app.features["oauth"].details.text()
    assert "(the ID token" in details and "2c6d8e1b0f42" in details
    # a UUID does not wrap in Qt by itself ('-' before a digit): the Token section still fits the pane
    assert window.details.horizontalScrollBar().maximum() == 0
    assert UsageService(ctx).signed_in_account("No token") == ""  # a bare subject is no mail login to suggest
    ctx.store.update_state(no_name.id, token_info={})
    app.hub.token_changed.emit(no_name.id)
    assert window.model.index(row, COL_ACCOUNT).data() == ""
    assert "the provider did not say who signed in" in app.features["oauth"].details.text()
