"""Fixtures of the relay room: the usage room's real servers (OAuth2 server, SMTP server that checks XOAUTH2 by
introspection), a signed-in configuration, an SMTP mail account on it, and relays on free loopback ports."""

from __future__ import annotations

import contextlib

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


class Forwarder:
    """A TCP forwarder on a fixed loopback port to the SMTP test server, that can be taken down (nothing listens:
    connections refused) and brought back on the same port; ``delay`` holds each new connection back a while
    (messages stay in flight longer)."""

    def __init__(self, target_port: int) -> None:
        import threading

        self.target_port = target_port
        self.port = free_ports(1)[0]
        self.delay = 0.0
        #: seconds each chunk towards the server waits (every message stays in flight a while, on any connection)
        self.chunk_delay = 0.0
        self._listener = None
        self._lock = threading.Lock()
        self._open: set = set()
        self.up()

    def up(self) -> None:
        import socket
        import threading

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        import socket

        listener, self._listener = self._listener, None
        with self._lock:
            connections, self._open = list(self._open), set()
        for sock in ([listener] if listener is not None else []) + connections:  # down means down: open ones too
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener) -> None:
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client) -> None:
        import select
        import socket
        import time

        time.sleep(self.delay)
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
            client.close()
            return
        with self._lock:
            self._open.update((client, upstream))
        # either side gone (a killed relay, down()): the pipe ends
        with client, upstream, contextlib.suppress(OSError, ValueError):
            pair = [client, upstream]
            while True:
                ready, _, _ = select.select(pair, [], [], 30)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and self.chunk_delay:
                        time.sleep(self.chunk_delay)
                    (upstream if sock is client else client).sendall(data)


@pytest.fixture
def forwarder(smtp):  # noqa: F811
    fwd = Forwarder(smtp.starttls_port)
    yield fwd
    fwd.down()


@pytest.fixture
def forwarded_account(ctx, provider, smtp, forwarder):  # noqa: F811
    """Like ``mail_account``, but the account reaches the SMTP server through ``forwarder``."""
    from desktop.usage.accounts import MailAccount
    from desktop.usage.repository import UsageRepository

    def factory(expires_in: float = 3600):
        cfg, pair = provider(expires_in=expires_in)
        account = UsageRepository(ctx.store).add_mail_account(MailAccount(
            name=ACCOUNT, protocol="SMTP", host="127.0.0.1", port=forwarder.port, login=MAIL_USER,
            config_id=cfg.id, ca_file=str(smtp.ca_file)))
        return account, pair

    return factory
