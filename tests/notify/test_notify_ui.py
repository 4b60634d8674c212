"""The notify feature in the real window (offscreen): bar, click-through, timer, tray and D-Bus strategies."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QGroupBox

from desktop.models.status import format_local
from desktop.notify.attention import AttentionItem
from desktop.notify.events import EventKind
from desktop.ui.enums import MainAction
from tests.notify.helpers import shots_dir
from tests.support.window import close_app, window_features

MIN = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


def signed_in(ctx, cfg, at, *, lifetime=H, refresh=True, **extra):
    return ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=refresh,
                                  token_expires_at=at + lifetime, last_requested_at=at, **extra)


def bar_texts(feature):
    return [(row.label.text(), row.button.text()) for row in feature.bar.rows]


def add_ready_actions(window):
    """Stand-ins for the oauth feature's actions (same ids); ``runs`` records (action, selected names) per run."""
    actions = {}
    runs: list[tuple[str, list[str]]] = []
    for action_id, text, key in ((MainAction.REFRESH, "&Refresh", "F5"),
                                 (MainAction.REQUEST, "Re&quest new token ...", "Ctrl+R")):
        def run(_checked=False, action_id=action_id):
            runs.append((action_id.value, [c.name for c in window.selected_configurations()]))

        actions[action_id] = window.add_action(action_id, text, run, QKeySequence(key),
                                               enabled_when=lambda rows: len(rows) == 1)
    return actions, runs


# ---- the bar and click-through


def test_bar_lists_expired_and_expiring_tokens_and_a_click_runs_the_action_on_that_token(
        app, ctx, make_config, clock, install_notify, qtbot, tmp_path):
    shots = shots_dir(tmp_path)
    _actions, runs = add_ready_actions(app.window)
    expired = make_config("Support mailbox")  # Microsoft: refresh tokens live 90 days, rolling
    signed_in(ctx, expired, clock.now() - 95 * D)  # signed in 95 days ago, never refreshed since
    expiring = make_config("Sales mailbox", template="Google Mail")
    cfg = ctx.store.get_by_id(expiring.id)
    cfg.refresh_token_lifetime_days = 7  # Google app in "Testing" status
    ctx.configurations.update(cfg)
    signed_in(ctx, expiring, clock.now() - 6 * D - 2 * H)  # its refresh token dies in 22 h
    fine = make_config("Archive")
    signed_in(ctx, fine, clock.now() - 10 * MIN)

    app.window.reload()
    feature = install_notify()
    app.window.show()
    qtbot.waitExposed(app.window)
    assert feature.strategy == "window"
    assert feature.bar.isVisible()
    assert feature.bar.title.text() == "2 tokens need attention"
    texts = bar_texts(feature)
    # absolute times in the bar: they stay true while the entry is listed
    died = format_local(clock.now() - 95 * D + 90 * D)
    dies = format_local(clock.now() - 6 * D - 2 * H + 7 * D)
    assert texts == [
        (f"The refresh token of 'Support mailbox' expired on {died}.", "Request new token"),
        (f"The refresh token of 'Sales mailbox' expires on {dies}.", "Request new token"),
    ]
    assert "Archive" not in " ".join(t for t, _ in texts)
    app.window.grab().save(str(shots / "notification-bar.png"))

    with qtbot.waitSignal(app.hub.open_configuration, timeout=2000) as opened:
        feature.bar.rows[1].button.click()
    assert opened.args == ["Sales mailbox", "request"]
    assert app.window.current_configuration().name == "Sales mailbox"
    assert runs == [("request", ["Sales mailbox"])]  # the sign-in itself: tests/notify/test_click_through_actions.py


def test_bar_hides_when_nothing_needs_attention_and_comes_back_on_change(app, ctx, make_config, clock,
                                                                          install_notify, qtbot):
    cfg = make_config("Support")
    signed_in(ctx, cfg, clock.now())
    feature = install_notify()
    app.window.show()
    assert not feature.bar.isVisible()
    # the provider rejects the refresh token (the oauth feature stores that and says so)
    ctx.store.update_state(cfg.id, reauthorization_needed=True, error_message="invalid_grant")
    app.hub.token_changed.emit(cfg.id)
    assert feature.bar.isVisible()
    assert bar_texts(feature) == [(
        "The provider rejected the refresh token of 'Support'.",
        "Request new token",
    )]
    feature.bar.dismiss()
    assert not feature.bar.isVisible()
    app.hub.token_changed.emit(cfg.id)  # same situation: stays hidden
    assert not feature.bar.isVisible()
    other = make_config("Other")  # never requested: a new entry brings the bar back
    app.hub.configurations_changed.emit()
    assert feature.bar.isVisible()
    assert [r.item.name for r in feature.bar.rows] == ["Other", "Support"]  # equally urgent: by name
    assert other.id is not None


