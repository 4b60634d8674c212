"""The main window built by desktop.app.Application (inline task runner; of the features only configurations and
help): table, search, empty states, Add/Edit/Delete with the blocking calls patched, saving without a keyring,
persisted geometry, click-through, reload on external changes, and no QtWebEngine at start-up."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QDialog, QMessageBox

from desktop.app import Application
from desktop.models.token import utcnow
from desktop.models.token_table_model import COL_NAME, COL_TOKEN
from desktop.services import open_context
from desktop.store.secrets import CLIENT_SECRET
from desktop.ui.dialogs.template_picker import TemplatePicker
from desktop.ui.dialogs.token_dialog import TokenDialog
from desktop.ui.enums import MainAction
from desktop.ui.tasks import InlineTaskRunner
from tests.support.fresh_process import RECORD_ENUMS, run_offscreen
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]
#: the features these tests need (Add/Edit/Delete/Settings; Help)
FEATURES = ["desktop.ui.features.configurations", "desktop.ui.features.help"]


@pytest.fixture
def make_app(qapp, qtbot):
    apps: list[Application] = []

    def build(context) -> Application:
        app = Application(qapp, context, tasks=InlineTaskRunner(), features=FEATURES)
        apps.append(app)
        app.window.show()
        return app

    yield build
    for app in apps:
        app.window.save_state()
        app.window.hide()
        app.window.deleteLater()
    qapp.processEvents()


def table_names(window) -> list[str]:
    model = window.model
    return [model.data(model.index(r, COL_NAME)) for r in range(model.rowCount())]


def select(window, *names: str) -> None:
    sel = window.table.selectionModel()
    sel.clearSelection()
    for name in names:
        row = window.model.row_of(name)
        assert row >= 0, name
        sel.select(window.model.index(row, 0),
                   QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


@pytest.fixture
def three(ctx, make_config):
    make_config("Support mailbox", secret="support-secret")
    gmail = make_config("Sales Gmail", template="Google Mail")
    ctx.store.update_state(gmail.id, has_access_token=True, token_expires_at=utcnow() - timedelta(hours=2),
                           last_requested_at=utcnow() - timedelta(hours=3))
    make_config("Billing SSO", template="Generic OAuth2", secret=None,
                AuthorizationCode="https://sso.example.org/auth", TokenByAuthorizationCode="https://sso.example.org/t",
                TokenByRefreshToken="https://sso.example.org/t")
    return ctx


# ---- table, search, empty states


def test_table_shows_the_configurations(three, make_app):
    window = make_app(three).window
    assert window.windowTitle() == "Tokendesk"
    assert table_names(window) == ["Billing SSO", "Sales Gmail", "Support mailbox"]
    assert window.table_stack.currentWidget() is window.table
    assert window.count_label.text() == "3 configurations"
    assert window.secrets_label.text().startswith("Secrets: encrypted vault, key in the system keyring")
    row = window.model.row_of("Sales Gmail")
    assert window.model.data(window.model.index(row, COL_TOKEN)).startswith("expired on ")
    assert window.details_title.text() == "No configuration selected"


def test_selection_fills_the_details_and_enables_actions(three, make_app):
    window = make_app(three).window
    edit, delete = window.action(MainAction.EDIT), window.action(MainAction.DELETE)
    assert not edit.isEnabled() and not delete.isEnabled()
    select(window, "Billing SSO")
    assert edit.isEnabled() and delete.isEnabled()
    assert window.details_title.text() == "Billing SSO"
    details = window.details_text.text()
    assert "Generic OAuth2" in details and "missing: Edit to add it" in details
    assert "never" in details  # never requested
    select(window, "Billing SSO", "Sales Gmail")
    assert not edit.isEnabled() and delete.isEnabled()
    assert [c.name for c in window.selected_configurations()] == ["Billing SSO", "Sales Gmail"]


def test_actions_have_shortcuts(three, make_app):
    window = make_app(three).window
    assert window.action(MainAction.ADD).shortcut().matches(Qt.Modifier.CTRL | Qt.Key.Key_N)
    assert window.action(MainAction.EDIT).shortcut().toString() == "F2"
    assert window.action(MainAction.DELETE).shortcut().toString() == "Del"
    assert window.action(MainAction.FIND).shortcut().toString() == "Ctrl+F"


def test_search_filters_and_says_when_nothing_matches(three, make_app, qtbot):
    window = make_app(three).window
    qtbot.keyClicks(window.search, "gmail")
    assert table_names(window) == ["Sales Gmail"]
    assert window.count_label.text() == "1 of 3 configurations"
    window.search.setText("expired")
    assert table_names(window) == ["Sales Gmail"]
    window.search.setText("nothing like this")
    assert window.model.rowCount() == 0
    assert window.table_stack.currentWidget() is window.empty_label
    assert window.empty_label.text() == (
        "No configuration matches “nothing like this”.\n\nClear the filter (Esc) to see all 3.")
    qtbot.keyClick(window.search, Qt.Key.Key_Escape)
    assert window.search.text() == ""
    assert window.table_stack.currentWidget() is window.table
    assert len(table_names(window)) == 3


def test_empty_database_explains_how_to_start(ctx, make_app):
    window = make_app(ctx).window
    assert window.table_stack.currentWidget() is window.empty_label
    assert window.empty_label.text().startswith("No token configurations yet.\n\nPress Add (Ctrl+N)")
    assert window.count_label.text() == "0 configurations"


# ---- add, edit, delete (blocking calls patched)


def fake_exec(fill):
    """A TokenDialog.exec replacement: fill the form like a user, press Save, return the result."""

    def exec_(dialog: TokenDialog) -> int:
        fill(dialog)
        dialog.save_button.click()
        return dialog.result()

    return exec_


def test_add_with_a_template_name(ctx, make_app, monkeypatch, memory_keyring):
    app = make_app(ctx)
    window = app.window
    seen = {}

    def fill(dialog):
        seen["title"] = dialog.windowTitle()
        seen["template"] = dialog.template_label.text()
        dialog.name_edit.setText("Helpdesk")
        dialog.client_id_edit.setText("helpdesk-app")
        dialog.secret_edit.setText("helpdesk-secret")

    monkeypatch.setattr(TokenDialog, "exec", fake_exec(fill))
    app.features["configurations"].on_add("Microsoft Exchange Online")
    assert seen == {"title": "Add token configuration - Tokendesk", "template": "Microsoft Exchange Online"}
    saved = ctx.store.get("Helpdesk")
    assert saved.template_name == "Microsoft Exchange Online"
    assert ctx.secrets.get_for(saved.id, CLIENT_SECRET) == "helpdesk-secret"
    assert table_names(window) == ["Helpdesk"]
    assert [c.name for c in window.selected_configurations()] == ["Helpdesk"]
    assert window.statusBar().currentMessage() == "Added 'Helpdesk'. Next: request a token for it."


def test_add_through_the_template_picker(ctx, make_app, monkeypatch):
    window = make_app(ctx).window
    offered = []

    def picker_exec(picker: TemplatePicker) -> int:
        offered.extend(picker.list.item(i).data(Qt.ItemDataRole.UserRole).name for i in range(picker.list.count()))
        assert picker.select("Google Mail")
        picker.accept()
        return picker.result()

    def fill(dialog):
        dialog.name_edit.setText("Sales Gmail")
        dialog.client_id_edit.setText("x.apps.googleusercontent.com")
        dialog.secret_edit.setText("made-up-secret")  # Google Mail's template requires one (issue 16, point 5)

    monkeypatch.setattr(TemplatePicker, "exec", picker_exec)
    monkeypatch.setattr(TokenDialog, "exec", fake_exec(fill))
    window.action(MainAction.ADD).trigger()
    assert "Google Mail" in offered and "Generic OpenID Connect" in offered
    assert ctx.store.get("Sales Gmail").template_name == "Google Mail"


def test_add_cancelled_saves_nothing(ctx, make_app, monkeypatch):
    feature = make_app(ctx).features["configurations"]

    def cancel(dialog):
        dialog.name_edit.setText("Abandoned")
        dialog.reject()
        return dialog.result()

    monkeypatch.setattr(TokenDialog, "exec", cancel)
    feature.on_add("Google Mail")
    assert ctx.store.count() == 0
    monkeypatch.setattr(TemplatePicker, "exec", lambda picker: QDialog.DialogCode.Rejected)
    feature.on_add()
    assert ctx.store.count() == 0


def test_edit_saves_changes_and_keeps_the_secret(three, make_app, monkeypatch):
    window = make_app(three).window
    select(window, "Support mailbox")
    seen = {}

    def fill(dialog):
        seen["title"] = dialog.windowTitle()
        seen["client id"] = dialog.client_id_edit.text()
        dialog.name_edit.setText("Support inbox")
        dialog.scope_edit.setText("https://outlook.office.com/IMAP.AccessAsUser.All offline_access")

    monkeypatch.setattr(TokenDialog, "exec", fake_exec(fill))
    window.action(MainAction.EDIT).trigger()
    assert seen == {"title": "Edit 'Support mailbox' - Tokendesk", "client id": "client-Support mailbox"}
    cfg = three.store.get("Support inbox")
    assert cfg.scope == "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
    assert three.configurations.client_secret(cfg) == "support-secret"
    assert "Support inbox" in table_names(window) and "Support mailbox" not in table_names(window)
    assert window.statusBar().currentMessage() == "Saved 'Support inbox'."
    assert window.details_title.text() == "Support inbox"


def test_double_click_opens_edit(three, make_app, monkeypatch, qtbot):
    window = make_app(three).window
    opened = []

    def record(dialog):
        opened.append(dialog.name_edit.text())
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(TokenDialog, "exec", record)
    row = window.model.row_of("Sales Gmail")
    rect = window.table.visualRect(window.model.index(row, COL_NAME))
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened == ["Sales Gmail"]


def test_delete_confirmed(three, make_app, monkeypatch, memory_keyring):
    window = make_app(three).window
    questions = []

    def answer_yes(parent, title, text, *args):
        questions.append((title, text))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    select(window, "Support mailbox", "Sales Gmail")
    window.action(MainAction.DELETE).trigger()
    (title, text), = questions
    assert title == "Delete token configurations?"
    assert text.startswith("Delete 'Sales Gmail', 'Support mailbox'?")
    assert "client secret are deleted too" in text
    assert table_names(window) == ["Billing SSO"]
    assert three.store.names() == ["Billing SSO"]
    assert three.store.conn.execute("SELECT COUNT(*) FROM config_secret").fetchone()[0] == 0
    assert window.statusBar().currentMessage() == "Deleted 2 configurations."


def test_delete_cancelled_keeps_everything(three, make_app, monkeypatch):
    window = make_app(three).window
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Cancel)
    select(window, "Support mailbox")
    window.action(MainAction.DELETE).trigger()
    assert three.store.count() == 3 and len(table_names(window)) == 3


def test_delete_refused_by_a_guard_is_reported(three, make_app, monkeypatch):
    window = make_app(three).window
    three.delete_guards.append(lambda c, cfg: ["mail account 'Support IMAP'"] if cfg.name == "Support mailbox" else [])
    warnings = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: warnings.append((title, text)))
    select(window, "Support mailbox", "Billing SSO")
    window.action(MainAction.DELETE).trigger()
    assert three.store.names() == ["Sales Gmail", "Support mailbox"]
    assert warnings == [("Not everything was deleted",
                         "'Support mailbox' cannot be deleted: it is used by mail account 'Support IMAP'. "
                         "Change or delete those first.")]
    assert window.statusBar().currentMessage() == "Deleted 1 configuration."


# ---- saving without a keyring (the vault feature's prompts: tests/ui/test_vault_feature.py)


def test_saving_a_secret_without_a_keyring_or_passphrase_keeps_the_dialog_open(ctx, make_app, monkeypatch):
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())  # the memory keyring fixture restores the previous one
    app = make_app(ctx)  # no vault feature: nobody answers for a passphrase
    seen = {}

    def fill(dialog):
        dialog.name_edit.setText("Blocked")
        dialog.client_id_edit.setText("id")
        dialog.secret_edit.setText("cannot-store")
        dialog.save_button.click()
        seen["summary"] = dialog.summary.text()
        seen["visible"] = dialog.isVisible()
        dialog.reject()
        return dialog.result()

    monkeypatch.setattr(TokenDialog, "exec", fill)
    app.features["configurations"].on_add("Google Mail")
    assert seen["summary"].startswith("Not saved: No usable keyring (no keyring backend is available")
    assert "cannot-store" not in seen["summary"]
    assert ctx.store.count() == 0


def test_work_queued_for_after_the_first_paint_waits_for_it(ctx, qapp, qtbot):
    """A 0 ms timer after show() fires before the window paints; after_first_paint really waits."""
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    qtbot.addWidget(app.window)
    seen = []
    app.after_first_paint(lambda: seen.append(("queued", app.window._painted)))
    qtbot.wait(20)
    assert seen == []  # not shown: nothing painted, nothing run
    app.show()
    qtbot.waitUntil(lambda: bool(seen), timeout=3000)
    assert seen == [("queued", True)]
    app.after_first_paint(lambda: seen.append(("late", True)))  # after the paint: runs at once (next pass)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=1000)


# ---- persistence, click-through, external changes


def test_geometry_and_column_widths_persist(three, make_app, tokendesk_home, qapp):
    first = make_app(three).window
    first.resize(700, 450)  # inside the offscreen screen (800x600): restoreGeometry clamps to it
    first.table.setColumnWidth(COL_NAME, 333)
    first.table.setColumnWidth(COL_TOKEN, 211)
    qapp.processEvents()
    first.save_state()
    assert (tokendesk_home / "ui.ini").exists()
    first.hide()

    second = make_app(three).window
    qapp.processEvents()
    assert (second.width(), second.height()) == (700, 450)
    assert second.table.columnWidth(COL_NAME) == 333
    assert second.table.columnWidth(COL_TOKEN) == 211


def test_open_configuration_selects_the_row(three, make_app, qtbot, monkeypatch):
    app = make_app(three)
    window = app.window
    opened = []
    monkeypatch.setattr(TokenDialog, "exec", lambda dialog: opened.append(dialog.name_edit.text()) or 0)
    window.search.setText("gmail")  # the target is filtered out: the filter is cleared
    app.hub.open_configuration.emit("support MAILBOX", "")
    assert window.search.text() == ""
    assert [c.name for c in window.selected_configurations()] == ["Support mailbox"]
    assert window.details_title.text() == "Support mailbox"
    app.hub.open_configuration.emit("Sales Gmail", "edit")
    assert [c.name for c in window.selected_configurations()] == ["Sales Gmail"]
    assert opened == ["Sales Gmail"]  # the named action (MainAction.EDIT) runs on it
    app.hub.open_configuration.emit("Gone", "")
    assert window.statusBar().currentMessage() == "'Gone' no longer exists."


def test_token_changed_updates_the_row(three, make_app):
    app = make_app(three)
    cfg = three.store.get("Support mailbox")
    three.store.update_state(cfg.id, has_access_token=True, token_expires_at=utcnow() + timedelta(minutes=42))
    app.hub.token_changed.emit(cfg.id)
    row = app.window.model.row_of("Support mailbox")
    assert app.window.model.data(app.window.model.index(row, COL_TOKEN)).endswith("(in 42 min)")


def test_external_change_by_another_connection_reloads(three, make_app, qtbot, memory_keyring):
    window = make_app(three).window
    select(window, "Sales Gmail")
    with qtbot.assertNotEmitted(window.model.modelReset):
        window.db_watcher.check()  # nothing changed: no reload
    other = open_context()  # like the CLI in another process: its own connection
    try:
        cfg = other.templates.require("Google Mail").new_configuration("Added by the CLI")
        cfg.client_id = "cli"
        other.configurations.add(cfg, "cli-secret")
    finally:
        other.close()
    window.db_watcher.check()  # what a change of the file triggers
    assert "Added by the CLI" in table_names(window)
    assert [c.name for c in window.selected_configurations()] == ["Sales Gmail"]  # selection kept


def test_the_database_file_and_its_wal_are_watched(three, make_app):
    window = make_app(three).window
    watched = window.db_watcher.files()
    assert str(three.store.path) in watched
    assert str(three.store.path) + "-wal" in watched  # writes of other processes land there first


def test_a_write_by_another_process_reloads_the_table_by_itself(three, make_app, qtbot, tmp_path):
    """No test hook: the file watcher sees the CLI's commit and the table reloads (debounced)."""
    window = make_app(three).window
    env = {k: v for k, v in os.environ.items()}
    env.update(PYTHONPATH=str(ROOT), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    secret_file = tmp_path / "secret"
    secret_file.write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "desktop", "add", "--template", "Google Mail", "--name", "From another process",
         "--client-id", "cli"], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    qtbot.waitUntil(lambda: "From another process" in table_names(window), timeout=5000)


