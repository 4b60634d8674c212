"""File > Team store ... (issue 11 point 2): the window does what ``tokendesk store ...`` does.

* the local store: the form checks the address and the member name before anything is tried, a password typed into
  the address moves into the masked field, a server that cannot be reached is said in words with nothing lost;
* a real PostgreSQL server (marker ``postgres``): set up through the dialog -> remembered for the data directory,
  the password in the keyring, and a window on the team store lists you with access; another admin (own data
  directory and keyring file, the real ``tokendesk store join``) waits for a grant; Grant (fingerprint confirmed)
  gives access; Remove re-encrypts; Use the local store forgets the team store.

TOKENDESK_SCREENSHOTS=1 refreshes docs/screenshots/team-store-connect.png and team-store-dialog.png.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.app import Application
from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.tasks import TaskRunner
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]
ME = "alice@helpdesk"


def shots_dir(fallback: Path) -> Path:
    path = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_app(qapp, qtbot, location=None) -> Application:
    from desktop.services import open_context

    ctx = open_context(location) if location else open_context()
    app = Application(qapp, ctx, tasks=TaskRunner(), features=window_features("desktop.ui.features.team_store"))
    app.window.resize(900, 500)
    app.window.show()
    qtbot.waitExposed(app.window)
    return app


def close_app(qapp, app: Application) -> None:
    dialog = app.features["team_store"].dialog
    if dialog is not None:
        dialog.close()
    app.tasks.pool.waitForDone(10000)
    app.window.db_watcher.stop()
    app.window.hide()
    app.window.deleteLater()
    qapp.processEvents()
    app.ctx.close()


@pytest.fixture
def local_app(qapp, qtbot, monkeypatch, tokendesk_home, memory_keyring):
    monkeypatch.setenv("TOKENDESK_MEMBER", ME)
    monkeypatch.delenv("TOKENDESK_STORE", raising=False)
    app = make_app(qapp, qtbot)
    yield app
    close_app(qapp, app)


def open_dialog(app: Application, qtbot):
    action = app.window.action(MainAction.TEAM_STORE)
    assert action in app.window.menu(MainMenu.FILE).actions()
    assert action.shortcut().toString() == "Ctrl+Shift+T"
    action.trigger()
    dialog = app.features["team_store"].dialog
    qtbot.waitUntil(dialog.isVisible, timeout=3000)
    return dialog


def choice_file(home: Path) -> Path:
    return home / "team-store.json"


# ---- the local store's form (fast lane)
def test_the_local_store_shows_its_file_and_a_form_with_your_default_name(local_app, qtbot, tokendesk_home):
    dialog = open_dialog(local_app, qtbot)
    assert dialog.pages.currentWidget() is dialog.local_page
    assert "local store" in dialog.where.text() and str(tokendesk_home) in dialog.where.text()
    assert dialog.member_name.text() == ME
    assert dialog.password.is_masked()
    assert not dialog.next_start.isVisible()


def test_an_address_that_is_not_postgresql_is_refused_in_words_and_nothing_is_tried(local_app, qtbot,
                                                                                    tokendesk_home):
    dialog = open_dialog(local_app, qtbot)
    dialog.address.setText("mysql://admin@db.example.org/tokens")
    dialog.password.setText("database-password-1")
    dialog.init_button.click()
    assert "'mysql://admin@db.example.org/tokens' is not a postgresql:// address" in dialog.error.text()
    assert dialog.error.isVisible() and not dialog.busy and local_app.tasks.busy_text == ""
    # nothing lost, nothing remembered
    assert dialog.address.text() == "mysql://admin@db.example.org/tokens"
    assert dialog.password.text() == "database-password-1"
    assert not choice_file(tokendesk_home).exists()

    dialog.address.setText("")
    dialog.join_button.click()
    assert "Enter the team store's address" in dialog.error.text()


def test_an_empty_member_name_is_refused(local_app, qtbot, tokendesk_home):
    dialog = open_dialog(local_app, qtbot)
    dialog.address.setText("postgresql://tokendesk@127.0.0.1:5432/team")
    dialog.member_name.setText("   ")
    dialog.join_button.click()
    assert "Enter your member name" in dialog.error.text()
    assert dialog.member_name.hasFocus() or not dialog.isActiveWindow()
    assert local_app.tasks.busy_text == "" and not choice_file(tokendesk_home).exists()


def test_enter_in_a_field_neither_closes_the_dialog_nor_starts_anything(local_app, qtbot, tokendesk_home):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QPushButton

    dialog = open_dialog(local_app, qtbot)
    dialog.activateWindow()
    dialog.address.setFocus()
    qtbot.keyClicks(dialog.address, "postgresql://tokendesk@db.example.org/team")
    qtbot.keyClick(dialog.address, Qt.Key.Key_Return)
    qtbot.keyClick(dialog.member_name, Qt.Key.Key_Enter)
    assert dialog.isVisible() and not dialog.busy and local_app.tasks.busy_text == ""
    assert dialog.address.text() == "postgresql://tokendesk@db.example.org/team"
    # no button is drawn as the default one (Enter would press it - on the team page, Grant)
    assert not any(b.isDefault() for b in dialog.findChildren(QPushButton))
    assert not choice_file(tokendesk_home).exists()


def test_a_password_typed_into_the_address_moves_into_the_masked_field(local_app, qtbot):
    dialog = open_dialog(local_app, qtbot)
    dialog.address.setText("postgresql://tokendesk:pa%24%24word@db.example.org:6432/team")
    dialog.address.editingFinished.emit()
    assert dialog.address.text() == "postgresql://tokendesk@db.example.org:6432/team"
    assert dialog.password.text() == "pa$$word" and dialog.password.is_masked()


def test_a_server_that_cannot_be_reached_is_said_in_words_and_the_form_keeps_everything(local_app, qtbot,
                                                                                        tokendesk_home):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dialog = open_dialog(local_app, qtbot)
    address = f"postgresql://tokendesk@127.0.0.1:{port}/team"
    dialog.address.setText(address)
    dialog.password.setText("database-password-2")
    dialog.join_button.click()
    qtbot.waitUntil(lambda: not dialog.busy and bool(dialog.error.text()), timeout=15000)
    text = dialog.error.text()
    assert "127.0.0.1" in text and "database-password-2" not in text
    assert dialog.address.text() == address and dialog.password.text() == "database-password-2"
    assert dialog.join_button.isEnabled()
    assert not choice_file(tokendesk_home).exists()


# ---- a real PostgreSQL server
def _bob_joins(tmp_path: Path, url: str) -> str:
    """Another admin's workstation (own data directory and keyring file) runs the real 'tokendesk store join'."""
    home = tmp_path / "bob"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("TOKENDESK_STORE", "TOKENDESK_MEMBER")}
    env.update(TOKENDESK_HOME=str(home), PYTHON_KEYRING_BACKEND="tests.support.file_keyring.FileKeyring",
               TOKENDESK_TEST_KEYRING=str(tmp_path / "bob-keyring.json"), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "desktop", "store", "join", url, "--name", "bob@laptop"], env=env,
                          cwd=ROOT, text=True, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.postgres
