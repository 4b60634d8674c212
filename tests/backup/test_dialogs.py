"""The backup feature in the real main window, driven with pytest-qt (file dialogs and message boxes
patched, never exec()). TOKENDESK_SCREENSHOTS=1 refreshes docs/screenshots/{import_preview,export_dialog,
export-encrypted,import-passphrase}.png.

Encrypted backups: one test pays for pyrage's real scrypt work (one encryption, one decryption, a
few seconds); the others use ``fast_file`` (tests/backup/agefile.py, a low work factor)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit, QMessageBox

from desktop.app import Application
from desktop.backup import Action, parse_import
from desktop.backup.encrypted import DAMAGED, FOR_AGE_KEY, WRONG_PASSPHRASE
from desktop.ui.dialogs.backup_passphrase_dialog import BackupPassphraseDialog
from desktop.ui.dialogs.export_dialog import ExportDialog
from desktop.ui.dialogs.import_dialog import ImportPreviewDialog
from desktop.ui.enums import MainMenu
from desktop.ui.tasks import InlineTaskRunner
from tests.backup.agefile import TEST_PASSPHRASE
from tests.backup.conftest import snapshot
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]


def shots_dir(fallback: Path) -> Path:
    path = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def app(qapp, ctx):
    application = Application(qapp, ctx, tasks=InlineTaskRunner(),
                              features=window_features("desktop.ui.features.backup"))
    application.window.resize(1100, 560)
    application.window.show()
    yield application
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()
    qapp.processEvents()


@pytest.fixture
def boxes(monkeypatch):
    """Record QMessageBox calls; answers[kind] is returned (default: Yes / Ok)."""
    calls: list[tuple[str, str, str]] = []
    answers: dict[str, QMessageBox.StandardButton] = {}

    def fake(kind):
        def show(_parent, title, text, *args, **kwargs):
            calls.append((kind, title, text))
            return answers.get(kind, QMessageBox.StandardButton.Yes)

        return show

    for kind in ("information", "warning", "critical", "question"):
        monkeypatch.setattr(QMessageBox, kind, fake(kind))
    return calls, answers


def feature(app):
    return app.features["backup"]


def select(app, *names):
    from PySide6.QtCore import QItemSelectionModel

    sel = app.window.table.selectionModel()
    sel.clearSelection()
    for name in names:
        row = app.window.model.row_of(name)
        sel.select(app.window.model.index(row, 0),
                   QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def test_actions_in_file_menu_toolbar_and_shortcuts(app):
    actions = {a.objectName(): a for a in app.window.menu(MainMenu.FILE).actions() if a.objectName()}
    assert actions["action_import"].shortcut().toString() == "Ctrl+I"
    assert actions["action_export"].shortcut().toString() == "Ctrl+E"
    order = [a.objectName() or "-" for a in app.window.menu(MainMenu.FILE).actions()]
    assert order.index("action_import") < order.index("action_export") < order.index("action_settings")
    assert app.window.toolbar.widgetForAction(feature(app).import_action) is not None
    assert app.window.toolbar.widgetForAction(feature(app).export_action) is not None
    assert app.window.acceptDrops()


# ---- export
def test_export_dialog_defaults_and_selection(app, make_config, qtbot):
    for name in ("Alpha", "Beta", "Gamma"):
        make_config(name)
    app.window.reload()
    select(app, "Beta")
    feature(app).on_export()
    dialog = feature(app).export_dialog
    assert isinstance(dialog, ExportDialog) and dialog.isVisible()
    assert not dialog.include_secrets and not dialog.secrets_warning.isVisible()
    assert dialog.selected_radio.isChecked() and dialog.names() == ["Beta"]
    dialog.all_radio.setChecked(True)
    assert dialog.names() == ["Alpha", "Beta", "Gamma"]
    assert dialog.summary.text() == "3 configurations will be exported without client secrets."
    dialog.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert dialog.names() == ["Beta", "Gamma"]
    for i in range(dialog.list.count()):
        dialog.list.item(i).setCheckState(Qt.CheckState.Unchecked)
    assert not dialog.export_button.isEnabled()
    dialog.reject()


def test_ticking_secrets_ticks_encryption_and_clear_text_is_confirmed(app, make_config, boxes):
    calls, answers = boxes
    make_config("Alpha", secret="s")
    make_config("Public", secret=None)
    feature(app).on_export()
    dialog = feature(app).export_dialog
    assert not dialog.encrypt and dialog.encrypt_panel.isHidden()
    dialog.secrets_box.setChecked(True)
    assert calls == []  # nothing to confirm: the file is going to be encrypted
    assert dialog.include_secrets and dialog.encrypt and not dialog.encrypt_panel.isHidden()
    assert dialog.passphrase_edit.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.repeat_edit.echoMode() == QLineEdit.EchoMode.Password
    assert "encrypted with your passphrase" in dialog.secrets_warning.text()
    assert "Znuny reads only plain YAML" in dialog.encrypt_explanation.text()
    # Export stays disabled, and says why, until both fields hold the same passphrase
    reasons = []
    for first, second in (("", ""), ("one", ""), ("one", "two"), ("one", "one")):
        dialog.passphrase_edit.setText(first)
        dialog.repeat_edit.setText(second)
        reasons.append((dialog.export_button.isEnabled(), dialog.export_button.toolTip()))
    assert reasons == [
        (False, "Enter a passphrase twice to encrypt the file."),
        (False, "Enter the passphrase a second time, in Repeat."),
        (False, "The two passphrases differ."),
        (True, ""),
    ]
    assert dialog.summary.text() == (
        "2 configurations will be exported with their client secrets (1 without one: none is stored), "
        "encrypted for a passphrase."
    )
    assert dialog.passphrase() == "one"
    # unticking encryption while the secrets are in asks first; No keeps it
    answers["warning"] = QMessageBox.StandardButton.No
    dialog.encrypt_box.setChecked(False)
    assert calls[-1][:2] == ("warning", "Write client secrets in clear text?")
    assert dialog.encrypt and dialog.passphrase() == "one" and dialog.export_button.isEnabled()
    answers["warning"] = QMessageBox.StandardButton.Yes
    dialog.encrypt_box.setChecked(False)
    assert not dialog.encrypt and dialog.encrypt_panel.isHidden() and dialog.passphrase() is None
    assert dialog.passphrase_edit.text() == "" and dialog.export_button.isEnabled()
    assert "clear text" in dialog.secrets_warning.text() and not dialog.secrets_warning.isHidden()
    assert dialog.summary.text() == (
        "2 configurations will be exported with their client secrets (1 without one: none is stored)."
    )
    dialog.secrets_box.setChecked(False)
    assert dialog.secrets_warning.isHidden() and not dialog.encrypt
    # the suggestion goes away with the secrets while no passphrase was typed; encryption alone is allowed
    dialog.secrets_box.setChecked(True)
    assert dialog.encrypt
    dialog.secrets_box.setChecked(False)
    assert not dialog.encrypt
    dialog.encrypt_box.setChecked(True)
    assert dialog.summary.text().startswith("2 configurations will be exported without client secrets, encrypted")
    dialog.reject()


def test_export_writes_the_chosen_file(app, make_config, monkeypatch, tmp_path, boxes):
    make_config("Alpha", secret="alpha-secret")
    make_config("Beta", secret="beta-secret")
    app.window.reload()
    asked = {}

    def save(_parent, caption, proposed, filters):
        asked.update(caption=caption, proposed=proposed, filters=filters)
        return str(tmp_path / "backup"), filters.split(";;")[0]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save)
    feature(app).on_export()
    dialog = feature(app).export_dialog
    dialog.secrets_box.setChecked(True)
    dialog.encrypt_box.setChecked(False)  # clear text for Znuny: confirmed by the patched warning (Yes)
    shot = shots_dir(tmp_path) / "export_dialog.png"
    dialog.grab().save(str(shot))
    dialog.export_button.click()
    assert Path(asked["proposed"]).name.startswith("OAuth2TokenConfigurationExport_")
    assert asked["proposed"].endswith(".yml") and "*.yml" in asked["filters"]
    written = tmp_path / "backup.yml"  # the suffix was added
    records = yaml.safe_load(written.read_text())
    assert [(r["Name"], r["Config"]["ClientSecret"]) for r in records] == [
        ("Alpha", "alpha-secret"), ("Beta", "beta-secret")]
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert app.window.statusBar().currentMessage().startswith("Exported 2 configurations with 2 client secrets.")


def test_cancelled_file_dialog_keeps_the_export_dialog_open(app, make_config, monkeypatch, tmp_path):
    make_config("Alpha")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: ("", ""))
    feature(app).on_export()
    dialog = feature(app).export_dialog
    dialog.export_button.click()
    assert dialog.isVisible() and dialog.path is None
    dialog.reject()
    assert list(tmp_path.glob("*.yml")) == []


def test_export_failure_is_shown(app, make_config, monkeypatch, boxes, tmp_path):
    calls, _ = boxes
    make_config("Alpha")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(tmp_path / "no-such-dir" / "x.yml"), ""))
    feature(app).on_export()
    feature(app).export_dialog.export_button.click()
    kind, title, text = calls[-1]
    assert (kind, title) == ("critical", "Export failed")
    assert text.startswith("Nothing was exported.\n\nThe folder") and "does not exist" in text


def test_export_with_nothing_stored(app, boxes):
    calls, _ = boxes
    feature(app).on_export()
    assert calls == [("information", "Export", "There are no token configurations to export yet.")]
    assert feature(app).export_dialog is None


# ---- import
def _four_kinds_file(ctx, make_config, tmp_path) -> Path:
    """A file with one record of each kind against the store: new, overwrites/skipped, invalid."""
    make_config("Existing mailbox", secret="old")
    make_config("Sales mailbox", template="Google Mail", secret="old")
    records = []
    microsoft, google = "Microsoft Exchange Online", "Google Mail"
    for name, template in (("New helpdesk", microsoft), ("Existing mailbox", microsoft),
                           ("Sales mailbox", google), ("Broken import", google)):
        cfg = ctx.templates.require(template).new_configuration(name)
        cfg.client_id = f"client-{name.split()[0].lower()}"
        records.append({"Name": name, "ValidID": 1, "Config": cfg.config})
    records[0]["Config"]["ClientSecret"] = "file-secret"
    records[3]["Config"]["Requests"]["TokenByAuthorizationCode"]["Request"]["URL"] = "http://oauth.example.com/token"
    records[3]["ValidID"] = 5
    path = tmp_path / "mixed.yml"
    path.write_text(yaml.safe_dump(records, sort_keys=False))
    return path


def test_preview_lists_each_kind_and_blocks_apply_while_invalid(app, ctx, make_config, monkeypatch, tmp_path):
    path = _four_kinds_file(ctx, make_config, tmp_path)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a: (str(path), ""))
    feature(app).import_action.trigger()
    dialog = feature(app).preview_dialog
    assert isinstance(dialog, ImportPreviewDialog) and dialog.isVisible()
    assert [(n, s) for n, s, _d in dialog.rows()] == [
        ("New helpdesk", "new"), ("Existing mailbox", "skipped"), ("Sales mailbox", "skipped"),
        ("Broken import", "invalid")]
    assert dialog.problems_shown(3) == [
        ("ValidID", "must be 1 (valid), 2 (invalid) or 3 (invalid-temporarily), not 5"),
        ("Config.Requests.TokenByAuthorizationCode.Request.URL",
         "must use https (http is allowed only for this machine: localhost, 127.0.0.1, ::1)"),
    ]
    assert not dialog.apply_button.isEnabled()
    assert "Nothing can be imported while the file has problems (2)" in dialog.status.text()
    dialog.overwrite_box.setChecked(True)  # re-plans at once
    statuses = [s for _n, s, _d in dialog.rows()]
    assert statuses == ["new", "overwrites", "overwrites", "invalid"]
    assert "keeps the stored client secret" in dialog.rows()[1][2]
    dialog.overwrite_box.setChecked(False)
    dialog.overwrite_box.setChecked(True)
    # one of each kind for the picture: keep "Sales mailbox" skipped by planning it without overwrite
    parsed = dialog.parsed

    def mixed(overwrite):
        from desktop.backup import plan_import

        plan = plan_import(ctx, parsed, overwrite)
        if overwrite:
            sales = plan.records[2]
            sales.action, sales.notes = Action.SKIP, []
        return plan

    dialog.planner = mixed
    dialog.on_overwrite_toggled(True)
    assert [s for _n, s, _d in dialog.rows()] == ["new", "overwrites", "skipped", "invalid"]
    dialog.resize(900, 430)
    dialog.grab().save(str(shots_dir(tmp_path) / "import_preview.png"))
    dialog.apply_button.click()
    assert dialog.isVisible()  # Apply stays disabled
    dialog.reject()


def test_apply_imports_all_and_shows_a_summary(app, ctx, make_config, monkeypatch, tmp_path, boxes, qtbot,
                                              fixtures_dir):
    calls, _ = boxes
    make_config("Gmail helpdesk", template="Google Mail", secret="old")
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *a: (str(fixtures_dir / "znuny7_export.yml"), ""))
    feature(app).on_import()
    dialog = feature(app).preview_dialog
    assert [s for _n, s, _d in dialog.rows()] == ["new", "new", "skipped"]
    assert dialog.apply_button.isEnabled()
    with qtbot.waitSignal(app.hub.configurations_changed, timeout=5000):
        dialog.apply_button.click()
    kind, title, text = calls[-1]
    assert (kind, title) == ("information", "Import finished")
    assert text.startswith("Imported 2 configurations: 2 new, 0 overwritten; 1 skipped.")
    assert "made-up" not in text
    names = [app.window.model.data(app.window.model.index(r, 0)) for r in range(app.window.model.rowCount())]
    assert names == ["Exchange app-only", "Exchange Online support mailbox", "Gmail helpdesk"]
    assert [c.name for c in app.window.selected_configurations()] == ["Exchange Online support mailbox"]
    assert app.window.ui_settings().value("backup/last_dir") == str(fixtures_dir)


def test_imported_configuration_without_secret_is_marked(app, ctx, fixtures_dir, tmp_path, boxes):
    text = (fixtures_dir / "znuny6_export.yml").read_text().replace("    ClientSecret: made-up-znuny6-secret\n", "")
    path = tmp_path / "no-secret.yml"
    path.write_text(text)
    feature(app).open_preview(path)
    dialog = feature(app).preview_dialog
    assert dialog.rows()[0][1] == "new"
    assert dialog.rows()[0][2].endswith("; no client secret in the file")
    dialog.apply_button.click()
    assert "No client secret for 'Contoso IMAP'" in boxes[0][-1][2]
    assert ctx.store.get("Contoso IMAP").has_client_secret is False
    assert "missing" in app.window.details_text.text()


def test_keyring_failure_imports_nothing(app, ctx, make_config, tmp_path, boxes, monkeypatch):
    import keyring

    from tests.support.memory_keyring import LockedKeyring

    calls, _ = boxes
    path = _four_kinds_file(ctx, make_config, tmp_path)
    text = path.read_text()
    records = [r for r in yaml.safe_load(text) if r["Name"] != "Broken import"]
    path.write_text(yaml.safe_dump(records))
    ctx.store.conn.execute("DELETE FROM config_secret")  # as if no secret had been stored: no vault yet
    ctx.store.conn.execute("DELETE FROM meta WHERE key LIKE 'vault.%'")
    ctx.vault.lock()
    before = snapshot(ctx)
    keyring.set_keyring(LockedKeyring())  # refuses to take the new vault's key
    feature(app).open_preview(path)
    feature(app).preview_dialog.apply_button.click()
    kind, title, message = calls[-1]
    assert (kind, title) == ("critical", "Import failed")
    assert message.startswith("Nothing was imported.\n\nNo usable keyring (the keyring refused to store an item")
    assert snapshot(ctx) == before


def test_changed_store_reopens_the_preview(app, ctx, make_config, fixtures_dir, boxes):
    calls, _ = boxes
    feature(app).open_preview(fixtures_dir / "znuny6_export.yml")
    first = feature(app).preview_dialog
    make_config("Contoso IMAP")  # added elsewhere after the preview was made
    first.apply_button.click()
    assert calls[-1][0] == "warning" and "changed since the preview" in calls[-1][2]
    again = feature(app).preview_dialog
    assert again is not first and again.rows()[0][:2] == ("Contoso IMAP", "skipped")
    again.reject()


def test_broken_file_shows_the_problem(app, tmp_path):
    path = tmp_path / "photo.yml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    feature(app).open_preview(path)
    dialog = feature(app).preview_dialog
    assert dialog.file_problem.isVisible() and "binary data" in dialog.file_problem.text()
    assert not dialog.apply_button.isEnabled() and not dialog.overwrite_box.isEnabled()
    assert dialog.rows() == []
    dialog.reject()


def _drop(window, path: Path) -> tuple[bool, bool]:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return enter.isAccepted(), drop.isAccepted()


@pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent.*deprecated:DeprecationWarning")
def test_dropping_a_yaml_file_opens_the_preview(app, fixtures_dir, tmp_path, fast_file):
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert _drop(app.window, other) == (False, False)
    assert feature(app).preview_dialog is None
    assert _drop(app.window, fixtures_dir / "znuny7_export.yml") == (True, True)
    dialog = feature(app).preview_dialog
    assert dialog is not None and [n for n, _s, _d in dialog.rows()][0] == "Exchange Online support mailbox"
    dialog.reject()
    assert _drop(app.window, fast_file) == (True, True)  # an encrypted backup asks for its passphrase
    ask = feature(app).passphrase_dialog
    assert isinstance(ask, BackupPassphraseDialog) and ask.isVisible()
    ask.reject()
    assert feature(app).passphrase_dialog is None


def test_preview_dialog_on_its_own(qtbot, ctx, make_config):
    make_config("Kept")
    text = yaml.safe_dump([{"Name": "Kept", "Config": {"TemplateName": "x"}}])
    parsed = parse_import(text, templates=ctx.templates)
    from desktop.backup import plan_import

    dialog = ImportPreviewDialog(parsed, lambda ow: plan_import(ctx, parsed, ow))
    qtbot.addWidget(dialog)
    assert dialog.rows()[0][1] == "invalid"
    assert ("Config.ClientID", "is missing") in dialog.problems_shown(0)


# ---- encrypted backups (age)
def test_encrypted_export_then_import_in_the_window(app, ctx, make_config, monkeypatch, tmp_path, boxes, qtbot):
    """The one window test that pays for pyrage's real work factor: one encryption, one decryption."""
    calls, _ = boxes
    make_config("Alpha", secret="alpha-secret")
    make_config("Beta", secret="beta-secret")
    app.window.reload()
    asked: dict[str, str] = {}

    def save(_parent, caption, proposed, filters):
        asked.update(proposed=proposed, save_filters=filters)
        return str(tmp_path / "backup"), filters.split(";;")[0]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save)
    busy: list[str] = []
    app.tasks.busy_changed.connect(busy.append)
    feature(app).on_export()
    dialog = feature(app).export_dialog
    dialog.secrets_box.setChecked(True)
    qtbot.keyClicks(dialog.passphrase_edit, TEST_PASSPHRASE)
    qtbot.keyClicks(dialog.repeat_edit, TEST_PASSPHRASE)
    assert dialog.export_button.isEnabled()
    dialog.grab().save(str(shots_dir(tmp_path) / "export-encrypted.png"))
    dialog.export_button.click()
    assert calls == []
    assert Path(asked["proposed"]).name.startswith("OAuth2TokenConfigurationExport_")
    assert asked["proposed"].endswith(".yml.age") and asked["save_filters"].startswith("Encrypted backups (*.age)")
    written = tmp_path / "backup.yml.age"  # the suffixes were added
    data = written.read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n-> scrypt ")
    for clear in (b"alpha-secret", b"beta-secret", b"Alpha", TEST_PASSPHRASE.encode()):
        assert clear not in data
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert "Exporting and encrypting (a few seconds) ..." in busy
    assert app.window.statusBar().currentMessage().startswith(
        "Exported 2 configurations with 2 client secrets. Encrypted for a passphrase (age). Saved to ")

    for name in ("Alpha", "Beta"):
        ctx.configurations.delete(name)

    def open_file(_parent, caption, folder, filters):
        asked.update(open_filters=filters)
        return str(written), filters.split(";;")[0]

    monkeypatch.setattr(QFileDialog, "getOpenFileName", open_file)
    feature(app).import_action.trigger()
    assert asked["open_filters"].split(";;")[0] == "Backups (*.yml *.yaml *.age)"
    ask = feature(app).passphrase_dialog
    assert isinstance(ask, BackupPassphraseDialog) and ask.isVisible()
    assert "backup.yml.age" in ask.findChild(type(dialog.summary), "passphraseIntro").text()
    qtbot.keyClicks(ask.edit, TEST_PASSPHRASE)
    ask.decrypt_button.click()
    assert "Decrypting backup.yml.age (a few seconds) ..." in busy
    assert feature(app).passphrase_dialog is None
    preview = feature(app).preview_dialog
    assert [(n, s) for n, s, _d in preview.rows()] == [("Alpha", "new"), ("Beta", "new")]
    assert "backup.yml.age" in preview.windowTitle()
    with qtbot.waitSignal(app.hub.configurations_changed, timeout=5000):
        preview.apply_button.click()
    assert calls[-1][:2] == ("information", "Import finished")
    assert {n: ctx.configurations.client_secret(ctx.store.get(n)) for n in ctx.store.names()} == {
        "Alpha": "alpha-secret", "Beta": "beta-secret"}