def test_settings_dialog_saves_through_the_store(three, make_app, monkeypatch):
    from desktop.ui.dialogs.settings_dialog import SettingsDialog

    window = make_app(three).window

    def exec_(dialog):
        dialog.editors["network.timeout_seconds"].setValue(33)
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
        return dialog.result()

    monkeypatch.setattr(SettingsDialog, "exec", exec_)
    window.action(MainAction.SETTINGS).trigger()
    assert three.store.get_setting("network.timeout_seconds") == 33
    assert window.statusBar().currentMessage() == "Settings saved."


def test_discover_runs_through_the_task_runner(ctx, make_app, monkeypatch):
    from desktop.oauth import discovery

    app = make_app(ctx)
    busy = []
    app.tasks.busy_changed.connect(busy.append)
    monkeypatch.setattr(discovery, "discover", lambda issuer, timeout: discovery.DiscoveredEndpoints(
        issuer=issuer, authorization_endpoint=f"{issuer}/a", token_endpoint=f"{issuer}/t"))
    template = ctx.templates.require("Generic OpenID Connect")
    dialog = app.features["configurations"].make_token_dialog(template.new_configuration(""), template)
    dialog.issuer_edit.setText("https://idp.example.org")
    dialog.discover_button.click()
    assert dialog.endpoint_edits["AuthorizationCode"].text() == "https://idp.example.org/a"
    assert busy == ["Reading the discovery document of https://idp.example.org ...", ""]
    dialog.deleteLater()


