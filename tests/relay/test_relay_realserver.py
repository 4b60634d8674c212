"""The relay end to end: Python's smtplib as the device, the relay, and the real SMTP test server that checks the
XOAUTH2 token at the real OAuth2 server (introspection, on every AUTH)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from desktop.relay.devices import DeviceRepository
from desktop.relay.log import MessageLog
from tests.relay.conftest import ACCOUNT
from tests.servers.dovecot import MAIL_USER

pytestmark = pytest.mark.realserver


def message(sender: str = MAIL_USER, to: str = "someone@example.org", subject: str = "Scan 1",
            body: str = "scanned page\n") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(body)
    return msg


def device(ctx, name: str = "scanner", aliases: list[str] | None = None) -> str:
    return DeviceRepository(ctx.store).add(name, ACCOUNT, aliases)[1]


def test_a_device_message_arrives_upstream_with_the_token(ctx, mail_account, relay_factory, smtp, oauth):
    _account, pair = mail_account
    password = device(ctx)
    relay = relay_factory()
    token_requests = len(oauth.requests("/token"))
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.login("scanner", password)
        refused = client.send_message(message(body="page one\n.\nafter a lone dot\n"))
    assert refused == {}
    assert len(smtp.messages) == 1
    got = smtp.messages[0]
    assert got["from"] == MAIL_USER and got["to"] == ["someone@example.org"] and got["login"] == MAIL_USER
    assert b"Subject: Scan 1" in got["data"] and b"page one\r\n.\r\nafter a lone dot" in got["data"]
    assert smtp.attempts == [("XOAUTH2", MAIL_USER, True)]
    assert len(oauth.requests("/token")) == token_requests  # a valid token was used, none requested
    entry = MessageLog(ctx.store).recent(1)[0]
    assert (entry.device, entry.sender, entry.recipients, entry.ok) == ("scanner", MAIL_USER,
                                                                        ["someone@example.org"], True)
    assert entry.size > 0 and entry.answer.startswith("250")
    assert pair["access_token"] not in repr(MessageLog(ctx.store).recent(10))
