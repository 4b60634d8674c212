"""Token > History ... (Ctrl+H, issue 11 point 6): the selected configuration's history read on the task runner
into a sortable, filterable table. TOKENDESK_SCREENSHOTS=1 refreshes docs/screenshots/history-dialog.png."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop.app import Application
from desktop.store import history
from desktop.ui.enums import MainAction
from desktop.ui.tasks import TaskRunner
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]


def shots_dir(fallback: Path) -> Path:
    path = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def app(qapp, qtbot, monkeypatch, tokendesk_home, memory_keyring):
    from desktop.services import open_context

    monkeypatch.setenv("TOKENDESK_MEMBER", "alice@helpdesk")
    ctx = open_context()
    template = ctx.templates.require("Microsoft Exchange Online")
    for name in ("Support mailbox", "Billing"):
        cfg = template.new_configuration(name)
        cfg.client_id = "00000000-0000-0000-0000-000000000001"
        ctx.configurations.add(cfg, "s3cret")
    cfg = ctx.store.get("Support mailbox")
    start = datetime.now(UTC) + timedelta(minutes=1)
    rows = [("bob@helpdesk", history.SIGN_IN, "authorization code"),
            ("bob@helpdesk", history.HANDED_OUT, "/usr/bin/msmtp"),
            ("alice@helpdesk", history.EDIT, "Scope: https://outlook.office.com/IMAP.AccessAsUser.All -> "
             "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send"),
            ("carol@laptop", history.REFRESH, "refresh token rotated"),
            ("alice@helpdesk", history.EXPORT, "without client secret"),
            ("carol@laptop", history.HANDED_OUT, "/usr/bin/fetchmail")]
    for minutes, (member, action, detail) in enumerate(rows):
        ctx.store.member = member
        history.record(ctx.store, cfg.id, cfg.name, action, detail, when=start + timedelta(minutes=7 * minutes))
    ctx.store.member = "alice@helpdesk"
    application = Application(qapp, ctx, tasks=TaskRunner(), features=window_features("desktop.ui.features.history"))
    application.window.resize(1000, 600)
    application.window.show()
    qtbot.waitExposed(application.window)
    yield application
    for dialog in list(application.features["history"].dialogs.values()):
        dialog.close()
    application.tasks.pool.waitForDone(5000)
    application.window.hide()
    application.window.deleteLater()
    qapp.processEvents()
    ctx.close()


def open_history(app, qtbot, name: str):
    window = app.window
    assert window.select_configuration(name)
    action = window.action(MainAction.HISTORY)
    assert action.isEnabled() and action.shortcut().toString() == "Ctrl+H"
    readers: list[str] = []
    original = history.for_configuration

    def reading(*args):
        readers.append(threading.current_thread().name)
        return original(*args)

    feature = app.features["history"]
    history.for_configuration, saved = reading, history.for_configuration
    try:
        action.trigger()
        dialog = feature.dialogs[name.casefold()]
        qtbot.waitUntil(lambda: dialog.model.rowCount() > 0 or "No history" in dialog.status.text(), timeout=5000)
    finally:
        history.for_configuration = saved
    assert readers and readers[0] != threading.main_thread().name  # read on the task runner, not the GUI thread
    return dialog


def test_history_action_is_enabled_for_one_selected_row_only(app):
    window = app.window
    assert window.select_configuration("Billing")
    assert window.action(MainAction.HISTORY).isEnabled()
    window.table.selectAll()
    assert not window.action(MainAction.HISTORY).isEnabled()
    window.table.clearSelection()
    assert not window.action(MainAction.HISTORY).isEnabled()


def test_the_dialog_lists_newest_first_sorts_and_filters(app, qtbot, tmp_path):
    dialog = open_history(app, qtbot, "Support mailbox")
    rows = dialog.visible_rows()
    assert [r[1:3] for r in rows] == [
        ["carol@laptop", "token handed to a program"], ["alice@helpdesk", "exported"],
        ["carol@laptop", "token refreshed"], ["alice@helpdesk", "edited"],
        ["bob@helpdesk", "token handed to a program"], ["bob@helpdesk", "signed in"], ["alice@helpdesk", "added"]]
    assert rows[0][3] == "/usr/bin/fetchmail"
    newest = history.for_configuration(app.ctx.store, "Support mailbox")[0]
    assert rows[0][0] == newest.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")  # local time
    assert dialog.status.text() == "7 entries."
    assert dialog.windowTitle() == "History \u2013 Support mailbox"
    dialog.grab().save(str(shots_dir(tmp_path) / "history-dialog.png"))

    qtbot.keyClicks(dialog.filter, "CAROL")
    assert [r[1] for r in dialog.visible_rows()] == ["carol@laptop", "carol@laptop"]
    assert dialog.status.text() == "2 of 7 entries match the filter."
    dialog.filter.clear()
    qtbot.keyClicks(dialog.filter, "msmtp")
    assert [r[3] for r in dialog.visible_rows()] == ["/usr/bin/msmtp"]
    dialog.filter.clear()

    dialog.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)  # a click on Member's header
    assert [r[1] for r in dialog.visible_rows()] == sorted(r[1] for r in rows)
    dialog.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # oldest first
    assert [r[2] for r in dialog.visible_rows()][0] == "added"
    dialog.close_button.click()
    assert "support mailbox" not in app.features["history"].dialogs


def test_a_configuration_without_other_history_and_a_deleted_one(app, qtbot):
    dialog = open_history(app, qtbot, "Billing")
    assert [r[2] for r in dialog.visible_rows()] == ["added"]
    dialog.close()
    app.ctx.configurations.delete("Billing")
    deleted = app.features["history"].show_history("Billing")  # the window offers it only for a stored row
    qtbot.waitUntil(lambda: dialog is not deleted and deleted.model.rowCount() == 2, timeout=5000)
    assert [r[2] for r in deleted.visible_rows()] == ["deleted", "added"]


def test_an_open_dialog_follows_a_token_change(app, qtbot):
    from desktop.oauth.tokens import TokenService

    dialog = open_history(app, qtbot, "Billing")
    TokenService(app.ctx).forget("Billing")
    app.hub.token_changed.emit(app.ctx.store.get("Billing").id)
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2, timeout=5000)
    assert [r[2] for r in dialog.visible_rows()] == ["token forgotten", "added"]


def test_a_failed_read_is_said_in_words(app, qtbot, monkeypatch):
    from desktop.store.database import DatabaseError

    def fails(*args):
        raise DatabaseError("the team store's server cannot be reached")

    monkeypatch.setattr(history, "for_configuration", fails)
    dialog = app.features["history"].show_history("Billing")
    qtbot.waitUntil(lambda: "could not be read" in dialog.status.text(), timeout=5000)
    assert dialog.status.text() == ("The history could not be read: the team store's server cannot be reached")
    assert dialog.model.rowCount() == 0
