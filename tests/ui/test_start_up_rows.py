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
from desktop.models.token_table_model import COL_NAME, COL_TEMPLATE, HEADERS
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


def test_the_header_and_the_sorting_take_the_model_after_the_first_paint(start, make_config, qtbot):
    """Until the first paint the header reads its labels from a model of its own and the view does not sort (either
    would build PySide6's Qt namespace: desktop/qtns.py); the rows come sorted by the model. After it the header
    reads the table's model, keeps its sizes, and a click on it sorts."""
    from PySide6.QtCore import Qt

    for name in ("Charlie", "alpha", "Bravo"):
        make_config(name)
    app = start()
    window = app.window
    header = window.table.horizontalHeader()
    assert header.model() is not window.model and not window.table.isSortingEnabled()
    assert [header.model().headerData(c, Qt.Orientation.Horizontal) for c in range(header.count())] == list(HEADERS)
    assert names(app) == ["alpha", "Bravo", "Charlie"]  # by name, as the model sorts
    header.resizeSection(COL_TEMPLATE, 222)
    app.show()
    qtbot.waitUntil(lambda: header.model() is window.model, timeout=3000)
    assert window.table.isSortingEnabled() and header.isSortIndicatorShown()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (COL_NAME, Qt.SortOrder.AscendingOrder)
    assert header.sectionSize(COL_TEMPLATE) == 222  # kept through the change of model
    window.table.sortByColumn(COL_NAME, Qt.SortOrder.DescendingOrder)
    assert names(app) == ["Charlie", "Bravo", "alpha"]
    window.table.selectRow(0)
    assert header.selectionModel() is window.table.selectionModel()  # the header follows the selection again


def test_the_sort_order_comes_back_with_the_first_rows(start, make_config, qtbot):
    """ui.ini keeps the sort with the header: the next start's first rows come in that order, before any paint."""
    from PySide6.QtCore import Qt

    for name in ("Charlie", "alpha", "Bravo"):
        make_config(name)
    first = start()
    first.show()
    qtbot.waitUntil(lambda: first.window.table.isSortingEnabled(), timeout=3000)
    first.window.table.sortByColumn(COL_NAME, Qt.SortOrder.DescendingOrder)
    first.window.save_state()
    assert first.window.ui_settings().value("table/sort") == f"{COL_NAME} descending"
    second = start()
    assert names(second) == ["Charlie", "Bravo", "alpha"]  # read, sorted, not painted yet
    header = second.window.table.horizontalHeader()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (COL_NAME, Qt.SortOrder.DescendingOrder)


def test_the_real_start_orders_the_tab_chain_after_the_first_paint(start, make_config, qtbot):
    """Reading the widgets' focus policies builds Qt's namespace, so the real start orders Tab after the first
    paint; the table has the focus from the start."""
    from PySide6.QtCore import Qt

    from desktop.ui.keyboard import focus_chain

    make_config("Support")
    app = start()
    window = app.window
    app.show()
    qtbot.waitUntil(lambda: window.tabs.focusPolicy() == Qt.FocusPolicy.NoFocus, timeout=3000)
    assert window.focusWidget() is window.table
    chain = focus_chain(window)
    assert chain[0] is window.search and chain[-3:] == [window.tabs.tabBar(), window.table, window.details]
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Tab)
    assert window.focusWidget() is window.details
    qtbot.keyClick(window.details, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window.table, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert window.focusWidget() is window.tabs.tabBar()  # not the tab widget: order_focus ran
