"""UsageService: what the CLI and the window do with mail accounts and invokers.

It combines the repository, the settings (``pop3.split_hosts``, ``network.timeout_seconds``)
and the token source. Safe to call from a worker thread (the store is per thread); the
network calls (``test_mail_account``, ``invoke``) must not run on the GUI thread. Importing it
stays cheap (``tokendesk token`` loads every CLI module): the protocol clients and httpx are
imported when first used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from desktop.models.config import TokenConfiguration
from desktop.usage.repository import UsageRepository, eligible_configurations
from desktop.usage.runs import LastRun
from desktop.usage.tokens import TokenSource, fetch_token, token_source

if TYPE_CHECKING:
    from desktop.services import Context
    from desktop.usage.cancel import Cancellation
    from desktop.usage.connection import ConnectionResult
    from desktop.usage.invoke import InvokeResult

logger = logging.getLogger(__name__)


class UsageService:
    def __init__(self, ctx: Context, tokens: TokenSource | None = None) -> None:
        self.ctx = ctx
        self._tokens = tokens

    @property
    def repo(self) -> UsageRepository:
        return UsageRepository(self.ctx.store)

    @property
    def tokens(self) -> TokenSource:
        if self._tokens is None:
            self._tokens = token_source(self.ctx)
        return self._tokens

    @property
    def timeout(self) -> float:
        return float(self.ctx.store.get_setting("network.timeout_seconds") or 20)

    @property
    def split_hosts(self) -> list[str]:
        return list(self.ctx.store.get_setting("pop3.split_hosts") or [])

    def signed_in_account(self, config_name: str) -> str:
        """The account the configuration's token names ('' when unknown, no token, or no such configuration; an ID
        token's bare subject is no login either)."""
        cfg = self.ctx.store.get(config_name) if config_name else None
        state = self.ctx.store.get_state(cfg.id) if cfg is not None and cfg.id is not None else None
        return str(state.token_info.get("account") or "") if state is not None and state.has_access_token else ""

    def eligible_configurations(self, keep_config_id: int | None = None) -> list[TokenConfiguration]:
        return eligible_configurations(self.ctx.store, keep_config_id)

    def test_mail_account(self, name: str, cancel: Cancellation | None = None) -> ConnectionResult:
        """Fresh token, connect, authenticate, follow-up command; every outcome is a result."""
        from desktop.usage.connection import check_mail_account  # imaplib, poplib, smtplib, ssl: only when used

        account = self.repo.get_mail_account(name)
        result = check_mail_account(
            account, lambda: fetch_token(self.tokens, account.config_name),
            split_hosts=self.split_hosts, timeout=self.timeout, cancel=cancel,
            client_secret=lambda: self._client_secret(account.config_id),
        )
        if not result.ok and result.stage == "authenticate" and account.config_id is not None:
            # the most common cause, when the token says whose it is: another account signed in
            from desktop.oauth.claims import account_mismatch

            mismatch = account_mismatch(self.ctx.store.get_state(account.config_id).token_info, account.login)
            if mismatch:
                result.hint = f"{mismatch} {result.hint}"
        self._record(self.repo.record_mail_test, account.name, result.ok, result.table_text())
        return result

    def invoke(self, name: str) -> InvokeResult:
        from desktop.usage.invoke import invoke  # httpx: only when used

        invoker = self.repo.get_invoker(name)
        result = invoke(invoker, lambda: fetch_token(self.tokens, invoker.config_name), timeout=self.timeout)
        self._record(self.repo.record_invocation, invoker.name, result.ok, result.table_text())
        return result

    def _client_secret(self, config_id: int | None) -> str | None:
        """The configuration's client secret, to redact it too; None while the vault is locked (the test never
        asks for a passphrase for it: the token was asked for first and opened the vault if it could)."""
        secrets = self.ctx.secrets
        if config_id is None or getattr(secrets, "locked", False):
            return None
        from desktop.store.secrets import CLIENT_SECRET

        return secrets.get_for(config_id, CLIENT_SECRET)

    @staticmethod
    def _record(record: Callable[[str, LastRun], None], name: str, ok: bool, text: str) -> None:
        """Keep the outcome for the "Last test"/"Last call" columns; a store that cannot be written
        (locked, read-only) must not turn a finished test into an error."""
        try:
            record(name, LastRun(ok, text, datetime.now(UTC)))
        except Exception as exc:  # the result itself is what the admin asked for
            logger.warning("could not keep the outcome of '%s': %s", name, exc)
