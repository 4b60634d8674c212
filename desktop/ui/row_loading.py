"""The token table's first read at start-up: a large store's rows come after the window's first paint.

Up to ``READ_BEFORE_SHOW`` configurations are read before the window is shown, as on any reload (a few ms).
A larger store would hold the window back: reading and parsing 10,000 configurations takes ~0.3 s, longer
than a bare PySide6 window needs to appear. So the window shows at once with "Loading 10,000 configurations
..." where the table will be (and in the status bar), reads them on the task runner after its first paint
(``Application._run_after_paint`` starts ``RowsLater``) and fills the table; the work queued with
``Application.after_first_paint`` (the vault, the notification plan over the window's rows) runs once they
are in. A reload meanwhile (the CLI wrote, a token changed) makes the read stale: the window then reads again
on the GUI thread, so nothing shown is older than the store.

A team store opened for the window (``open_context(connect_later=True)``) has no connection yet: the window shows
"Connecting to the team store ..." and the same read after its first paint makes the connection (psycopg's import
and the connection, ~100 ms, no longer hold the window back). When the server does not answer, the window says so
and turns read-only (the store-status feature's bar), its listener keeps trying, and the rows - and the work that
waits for them - come when it answers; no error box, no exit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop.ui.main_window import MainWindow
    from desktop.ui.tasks import TaskRunner

logger = logging.getLogger(__name__)

#: up to this many configurations the window reads before it shows (~7 ms); more come after its first paint
READ_BEFORE_SHOW = 200


def loading_text(total: int | None) -> str:
    return "Connecting to the team store ..." if total is None else f"Loading {total:,} configurations ..."


def first_read(window: MainWindow, tasks: TaskRunner) -> RowsLater | None:
    """The window's first read: all rows now when there are few (None), else the settings only, the table's
    place saying that the rows are loading, and a ``RowsLater`` to start after the first paint (a team store not
    connected yet: nothing read now)."""
    store = window.ctx.store
    if store.is_team and not store.reached:
        window.details.show_row(None, window.model.now, window.model.token_lead)  # "No configuration selected"
        return RowsLater(window, tasks, None)
    total = store.count()
    if total <= READ_BEFORE_SHOW:
        window.reload()
        return None
    window.reload([])  # the settings, an empty table
    return RowsLater(window, tasks, total)


class RowsLater:
    """Reads every row on the task runner and hands it to the window (``start``; once ``done``, ``then``)."""

    def __init__(self, window: MainWindow, tasks: TaskRunner, total: int | None) -> None:
        """``total``: how many configurations the store holds; None: a team store not connected yet."""
        self.window, self.tasks, self.total = window, tasks, total
        self.started = self.done = self.stale = False
        self._then: list[Callable[[], None]] = []
        self._show_loading()
        window.model.rows_changed.connect(self._show_loading)  # the filter typed meanwhile: still loading
        window.reloaded.connect(self._mark_stale)
        window.hub.token_changed.connect(self._mark_stale)

    def _show_loading(self) -> None:
        if self.done:
            return
        text = loading_text(self.total)
        self.window.empty_label.setText(text)
        self.window.table_stack.setCurrentWidget(self.window.empty_label)
        self.window.count_label.setText("")  # the status bar's progress says it (the task's busy text)

    def _mark_stale(self, *_args: object) -> None:
        if self.started:
            self.stale = True

    def start(self, then: Callable[[], None]) -> None:
        """Read the rows (once); ``then`` runs on the GUI thread when they are in the table (or failed)."""
        self._then.append(then)
        if self.started:
            return
        self.started = True
        store = self.window.ctx.store
        self.tasks.run(store.list_with_state, on_done=self._loaded, on_error=self._failed,
                       busy_text=loading_text(self.total))

    def _loaded(self, rows: list[Any]) -> None:
        self._stop_watching()
        # another reload or a token change since the read started: read again here, nothing older is shown
        self.window.reload(None if self.stale else rows)
        self._connected()
        self._release()

    def _connected(self) -> None:
        if self.total is None:  # the team store answered for the first time: listen, and say what its vault is
            self.window.db_watcher.watch()
            self.window.hub.secrets_changed.emit()

    def _failed(self, exc: BaseException) -> None:
        from desktop.store.pg_listen import is_unreachable

        if self.total is None and is_unreachable(self.window.ctx.store, exc):
            self._away(exc)
            return
        logger.error("the configurations could not be read: %s", exc)  # a damaged file: the app's box says more
        self._stop_watching()
        self.window.reload([])
        self.window.empty_label.setText(f"The configurations could not be read.\n\n{exc}\n\nView > Reload "
                                        "(Ctrl+Shift+R) tries again.")
        self._release()

    def _away(self, exc: BaseException) -> None:
        """The team store did not answer the window's first read: read-only until it does (the watcher's
        ``unreachable``), its listener trying with back-off; when it answers the window reads everything
        (``reachable`` -> ``changed``), and then the work waiting for the rows runs."""
        logger.warning("the team store cannot be reached at start-up: %s", exc)
        self._stop_watching()
        self.window.empty_label.setText(f"The team store cannot be reached yet.\n\n{exc}\n\nTokendesk keeps "
                                        "trying; the configurations appear when it answers.")
        self.window.table_stack.setCurrentWidget(self.window.empty_label)
        self.window.reloaded.connect(self._arrived)
        watcher = self.window.db_watcher
        watcher.lost(str(exc))
        watcher.listen()

    def _arrived(self) -> None:
        self.window.reloaded.disconnect(self._arrived)
        self._connected()
        self._release()

    def _stop_watching(self) -> None:
        self.done = True
        window = self.window
        for signal, slot in ((window.model.rows_changed, self._show_loading), (window.reloaded, self._mark_stale),
                             (window.hub.token_changed, self._mark_stale)):
            signal.disconnect(slot)

    def _release(self) -> None:
        waiting, self._then = self._then, []
        for fn in waiting:
            fn()


def follow_store(window: MainWindow) -> None:
    """Another process or desktop wrote (``DatabaseWatcher.changed``): read again only the configurations a team
    store named (``take_rows``: a few rows of 10,000 in milliseconds, where reading all takes most of a second),
    else everything. Rows changed in place are updated in place; a configuration new or gone here is merged into
    the rows the table holds (the table built again from them, nothing else read)."""
    rows = window.db_watcher.take_rows()
    if rows is None:
        window.reload()
        return
    held = window.configurations_with_state()
    present = {cfg.id for cfg, _state in held}
    if rows.keys() <= present and not any("token_config" in tables and "token_state" in tables
                                          for tables in rows.values()):
        for config_id in sorted(rows):
            window.refresh_configuration(config_id)  # reads everything when the row is gone meanwhile
        window.db_watcher.seen()
        if any("token_config" in tables for tables in rows.values()):
            window.reloaded.emit()  # a configuration itself changed (a rename, say): the tabs that name them follow
        return
    fresh = window.ctx.store.list_with_state_for(rows)
    window.reload([pair for pair in held if pair[0].id not in rows] + fresh)
