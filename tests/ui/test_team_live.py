"""The window on a team store (issue 11, points 2, 4 and 8), against a real PostgreSQL server.

* live: another desktop (its own Store and Context, its own connections) adds, edits, deletes a configuration and
  changes a token state; the window shows each within a second, through LISTEN/NOTIFY - no timer polls, the window
  reads only when told; the notification bar (what the tray lists) follows the token state;
* the status bar names the store (local or team);
* the server stopped: a bar, the table as last read, every writing action off, retries; started again: the bar
  goes, the actions come back, changes show live again.

TOKENDESK_SCREENSHOTS=1 refreshes docs/screenshots/team-status-bar.png and team-unreachable.png.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QStatusBar

from desktop.app import Application
from desktop.ui.enums import MainAction
from desktop.ui.tasks import TaskRunner
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]
MEMBER = "alice@helpdesk"


def shots_dir(fallback: Path) -> Path:
    path = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


def add(ctx, name: str, client_id: str = "00000000-0000-0000-0000-000000000001"):
    cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration(name)
    cfg.client_id = client_id
    return ctx.configurations.add(cfg, None)  # no secret: the team vault is not this test's subject


def names(window) -> list[str]:
    return sorted(cfg.name for cfg, _state in window.configurations_with_state())


def listener_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tokendesk-listen" and t.is_alive()]


def make_window(qapp, qtbot, location: str, *, notify: bool = False, more: tuple[str, ...] = ()):
    from desktop.services import open_context

    ctx = open_context(location)
    app = Application(qapp, ctx, tasks=TaskRunner(),
                      features=window_features("desktop.ui.features.store_status", *more))
    if notify:
        from desktop.ui.features.notify import NotifyFeature

        app.features["notify"] = NotifyFeature(app, tray_probe=lambda: False, tray_may_appear=lambda: False,
                                               dbus_factory=None)
    app.window.resize(1000, 560)
    app.window.show()
    qtbot.waitExposed(app.window)
    return app


def close_window(qapp, app) -> None:
    app.tasks.pool.waitForDone(5000)
    app.window.db_watcher.stop()
    app.features["store_status"].uninstall()
    app.window.hide()
    app.window.deleteLater()
    qapp.processEvents()
    app.ctx.close()


@pytest.fixture
def other_desktop(pg_url, monkeypatch):
    """Another admin's desktop on the same team store: its own Store and connections."""
    from desktop.services import open_context

    monkeypatch.setenv("TOKENDESK_MEMBER", "bob@helpdesk")
    ctx = open_context(pg_url)
    monkeypatch.setenv("TOKENDESK_MEMBER", MEMBER)
    yield ctx
    ctx.close()


@pytest.fixture
def team_window(qapp, qtbot, pg_url, other_desktop, monkeypatch):
    monkeypatch.setenv("TOKENDESK_MEMBER", MEMBER)
    app = make_window(qapp, qtbot, pg_url, notify=True)
    yield app
    close_window(qapp, app)