def test_bar_shows_four_rows_then_show_all(qtbot):
    from desktop.ui.notification_bar import NotificationBar

    bar = NotificationBar()
    qtbot.addWidget(bar)
    now = datetime.now(UTC)
    items = [AttentionItem(i, f"T{i}", EventKind.REFRESH_EXPIRING, "Refresh token expires soon", f"message {i}",
                           "refresh", now) for i in range(6)]
    bar.set_items(items)
    bar.show()
    assert len(bar.rows) == 4
    assert bar.more_button.text() == "Show all (2 more)"
    bar.more_button.click()
    assert len(bar.rows) == 6
    assert bar.more_button.text() == "Show fewer"
    assert [r.button.text() for r in bar.rows] == ["Refresh"] * 6
    bar.set_items([])
    assert bar.isHidden()


def test_names_are_shown_as_text_not_markup(app, ctx, make_config, install_notify):
    make_config("<b>Sales</b> & co")
    feature = install_notify()
    label = feature.bar.rows[0].label
    assert label.text().startswith("No token has been requested for '<b>Sales</b> & co' yet.")
    assert label.textFormat().name == "PlainText"


# ---- the timer


def test_one_timer_armed_for_the_next_due_event_and_each_event_announced_once(app, ctx, make_config, clock,
                                                                               install_notify):
    cfg = make_config("Support")
    stored = ctx.store.get_by_id(cfg.id)
    stored.notify_on_expired_token = True
    ctx.configurations.update(stored)
    signed_in(ctx, cfg, clock.now(), refresh=False)
    feature = install_notify()
    timer = feature.controller.timer
    # no refresh token: that is announced at once; the token's expiry is the next due event
    assert [n.title for _s, n in feature.delivered] == ["No refresh token"]
    assert timer.armed_at == clock.now() + H
    assert feature.controller.wakeups == 0

    clock.set(timer.armed_at)
    timer.fire()
    assert [n.title for _s, n in feature.delivered] == ["No refresh token", "Token expired"]
    assert feature.controller.wakeups == 1
    assert timer.armed_at is None  # nothing else can become due without a change

    app.hub.configurations_changed.emit()  # a reload repeats nothing
    assert len(feature.delivered) == 2


def test_refresh_due_is_emitted_once_and_the_timer_follows_the_new_token(app, ctx, make_config, clock,
                                                                          install_notify):
    cfg = make_config("Support")
    signed_in(ctx, cfg, clock.now())
    ctx.store.set_setting("refresh.lead_time_seconds", 600)
    feature = install_notify()
    timer = feature.controller.timer
    assert timer.armed_at == clock.now() + H - 10 * MIN + MIN  # due time + the one-minute coalescing window

    refreshed = []

    def oauth_refresh(config_id):  # what the oauth feature does, synchronously (inline task runner)
        refreshed.append(config_id)
        ctx.store.update_state(config_id, token_expires_at=clock.now() + H, last_refreshed_at=clock.now())
        app.hub.token_changed.emit(config_id)

    app.hub.refresh_due.connect(oauth_refresh)
    clock.set(timer.armed_at)
    timer.fire()
    assert refreshed == [cfg.id]
    assert timer.armed_at == clock.now() + H - 9 * MIN  # re-armed for the new token
    assert feature.delivered == deque_empty()
    timer.fire()  # a spurious early fire does not ask again
    assert refreshed == [cfg.id]


def deque_empty():
    from collections import deque

    return deque(maxlen=50)


