"""The real start-up (``defer_start``) builds some features after the window's first paint: the notify feature
(features/notify.py) and those that only add menu entries (``desktop.app.AFTER_FIRST_PAINT``). Once the window has
painted, its menus, toolbar, context menu, bars and details sections are those of a window built with every feature
at once."""

from __future__ import annotations

from desktop.app import AFTER_FIRST_PAINT, FEATURES, Application
from desktop.ui.tasks import InlineTaskRunner
from tests.support.window import close_app


def layout(app: Application) -> dict[str, list[str]]:
    window = app.window
    seen = {m.text(): [a.text() or "--" for a in m.menu().actions()] for m in window.menuBar().actions()}
    seen["toolbar"] = [a.text() or "--" for a in window.toolbar.actions()]
    seen["context"] = [a.text() for a in window._registry.context_actions]
    seen["bars"] = [window.bars_layout.itemAt(i).widget().objectName() for i in range(window.bars_layout.count())]
    seen["sections"] = [box.title() for box in window.details.sections()]
    seen["tabs"] = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    return seen


def test_features_built_after_the_first_paint_leave_the_window_as_built_at_once(qapp, ctx, qtbot, monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    at_once = Application(qapp, ctx, tasks=InlineTaskRunner(), features=FEATURES)
    expected = layout(at_once)
    close_app(at_once)

    real = Application(qapp, ctx, tasks=InlineTaskRunner(), features=FEATURES, defer_start=True)
    try:
        later = {name.rsplit(".", 1)[-1] for name in AFTER_FIRST_PAINT}
        assert later.isdisjoint(real.features) and real.features["notify"] is None  # not before the first paint
        real.show()
        qtbot.waitUntil(lambda: later <= set(real.features) and real.features["notify"] is not None, timeout=5000)
        assert layout(real) == expected
    finally:
        close_app(real)