@pytest.mark.postgres
def test_another_desktops_changes_show_within_a_second_without_polling(team_window, other_desktop, qtbot, tmp_path):
    window = team_window.window
    store = window.ctx.store
    qtbot.waitUntil(lambda: window.db_watcher.listener is not None and window.db_watcher.listener.connected,
                    timeout=5000)
    # the listener's "connected" reaches the window as a queued signal, and the window then checks once what was
    # written between its read and the LISTEN: let that one check pass before counting
    qtbot.wait(300)
    reads: list[str] = []
    for method in ("data_version", "list_with_state"):
        original = getattr(store, method)

        def counting(*args, _original=original, _name=method, **kwargs):
            if threading.current_thread() is threading.main_thread():
                reads.append(_name)
            return _original(*args, **kwargs)

        setattr(store, method, counting)

    # nothing changes: nothing is read (no timer asks the server "anything new?")
    qtbot.wait(1500)
    assert reads == []
    # no running timer but Qt's own for a temporary status bar message
    polling = [t for t in window.findChildren(QTimer) if t.isActive() and t.interval() < 60_000
               and not isinstance(t.parent(), QStatusBar)]
    assert [(t.objectName(), t.interval(), t.isSingleShot(), type(t.parent()).__name__) for t in polling] == []
    assert len(listener_threads()) == 1
    # what this window's own process writes is not read back (it knows what it changed)
    store.set_setting("refresh.lead_time_seconds", 300)
    qtbot.wait(500)
    assert reads == []

    # added on the other desktop
    started = time.monotonic()
    add(other_desktop, "Support mailbox")
    qtbot.waitUntil(lambda: names(window) == ["Support mailbox"], timeout=1000)
    assert time.monotonic() - started < 1.0
    assert reads.count("list_with_state") == 0  # only the new row read (NOTIFY token_config:<id>), merged in

    # edited (renamed)
    cfg = other_desktop.store.get("Support mailbox")
    cfg.name = "Support desk"
    started = time.monotonic()
    other_desktop.configurations.update(cfg)
    qtbot.waitUntil(lambda: names(window) == ["Support desk"], timeout=1000)
    assert time.monotonic() - started < 1.0
    assert reads.count("list_with_state") == 0  # only the changed row was read again

    # a token state changed there: the row and the warnings (bar, tray) follow
    saved = other_desktop.store.get("Support desk")
    notify = team_window.features["notify"]
    now = datetime.now(UTC)
    other_desktop.store.update_state(saved.id, has_access_token=True, has_refresh_token=True,
                                     token_expires_at=now + timedelta(hours=1),
                                     last_requested_at=now - timedelta(minutes=5))  # another second than the add
    qtbot.waitUntil(lambda: notify.controller.attention == [], timeout=1000)  # signed in there: all is well
    other_desktop.store.update_state(saved.id, reauthorization_needed=True, error_code="invalid_grant",
                                     error_message="invalid_grant")
    qtbot.waitUntil(lambda: dict((c.name, s) for c, s in window.configurations_with_state())[
        "Support desk"].reauthorization_needed, timeout=1000)
    qtbot.waitUntil(lambda: [i.name for i in notify.controller.attention] == ["Support desk"], timeout=1000)
    assert notify.bar.isVisible()
    # announced once, the way this desktop announces (the tray's message where there is a tray)
    qtbot.waitUntil(lambda: any(n.name == "Support desk" for _how, n in notify.delivered), timeout=1000)
    assert [n.title for _how, n in notify.delivered if n.name == "Support desk"] == ["Sign-in needed"]
    assert reads.count("list_with_state") == 0  # token states: only that row, never all of them

    # deleted there
    add(other_desktop, "Billing")
    qtbot.waitUntil(lambda: names(window) == ["Billing", "Support desk"], timeout=1000)
    started = time.monotonic()
    other_desktop.configurations.delete("Support desk")
    qtbot.waitUntil(lambda: names(window) == ["Billing"], timeout=1000)
    assert time.monotonic() - started < 1.0
    assert reads.count("list_with_state") == 0  # a new and a deleted configuration: merged, the others not read
    # the deleted one's warning went; the new one, never signed in, is listed
    qtbot.waitUntil(lambda: [i.name for i in notify.controller.attention] == ["Billing"], timeout=1000)

    label = window.findChild(type(team_window.features["store_status"].label), "storeLabel")
    database = other_desktop.store.url.rsplit("/", 1)[1]
    assert label.text() == f"Team store: 127.0.0.1:{other_desktop.store.url.split(':')[-1].split('/')[0]}/" \
                           f"{database} as {MEMBER}"
    assert label.toolTip().startswith(f"The team store {other_desktop.store.url},")
    assert ":" + "@" not in label.toolTip() and "tokendesk_admin:" not in label.toolTip()  # never a password
    add(other_desktop, "Shared mailbox")
    qtbot.waitUntil(lambda: len(names(window)) == 2, timeout=1000)
    assert window.select_configuration("Billing")
    window.statusBar().clearMessage()  # the start-up's "notifications in this window" (8 s): the steady state
    qtbot.wait(50)
    window.grab().save(str(shots_dir(tmp_path) / "team-status-bar.png"))


def test_the_status_bar_names_the_local_store(qapp, qtbot, tokendesk_home, memory_keyring):
    from desktop.paths import database_path

    app = make_window(qapp, qtbot, str(database_path()))
    try:
        label = app.features["store_status"].label
        assert label.text() == "Local store"
        assert label.toolTip() == f"This workstation's database file: {database_path()}"
        assert app.window.db_watcher.listener is None and listener_threads() == []
        assert app.window.db_watcher.files()  # the local store: the file watcher, as before
    finally:
        close_window(qapp, app)