def test_set_up_through_the_dialog_then_the_team_window_lists_you_with_access(
        qapp, qtbot, monkeypatch, tokendesk_home, memory_keyring, pg_url, tmp_path):
    from desktop.store.pg_url import split_url

    shown, password = split_url(pg_url)
    assert password
    monkeypatch.setenv("TOKENDESK_MEMBER", ME)
    monkeypatch.delenv("TOKENDESK_STORE", raising=False)
    app = make_app(qapp, qtbot)
    try:
        dialog = open_dialog(app, qtbot)
        dialog.address.setText(pg_url)
        dialog.address.editingFinished.emit()
        assert dialog.address.text() == shown and dialog.password.is_masked()
        dialog.resize(820, 300)
        qtbot.wait(50)
        shot = shots_dir(tmp_path) / "team-store-connect.png"
        assert dialog.grab().save(str(shot))
        dialog.init_button.click()
        assert dialog.busy == "Setting up the team store ..." and not dialog.init_button.isEnabled()
        qtbot.waitUntil(lambda: not dialog.busy, timeout=30000)
        assert dialog.error.text() == ""
        notice = dialog.notice.text()
        assert f"you are '{ME}', key fingerprint" in notice and "(private key in the system keyring)" in notice
        assert password not in notice + dialog.next_start.text()
        assert dialog.next_start.isVisible()
        assert dialog.next_start.text().startswith(f"From the next start this data directory opens the team store "
                                                   f"{shown} as '{ME}': quit Tokendesk (File > Quit) and start it")
        assert dialog.grab().save(str(shots_dir(tmp_path) / "team-store-set-up.png"))
    finally:
        close_app(qapp, app)
    # remembered for this data directory, the password in the keyring only
    saved = json.loads(choice_file(tokendesk_home).read_text())
    assert saved == {"url": shown, "member": ME}
    assert password not in choice_file(tokendesk_home).read_text()
    assert memory_keyring.get_password("tokendesk-store", shown) == password

    # the next start opens the team store: you are its member with access
    team_app = make_app(qapp, qtbot)
    try:
        assert team_app.ctx.store.is_team
        dialog = open_dialog(team_app, qtbot)
        assert dialog.pages.currentWidget() is dialog.team_page
        assert f"the team store {shown}, as member '{ME}'" in dialog.where.text()
        qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=10000)
        name, fingerprint, access, added_by, since = dialog.member_rows()[0]
        assert (name, access, added_by) == (f"{ME} (you)", "access", ME)
        assert fingerprint in notice and len(since) == len("2026-11-30 21:00")
    finally:
        close_app(qapp, team_app)


