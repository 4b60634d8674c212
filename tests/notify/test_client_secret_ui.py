"""A client secret that expires soon, in the window (issue 13, point 1): the bar names it with an Edit button that
opens the configuration, the table's Validity column says it, the Edit dialog has the field. Screenshots."""

from __future__ import annotations

from datetime import date, timedelta

from PySide6.QtWidgets import QApplication

from desktop.models.token_table_model import COL_VALIDITY
from desktop.ui.enums import MainAction
from tests.notify.helpers import shots_dir

D = timedelta(days=1)


def secret_expires_in(ctx, make_config, name, days, clock):
    cfg = make_config(name)
    cfg = ctx.store.get_by_id(cfg.id)
    cfg.client_secret_expires = clock.now().astimezone().date() + timedelta(days=days)
    ctx.configurations.update(cfg)
    now = clock.now()
    ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True, token_expires_at=now + D / 24,
                           last_requested_at=now, refresh_token_expires_at=now + 400 * D)
    return cfg.client_secret_expires


def test_bar_and_table_name_a_client_secret_that_expires_soon_and_edit_opens_it(
        app, ctx, make_config, clock, install_notify, qtbot, tmp_path):
    shots = shots_dir(tmp_path)
    soon = secret_expires_in(ctx, make_config, "Helpdesk mailbox", 5, clock)
    later = secret_expires_in(ctx, make_config, "Archive", 45, clock)
    opened: list[str] = []
    app.window.add_action(MainAction.EDIT, "&Edit ...",
                          lambda _c=False: opened.append(app.window.selected_configurations()[0].name),
                          enabled_when=lambda rows: len(rows) == 1)
    app.window.reload()
    feature = install_notify()
    app.window.show()
    qtbot.waitExposed(app.window)
    assert [(row.label.text(), row.button.text()) for row in feature.bar.rows] == [
        (f"The client secret of 'Helpdesk mailbox' expires on {soon.isoformat()}.", "Edit")]
    model = app.window.table.model()
    texts = {model.index(r, 0).data(): model.index(r, COL_VALIDITY).data() for r in range(model.rowCount())}
    assert texts == {"Helpdesk mailbox": f"valid; client secret expires {soon.isoformat()} (in 5 days)",
                     "Archive": "valid"}
    assert later == clock.now().astimezone().date() + 45 * D
    app.window.resize(1400, 420)
    table = app.window.table
    for col in range(model.columnCount()):
        table.resizeColumnToContents(col)
    table.setColumnHidden(1, True)  # the template: the same for both, and room for the Validity column
    QApplication.processEvents()
    app.window.grab().save(str(shots / "client-secret-warning.png"))
    feature.bar.rows[0].button.click()
    QApplication.processEvents()
    assert opened == ["Helpdesk mailbox"]


def test_edit_dialog_has_the_expiry_field_and_refuses_a_text_that_is_no_date(ctx, make_config, qtbot, tmp_path):
    from desktop.ui.dialogs.token_dialog import TokenDialog

    shots = shots_dir(tmp_path)
    cfg = make_config("Helpdesk mailbox")
    cfg = ctx.store.get_by_id(cfg.id)
    cfg.client_secret_expires = date(2027, 5, 31)
    ctx.configurations.update(cfg)
    dialog = TokenDialog(ctx.store.get_by_id(cfg.id), template=ctx.templates.require(cfg.template_name),
                         client_secret_stored=True)
    qtbot.addWidget(dialog)
    assert dialog.secret_expires_edit.text() == "2027-05-31"
    dialog.secret_expires_edit.setText("31.05.2028")
    assert not dialog.save_button.isEnabled()
    assert "Client secret expires must be a date written year-month-day" in dialog.summary.text()
    dialog.secret_expires_edit.setText("2028-05-31")
    assert dialog.save_button.isEnabled()
    assert dialog._collect().client_secret_expires == date(2028, 5, 31)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.grab().save(str(shots / "client-secret-edit-field.png"))


def test_dbus_notification_and_tray_message_of_a_client_secret_warning_each_once(
        app, ctx, make_config, clock, install_notify, qtbot):
    from tests.notify.test_notify_ui import FakeDesktopNotifications

    soon = secret_expires_in(ctx, make_config, "Helpdesk mailbox", 7, clock)
    opened_for: list[str] = []
    app.window.add_action(MainAction.EDIT, "&Edit ...",  # a stand-in: the real one opens the modal Edit dialog
                          lambda _c=False: opened_for.append(app.window.selected_configurations()[0].name),
                          enabled_when=lambda rows: len(rows) == 1)
    app.window.reload()
    bus = FakeDesktopNotifications()
    feature = install_notify(dbus=bus)
    assert feature.strategy == "dbus"
    assert bus.sent == [(
        "Client secret expires soon",
        f"The client secret of 'Helpdesk mailbox' expires on {soon.isoformat()} (in 7 days). Make a new client "
        "secret at the provider (Entra: App registrations > Certificates & secrets), then enter it and its expiry "
        "date with Edit.",
        {"default": "Edit", "edit": "Edit"})]
    with qtbot.waitSignal(app.hub.open_configuration, timeout=2000) as opened:
        bus.click(41)
    assert opened.args == ["Helpdesk mailbox", "edit"]
    assert opened_for == ["Helpdesk mailbox"]
    feature.shutdown()
    tray = install_notify(tray=True)  # a new start on the same database: already announced
    assert list(tray.delivered) == []
    assert [row.button.text() for row in tray.bar.rows] == ["Edit"]
