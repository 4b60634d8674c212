"""A team store that cannot be reached makes the window read-only (features/store_status.py): besides the writing
actions, the Mail accounts, Web services and Relay tabs' Add, Edit and Delete (buttons and keys) are off until it is
back (``Hub.read_only_changed``; a tab built meanwhile starts read-only). The team store's own test of the same path
with a paused PostgreSQL server: tests/ui/test_team_live.py."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from desktop.app import Application
from desktop.ui.tasks import InlineTaskRunner
from tests.support.window import window_features


def test_the_tabs_write_buttons_follow_the_read_only_store(qapp, ctx, qtbot):
    app = Application(qapp, ctx, tasks=InlineTaskRunner(),
                      features=window_features("desktop.ui.features.usage", "desktop.ui.features.relay"))
    try:
        usage, relay = app.features["usage"], app.features["relay"]
        mail = usage.mail_view  # built before: follows the signal
        opened: list[object] = []
        mail._edit = lambda item: opened.append(item)  # opens the dialog of Add and Edit
        app.hub.set_read_only(True)
        web, devices = usage.invokers_view, relay.view  # built while read-only: start so
        for view in (mail, web):
            assert not view.add_button.isEnabled() and not view.edit_button.isEnabled()
            assert not view.delete_button.isEnabled()
        assert not devices.add_button.isEnabled() and not devices.remove_button.isEnabled()
        mail.on_add()  # the Insert key's slot
        assert opened == []
        app.hub.set_read_only(False)
        for view in (mail, web):
            assert view.add_button.isEnabled()
        assert devices.add_button.isEnabled()
        mail.on_add()
        assert opened == [None]
    finally:
        app.window._quitting = True
        app.window.hide()
        app.window.deleteLater()
        QApplication.processEvents()