@pytest.fixture
def own_server():
    """A PostgreSQL server of this test's own (it is stopped and started again)."""
    from tests.support.pgserver import PgServer

    server = PgServer().start()
    yield server
    server.stop()


@pytest.mark.postgres
def test_an_unreachable_team_store_shows_the_last_state_read_only_and_comes_back(qapp, qtbot, own_server, tmp_path,
                                                                                  monkeypatch):
    from desktop.services import open_context

    url = own_server.url(own_server.create_database())
    monkeypatch.setenv("TOKENDESK_MEMBER", "bob@helpdesk")
    other = open_context(url)
    add(other, "Support mailbox")
    add(other, "Billing")
    monkeypatch.setenv("TOKENDESK_MEMBER", MEMBER)
    app = make_window(qapp, qtbot, url, more=("desktop.ui.features.usage",))
    window, status = app.window, app.features["store_status"]
    mail = app.features["usage"].mail_view  # the Mail accounts tab's buttons follow the store too
    try:
        qtbot.waitUntil(lambda: window.db_watcher.listener is not None and window.db_watcher.listener.connected,
                        timeout=5000)
        assert mail.add_button.isEnabled()
        assert window.select_configuration("Billing")
        edit, add_action = window.action(MainAction.EDIT), window.action(MainAction.ADD)
        assert edit.isEnabled() and add_action.isEnabled()
        assert window.action(MainAction.FIND).isEnabled()

        own_server.pause()
        qtbot.waitUntil(lambda: status.bar.isVisible(), timeout=5000)
        text = status.bar.label.text()
        assert text.startswith(f"The team store 127.0.0.1:{own_server.port}/")
        assert f"cannot be reached; showing what was read at {status.read_at:%H:%M}, read-only" in text
        assert "Retrying (next try: " in text
        assert "color:#b71c1c" in status.label.styleSheet() or "color:#ef9a9a" in status.label.styleSheet()
        assert names(window) == ["Billing", "Support mailbox"]  # the last state, kept
        assert not edit.isEnabled() and not add_action.isEnabled()
        assert not window.action(MainAction.DELETE).isEnabled()
        assert not mail.add_button.isEnabled()
        assert window.action(MainAction.FIND).isEnabled()  # reading actions stay
        # selecting again re-evaluates the predicates: the writing actions stay off
        assert window.select_configuration("Support mailbox")
        assert not edit.isEnabled()
        # a read asked for meanwhile fails in words, not a traceback; the table stays
        window.action(MainAction.RELOAD).trigger()
        qapp.processEvents()
        assert names(window) == ["Billing", "Support mailbox"] and status.bar.isVisible()
        window.grab().save(str(shots_dir(tmp_path) / "team-unreachable.png"))

        own_server.resume()
        other.store.close()  # the other desktop's connections broke too
        add(other, "Shared mailbox")  # written before this window listens again: read when it is back
        status.retry_button.click()  # Try now: no waiting for the back-off
        qtbot.waitUntil(lambda: not status.bar.isVisible(), timeout=5000)
        assert edit.isEnabled() and add_action.isEnabled() and mail.add_button.isEnabled()
        assert status.label.styleSheet() == ""
        assert names(window) == ["Billing", "Shared mailbox", "Support mailbox"]

        add(other, "Archive")  # and live again
        qtbot.waitUntil(lambda: "Archive" in names(window), timeout=1000)
    finally:
        close_window(qapp, app)
        other.close()
    assert listener_threads() == []


@pytest.mark.postgres
def test_the_listener_stops_at_once_and_leaves_no_thread(team_window, qtbot):
    watcher = team_window.window.db_watcher
    qtbot.waitUntil(lambda: watcher.listener is not None and watcher.listener.connected, timeout=5000)
    started = time.monotonic()
    watcher.stop()
    assert time.monotonic() - started < 1.0
    assert listener_threads() == []


