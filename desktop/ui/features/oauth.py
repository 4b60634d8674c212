"""The token actions of the main window: request, refresh, revoke, forget; automatic refresh; details.

* **Request new token** (Ctrl+R): the embedded login dialog (QtWebEngine is imported only now) or,
  for configurations set to the system browser, the RFC 8252 loopback flow with a small
  "finish the sign-in in your browser" window (address to copy, Cancel).
  Client-credentials configurations simply get a new token.
* **Refresh** (F5): the selected rows, on the task runner.
* **Revoke token** / **Forget token**: confirmed; revoke where a revocation endpoint exists.
* ``hub.refresh_due(config_id)`` (from the notify scheduler) refreshes ahead of expiry, quietly (while the vault
  is locked: once it is unlocked, without a prompt of its own).
* A "Token" section in the details pane: last error in Znuny's text with the plain hint, advice,
  expiries, and how the sign-in runs.
Every change emits ``hub.token_changed(config_id)``. No network I/O on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QKeySequence

from desktop.models.config import BROWSER_SYSTEM, TokenConfiguration
from desktop.models.status import format_when
from desktop.models.token import TokenState, utcnow
from desktop.models.token_table_model import SelectedRow, Selection
from desktop.models.tones import tone
from desktop.qtns import Qt
from desktop.ui.clipboard import copy_secret_to_clipboard
from desktop.ui.details_pane import breakable
from desktop.ui.enums import MainAction
from desktop.ui.features.host import FeatureHost
from desktop.ui.widgets import escape_html, rich_text_label

if TYPE_CHECKING:
    from desktop.oauth.tokens import TokenService
    from desktop.ui.dialogs.browser_wait import BrowserWaitDialog

# The token service and the OAuth errors are imported where they are used: the window's start does not need the
# OAuth machinery (desktop.oauth.tokens, its grants, claims and errors: a few ms before the first paint).

logger = logging.getLogger(__name__)

#: a refresh_due for a token renewed this recently (and still fine) is skipped
RECENT_RENEWAL = timedelta(seconds=30)


def install(host: FeatureHost) -> OAuthFeature:
    return OAuthFeature(host)


#: seconds after which a copied access token is taken off the clipboard (if it is still there)
CLIPBOARD_CLEAR_SECONDS = 45
class _Relay(QObject):
    """Carries calls from the worker thread to the GUI thread."""

    address = Signal(str, bool)


# ---- the feature
class OAuthFeature(QObject):
    def __init__(self, app: FeatureHost) -> None:
        super().__init__(app.window)
        self.app = app
        self.ctx = app.ctx
        self.window = app.window
        self.hub = app.hub
        self.tasks = app.tasks
        #: configurations with a refresh running (no second one from the GUI while it runs)
        self.busy: set[int] = set()
        #: hook for tests: how the system browser is opened (None: print-only)
        self.open_browser: Callable[[str], bool] | None = None
        self.login_dialog: Any = None
        self.wait_dialog: BrowserWaitDialog | None = None
        self._build_actions()
        self._build_details()
        self.hub.refresh_due.connect(self.on_refresh_due)
        #: automatic refreshes that came due while the vault was locked; run when it opens
        self.waiting_for_vault: set[int] = set()
        self.hub.secrets_changed.connect(self._run_waiting_refreshes)
        self.hub.refreshes_coming.connect(self._prefetch)
        #: the rows of the refreshes the scheduler is about to ask for (``Hub.refreshes_coming``), and whether the
        #: vault was locked when the first of them was checked (None: not asked yet)
        self._coming: dict[int, tuple[TokenConfiguration, TokenState]] = {}
        self._coming_locked: bool | None = None
        # the window re-reads a changed row and emits selection_changed: the details follow every token change
        self.window.selection_changed.connect(self.update_details)

    # ---- actions (enabled by the window: predicates over the selected rows as the table read them)
    @cached_property
    def service(self) -> TokenService:
        from desktop.oauth.tokens import TokenService

        return TokenService(self.ctx)

    def _build_actions(self) -> None:
        w = self.window
        self.request_action = w.add_action(
            MainAction.REQUEST, "&Request new token ...", self.on_request, QKeySequence("Ctrl+R"),
            "Sign in with the provider and store a new token for the selected configuration (Ctrl+R)",
            enabled_when=lambda rows: len(rows) == 1)
        self.refresh_action = w.add_action(
            MainAction.REFRESH, "Re&fresh", self.on_refresh, QKeySequence("F5"),
            "Renew the selected tokens now with their refresh tokens (F5); a configuration without one needs Request "
            "new token", enabled_when=can_refresh)
        self.revoke_action = w.add_action(
            MainAction.REVOKE, "Re&voke token ...", self.on_revoke, None,
            "Revoke the selected tokens at the provider (RFC 7009) and delete them here", toolbar=False,
            enabled_when=can_revoke)
        self.forget_action = w.add_action(
            MainAction.FORGET, "F&orget token ...", self.on_forget, None,
            "Delete the selected tokens here without telling the provider", toolbar=False, enabled_when=has_token)
        self.copy_action = w.add_action(
            MainAction.COPY_TOKEN, "&Copy access token", self.on_copy_token, QKeySequence("Ctrl+Shift+C"),
            f"Copy a valid access token (refreshed first when needed) for a test with curl or Postman; the "
            f"clipboard is cleared after {CLIPBOARD_CLEAR_SECONDS} s (Ctrl+Shift+C)", toolbar=False,
            enabled_when=lambda rows: len(rows) == 1 and has_token(rows))

    # ---- copy the access token (the admin asks for it: a test with curl, Postman, a browser extension)
    @Slot()
    def on_copy_token(self) -> None:
        cfg = self.window.current_configuration()
        if cfg is None or cfg.id is None:
            return
        name = cfg.name

        def done(token: str) -> None:
            self._changed(int(cfg.id))  # a refresh may have happened on the way
            copy_secret_to_clipboard(token, CLIPBOARD_CLEAR_SECONDS)
            self.window.show_status(f"Access token of \u201c{name}\u201d copied. The clipboard is cleared in "
                                    f"{CLIPBOARD_CLEAR_SECONDS} s.", CLIPBOARD_CLEAR_SECONDS * 1000)

        def failed(exc: BaseException) -> None:
            self._changed(int(cfg.id))
            self._report(f"No access token for \u201c{name}\u201d", [(name, exc)])

        self.tasks.run(self.service.access_token, name, on_done=done, on_error=failed,
                       busy_text=f"Getting a valid access token for {name} ...")

    def _changed(self, config_id: int) -> None:
        self.hub.token_changed.emit(config_id)

    # ---- request new token
    @Slot()
    def on_request(self) -> None:
        cfg = self.window.current_configuration()
        if cfg is None or cfg.id is None:
            return
        if self.login_dialog is not None or self.wait_dialog is not None:
            self.window.show_status("A sign-in is already open.")
            return
        from desktop.models.grants import grant_for

        if not grant_for(cfg).signs_in:  # client credentials: a request is a renewal
            self._refresh([cfg], manual=True)
            return
        if cfg.browser_mode == BROWSER_SYSTEM:
            self._request_system(cfg)
        else:
            self._request_embedded(cfg)

    def _request_embedded(self, cfg: TokenConfiguration) -> None:
        from desktop.ui.dialogs.login_dialog import LoginDialog  # QtWebEngine: only now

        assert cfg.id is not None
        config_id = cfg.id
        dialog = LoginDialog(self.service, cfg.name, runner=self.tasks, parent=self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.login_dialog = dialog

        def finished(_result: int) -> None:
            self.login_dialog = None
            self._changed(config_id)  # stored token, or an error recorded from the redirect
            if dialog.result_state is not None:
                self._signed_in(cfg.name, dialog.result_state)

        dialog.finished.connect(finished)
        dialog.open()

    def _request_system(self, cfg: TokenConfiguration) -> None:
        import webbrowser

        from desktop.oauth.loopback import LoopbackListener, authorize_with_system_browser

        assert cfg.id is not None
        config_id, name = cfg.id, cfg.name
        from desktop.ui.dialogs.browser_wait import BrowserWaitDialog

        wait = BrowserWaitDialog(name, self.window)
        self.wait_dialog = wait
        relay = _Relay(wait)
        relay.address.connect(wait.show_address, Qt.ConnectionType.QueuedConnection)
        holder: dict[str, LoopbackListener] = {}
        timeout = 300.0

        def work() -> TokenState:
            return authorize_with_system_browser(
                self.service, name, timeout=timeout,
                open_browser=self.open_browser if self.open_browser is not None else webbrowser.open,
                show_url=lambda url, opened: relay.address.emit(url, opened),
                on_listener=lambda listener: holder.__setitem__("listener", listener),
            )

        def cancel() -> None:
            listener = holder.get("listener")
            if listener is not None:
                listener.cancel()

        def done(state: TokenState) -> None:
            self.wait_dialog = None
            wait.accept()
            self._changed(config_id)
            self._signed_in(name, state)

        def failed(exc: BaseException) -> None:
            self.wait_dialog = None
            wait.accept()
            self._changed(config_id)
            from desktop.oauth.errors import Cancelled, SignInTimedOut

            if isinstance(exc, Cancelled) and not isinstance(exc, SignInTimedOut):
                self.window.show_status(f"Sign-in for '{name}' cancelled; the token was not changed.")
                return
            self._report(f"Sign-in for \u201c{name}\u201d failed", [(name, exc)])

        wait.rejected.connect(cancel)
        wait.open()
        self.tasks.run(work, on_done=done, on_error=failed, busy_text=f"Waiting for the browser sign-in of {name} ...")

    # ---- refresh
    @Slot()
    def on_refresh(self) -> None:
        # only the rows a refresh can renew (F5 is off when none of the selected can): no warning for the others
        self._refresh([row.config for row in self.window.selection().rows if refreshable(row)], manual=True)

    @Slot(int)
    def on_refresh_due(self, config_id: int) -> None:
        """Refresh quietly (the scheduler when due, the tray's "Refresh all"); errors end up on the token.

        Skipped for invalid configurations, tokens that need a new sign-in, and tokens renewed in the
        last RECENT_RENEWAL (another process, or a double signal)."""
        from desktop.models.grants import keeps_refresh_token
        from desktop.oauth.errors import NetworkError

        batch = bool(self._coming)
        pair = self._coming.pop(config_id, None)
        if pair is None:  # one signal on its own: its row in one query
            found = self.ctx.store.list_with_state_for([config_id])
            pair = found[0] if found else None
        if pair is None or not pair[0].is_valid or config_id in self.busy:
            return
        cfg, state = pair
        if state.reauthorization_needed:
            return  # invalid_grant: no more attempts until the admin signs in again
        if keeps_refresh_token(cfg) and not state.has_refresh_token:
            return
        now = utcnow()
        recent = max((t for t in (state.last_refreshed_at, state.last_requested_at) if t), default=None)
        if recent is not None and now - recent < RECENT_RENEWAL and not self.service.is_due(state, now) \
                and not state.has_error:
            return  # renewed a moment ago (e.g. by 'tokendesk token' in another process)
        # asked last: it reads the vault's state from the store - once for a batch
        if not batch:
            locked = bool(getattr(self.ctx.secrets, "locked", False))
        else:
            if self._coming_locked is None:
                self._coming_locked = bool(getattr(self.ctx.secrets, "locked", False))
            locked = self._coming_locked
        if locked:  # no passphrase prompt out of the blue: the refresh runs once the admin unlocks (features/vault.py)
            self.waiting_for_vault.add(config_id)
            return
        self.busy.add(config_id)

        def finish(_result: object) -> None:
            self.busy.discard(config_id)
            self._changed(config_id)

        def failed(exc: BaseException) -> None:
            self.busy.discard(config_id)
            logger.warning("automatic refresh of '%s' failed: %s", cfg.name, exc)
            self._changed(config_id)
            if isinstance(exc, NetworkError):
                self.hub.refresh_failed.emit(config_id)  # the scheduler tries again after a pause

        self.tasks.run(self.service.refresh_by_id, config_id, on_done=finish, on_error=failed,
                       busy_text=f"Refreshing {cfg.name} ...")

    @Slot(list)
    def _prefetch(self, config_ids: list[int]) -> None:
        self._coming = {cfg.id: (cfg, state) for cfg, state in self.ctx.store.list_with_state_for(config_ids)
                        if cfg.id is not None}
        self._coming_locked = None

    @Slot()
    def _run_waiting_refreshes(self) -> None:
        if not self.waiting_for_vault or getattr(self.ctx.secrets, "locked", False):
            return
        waiting, self.waiting_for_vault = sorted(self.waiting_for_vault), set()
        for config_id in waiting:
            self.on_refresh_due(config_id)

    def _signed_in(self, name: str, state: TokenState) -> None:
        """Say that the token is stored - and, right away, what is not as it should be (no refresh token,
        less granted than asked), which the details pane would otherwise only show to who looks."""
        from PySide6.QtWidgets import QMessageBox

        self.window.show_status(f"New token stored for '{name}'.")
        cfg = self.ctx.store.get(name)
        from desktop.oauth.tokens import warnings_for

        notes = warnings_for(cfg, state) if cfg is not None else []
        if not notes:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, f"New token for \u201c{name}\u201d - please check",
                          "The token is stored, but:\n\n" + "\n\n".join(notes), QMessageBox.StandardButton.Ok,
                          self.window)
        box.setObjectName("SignInNotesBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_notes = box
        box.open()

    def _refresh(self, configs: list[TokenConfiguration], *, manual: bool) -> None:
        targets = [c for c in configs if c.id is not None and c.id not in self.busy]
        if not targets:
            return
        failures: list[tuple[str, BaseException]] = []
        remaining = {c.id for c in targets}

        def settle(config_id: int) -> None:
            self.busy.discard(config_id)
            remaining.discard(config_id)
            self._changed(config_id)
            if not remaining:
                if failures:
                    self._report("Refresh failed" if len(targets) == 1 else "Some refreshes failed", failures)
                else:
                    names = ", ".join(f"'{c.name}'" for c in targets)
                    self.window.show_status(f"Refreshed {names}.")

        for cfg in targets:
            assert cfg.id is not None
            config_id, name = cfg.id, cfg.name
            self.busy.add(config_id)

            def done(_state: TokenState, config_id: int = config_id) -> None:
                settle(config_id)

            def failed(exc: BaseException, config_id: int = config_id, name: str = name) -> None:
                failures.append((name, exc))
                settle(config_id)

            self.tasks.run(self.service.refresh_by_id, config_id, on_done=done, on_error=failed,
                           busy_text=f"Refreshing {name} ...")

    # ---- revoke and forget
    def _selected_with_token(self) -> list[TokenConfiguration]:
        return [row.config for row in self.window.selection().rows if has_token([row])]

    @Slot()
    def on_revoke(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        selected = self._selected_with_token()
        revocable = [c for c in selected if c.revocation_url]
        skipped = [c for c in selected if not c.revocation_url]
        if not revocable:
            return
        names = ", ".join(f"\u201c{c.name}\u201d" for c in revocable)
        text = (f"Revoke the token of {names} at the provider and delete it here?\n\n"
                "Programs that use it stop working until a new token is requested.")
        if skipped:
            text += ("\n\nNot revoked (no revocation endpoint; use Forget token): "
                     + ", ".join(f"\u201c{c.name}\u201d" for c in skipped))
        if QMessageBox.question(self.window, "Revoke token?", text,
                                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                QMessageBox.StandardButton.Cancel) != QMessageBox.StandardButton.Yes:
            return
        self._run_each(revocable, self.service.revoke, "Revoking", "Revoked", "Revoke failed")

    @Slot()
    def on_forget(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        selected = self._selected_with_token()
        if not selected:
            return
        names = ", ".join(f"\u201c{c.name}\u201d" for c in selected)
        if QMessageBox.question(
            self.window, "Forget token?",
            f"Delete the stored token of {names} here?\n\nThe provider is not told: the token stays valid "
            "there until it expires (revoke it in the provider's account settings if it must stop working).",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        ) != QMessageBox.StandardButton.Yes:
            return
        self._run_each(selected, self.service.forget, "Forgetting", "Forgot the token of", "Forget failed")

    def _run_each(self, configs: list[TokenConfiguration], fn: Callable[[str], object], doing: str, did: str,
                  failed_title: str) -> None:
        failures: list[tuple[str, BaseException]] = []
        remaining = {c.id for c in configs}
        done_names: list[str] = []

        def settle(config_id: int) -> None:
            remaining.discard(config_id)
            self._changed(config_id)
            if not remaining:
                if done_names:
                    self.window.show_status(f"{did} " + ", ".join(f"'{n}'" for n in done_names) + ".")
                if failures:
                    self._report(failed_title, failures)

        for cfg in configs:
            assert cfg.id is not None

            def ok(_r: object, config_id: int = cfg.id, name: str = cfg.name) -> None:
                done_names.append(name)
                settle(config_id)

            def bad(exc: BaseException, config_id: int = cfg.id, name: str = cfg.name) -> None:
                failures.append((name, exc))
                settle(config_id)

            self.tasks.run(fn, cfg.name, on_done=ok, on_error=bad, busy_text=f"{doing} {cfg.name} ...")

    # ---- messages
    def _report(self, title: str, failures: list[tuple[str, BaseException]]) -> None:
        from PySide6.QtWidgets import QMessageBox

        from desktop.oauth.errors import ReauthorizationNeeded, TokenError
        from desktop.store.vault import VaultError

        parts = []
        for name, exc in failures:
            if isinstance(exc, TokenError):
                text = f"{name}: {exc}"
                if exc.hint:
                    text += f"\nWhat to do: {exc.hint}"
            elif isinstance(exc, VaultError):  # the vault is locked, the keyring went away, ...
                text = f"{name}: {exc.message}" + (f"\nWhat to do: {exc.hint}" if exc.hint else "")
            else:
                logger.error("token action for '%s' failed", name, exc_info=exc)
                text = f"{name}: unexpected error ({exc.__class__.__name__}); run 'tokendesk -v refresh' for details."
            parts.append(text)
        self.window.show_status(f"{title}: {failures[0][0]}", 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, "\n\n".join(parts), QMessageBox.StandardButton.Ok,
                          self.window)
        box.setObjectName("TokenFailureBox")
        if any(isinstance(e, ReauthorizationNeeded) for _, e in failures) and len(failures) == 1:
            request = box.addButton("Request new token ...", QMessageBox.ButtonRole.ActionRole)
            request.clicked.connect(self.request_action.trigger)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_report = box
        box.open()

    # ---- details
    def _build_details(self) -> None:
        self.details = rich_text_label("tokenDetails")
        self.details_box = self.window.add_details_section("Token", self.details)
        self.update_details()

    @Slot(object)
    def update_details(self, selection: Selection | None = None) -> None:
        """The Token section, from the row the table read and the settings read with it (no store query)."""
        current = (selection or self.window.selection()).current
        if current is None:
            self.details.setText("")
            return
        self.details.setText(details_html(current.config, current.state, self.window.settings()))


def has_token(rows: Sequence[SelectedRow]) -> bool:
    return any(row.state.has_access_token or row.state.has_refresh_token for row in rows)


def refreshable(row: SelectedRow) -> bool:
    """A refresh can run: a refresh token is stored, or a client-credentials configuration (a new token each time)."""
    from desktop.models.grants import keeps_refresh_token

    return row.state.has_refresh_token or not keeps_refresh_token(row.config)


def can_refresh(rows: Sequence[SelectedRow]) -> bool:
    return any(refreshable(row) for row in rows)


def can_revoke(rows: Sequence[SelectedRow]) -> bool:
    return any(row.config.revocation_url for row in rows) and has_token(rows)


def _line(label: str, value: str, color: str = "") -> str:
    style = f" style='color:{color}'" if color else ""
    return (f"<p style='margin:0 0 6px 0'><span style='color:{tone('label')}'>{escape_html(label)}</span><br>"
            f"<span{style}>{breakable(value)}</span></p>")


def signed_in_as(state: TokenState) -> str:
    """Who signed in for the stored token, in words: the account, the ID token's subject, or that nobody said."""
    if state.token_info.get("account"):
        return state.token_info["account"]
    if state.token_info.get("subject"):
        return f"{state.token_info['subject']} (the ID token's subject; the provider named no e-mail or user name)"
    return "the provider did not say who signed in"


def details_html(cfg: TokenConfiguration, state: TokenState, settings: dict[str, Any]) -> str:
    """The Token section of the details pane (pure: testable without widgets)."""
    from desktop.models.grants import grant_for, keeps_refresh_token
    from desktop.oauth.errors import ConfigurationProblem, hint_for
    from desktop.oauth.tokens import warnings_for

    now = utcnow()
    parts: list[str] = []
    if state.has_error:
        stage = "refresh" if state.has_access_token else "exchange"
        hint = hint_for(state.error_message, state.error_code, state.error_description, stage=stage)
        parts.append(_line("Re-authorization needed" if state.reauthorization_needed else "Last error",
                           state.error_text, tone("error")))
        if hint:
            parts.append(_line("What to do", hint))
    for note in warnings_for(cfg, state):
        parts.append(_line("Note", note, tone("note")))
    if state.has_access_token:
        exp = state.token_expires_at
        parts.append(_line("Token expires", format_when(exp, now) if exp else "not given"))
        info = state.token_info
        if grant_for(cfg).signs_in:
            parts.append(_line("Signed in as", signed_in_as(state)))
        for key, label in (("granted_scope", "Granted scope"), ("token_scope", "Permissions in the token"),
                           ("audience", "Token is for")):
            if info.get(key):
                parts.append(_line(label, info[key]))
    if keeps_refresh_token(cfg):
        if state.has_refresh_token:
            rexp = state.refresh_token_expires_at
            parts.append(_line("Refresh token expires",
                               format_when(rexp, now) if rexp else "no expiry known"))
        mode = "system browser" if cfg.browser_mode == BROWSER_SYSTEM else "embedded browser"
        try:
            from desktop.oauth.flow import configured_redirect_uri

            redirect = ("http://127.0.0.1:<any port>/\u2026 (loopback)" if cfg.browser_mode == BROWSER_SYSTEM
                        else configured_redirect_uri(cfg, settings))
        except ConfigurationProblem as exc:
            redirect = str(exc)
        parts.append(_line("Sign-in", f"{mode}, PKCE {'on' if cfg.pkce_enabled else 'off'}"))
        parts.append(_line("Redirect URI", redirect))
    else:
        parts.append(_line("Sign-in", "none (client credentials: new tokens are requested with the client secret)"))
    parts.append(_line("Revocation", "RFC 7009 endpoint configured" if cfg.revocation_url
                       else "no endpoint: Forget token deletes it here only"))
    return "".join(parts)
