"""Desktop notifications over a real session bus with a real notification daemon (dunst on Xvfb).

No tray here: the notify feature falls back to D-Bus notifications; clicking one (dunst's
"default action", as a mouse click would) opens the token in the window. Marker ``xvfb``;
needs ``xvfb dbus dunst`` (dunstctl comes with dunst) and ``imagemagick`` for the screenshot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.notify.conftest import stop_process
from tests.notify.helpers import shots_dir

pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.skipif(not all(shutil.which(p) for p in ("Xvfb", "dbus-daemon", "dunst", "dunstctl")),
                       reason="needs Xvfb, dbus-daemon and dunst"),
]


@pytest.fixture
def dunst(xserver, session_bus, tmp_path, monkeypatch):
    """dunst on the private bus and display; the test process talks to that bus."""
    config = tmp_path / "dunstrc"
    config.write_text(
        "[global]\n  font = DejaVu Sans 10\n  width = 420\n  origin = top-right\n  offset = 10x10\n"
        "  frame_width = 1\n  frame_color = \"#c0a060\"\n"
        "[urgency_normal]\n  background = \"#fff4ce\"\n  foreground = \"#4a3b00\"\n  timeout = 0\n"
    )
    env = dict(os.environ, DISPLAY=xserver, DBUS_SESSION_BUS_ADDRESS=session_bus)
    proc = subprocess.Popen(["dunst", "-config", str(config)], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "dunst.log", "wb"))
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # wait until dunst owns org.freedesktop.Notifications
        probe = subprocess.run(["dunstctl", "is-paused"], env=env, capture_output=True, text=True)
        if probe.returncode == 0:
            break
        time.sleep(0.2)
    else:
        stop_process(proc)
        pytest.fail("dunst did not come up on the session bus")
    try:
        yield env
    finally:
        stop_process(proc)


def test_client_shows_a_notification_and_reports_the_click(dunst):
    from desktop.notify.desktop_notifications import DesktopNotifications

    client = DesktopNotifications.open()
    try:
        assert client.server_name == "dunst"
        assert client.supports_actions
        clicks = []
        client.on_action = lambda nid, key: clicks.append((nid, key))
        nid = client.notify("Token expired", "The access token of 'A & <B>' expired.", {"default": "Open"})
        assert nid > 0
        shown = subprocess.run(["dunstctl", "count", "displayed"], env=dunst, capture_output=True, text=True)
        assert shown.stdout.strip() == "1"
        subprocess.run(["dunstctl", "action", "0"], env=dunst, check=True)
        deadline = time.monotonic() + 5
        while not clicks and time.monotonic() < deadline:
            time.sleep(0.05)
        assert clicks == [(nid, "default")]
    finally:
        client.close()


def test_without_a_session_bus_the_client_says_so(monkeypatch):
    from desktop.notify.desktop_notifications import DesktopNotifications, NotificationsUnavailable

    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    with pytest.raises(NotificationsUnavailable, match="no D-Bus session bus"):
        DesktopNotifications.open()


def test_no_tray_falls_back_to_desktop_notifications_and_a_click_opens_the_token(
        dunst, app, ctx, make_config, qtbot, xserver, tmp_path):
    from desktop.ui.features.notify import NotifyFeature

    cfg = make_config("Support mailbox")
    now = datetime.now(UTC)
    ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True,
                           token_expires_at=now - timedelta(days=99), last_requested_at=now - timedelta(days=100))
    app.window.reload()
    feature = NotifyFeature(app, tray_probe=lambda: False)  # the real D-Bus client, the real timer
    try:
        assert feature.strategy == "dbus"
        assert "desktop notifications" in feature.bar.toolTip()
        assert [n.title for s, n in feature.delivered] == ["Refresh token expired"]
        time.sleep(0.5)
        shot = shots_dir(tmp_path) / "dbus-notification.png"
        subprocess.run(["import", "-display", xserver, "-window", "root", "-crop", "460x140+820+0", "+repage",
                        str(shot)], check=False, timeout=30)
        with qtbot.waitSignal(app.hub.open_configuration, timeout=5000) as opened:
            subprocess.run(["dunstctl", "action", "0"], env=dunst, check=True)
        assert opened.args == ["Support mailbox", "request"]
        assert app.window.current_configuration().name == "Support mailbox"
    finally:
        feature.shutdown()