def test_refreshes_asked_while_the_store_was_away_are_asked_again():
    """A due refresh asked for while the team store could not be reached never ran (the oauth feature's first read
    failed): once the store is back (``DatabaseWatcher.reachable``) the notify feature has the scheduler ask again."""
    from desktop.notify.log import MemoryLog
    from desktop.notify.scheduler import Scheduler
    from tests.notify.helpers import T0, config, fresh_token

    cfg, state = config(), fresh_token(at=T0)
    scheduler = Scheduler(MemoryLog())
    due_at = scheduler.plan([(cfg, state)], T0).next_wake
    assert [e.config_id for e in scheduler.plan([(cfg, state)], due_at).refresh_due] == [1]
    assert scheduler.plan([(cfg, state)], due_at + timedelta(minutes=1)).refresh_due == []  # asked once
    scheduler.forget_asked_refreshes()
    assert [e.config_id for e in scheduler.plan([(cfg, state)], due_at + timedelta(minutes=2)).refresh_due] == [1]



def start_window(qapp, qtbot, url: str):
    """The real start on a team store: ``open_context(connect_later=True)`` and ``defer_start``, as run_gui does."""
    from desktop.services import open_context

    ctx = open_context(url, connect_later=True)
    app = Application(qapp, ctx, tasks=TaskRunner(), defer_start=True,
                      features=window_features("desktop.ui.features.store_status"))
    return app


@pytest.mark.postgres
def test_the_window_paints_before_it_connects_to_the_team_store(qapp, qtbot, own_server, monkeypatch):
    from desktop.services import open_context

    url = own_server.url(own_server.create_database())
    other = open_context(url)
    add(other, "Support mailbox")
    add(other, "Billing")
    monkeypatch.setenv("TOKENDESK_MEMBER", MEMBER)
    app = start_window(qapp, qtbot, url)
    window = app.window
    waited: list[bool] = []
    app.after_first_paint(lambda: waited.append(window.ctx.store.reached))
    try:
        assert not window.ctx.store.reached  # built and ready to paint without a connection
        assert window.empty_label.text() == "Connecting to the team store ..."
        assert "team store vault" in window.secrets_label.text()
        app.show()
        qtbot.waitUntil(lambda: names(window) == ["Billing", "Support mailbox"], timeout=10000)
        assert window.ctx.store.reached
        qtbot.waitUntil(lambda: waited == [True], timeout=5000)  # what waited for the rows ran after them
        qtbot.waitUntil(lambda: window.db_watcher.listener is not None and window.db_watcher.listener.connected,
                        timeout=5000)
        add(other, "Archive")  # and it is live
        qtbot.waitUntil(lambda: "Archive" in names(window), timeout=2000)
    finally:
        close_window(qapp, app)
        other.close()


@pytest.mark.postgres
def test_a_team_store_away_at_start_up_opens_the_window_read_only_and_fills_it_when_back(
        qapp, qtbot, own_server, monkeypatch, tmp_path):
    from desktop.services import open_context

    url = own_server.url(own_server.create_database())
    other = open_context(url)
    add(other, "Support mailbox")
    other.close()
    monkeypatch.setenv("TOKENDESK_MEMBER", MEMBER)
    own_server.pause()
    app = start_window(qapp, qtbot, url)  # no error box, no exit: the window opens
    window, status = app.window, app.features["store_status"]
    waited: list[bool] = []
    app.after_first_paint(lambda: waited.append(True))
    try:
        app.show()
        qtbot.waitUntil(lambda: status.bar.isVisible(), timeout=15000)
        assert window.empty_label.text().startswith("The team store cannot be reached yet.")
        assert "cannot be reached; nothing can be shown until it answers. Retrying" in status.bar.label.text()
        assert window.details_title.text() == "No configuration selected"
        assert window.table_stack.currentWidget() is window.empty_label
        assert not window.action(MainAction.ADD).isEnabled()  # read-only
        assert waited == []  # the work that needs the rows waits for them
        window.grab().save(str(tmp_path / "team-away-at-start.png"))
        own_server.resume()
        status.retry_button.click()
        qtbot.waitUntil(lambda: names(window) == ["Support mailbox"], timeout=15000)
        qtbot.waitUntil(lambda: not status.bar.isVisible() and waited == [True], timeout=5000)
        assert window.action(MainAction.ADD).isEnabled()
    finally:
        close_window(qapp, app)
