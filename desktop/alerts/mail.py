"""Alert mail: one message per alert to the kind's recipients, through one of Tokendesk's own SMTP mail accounts
(``alerts.mail_account``), signed in with that account's token (XOAUTH2/OAUTHBEARER, TLS verified) - the relay's
``Upstream`` does the SMTP conversation. The message holds the alert's words, never a token or secret."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from desktop.alerts.kinds import KIND_WORDS, Alert
from desktop.notify.events import iso


@dataclass
class MailResult:
    ok: bool
    detail: str = ""


def alert_message(alert: Alert, sender: str, recipients: list[str]) -> EmailMessage:
    host = socket.gethostname()
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = f"[Tokendesk {alert.severity.upper()}] {alert.title}: {alert.name}"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=alert.id, domain=sender.rpartition("@")[2] or None)
    msg["X-Tokendesk-Alert"] = f"{alert.kind}; event={alert.event}; id={alert.id}"
    lines = [
        alert.message,
        "",
        f"Configuration: {alert.name}",
        f"Alert: {alert.title} ({KIND_WORDS.get(alert.kind, alert.kind)}, {alert.severity})",
        f"Since: {iso(alert.due_at)}",
    ]
    if alert.expires_at:
        lines.append(f"Expiry: {iso(alert.expires_at)}")
    lines += ["", f"Sent once by Tokendesk on {host}. 'tokendesk check' shows the state of every configuration."]
    msg.set_content("\n".join(lines) + "\n")
    return msg


class AlertMailer:
    """Sends alert mail through the mail account named in the settings; ``tokens``: a usage token source."""

    def __init__(self, ctx: Any, account_name: str, tokens: Any = None, timeout: float = 30.0) -> None:
        self.ctx, self.account_name, self.timeout = ctx, account_name, timeout
        self._tokens = tokens
        self._upstream: Any = None
        self._account: Any = None

    def _account_or_problem(self) -> str | None:
        from desktop.usage.accounts import FAMILY_SMTP
        from desktop.usage.repository import UsageRepository

        if not self.account_name:
            return "no mail account is chosen for alert mail (Settings > Alerts, or 'tokendesk settings set " \
                   "alerts.mail_account NAME')"
        account = UsageRepository(self.ctx.store).find_mail_account(self.account_name)
        if account is None:
            return f"the mail account '{self.account_name}' for alert mail does not exist (any more)"
        if account.spec.family != FAMILY_SMTP:
            return f"the mail account '{self.account_name}' is not an SMTP account: alert mail needs one"
        self._account = account
        return None

    def send(self, alert: Alert, recipients: list[str]) -> MailResult:
        if self._account is None and (problem := self._account_or_problem()) is not None:
            return MailResult(False, problem)
        if self._upstream is None:
            from desktop.relay.upstream import TokenCache, Upstream
            from desktop.usage.tokens import token_source

            self._upstream = Upstream(TokenCache(self._tokens or token_source(self.ctx)), timeout=self.timeout,
                                      ehlo_name="tokendesk-alerts")
        account = self._account
        message = alert_message(alert, account.login, recipients)
        answer = self._upstream.send(account, account.login, list(recipients), message.as_bytes())
        if answer.ok:
            return MailResult(True, answer.text)
        return MailResult(False, f"through '{account.name}': {answer.text or answer.reply}")

    def close(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
