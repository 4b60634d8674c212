"""UsageService: what the CLI and the window do with mail accounts and invokers.

It combines the repository, the settings (``pop3.split_hosts``, ``network.timeout_seconds``)
and the token source. Safe to call from a worker thread (the store is per thread); the
network calls (``test_mail_account``, ``invoke``) must not run on the GUI thread. Importing it
stays cheap (``tokendesk token`` loads every CLI module): the protocol clients and httpx are
imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.models.config import TokenConfiguration
from desktop.usage.repository import UsageRepository, eligible_configurations
from desktop.usage.tokens import TokenSource, fetch_token, token_source

if TYPE_CHECKING:
    from desktop.services import Context
    from desktop.usage.cancel import Cancellation
    from desktop.usage.connection import ConnectionResult
    from desktop.usage.invoke import InvokeResult


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

    def eligible_configurations(self, keep_config_id: int | None = None) -> list[TokenConfiguration]:
        return eligible_configurations(self.ctx.store, keep_config_id)

    def test_mail_account(self, name: str, cancel: Cancellation | None = None) -> ConnectionResult:
        """Fresh token, connect, authenticate, follow-up command; every outcome is a result."""
        from desktop.usage.connection import check_mail_account  # imaplib, poplib, smtplib, ssl: only when used

        account = self.repo.get_mail_account(name)
        return check_mail_account(
            account, lambda: fetch_token(self.tokens, account.config_name),
            split_hosts=self.split_hosts, timeout=self.timeout, cancel=cancel,
        )

    def invoke(self, name: str) -> InvokeResult:
        from desktop.usage.invoke import invoke  # httpx: only when used

        invoker = self.repo.get_invoker(name)
        return invoke(invoker, lambda: fetch_token(self.tokens, invoker.config_name), timeout=self.timeout)