def test_wrong_passphrase_in_the_window_lets_the_admin_try_again(app, fast_file, boxes, qtbot, tmp_path):
    calls, _ = boxes
    feature(app).open_preview(fast_file)
    ask = feature(app).passphrase_dialog
    assert ask.edit.echoMode() == QLineEdit.EchoMode.Password
    assert not ask.decrypt_button.isEnabled() and ask.error.isHidden() and ask.progress.isHidden()
    qtbot.keyClicks(ask.edit, "not the passphrase")
    ask.grab().save(str(shots_dir(tmp_path) / "import-passphrase.png"))
    ask.decrypt_button.click()
    assert ask.isVisible() and feature(app).passphrase_dialog is ask
    assert ask.error.text() == f"{WRONG_PASSPHRASE} Try again, or Cancel."
    assert not ask.error.isHidden() and ask.progress.isHidden() and not ask.edit.isReadOnly()
    assert ask.edit.selectedText() == "not the passphrase"  # typing replaces it
    assert feature(app).preview_dialog is None and calls == []
    qtbot.keyClicks(ask.edit, TEST_PASSPHRASE)
    assert ask.edit.text() == TEST_PASSPHRASE
    ask.decrypt_button.click()
    assert feature(app).passphrase_dialog is None
    preview = feature(app).preview_dialog
    assert [n for n, _s, _d in preview.rows()] == [
        "Exchange Online support mailbox", "Exchange app-only", "Gmail helpdesk"]
    preview.reject()


