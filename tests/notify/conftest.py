"""Fixtures for the notify feature's Qt tests: the real window and hub, a fake clock and timer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.notify.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    # real "now": configurations carry their real creation time
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def fake_timer_cls():
    from desktop.ui.features.notify import WallClockTimer

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

    application = Application(qapp, ctx, tasks=InlineTaskRunner(), features=[])
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

    def factory(*, tray: bool = False, dbus=None, start: bool = True):
        from desktop.ui.features.notify import NotifyFeature

        feature = NotifyFeature(app, tray_probe=lambda: tray, dbus_factory=(lambda: dbus) if dbus else None,
                                clock=clock.now, timer=fake_timer_cls(), start=start)
        app.features["notify"] = feature
        created.append(feature)
        return feature

    yield factory
    for feature in created:
        feature.shutdown()