# ---- start-up stays lean


def test_building_the_window_does_not_import_qtwebengine(tmp_path):
    code = (
        "import sys\n"
        "from desktop.app import Application, prepare_qt\n"
        "prepare_qt()\n"
        "from PySide6.QtWidgets import QApplication\n"
        "qapp = QApplication(['tokendesk'])\n"
        "from desktop.services import open_context\n"
        "from desktop.store.secrets import MemorySecrets\n"
        "app = Application(qapp, open_context(secrets=MemorySecrets()))\n"
        "app.window.show(); qapp.processEvents()\n"
        "print(sorted(m for m in sys.modules if m.startswith('PySide6.QtWebEngine')))\n"
        "print(app.window.isVisible())\n"
    )
    lines = run_offscreen(code, tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    assert lines[-2:] == ["[]", "True"]


def test_the_first_paint_builds_no_python_type_it_does_not_draw(tmp_path):
    """PySide6 builds a class's Python type, with every enum of it (~0.5-2.5 ms each), the first time the class
    is named or an overload check meets it. The real start (``tokendesk`` to the first paint, a table of three
    configurations) must not build those of message boxes, icons, painters or threads: none is on screen then;
    nor PySide6's ``Qt`` namespace (94 enums, ~110M instructions: desktop/qtns.py). Nor does it import modules the
    first paint does without (``dataclasses`` with ``copy``: ~13M instructions)."""
    run_offscreen(
        "from desktop.services import open_context\n"
        "ctx = open_context()\n"
        "for name in ('Billing', 'Sales', 'Support'):\n"
        "    cfg = ctx.templates.require('Google Mail').new_configuration(name)\n"
        "    cfg.client_id = 'abc'\n"
        "    ctx.configurations.add(cfg, None)\n", tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    code = RECORD_ENUMS + (
        "import os, sys, builtins\n"
        "shown = builtins.print\n"
        "def at_first_paint(*a, **k):\n"
        "    if a and str(a[0]).startswith('SHOWN'):\n"
        "        shown(a[0].split()[1], flush=True)\n"
        "        shown(sorted(set(made)), flush=True)\n"
        "        shown(sorted(m for m in ('dataclasses', 'copy') if m in sys.modules), flush=True)\n"
        "        os._exit(0)\n"
        "    return shown(*a, **k)\n"
        "builtins.print = at_first_paint\n"
        "from desktop.cli import main\n"
        "main([])\n"
    )
    lines = run_offscreen(code, tmp_path, TOKENDESK_EXIT_WHEN_SHOWN="1",
                           PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    assert lines[-3] == "rows=3"  # the table is on screen at the first paint
    built = set(ast.literal_eval(lines[-2]))
    assert ast.literal_eval(lines[-1]) == []  # none of the modules the first paint does without
    assert {"ResizeMode", "SelectionBehavior"} <= built  # the table's own: the record works
    not_drawn = {"StandardButton": "QMessageBox", "ThemeIcon": "QIcon", "CompositionMode": "QPainter",
                 "QualityOfService": "QThread", "GlobalColor": "the Qt namespace", "Orientation": "the Qt namespace"}
    assert [cls for enum_name, cls in not_drawn.items() if enum_name in built] == []


def test_token_actions_are_off_while_another_tab_is_shown(qtbot, ctx, make_config):
    from PySide6.QtWidgets import QApplication, QLabel

    from desktop.app import Application
    from desktop.ui.tasks import InlineTaskRunner

    make_config("Support mailbox")
    app = Application(QApplication.instance(), ctx, tasks=InlineTaskRunner(), features=FEATURES)
    win = app.window
    qtbot.addWidget(win)
    win.show()
    assert win.select_configuration("Support mailbox")
    delete, edit = win.action(MainAction.DELETE), win.action(MainAction.EDIT)
    assert delete.isEnabled() and edit.isEnabled()
    other = QLabel("mail accounts")
    win.show_tab(win.add_tab(other, "Mail accounts"))
    assert not delete.isEnabled() and not edit.isEnabled()
    win.show_tab(0)
    assert delete.isEnabled()


def test_help_opens_the_log_folder_and_about_names_the_log(ctx, make_app, log_home, monkeypatch, qtbot, tmp_path):
    from PySide6.QtGui import QDesktopServices

    from desktop import logfile

    app = make_app(ctx)
    window, help_feature = app.window, app.features["help"]
    assert help_feature.on_open_log_folder() is False  # no log in this session
    assert window.statusBar().currentMessage().startswith("No log file is written in this session")
    path = logfile.enable(log_home)
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    window.action(MainAction.OPEN_LOG).trigger()
    assert opened == [str(path.parent)]
    window.action(MainAction.ABOUT).trigger()
    box = help_feature.about_box
    assert f"Log: {path}" in box.text() and "Data: " in box.text()
    qtbot.waitExposed(box)
    box.grab().save(str(tmp_path / "about.png"))
    box.close()


def test_columns_can_be_hidden_from_the_header_menu_and_stay_hidden(three, make_app, tokendesk_home):
    from desktop.models.token_table_model import COL_ACCOUNT, COL_TEMPLATE

    window = make_app(three).window
    menu = window.table.column_menu()
    entries = {a.text(): a for a in menu.actions()}
    assert list(entries) == ["Template", "Token status", "Refresh-token status", "Validity", "Signed in as"]
    assert all(a.isChecked() for a in entries.values())
    entries["Template"].setChecked(False)
    assert window.table.isColumnHidden(COL_TEMPLATE)
    assert not window.table.isColumnHidden(COL_ACCOUNT)
    window.save_state()
    again = make_app(three).window
    assert again.table.isColumnHidden(COL_TEMPLATE)  # restored from ui.ini
    assert {a.text(): a.isChecked() for a in again.table.column_menu().actions()}["Template"] is False
    # the keyboard way: View > Columns holds the same entries
    again.columns_menu.aboutToShow.emit()
    view_entries = {a.text(): a for a in again.columns_menu.actions()}
    assert list(view_entries) == list(entries)
    view_entries["Template"].setChecked(True)
    assert not again.table.isColumnHidden(COL_TEMPLATE)


def test_a_theme_change_redraws_the_details_in_readable_colours(three, make_app, qapp):
    from PySide6.QtGui import QColor, QPalette

    from desktop.models.tones import TONES

    window = make_app(three).window
    window.table.selectRow(0)
    assert TONES["label"][0] in window.details_text.text()
    light = qapp.palette()
    dark = QPalette(light)
    dark.setColor(QPalette.ColorRole.Window, QColor("#2a2e32"))
    qapp.setPalette(dark)
    try:
        qapp.processEvents()
        assert TONES["label"][1] in window.details_text.text()
    finally:
        qapp.setPalette(light)
        qapp.processEvents()
    assert TONES["label"][0] in window.details_text.text()
