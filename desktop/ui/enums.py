"""Ids of the main window's actions and menus (Picard's ``MainAction``; ../shared/STYLE.md 7a).

Features register an action under its id (``MainWindow.add_action``) and ask the window for one by id
(``MainWindow.action``), and for a menu by id (``MainWindow.menu``); nobody looks a menu up by its
mnemonic text or an action by a string. An action's object name is ``action_<value>``; the value is
also what ``hub.open_configuration(name, action)`` carries (``MainAction(value)``).
"""

from __future__ import annotations

from enum import Enum, unique


@unique
class MainMenu(Enum):
    FILE = "file"
    TOKEN = "token"
    VIEW = "view"
    HELP = "help"


@unique
class MainAction(Enum):
    # the window (the shell)
    QUIT = "quit"
    FIND = "find"
    RELOAD = "reload"
    OPEN_LOG = "open_log"
    ABOUT = "about"
    # features/help.py: the guides of the documentation
    TOUR = "tour"
    OTHER_PROGRAMS = "other_programs"
    # features/configurations.py
    ADD = "add"
    EDIT = "edit"
    DELETE = "delete"
    SETTINGS = "settings"
    # features/alerts.py
    ALERTS = "alerts"
    # features/team_store.py
    TEAM_STORE = "team_store"
    # features/oauth.py
    REQUEST = "request"
    REFRESH = "refresh"
    REVOKE = "revoke"
    FORGET = "forget"
    COPY_TOKEN = "copy_token"
    # features/device_sign_in.py
    REQUEST_DEVICE = "request_device"
    # features/history.py
    HISTORY = "history"
    # features/backup.py
    IMPORT = "import"
    EXPORT = "export"
    # features/vault.py
    VAULT_PASSPHRASE = "vault_passphrase"
    VAULT_LOCK = "vault_lock"
    # features/usage.py (View menu: the tabs)
    SHOW_TOKENS = "show_tab_1"
    SHOW_MAIL_ACCOUNTS = "show_tab_2"
    SHOW_WEB_SERVICES = "show_tab_3"
    # features/relay.py
    SHOW_RELAY = "show_tab_4"

    @property
    def writes(self) -> bool:
        """The action writes to the store (or asks a server to change a token): off while the team store cannot be
        reached (``features/store_status.py``). A new action that writes belongs in ``_WRITES``."""
        return self in _WRITES

    @classmethod
    def named(cls, value: str) -> MainAction | None:
        """The id whose value is ``value`` (a hub signal's text), None for '' or an unknown one."""
        try:
            return cls(value)
        except ValueError:
            return None


_WRITES = frozenset({
    MainAction.ADD, MainAction.EDIT, MainAction.DELETE, MainAction.SETTINGS, MainAction.ALERTS, MainAction.REQUEST,
    MainAction.REFRESH, MainAction.REVOKE, MainAction.FORGET, MainAction.REQUEST_DEVICE, MainAction.IMPORT,
    MainAction.EXPORT, MainAction.VAULT_PASSPHRASE,
})
