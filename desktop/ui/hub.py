"""The application-wide signal hub: cross-window events go through here (Vorta's app signals)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Hub(QObject):
    #: configurations were added, changed, deleted or imported (reload the table)
    configurations_changed = Signal()
    #: the token state of one configuration changed (refresh, request, revoke, error)
    token_changed = Signal(int)
    #: open the window with this configuration selected and run the action on it ("refresh", "request" or "": none)
    open_configuration = Signal(str, str)
    #: the scheduler says: refresh this configuration's token now (handled by the oauth feature)
    refresh_due = Signal(int)
    #: the scheduler is about to emit ``refresh_due`` for these configurations, one after the other (the start-up's
    #: plan: hundreds): the oauth feature reads their rows in one query instead of two per signal
    refreshes_coming = Signal(list)
    #: an automatic refresh failed on the network (provider unreachable, time-out, 5xx): try again later
    refresh_failed = Signal(int)
    #: the secret store strategy changed (e.g. the admin allowed the local fallback)
    secrets_changed = Signal()
    #: the store turned read-only (a team store that cannot be reached) or writable again (features/store_status.py);
    #: ``read_only`` says how it is now, for views built later
    read_only_changed = Signal(bool)
    read_only = False

    def refresh(self, config_ids: list[int]) -> None:
        """``refresh_due`` for each configuration, in order; more than one announced first (``refreshes_coming``):
        the scheduler's plan and the tray's Refresh all."""
        if len(config_ids) > 1:
            self.refreshes_coming.emit(config_ids)
        for config_id in config_ids:
            self.refresh_due.emit(config_id)

    def set_read_only(self, read_only: bool) -> None:
        if read_only != self.read_only:
            self.read_only = read_only
            self.read_only_changed.emit(read_only)