def test_clock_change_reloads_and_rearms(app, ctx, make_config, clock, install_notify):
    cfg = make_config("Support")
    signed_in(ctx, cfg, clock.now())
    feature = install_notify()
    timer = feature.controller.timer
    first = timer.armed_at
    clock.advance(hours=3)  # the clock was set forward
    timer.clock_changed.emit()
    assert timer.armed_at != first
    assert [e.config_id for e in feature.controller.scheduler.events() if e.kind is EventKind.REFRESH_DUE] == [cfg.id]


def test_qtimer_fallback_notices_a_wall_clock_jump_when_it_fires(qtbot):
    from desktop.ui.features.notify_timer import QtWallClockTimer

    wall = [1000.0]
    mono = [50.0]
    timer = QtWallClockTimer(wall=lambda: wall[0], mono=lambda: mono[0])
    now = datetime.now(UTC)
    timer.arm(now + timedelta(milliseconds=30), now)
    mono[0] += 0.03
    wall[0] += 0.03
    with qtbot.waitSignal(timer.fired, timeout=2000):
        pass
    timer.arm(now + timedelta(milliseconds=30), now)
    wall[0] += 3600  # the machine slept an hour (the monotonic clock stood still)
    mono[0] += 0.03
    with qtbot.waitSignal(timer.clock_changed, timeout=2000):
        pass
    assert timer.check_clock() is False  # reference re-taken after the jump


@pytest.mark.skipif(not os.uname().sysname == "Linux", reason="timerfd is Linux only")
def test_timerfd_timer_fires_at_the_wall_clock_instant(qtbot):
    from desktop.ui.features.notify_timer import TimerfdWallClockTimer, make_timer

    timer = TimerfdWallClockTimer()
    now = datetime.now(UTC)
    start = time.monotonic()
    with qtbot.waitSignal(timer.fired, timeout=3000):
        timer.arm(now + timedelta(milliseconds=200), now)
    elapsed = time.monotonic() - start
    assert 0.15 <= elapsed < 2.5
    assert make_timer().kind == "timerfd"


# ---- strategies


def test_tray_strategy_menu_messages_and_click_through(app, ctx, make_config, clock, install_notify, qtbot):
    cfg = make_config("Support")
    signed_in(ctx, cfg, clock.now() - 100 * D)
    app.window.reload()
    feature = install_notify(tray=True)
    assert feature.strategy == "tray"
    assert app.tray_available()
    tray = feature.tray
    assert tray.messages_shown == 1
    assert tray.last_message_target == ("Support", "request")
    assert tray.icon.toolTip() == "Tokendesk: Support: refresh token expired"
    entries = tray.attention_actions()
    assert [a.text() for a in entries] == ["Support: refresh token expired \u2013 Request new token ..."]
    assert [a.text() for a in tray.menu.actions() if a.text()][:2] == ["Open Tokendesk", "Refresh all"]
    assert tray.menu.actions()[-1].text() == "Quit"

    with qtbot.waitSignal(app.hub.open_configuration, timeout=2000) as opened:
        tray.icon.messageClicked.emit()
    assert opened.args == ["Support", "request"]
    assert app.window.isVisible()
    assert app.window.current_configuration().name == "Support"

    app.window.hide()
    with qtbot.waitSignal(app.hub.open_configuration, timeout=2000) as opened:
        entries[0].trigger()
    assert opened.args == ["Support", "request"]
    assert app.window.isVisible()


def test_a_tray_that_appears_after_start_up_is_taken_up_once(app, ctx, make_config, clock, install_notify, qtbot):
    """Autostart before the panel: no tray at start, so the bar alone; once a tray is there, the next
    notification goes to it, the window says so, and closing the window keeps Tokendesk running."""
    tray_there = [False]
    cfg = make_config("Support")
    signed_in(ctx, cfg, clock.now() - 100 * D)  # the refresh token expired: one announcement now
    app.window.reload()
    feature = install_notify(tray=lambda: tray_there[0], tray_may_appear=True)
    assert feature.strategy == "window" and not app.tray_available()
    assert [(strategy, n.title) for strategy, n in feature.delivered] == [("window", "Refresh token expired")]
    assert feature.tray is not None and feature.tray.messages_shown == 0  # the icon waits for a tray
    assert feature.tray.icon.toolTip() == "Tokendesk: Support: refresh token expired"  # kept current meanwhile
    assert feature.close_to_tray() is False  # no tray: closing the window quits

    tray_there[0] = True  # the panel started
    other = make_config("Sales")
    signed_in(ctx, other, clock.now() - 100 * D)
    app.hub.configurations_changed.emit()
    assert feature.strategy == "tray"
    assert [(strategy, n.title) for strategy, n in feature.delivered][-1] == ("tray", "Refresh token expired")
    assert feature.tray.messages_shown == 1
    assert app.window.statusBar().currentMessage().startswith("A system tray appeared: notifications appear as tray")
    assert "tray messages" in feature.bar.toolTip()
    assert app.tray_available()
    assert feature.close_to_tray() is True and feature.tray.messages_shown == 2  # "still running" hint
    # like a start with a tray: closing a dialog while the window is hidden must not end Tokendesk
    assert QApplication.instance().quitOnLastWindowClosed() is False
    QApplication.instance().setQuitOnLastWindowClosed(True)


