"""Fixtures of the relay room: the usage room's real servers (OAuth2 server, SMTP server that checks XOAUTH2 by
introspection), a signed-in configuration, an SMTP mail account on it, and relays on free loopback ports."""

from __future__ import annotations

import pytest

from tests.servers.dovecot import MAIL_USER, free_ports
from tests.servers.oauth import oauth, oauth_server  # noqa: F401  (pytest fixtures)
from tests.servers.smtp_server import smtp, smtp_server  # noqa: F401
from tests.usage.conftest import provider  # noqa: F401

ACCOUNT = "Scanner mail"


@pytest.fixture
def mail_account(ctx, provider, smtp):  # noqa: F811
    """An SMTP (STARTTLS) mail account at the real SMTP test server, with a signed-in token for MAIL_USER."""
    from desktop.usage.accounts import MailAccount
    from desktop.usage.repository import UsageRepository

    cfg, pair = provider()
    account = UsageRepository(ctx.store).add_mail_account(MailAccount(
        name=ACCOUNT, protocol="SMTP", host="127.0.0.1", port=smtp.starttls_port, login=MAIL_USER,
        config_id=cfg.id, ca_file=str(smtp.ca_file)))
    return account, pair


@pytest.fixture
def relay_factory(ctx):
    """Factory: a started RelayServer on a free port (stopped after the test)."""
    from desktop.relay.policy import AuthThrottle
    from desktop.relay.server import RelayServer

    started = []

    def factory(host: str = "127.0.0.1", **options):
        options.setdefault("throttle", AuthThrottle(base_delay=0.05, max_delay=0.2, lockout_after=5, window=60))
        port = free_ports(1)[0]
        server = RelayServer(ctx, listen=f"{host}:{port}", **options)
        server.start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
