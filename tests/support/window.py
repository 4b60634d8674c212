"""The features a test window needs to look and act like the real one around the features under test."""

from __future__ import annotations


def window_features(*under_test: str) -> list[str]:
    """Configurations (Add/Edit/Delete, Settings: the toolbar's first buttons) first, then ``under_test``, then
    Help: the order of ``desktop.app.FEATURES``, so menus and toolbar look as in the app."""
    return ["desktop.ui.features.configurations", *under_test, "desktop.ui.features.help"]