def test_without_x11_no_icon_waits_for_a_tray(app, install_notify):
    feature = install_notify(tray=False, tray_may_appear=False)
    assert feature.tray is None and feature.strategy == "window"


def test_tray_refresh_all_asks_for_every_working_refresh_token(app, ctx, make_config, clock, install_notify):
    good = make_config("Good")
    signed_in(ctx, good, clock.now() - 2 * H)
    dead = make_config("Dead")
    signed_in(ctx, dead, clock.now() - 100 * D)
    make_config("Never")
    feature = install_notify(tray=True)
    asked = []
    app.hub.refresh_due.connect(asked.append)
    feature.tray.refresh_action.trigger()
    assert asked == [good.id]
    assert app.window.statusBar().currentMessage() == "Refreshing 1 token ..."


def test_closing_the_window_keeps_running_in_the_tray_and_says_so_once(app, ctx, install_notify, qtbot):
    feature = install_notify(tray=True)
    app.window.show()
    shown = feature.tray.messages_shown
    app.window.close()
    assert not app.window.isVisible()
    assert feature.tray.messages_shown == shown + 1
    assert feature.tray.last_message_target == ("", "")
    assert ctx.store.get_setting("ui.close_to_tray_hint_shown") is True
    app.window.show()
    app.window.close()
    assert feature.tray.messages_shown == shown + 1  # only the first time
    # clicking the hint opens the window
    feature.tray.icon.messageClicked.emit()
    assert app.window.isVisible()


def test_without_tray_closing_is_not_intercepted(app, install_notify):
    feature = install_notify(tray=False)
    assert feature.close_to_tray() is False
    assert not app.tray_available()


class FakeDesktopNotifications:
    """Records Notify calls; ``click`` invokes an action from another thread, as jeepney's listener does."""

    def __init__(self):
        self.sent = []
        self.on_action = None
        self.on_closed = None
        self.closed = False

    def notify(self, title, body, actions):
        self.sent.append((title, body, dict(actions)))
        return 40 + len(self.sent)

    def click(self, nid, key="default"):
        thread = threading.Thread(target=self.on_action, args=(nid, key))
        thread.start()
        thread.join()

    def close(self):
        self.closed = True


def test_dbus_strategy_sends_notifications_with_actions_and_a_click_opens_the_token(
        app, ctx, make_config, clock, install_notify, qtbot):
    cfg = make_config("Support")
    signed_in(ctx, cfg, clock.now() - 100 * D)
    app.window.reload()
    bus = FakeDesktopNotifications()
    feature = install_notify(dbus=bus)
    assert feature.strategy == "dbus"
    assert [(t, a) for t, _b, a in bus.sent] == [
        ("Refresh token expired", {"default": "Request new token", "request": "Request new token"})]
    with qtbot.waitSignal(app.hub.open_configuration, timeout=2000) as opened:
        bus.click(41)
    assert opened.args == ["Support", "request"]
    assert app.window.current_configuration().name == "Support"
    feature.shutdown()
    assert bus.closed


def test_restart_does_not_repeat_announcements(app, ctx, make_config, clock, install_notify):
    for i in range(4):
        signed_in(ctx, make_config(f"Mailbox {i}"), clock.now() - 100 * D)
    first = install_notify(tray=True)
    assert [n.title for _s, n in first.delivered] == ["4 tokens need attention"]
    first.shutdown()
    second = install_notify(tray=True)  # a new start on the same database
    assert list(second.delivered) == []
    assert len(second.bar.rows) == 4


