"""The real start-up asks the session bus for a notification service after the window's first paint, on the task
runner (a service that D-Bus starts on demand may take seconds to answer), and plans only then: what needs attention
at start-up goes out as a desktop notification, as it did when the bus was asked before the window showed."""

from __future__ import annotations

from datetime import timedelta

from desktop.app import Application
from desktop.models.token import utcnow
from desktop.notify.desktop_notifications import DesktopNotifications
from desktop.ui.tasks import InlineTaskRunner
from tests.notify.test_notify_ui import FakeDesktopNotifications
from tests.support.window import close_app, window_features


def test_the_bus_is_asked_after_the_first_paint_and_the_start_up_notice_goes_out_over_it(
        qapp, ctx, make_config, monkeypatch, qtbot):
    cfg = make_config("Support")
    now = utcnow()
    ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True,
                           token_expires_at=now - timedelta(days=99), last_requested_at=now - timedelta(days=100))
    bus = FakeDesktopNotifications()
    asked: list[bool] = []
    app: Application | None = None

    def open_bus(cls, **_kwargs):
        asked.append(app is not None and app.window._painted)
        return bus

    monkeypatch.setattr(DesktopNotifications, "open", classmethod(open_bus))
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features("desktop.ui.features.notify"),
                      defer_start=True)
    try:
        assert asked == []  # not while the window is being built
        assert app.features["notify"] is None  # built after the first paint (features/notify.py)
        app.show()
        qtbot.waitUntil(lambda: app.features["notify"] is not None and app.features["notify"].controller.plans > 0,
                        timeout=3000)
        feature = app.features["notify"]
        assert asked == [True]  # once, after the first paint
        assert feature.strategy == "dbus"
        assert [title for title, _body, _actions in bus.sent] == ["Refresh token expired"]
        assert "desktop notifications" in app.window.statusBar().currentMessage()
        assert "desktop notifications" in feature.bar.toolTip()
    finally:
        close_app(app)