@pytest.fixture
def team_app(qapp, qtbot, monkeypatch, tokendesk_home, memory_keyring, pg_url):
    """A window on a team store set up by this admin (alice); the choice remembered as 'store init' does."""
    from desktop.store import location, team
    from desktop.store.repository import Store

    monkeypatch.setenv("TOKENDESK_MEMBER", ME)
    monkeypatch.delenv("TOKENDESK_STORE", raising=False)
    store = Store.open(pg_url)
    team.init_store(store, ME)
    store.close()
    location.save_choice(pg_url, ME)
    app = make_app(qapp, qtbot, pg_url)
    yield app
    close_app(qapp, app)


@pytest.mark.postgres
def test_a_joined_member_waits_for_a_grant_and_the_grant_gives_access(team_app, qtbot, pg_url, tmp_path):
    from desktop.store import team

    joined = _bob_joins(tmp_path, pg_url)
    dialog = open_dialog(team_app, qtbot)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10000)
    rows = {r[0]: r for r in dialog.member_rows()}
    assert rows["bob@laptop"][2] == "waiting for a grant" and rows[f"{ME} (you)"][2] == "access"
    bob_fingerprint = rows["bob@laptop"][1]
    assert bob_fingerprint in joined  # what bob reads out on the phone
    assert not dialog.grant_button.isEnabled()
    assert dialog.select_member(ME) and not dialog.grant_button.isEnabled()  # has access already
    assert dialog.select_member("bob@laptop") and dialog.grant_button.isEnabled()
    dialog.resize(820, 480)
    qtbot.wait(50)
    assert dialog.grab().save(str(shots_dir(tmp_path) / "team-store-dialog.png"))

    asked: list[str] = []
    feature = team_app.features["team_store"]
    feature.confirm = lambda title, text: asked.append(f"{title}\n{text}") or True
    dialog.grant_button.click()
    assert bob_fingerprint in asked[0] and "by phone" in asked[0]
    qtbot.waitUntil(lambda: "has access now" in dialog.notice.text(), timeout=15000)
    qtbot.waitUntil(lambda: {r[0]: r[2] for r in dialog.member_rows()}.get("bob@laptop") == "access", timeout=10000)
    assert {m.name: m.has_access for m in team.members(team_app.ctx.store)} == {ME: True, "bob@laptop": True}

    # Remove: confirmed, the secrets re-encrypted, bob gone from the table
    assert dialog.select_member("bob@laptop")
    dialog.remove_button.click()
    assert "re-encrypted under a new key" in asked[1]
    qtbot.waitUntil(lambda: "'bob@laptop' removed" in dialog.notice.text(), timeout=15000)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=10000)
    assert [m.name for m in team.members(team_app.ctx.store)] == [ME]


@pytest.mark.postgres
def test_a_grant_refused_by_the_store_is_said_in_the_dialog(team_app, qtbot, tmp_path, pg_url):
    _bob_joins(tmp_path, pg_url)
    dialog = open_dialog(team_app, qtbot)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10000)
    feature = team_app.features["team_store"]
    feature.confirm = lambda title, text: True
    # another member took bob out meanwhile: the table is stale, the grant says so in words
    from desktop.store import team

    team.remove(team_app.ctx.store, team_app.ctx.vault, "bob@laptop")
    assert dialog.select_member("bob@laptop")
    dialog.grant_button.click()
    qtbot.waitUntil(lambda: not dialog.busy and bool(dialog.error.text()), timeout=15000)
    assert "No member named 'bob@laptop'" in dialog.error.text()