def test_at_start_up_the_plan_waits_for_the_first_paint_and_reuses_the_windows_rows(
        qapp, ctx, make_config, clock, monkeypatch, qtbot):
    from desktop.app import Application
    from desktop.ui.tasks import InlineTaskRunner

    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    signed_in(ctx, make_config("Support"), clock.now() - 100 * D)  # needs attention
    reads = []
    original = ctx.store.list_with_state
    monkeypatch.setattr(ctx.store, "list_with_state", lambda: reads.append(1) or original())
    application = Application(qapp, ctx, tasks=InlineTaskRunner(),
                              features=window_features("desktop.ui.features.oauth", "desktop.ui.features.notify",
                                                       "desktop.ui.features.usage", "desktop.ui.features.store_status"),
                              defer_start=True)
    window = application.window
    try:
        assert len(reads) == 1  # the window's table
        # the feature (bar, tray, scheduler, timer) is built after the first paint (features/notify.py)
        assert application.features["notify"] is None
        application.show()
        qtbot.waitUntil(lambda: application.features["notify"] is not None
                        and application.features["notify"].controller.plans > 0, timeout=3000)
        feature = application.features["notify"]
        assert window._painted
        assert len(reads) == 1  # the plan used the rows the window read
        assert feature.bar.title.text() == "1 token needs attention"
        # in the places it would have had if built with the others: its bar above the store status bar, its
        # section between Token (oauth) and Used by (usage)
        bars = [window.bars_layout.itemAt(i).widget() for i in range(window.bars_layout.count())]
        assert bars.index(feature.bar) < bars.index(application.features["store_status"].bar)
        window.table.selectRow(0)
        QApplication.processEvents()  # the layout places the boxes
        boxes = sorted((b for b in window.details.findChildren(QGroupBox) if b.isVisibleTo(window)), key=QGroupBox.y)
        titles = [box.title() for box in boxes]
        assert titles == ["Token", "Automatic refresh", "Used by"]
        assert feature.refresh_info.text()  # the section says when the token is refreshed next
    finally:
        close_app(application)


def test_start_up_plan_in_slices_keeps_the_window_responsive_and_fresh_changes(
        app, ctx, make_config, clock, install_notify, qtbot):
    names = [f"Mailbox {i}" for i in range(7)]
    configs = [make_config(n) for n in names]
    for cfg in configs:
        signed_in(ctx, cfg, clock.now() - 100 * D)  # every refresh token expired: all need attention
    pairs = [(ctx.store.get_by_id(c.id), ctx.store.get_state(c.id)) for c in configs]  # read before the changes
    feature = install_notify(start=False)
    controller = feature.controller
    controller.reload_in_slices(pairs, size=2)
    assert controller.loading and controller.plans == 0  # one slice done; the rest come with the event loop
    # meanwhile the admin signs in again for the last one: its fresh state must win over the old snapshot
    signed_in(ctx, configs[-1], clock.now())
    app.hub.token_changed.emit(configs[-1].id)
    assert controller.plans == 0  # no plan over part of the table
    qtbot.waitUntil(lambda: not controller.loading, timeout=3000)
    assert controller.plans == 1
    assert feature.bar.title.text() == "6 tokens need attention"
    assert [n.title for _s, n in feature.delivered] == ["6 tokens need attention"]  # one summary, once


def test_installed_through_the_application_like_at_start_up(qapp, ctx, monkeypatch):
    from desktop.app import Application
    from desktop.ui.tasks import InlineTaskRunner

    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    application = Application(qapp, ctx, tasks=InlineTaskRunner(),
                              features=window_features("desktop.ui.features.notify"))
    feature = application.features["notify"]
    try:
        assert feature.strategy == "window"  # offscreen: no tray; no session bus
        assert application.window.close_to_tray is not None
        assert feature.bar.parent() is not None
        assert application.tray_available() is False
        assert "only in the bar" in feature.bar.toolTip()
    finally:
        feature.shutdown()
        application.window.close_to_tray = None
        application.window.deleteLater()
        QApplication.processEvents()
