"""The window as a shell (issue 14): every feature installed the way the app does, actions and menus by id, one
declarative way to enable actions, a selection change that reads nothing from the store, and the import rules
(the model layer never imports ``desktop/ui``, ``services`` does not know ``usage``, features are typed against
the ``FeatureHost`` protocol and touch nothing private of the window)."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel

from desktop.app import FEATURES, Application
from desktop.models.token import utcnow
from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.tasks import InlineTaskRunner
from desktop.usage.accounts import MailAccount
from desktop.usage.repository import UsageRepository

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "desktop"


@pytest.fixture
def app(qapp, ctx, make_config):
    """All features, as desktop.app installs them: a token, a refresh-token-only row, a row with none, a user."""
    with_token = make_config("With token")
    ctx.store.update_state(with_token.id, has_access_token=True, has_refresh_token=True,
                           token_expires_at=utcnow() + timedelta(minutes=40), last_requested_at=utcnow())
    revocable = make_config("Revocable", template="Generic OAuth2", secret=None,
                            AuthorizationCode="https://sso.example.org/a", TokenByAuthorizationCode="https://sso.example.org/t",
                            TokenByRefreshToken="https://sso.example.org/t", TokenRevocation="https://sso.example.org/r")
    ctx.store.update_state(revocable.id, has_refresh_token=True, last_requested_at=utcnow())
    make_config("No token")
    UsageRepository(ctx.store).add_mail_account(MailAccount(
        name="Support IMAP", protocol="IMAPS", host="imap.example.org", login="a@example.org",
        config_name="With token"))
    application = Application(qapp, ctx, tasks=InlineTaskRunner(), features=FEATURES)
    application.window.show()
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
        sel.select(window.model.index(window.model.row_of(name), 0),
                   QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def enabled(window) -> set[str]:
    token_actions = (MainAction.EDIT, MainAction.DELETE, MainAction.REQUEST, MainAction.REFRESH, MainAction.REVOKE,
                     MainAction.FORGET, MainAction.COPY_TOKEN)
    return {a.value for a in token_actions if window.action(a).isEnabled()}


def test_a_selection_change_reads_nothing_from_the_store_and_carries_the_rows(app, ctx):
    window = app.window
    statements: list[str] = []
    received = []
    window.selection_changed.connect(received.append)
    ctx.store.conn.set_trace_callback(statements.append)
    try:
        select(window, "With token")
        one = (window.details_title.text(), app.features["oauth"].details.text(),
               app.features["usage"].used_by.text(), app.features["notify"].refresh_info.text(), enabled(window))
        select(window, "Revocable", "No token")
        several = enabled(window)
        select(window, "No token")
        none = enabled(window)
    finally:
        ctx.store.conn.set_trace_callback(None)
    assert statements == []  # no query: every receiver drew from the rows the table read
    # ... and what they drew is the stored state
    assert one[0] == "With token" and "Token expires" in one[1] and "mail account 'Support IMAP'" in one[2]
    assert one[3]  # when the token is refreshed next
    assert one[4] == {"edit", "delete", "request", "refresh", "forget", "copy_token"}
    assert several == {"delete", "refresh", "revoke", "forget"}
    assert none == {"edit", "delete", "request"}  # no token: F5 has nothing to renew (issue 16, point 12)
    last = received[-1]
    assert [r.config.name for r in last.rows] == ["No token"] and last.current.state.never_requested()


def test_enabled_actions_follow_a_token_change_of_a_selected_row(app, ctx):
    window = app.window
    select(window, "No token")
    assert not window.action(MainAction.FORGET).isEnabled()
    cfg = ctx.store.get("No token")
    ctx.store.update_state(cfg.id, has_access_token=True, token_expires_at=utcnow() + timedelta(hours=1))
    app.hub.token_changed.emit(cfg.id)
    assert window.action(MainAction.FORGET).isEnabled() and window.action(MainAction.COPY_TOKEN).isEnabled()
    assert "Token expires" in app.features["oauth"].details.text()


def test_token_actions_are_off_on_another_tab_all_of_them(app):
    window = app.window
    select(window, "With token")
    window.show_tab(app.features["usage"].mail_tab)
    assert enabled(window) == set()  # Del, F2, Ctrl+Shift+C ... never act on a row the admin cannot see
    window.show_tab(0)
    assert "copy_token" in enabled(window)


def test_menus_and_actions_by_id_in_the_order_of_the_features(app):
    window = app.window

    def names(menu_id: MainMenu) -> list[str]:
        return [a.objectName().removeprefix("action_") or "-" for a in window.menu(menu_id).actions()
                if a.objectName() or a.isSeparator()]

    assert names(MainMenu.TOKEN) == ["add", "edit", "delete", "-", "request", "request_device", "refresh", "revoke",
                                     "forget", "copy_token", "-", "history"]
    assert names(MainMenu.FILE)[:5] == ["import", "export", "-", "settings", "-"]
    assert names(MainMenu.HELP) == ["tour", "other_programs", "-", "open_log", "about"]
    assert all(window.action(a).objectName() == f"action_{a.value}" for a in MainAction)  # every id, one action
    assert MainAction.named("request") is MainAction.REQUEST and MainAction.named("nonsense") is None


# ---- the rules, read from the sources


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_window_is_a_shell_and_no_module_is_a_crowd():
    """Issue 14's sizes: main_window.py under 450 lines, no module of desktop/ over 600."""
    lines = {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
             for path in DESKTOP.rglob("*.py")}
    assert lines["desktop/ui/main_window.py"] < 450
    assert {name: n for name, n in lines.items() if n > 600} == {}


def test_the_model_layer_imports_nothing_of_the_widgets():
    for path in (DESKTOP / "models").glob("*.py"):
        assert not {m for m in _imports(path) if m.startswith("desktop.ui")}, path.name


def test_services_do_not_import_usage_the_composition_roots_install_the_guards(tokendesk_home, memory_keyring):
    from desktop.cli.common import default_context_factory
    from desktop.services import open_context
    from desktop.usage.guards import usage_delete_guard

    assert not {m for m in _imports(DESKTOP / "services.py") if m.startswith("desktop.usage")}
    assert "find_spec" not in (DESKTOP / "services.py").read_text(encoding="utf-8")
    plain = open_context()
    cli = default_context_factory()
    try:
        assert plain.delete_guards == [] and cli.delete_guards == [usage_delete_guard]
    finally:
        plain.close()
        cli.close()


def test_features_use_the_host_protocol_and_nothing_private_of_the_window():
    sources = [*sorted((DESKTOP / "ui" / "features").glob("*.py")), DESKTOP / "app.py"]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert "window._" not in text, path.name
        for title in ('"&File"', '"&Token"', '"&View"', '"&Help"', "named_actions"):
            assert title not in text, (path.name, title)
        if path.parent.name == "features":
            assert "desktop.app" not in _imports(path), path.name
