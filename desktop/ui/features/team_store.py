"""File > Team store ... (Ctrl+Shift+T; issue 11 point 2): what ``tokendesk store ...`` does, in the window.

The dialog (``dialogs/team_store_dialog.py``) shows which store is open. On a team store it lists the members and
grants, removes and reads them again; "Use the local store" forgets the remembered team store. On the local store it
sets up, joins or copies into a team store, then remembers it for this data directory (``location.save_choice``, the
database password in the keyring). Everything that talks to the database runs on the task runner with the dialog's
progress line; errors are shown in the dialog in words, the form keeps what was typed. A member key needs a
passphrase only when no keyring can keep it (``NoKeyringForMemberKey``): the window's passphrase dialog asks.

The window keeps the store it opened: a store chosen here opens at the next start (quit and start Tokendesk again).
Restarting by itself is not offered: the new process would meet this one's instance socket while it quits.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QMessageBox

from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.features.host import FeatureHost

logger = logging.getLogger(__name__)

RESTART = "quit Tokendesk (File > Quit) and start it again. Until then this window keeps the store it has open."


def install(host: FeatureHost) -> TeamStoreFeature:
    return TeamStoreFeature(host)


class SetupDone(NamedTuple):  # a record; a NamedTuple is built ~10x faster than a dataclass at start-up
    action: str
    url: str
    member: str
    where: str
    fingerprint: str
    password_note: str = ""


def set_up(action: str, url: str, password: str | None, member: str, passphrase: str | None,
           source: Any = None) -> SetupDone:
    """``store init|join|copy-to`` (a worker thread; Qt-free): the member key made, the store remembered for this
    data directory and its database password kept in the keyring."""
    from desktop.store import location, team
    from desktop.store.repository import Store
    from desktop.store.team_keys import public_key_fingerprint

    if action == "copy-to" and (source is None or source.store.is_team):
        raise team.TeamError("Copy works from the local store; this window has a team store open.")
    target = Store.open(url, password=password)
    try:
        if action == "join":
            where = team.join_store(target, member, passphrase=passphrase)
        elif action == "init":
            where = team.init_store(target, member, passphrase=passphrase)
        else:
            from desktop.store.team_copy import copy_to

            where = copy_to(source, target, member, passphrase=passphrase)
        public = target.conn.execute("SELECT public_key FROM member WHERE name = ?", (member,)).fetchone()[0]
    finally:
        target.close()
    note = ""
    if password:
        try:
            location.save_password(url, password)
        except Exception as exc:  # noqa: BLE001 - the store works; say where the password must come from
            note = f"The database password was not saved ({exc})."
    location.save_choice(url, member)
    return SetupDone(action, url, member, where, public_key_fingerprint(public), note)


def _plain(exc: BaseException) -> str:
    from desktop.store.database import DatabaseError
    from desktop.store.vault_errors import VaultError

    if isinstance(exc, (VaultError, DatabaseError)):
        return str(exc)
    logger.error("team store: unexpected error", exc_info=exc)
    return f"That did not work ({exc.__class__.__name__}); nothing was changed. Details are in the log (Help)."


class TeamStoreFeature(QObject):
    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host.window)
        self.host = host
        self.ctx = host.ctx
        self.window = host.window
        self.dialog: Any = None
        #: the last passphrase prompt (tests, screenshots)
        self.passphrase_dialog: Any = None
        try:
            self.window.action(MainAction.VAULT_PASSPHRASE)
            before = MainAction.VAULT_PASSPHRASE
        except KeyError:  # a window without the vault feature (tests)
            before = MainAction.QUIT
        self.window.add_action(MainAction.TEAM_STORE, "&Team store ...", self.on_team_store,
                               QKeySequence("Ctrl+Shift+T"),
                               "Which store is open; the team store's members; set up or join a team store",
                               menu=MainMenu.FILE, before=before, toolbar=False, context_menu=False)

    # ---- the dialog
    @Slot()
    def on_team_store(self) -> None:
        from desktop.store.repository import default_member_name
        from desktop.ui.dialogs.team_store_dialog import TeamStoreDialog

        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        store = self.ctx.store
        dialog = TeamStoreDialog(team=store.is_team, location=store.location, member=store.member,
                                 default_member=default_member_name(), next_start=self._next_start(),
                                 parent=self.window)
        self.dialog = dialog
        dialog.setup_requested.connect(self.set_up)
        dialog.grant_requested.connect(self.grant)
        dialog.remove_requested.connect(self.remove)
        dialog.refresh_requested.connect(self.refresh)
        dialog.use_local_requested.connect(self.use_local)
        dialog.open()
        if store.is_team:
            self.refresh()

    def _next_start(self) -> str:
        """What this data directory opens at the next start, when that is not the store open now."""
        from desktop.store import location
        from desktop.store.database import DatabaseError
        from desktop.store.pg_url import display_url

        try:
            choice = location.current()
        except DatabaseError as exc:
            return str(exc)
        store = self.ctx.store
        if choice.is_team and (not store.is_team or display_url(choice.url or "") != store.location):
            return (f"From the next start this data directory opens the team store {display_url(choice.url or '')} "
                    f"as '{choice.member or store.member}': {RESTART}")
        if not choice.is_team and store.is_team:
            return f"From the next start this data directory opens its local store again: {RESTART}"
        return ""

    def _run(self, fn: Any, busy: str, on_done: Any) -> None:
        dialog = self.dialog
        dialog.set_busy(busy)
        dialog.show_error("")

        def done(result: Any) -> None:
            dialog.set_busy("")
            on_done(result)

        def failed(exc: BaseException) -> None:
            dialog.set_busy("")
            self._failed(exc)

        self.host.tasks.run(fn, on_done=done, on_error=failed, busy_text=busy)

    def _failed(self, exc: BaseException) -> None:
        self.dialog.show_notice("")
        self.dialog.show_error(_plain(exc))

    # ---- a team store
    @Slot()
    def refresh(self) -> None:
        from desktop.store import team

        store = self.ctx.store
        self._run(lambda: team.members(store), "Reading the members ...", self.dialog.set_members)

    @Slot(str)
    def grant(self, name: str) -> None:
        from desktop.store import team

        member = self.dialog.member(name)
        if member is None or not self.confirm(
                "Grant access?",
                f"Give '{name}' access to the team store's client secrets and tokens?\n\n"
                f"Their key fingerprint: {member.fingerprint}\n\nCompare it with them by phone (or in person) "
                "before you grant: a different fingerprint means the key is not theirs."):
            return
        store, vault = self.ctx.store, self.ctx.vault
        if vault is None:
            self.dialog.show_error("This store has no vault.")
            return

        def done(granted: Any) -> None:
            self.dialog.show_notice(f"'{granted.name}' has access now (key fingerprint {granted.fingerprint}: "
                                    "compare it with them).")
            self.refresh()

        self._run(lambda: team.grant(store, vault, name), f"Granting '{name}' access ...", done)

    @Slot(str)
    def remove(self, name: str) -> None:
        from desktop.store import team

        you = name == self.ctx.store.member
        if not self.confirm(
                "Remove member?",
                f"Remove '{name}'{' (you)' if you else ''} from the team store?\n\nEvery secret is re-encrypted "
                f"under a new key in the same step, so '{name}'s key opens nothing written afterwards. Their rows in "
                "the history stay." + ("\n\nYou lose access to the secrets yourself." if you else "")):
            return
        store, vault = self.ctx.store, self.ctx.vault
        if vault is None:
            self.dialog.show_error("This store has no vault.")
            return

        def done(count: int) -> None:
            self.dialog.show_notice(f"'{name}' removed; {count} secret{'s' if count != 1 else ''} re-encrypted "
                                    "under a new key.")
            self.host.hub.secrets_changed.emit()
            self.refresh()

        self._run(lambda: team.remove(store, vault, name), f"Removing '{name}' and re-encrypting ...", done)

    @Slot()
    def use_local(self) -> None:
        from desktop.store import location

        if not self.confirm("Use the local store?",
                            "Open this workstation's local store again from the next start? The team store and "
                            "your access to it are left as they are; you can come back with Join or File > Team "
                            "store."):
            return
        location.forget_choice()
        text = "The team store is left as it is; you can come back to it with Join."
        try:
            still = location.current()
        except Exception:  # noqa: BLE001 - a bad TOKENDESK_STORE says so at the next start
            still = None
        if still is not None and still.is_team:
            text += " Note: TOKENDESK_STORE is set and wins over this choice while it is."
        self.dialog.show_error("")
        self.dialog.show_notice(text)
        self.dialog.show_next_start(self._next_start())

    # ---- the local store: set up, join, copy
    @Slot(str, str, str, str)
    def set_up(self, action: str, url: str, password: str, member: str, passphrase: str | None = None) -> None:
        source = self.ctx if action == "copy-to" else None
        busy = {"init": "Setting up the team store ...", "join": "Joining the team store ...",
                "copy-to": "Copying this store into the team store ..."}[action]

        dialog = self.dialog
        dialog.set_busy(busy)
        dialog.show_error("")
        dialog.show_notice("")

        def done(result: SetupDone) -> None:
            dialog.set_busy("")
            self._set_up_done(result)

        def failed(exc: BaseException) -> None:
            from desktop.store.team_keys import NoKeyringForMemberKey

            dialog.set_busy("")
            if isinstance(exc, NoKeyringForMemberKey) and passphrase is None:
                chosen = self.ask_member_passphrase(str(exc))
                if chosen is not None:
                    self.set_up(action, url, password, member, chosen)
                    return
            self._failed(exc)

        self.host.tasks.run(lambda: set_up(action, url, password or None, member, passphrase, source),
                            on_done=done, on_error=failed, busy_text=busy)

    def _set_up_done(self, result: SetupDone) -> None:
        kept = "the system keyring" if result.where == "keyring" else result.where
        lines = [f"Team store {result.url}: you are '{result.member}', key fingerprint {result.fingerprint}"
                 + (f" (private key in {kept})." if result.action != "copy-to" else ".")]
        if result.action == "join":
            lines.append("No access to the secrets yet: ask a member to grant you access (File > Team store, or "
                         f"'tokendesk store grant {result.member}') and to compare the fingerprint with you.")
        elif result.action == "copy-to":
            lines.append(f"Copied: {result.where}. The local file is left as it was.")
        if result.password_note:
            lines.append(result.password_note)
        self.dialog.show_notice("\n".join(lines))
        self.dialog.show_next_start(self._next_start())
        self.window.show_status("Team store remembered: it opens at the next start.", 10000)

    def ask_member_passphrase(self, reason: str) -> str | None:
        from desktop.store.vault import check_new_passphrase
        from desktop.ui.dialogs.passphrase_dialog import PassphraseDialog

        dialog = PassphraseDialog("new", self.dialog or self.window, new_check=check_new_passphrase,
                                  reason=f"{reason} This passphrase protects your member key for the team store.")
        self.passphrase_dialog = dialog
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.value()
        finally:
            self.passphrase_dialog = None
            dialog.deleteLater()

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.dialog or self.window, title, text)
        return answer == QMessageBox.StandardButton.Yes
