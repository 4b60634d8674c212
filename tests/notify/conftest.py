"""Fixtures for the notify feature's Qt tests: the real window and hub, a fake clock and timer."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.notify.helpers import FakeClock
from tests.support.window import window_features


@pytest.fixture
def clock() -> FakeClock:
    # real "now": configurations carry their real creation time
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def fake_timer_cls():
    from desktop.ui.features.notify_timer import WallClockTimer

    class FakeTimer(WallClockTimer):
        """Records what the controller armed; the test fires it by hand (as the clock reaches it)."""

        kind = "fake"

        def __init__(self, parent=None) -> None:
            super().__init__(parent)
            self.arms: list = []

        def arm(self, at, now) -> None:
            self.armed_at = at
            self.arms.append(at)

        def disarm(self) -> None:
            self.armed_at = None

        def fire(self) -> None:
            self.fired.emit()

    return FakeTimer


@pytest.fixture
def app(qapp, ctx):
    """The lead's Application with no features installed (each test installs notify its own way)."""
    from desktop.app import Application
    from desktop.ui.tasks import InlineTaskRunner

    application = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    application.window.resize(900, 560)
    yield application
    application.window.close_to_tray = None
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()


@pytest.fixture
def install_notify(app, clock, fake_timer_cls):
    """Install the notify feature with a chosen strategy, the fake clock and a fake timer."""
    created = []

    def factory(*, tray: bool | Callable[[], bool] = False, dbus=None, start: bool = True,
                tray_may_appear: bool = False):
        from desktop.ui.features.notify import NotifyFeature

        probe = tray if callable(tray) else (lambda: tray)
        feature = NotifyFeature(app, tray_probe=probe, tray_may_appear=lambda: tray_may_appear,
                                dbus_factory=(lambda: dbus) if dbus else None,
                                clock=clock.now, timer=fake_timer_cls(), start=start)
        app.features["notify"] = feature
        created.append(feature)
        return feature

    yield factory
    for feature in created:
        feature.shutdown()


def stop_process(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def start_xvfb(log_dir) -> tuple[subprocess.Popen, str]:
    """Xvfb on a free display (it picks one itself with -displayfd); returns (process, ':N')."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=[write_fd], stdout=subprocess.DEVNULL, stderr=open(log_dir / "xvfb.log", "wb"),
    )
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 15
    try:
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 0.5)
            if ready:
                chunk = os.read(read_fd, 16)
                if not chunk:
                    break
                number += chunk
    finally:
        os.close(read_fd)
    if not number.strip():
        stop_process(xvfb)
        pytest.fail("Xvfb did not report a display number within 15 s (see xvfb.log)")
    return xvfb, f":{int(number)}"


@pytest.fixture
def xserver(tmp_path):
    """A bare Xvfb (no tray host); yields the DISPLAY string."""
    xvfb, display = start_xvfb(tmp_path)
    try:
        yield display
    finally:
        stop_process(xvfb)


def start_trayer(display: str, log_dir) -> subprocess.Popen:
    """trayer (an XEmbed system tray) on ``display``, top right."""
    return subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "120",
         "--height", "32", "--tint", "0x2b2b2b", "--transparent", "true", "--alpha", "0"],
        env=dict(os.environ, DISPLAY=display), stdout=subprocess.DEVNULL,
        stderr=open(log_dir / "trayer.log", "wb"),
    )


@pytest.fixture
def xdisplay(xserver, tmp_path):
    """Xvfb with trayer as the system tray; yields the DISPLAY string."""
    trayer = start_trayer(xserver, tmp_path)
    try:
        yield xserver
    finally:
        stop_process(trayer)


@pytest.fixture
def session_bus(tmp_path):
    """A private D-Bus session bus; yields its address."""
    read_fd, write_fd = os.pipe()
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--print-address={write_fd}"],
        pass_fds=[write_fd], stdout=subprocess.DEVNULL, stderr=open(tmp_path / "dbus.log", "wb"),
    )
    os.close(write_fd)
    address = b""
    deadline = time.monotonic() + 15
    try:
        while not address.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 0.5)
            if ready:
                chunk = os.read(read_fd, 256)
                if not chunk:
                    break
                address += chunk
    finally:
        os.close(read_fd)
    if not address.strip():
        stop_process(daemon)
        pytest.fail("dbus-daemon did not print its address within 15 s")
    try:
        yield address.decode().strip()
    finally:
        stop_process(daemon)