def test_cancel_while_decrypting_drops_the_result(app, fast_file, monkeypatch, qtbot):
    feature(app).open_preview(fast_file)
    ask = feature(app).passphrase_dialog
    pending = []
    monkeypatch.setattr(app.tasks, "run", lambda fn, *args, **kw: pending.append((fn, args, kw)))
    qtbot.keyClicks(ask.edit, TEST_PASSPHRASE)
    ask.decrypt_button.click()
    assert ask.busy and ask.edit.isReadOnly() and not ask.progress.isHidden()
    assert not ask.decrypt_button.isEnabled()
    ask.reject()
    assert feature(app).passphrase_dialog is None
    [(fn, args, kw)] = pending
    kw["on_done"](fn(*args))  # the decryption finishes after Cancel
    assert feature(app).preview_dialog is None


def test_files_that_no_passphrase_opens(app, key_file, fast_file, tmp_path, boxes, qtbot):
    calls, _ = boxes
    feature(app).open_preview(key_file)
    assert feature(app).passphrase_dialog is None
    assert calls[-1] == ("critical", "Import", f"The file could not be read.\n\n{FOR_AGE_KEY}")
    data = fast_file.read_bytes()
    changed = tmp_path / "changed.yml.age"
    changed.write_bytes(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])
    feature(app).open_preview(changed)
    ask = feature(app).passphrase_dialog
    qtbot.keyClicks(ask.edit, TEST_PASSPHRASE)
    ask.decrypt_button.click()  # the right passphrase, a changed file: no use trying again
    assert feature(app).passphrase_dialog is None and feature(app).preview_dialog is None
    assert calls[-1] == ("critical", "Import", f"The file could not be read.\n\n{DAMAGED}")
