"""The features a test window needs to look and act like the real one around the features under test."""

from __future__ import annotations


def window_features(*under_test: str) -> list[str]:
    """Configurations (Add/Edit/Delete, Settings: the toolbar's first buttons) first, then ``under_test``, then
    Help: the order of ``desktop.app.FEATURES``, so menus and toolbar look as in the app."""
    return ["desktop.ui.features.configurations", *under_test, "desktop.ui.features.help"]


def close_app(app) -> None:  # noqa: ANN001 - a desktop.app.Application
    """Close a test's Application whose notify feature may not be built yet (the real start builds it after the first
    paint): its D-Bus and tray let go, the window hides without asking about the tray, is deleted, events run."""
    from PySide6.QtWidgets import QApplication

    notify = app.features.get("notify")
    if notify is not None:
        notify.shutdown()
    app.window.close_to_tray = None
    app.window._quitting = True
    app.window.hide()
    app.window.deleteLater()
    QApplication.processEvents()
