"""Start-up with a large store (desktop/ui/row_loading.py): the window shows at once, saying that the configurations
are loading, reads them on the task runner after its first paint and fills the table; the work queued for after the
first paint runs once they are in; a change meanwhile is not lost. A small store is read with the window, as before.
TOKENDESK_SCREENSHOTS=1 refreshes docs/screenshots/start-up-loading.png and start-up-loaded.png."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from desktop.app import Application
from desktop.ui import row_loading
from desktop.ui.enums import MainAction
from desktop.ui.tasks import TaskRunner
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]


def shots_dir(fallback: Path) -> Path:
    path = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def start(qapp, ctx, qtbot):
    apps: list[Application] = []

    def build() -> Application:
        app = Application(qapp, ctx, tasks=TaskRunner(), features=window_features(), defer_start=True)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.tasks.wait(5000)
        app.window._quitting = True
        app.window.hide()
        app.window.deleteLater()
    QApplication.processEvents()


def names(app: Application) -> list[str]:
    return [app.window.model.row_at(r).config.name for r in range(app.window.model.rowCount())]


def test_a_large_store_shows_the_window_loading_then_fills_the_table(start, ctx, make_config, monkeypatch, qtbot,
                                                                      tmp_path):
    monkeypatch.setattr(row_loading, "READ_BEFORE_SHOW", 3)
    for i in range(5):
        make_config(f"Mailbox {i}")
    release = threading.Event()
    original = ctx.store.list_with_state

    def held_read():  # the read after the first paint waits until the loading state is looked at
        if threading.current_thread() is not threading.main_thread():
            release.wait(5)
        return original()

    monkeypatch.setattr(ctx.store, "list_with_state", held_read)
    app = start()
    window = app.window
    seen: list[int] = []
    app.after_first_paint(lambda: seen.append(window.model.rowCount()))  # the notification plan reads the rows

    assert window.model.rowCount() == 0  # not read yet: the window comes first
    assert window.table_stack.currentWidget() is window.empty_label
    assert window.empty_label.text() == "Loading 5 configurations ..."
    assert window.count_label.text() == ""  # no "0 configurations"
    window.search.setText("Mail")  # typing meanwhile does not say "no configuration matches"
    assert window.empty_label.text() == "Loading 5 configurations ..."
    window.search.clear()
    window.resize(1000, 420)
    shots = shots_dir(tmp_path)
    window.grab()  # the first paint: right after it (once the frame is out) the read starts, its progress shown
    assert window.busy_label.text() == ""
    qtbot.waitUntil(lambda: window.busy_label.text() == "Loading 5 configurations ...", timeout=2000)
    QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)  # the status bar's layout, not the read's result
    window.grab().save(str(shots / "start-up-loading.png"))
    release.set()

    app.show()
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen == [5]  # what waited for the paint ran once the rows were in the table
    assert names(app) == [f"Mailbox {i}" for i in range(5)]
    assert window.table_stack.currentWidget() is window.table
    assert window.count_label.text() == "5 configurations"
    qtbot.waitUntil(lambda: not window.busy_bar.isVisible(), timeout=3000)  # the progress went away
    window.grab().save(str(shots / "start-up-loaded.png"))


def test_a_small_store_is_read_with_the_window(start, make_config):
    make_config("Support")
    make_config("Billing")
    app = start()
    assert names(app) == ["Billing", "Support"]
    assert app.window.table_stack.currentWidget() is app.window.table


def test_a_change_while_the_rows_load_is_not_lost(start, ctx, make_config, monkeypatch, qtbot):
    monkeypatch.setattr(row_loading, "READ_BEFORE_SHOW", 1)
    make_config("Mailbox A")
    make_config("Mailbox B")
    read, release = threading.Event(), threading.Event()
    original = ctx.store.list_with_state

    def slow_read():
        rows = original()
        if threading.current_thread() is not threading.main_thread():  # the read after the first paint
            read.set()
            release.wait(5)
        return rows

    monkeypatch.setattr(ctx.store, "list_with_state", slow_read)
    app = start()
    seen: list[list[str]] = []
    app.after_first_paint(lambda: seen.append(names(app)))
    app.show()
    qtbot.waitUntil(read.is_set, timeout=5000)
    make_config("Mailbox C")  # e.g. the CLI added one while the window was reading
    app.hub.configurations_changed.emit()
    release.set()
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen == [["Mailbox A", "Mailbox B", "Mailbox C"]]  # not the older read


def test_view_reload_reads_the_store_again(start, make_config):
    """reload() takes the rows read elsewhere; the action (its triggered(bool)) and the hub still read the store."""
    make_config("Support")
    app = start()
    make_config("Billing")
    app.window.action(MainAction.RELOAD).trigger()
    assert names(app) == ["Billing", "Support"]
    make_config("Archive")
    app.hub.configurations_changed.emit()
    assert names(app) == ["Archive", "Billing", "Support"]
