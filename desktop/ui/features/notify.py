"""Notify feature: one wall-clock timer for the next due event, notifications, tray, bar, click-through
(``notify_feature.NotifyFeature``; its wiring is described there).

``install`` builds it at once, except in the real start-up with the window shown: there it is built right after
the window's first paint. Its modules (the bar, the tray, the scheduler, the wall-clock timer, the notification
log) are ~10 ms of a start that the design wants within 1.5x of a bare window, and nothing of it shows in the
first picture: the bar is empty and the plan over every configuration waits for the paint anyway. The places it
takes in the window (its bar below the toolbar, the Automatic refresh section of the details pane) are kept at
install time, so the window looks as if it had been built with the others. ``app.features["notify"]`` is None
until then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from desktop.ui.features.host import FeatureHost

if TYPE_CHECKING:
    from desktop.ui.features.notify_feature import NotifyFeature

#: importable from here as before (PEP 562: loaded on first use)
_LAZY = {"NotifyFeature", "NotifyController", "WallClockTimer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from desktop.ui.features import notify_feature

        return getattr(notify_feature, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def install(app: FeatureHost) -> NotifyFeature | None:
    if not app.defer_start or app.minimized:  # tests; a start in the tray has no first paint to wait for
        from desktop.ui.features.notify_feature import NotifyFeature

        return NotifyFeature(app)
    places = (app.window.bars_layout.count(), app.window.details.next_place())

    def build() -> None:
        from desktop.ui.features.notify_feature import NotifyFeature
        from desktop.ui.keyboard import order_focus

        feature = NotifyFeature(app, places=places)
        app.features["notify"] = feature
        if feature.tray_available():  # as at a start with a tray: closing the window keeps Tokendesk running
            app.qapp.setQuitOnLastWindowClosed(False)
        order_focus(app.window)  # the bar's buttons in the Tab order, top to bottom

    app.after_first_paint(build)
    return None