@pytest.mark.postgres
def test_use_the_local_store_forgets_the_team_store_and_says_a_restart_switches(team_app, qtbot, tokendesk_home):
    dialog = open_dialog(team_app, qtbot)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=10000)
    assert choice_file(tokendesk_home).exists()
    team_app.features["team_store"].confirm = lambda title, text: True
    dialog.local_button.click()
    assert not choice_file(tokendesk_home).exists()
    assert "The team store is left as it is" in dialog.notice.text()
    assert dialog.next_start.text().startswith("From the next start this data directory opens its local store again: "
                                               "quit Tokendesk (File > Quit) and start it again.")


@pytest.mark.postgres
def test_without_a_keyring_the_member_key_passphrase_is_asked_with_the_passphrase_dialog(
        qapp, qtbot, monkeypatch, tokendesk_home, memory_keyring, pg_url, tmp_path):
    import keyring
    from keyring.backends import fail
    from PySide6.QtCore import QTimer

    monkeypatch.setenv("TOKENDESK_MEMBER", ME)
    monkeypatch.delenv("TOKENDESK_STORE", raising=False)
    keyring.set_keyring(fail.Keyring())  # the memory keyring fixture puts the previous one back
    app = make_app(qapp, qtbot)
    feature = app.features["team_store"]
    asked: list[str] = []

    def answer() -> None:
        prompt = feature.passphrase_dialog
        if prompt is None or not prompt.isVisible():
            QTimer.singleShot(50, answer)
            return
        asked.append(prompt.intro.text())
        assert prompt.passphrase.is_masked()
        prompt.passphrase.setText("member key passphrase 42")
        prompt.repeat.setText("member key passphrase 42")
        assert prompt.grab().save(str(shots_dir(tmp_path) / "team-store-member-passphrase.png"))
        prompt.ok_button.click()

    try:
        dialog = open_dialog(app, qtbot)
        dialog.address.setText(pg_url)
        QTimer.singleShot(50, answer)
        dialog.init_button.click()
        qtbot.waitUntil(lambda: not dialog.busy and bool(dialog.notice.text() or dialog.error.text()), timeout=30000)
        assert dialog.error.text() == ""
        assert asked and "No usable keyring" in asked[0] and "member key" in asked[0]
        notice = dialog.notice.text()
        key_files = list((tokendesk_home / "team").glob("*.member-key"))
        assert len(key_files) == 1 and f"private key in {key_files[0]}" in notice
        assert "The database password was not saved" in notice  # no keyring for it either: said, not hidden
        assert json.loads(choice_file(tokendesk_home).read_text())["member"] == ME
    finally:
        close_app(qapp, app)


@pytest.mark.postgres
def test_copy_this_store_into_a_new_team_store_moves_the_configurations_and_secrets(
        qapp, qtbot, monkeypatch, tokendesk_home, memory_keyring, pg_url):
    from desktop.services import open_context
    from desktop.store.secrets import CLIENT_SECRET

    monkeypatch.setenv("TOKENDESK_MEMBER", ME)
    monkeypatch.delenv("TOKENDESK_STORE", raising=False)
    app = make_app(qapp, qtbot)
    cfg = app.ctx.templates.require("Microsoft Exchange Online").new_configuration("Support mailbox")
    cfg.client_id = "00000000-0000-0000-0000-000000000001"
    app.ctx.configurations.add(cfg, "client-secret-copied-1")
    try:
        dialog = open_dialog(app, qtbot)
        dialog.address.setText(pg_url)
        dialog.copy_button.click()
        assert dialog.busy == "Copying this store into the team store ..."
        qtbot.waitUntil(lambda: not dialog.busy, timeout=30000)
        assert dialog.error.text() == ""
        assert "Copied: 1 configuration(s), 1 secret(s)" in dialog.notice.text()
        assert "The local file is left as it was" in dialog.notice.text()
        assert app.ctx.store.get("Support mailbox") is not None  # the window keeps its local store meanwhile
    finally:
        close_app(qapp, app)
    team_ctx = open_context()  # the next start: the remembered team store
    try:
        assert team_ctx.store.is_team
        copied = team_ctx.configurations.get("Support mailbox")
        assert team_ctx.configurations.client_secret(copied) == "client-secret-copied-1"
        assert team_ctx.secrets.get_for(copied.id, CLIENT_SECRET) == "client-secret-copied-1"
    finally:
        team_ctx.close()
