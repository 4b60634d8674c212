"""An SMTP submission server on loopback that authenticates with OAuth2 bearer tokens (aiosmtpd).

Chosen over Postfix + Dovecot SASL because it needs no system service and starts in
milliseconds; it speaks real SMTP over real sockets with real TLS. Its ``AUTH XOAUTH2`` and
``AUTH OAUTHBEARER`` mechanisms accept the initial response on the AUTH line or after an
empty ``334`` challenge, check the token at the OAuth2 test server's introspection endpoint
(RFC 7662, on every attempt) and compare its ``username`` with the login. A rejected token
gets what Gmail sends: ``334 <base64 JSON error>``, and after the client's empty line,
``535 5.7.8``.

Two listeners share one handler: submission with STARTTLS required before AUTH
(``smtp.starttls_port``) and SMTPS (``smtp.smtps_port``), both with a certificate from a CA
made for the test run (``smtp.ca_file``). Accepted messages are kept in ``smtp.messages``.
With ``smtp.handler.echo`` set, a rejected token is echoed in a multi-line ``535`` reply (wrapped,
base64, URL-encoded, cut short), as careless servers do (reset by the ``smtp`` fixture).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers.http_api import introspect

ERROR_CHALLENGE = json.dumps({"status": "401", "schemes": "bearer", "scope": "https://mail.example.test/"})


def parse_sasl(mechanism: str, blob: bytes) -> tuple[str, str] | None:
    """(login, token) from an XOAUTH2 or OAUTHBEARER initial response; None when malformed."""
    text = blob.decode("utf-8", "replace")
    parts = text.split("\x01")
    login = token = None
    if mechanism == "OAUTHBEARER":
        gs2, _, _rest = text.partition("\x01")
        for item in gs2.split(","):
            if item.startswith("a="):
                login = item[2:].replace("=2C", ",").replace("=3D", "=")
    for part in parts:
        if mechanism == "XOAUTH2" and part.startswith("user="):
            login = part[5:]
        if part.lower().startswith("auth=bearer "):
            token = part[12:]
    if not login or not token:
        return None
    return login, token


@dataclass
class OAuthSmtpHandler:
    introspection_url: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: (mechanism, login, accepted) for every AUTH attempt
    attempts: list[tuple[str, str, bool]] = field(default_factory=list)
    #: echo a rejected token in the 535 reply (redaction tests)
    echo: bool = False

    async def _auth(self, server: Any, args: list[str], mechanism: str) -> Any:
        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) == 2:  # args: the words after AUTH, i.e. the mechanism and the initial response
            try:
                blob: Any = base64.b64decode(args[1], validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        parsed = parse_sasl(mechanism, blob)
        if parsed is None:
            await server.push(f"501 5.5.2 Malformed {mechanism} response")
            return AuthResult(success=False, handled=True)
        login, token = parsed
        info = await asyncio.get_running_loop().run_in_executor(None, introspect, self.introspection_url, token)
        ok = (info.get("active") is True and str(info.get("token_type", "Bearer")).lower() == "bearer"
              and info.get("username") == login)
        self.attempts.append((mechanism, login, ok))
        if ok:
            return AuthResult(success=True, auth_data=login)
        await server.challenge_auth(ERROR_CHALLENGE)  # the client answers with an empty line
        if self.echo:
            await server.push(self._echo_reply(token, blob))
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message="535 5.7.8 Username and token not accepted")

    @staticmethod
    def _echo_reply(token: str, blob: bytes) -> str:
        from urllib.parse import quote

        b64 = base64.b64encode(blob).decode()
        said = ["Username and token not accepted. You sent:"]
        said += [token[i:i + 60] for i in range(0, len(token), 60)]
        said += ["which is, in base64:"] + [b64[i:i + 76] for i in range(0, len(b64), 76)]
        said += [f"URL-encoded: {quote(token, safe='')[:300]}", f"cut short: {token[-40:]}"]
        return "\r\n".join(f"535{'-' if i < len(said) - 1 else ' '}5.7.8 {line}" for i, line in enumerate(said))

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:  # noqa: N802 - aiosmtpd's naming
        return await self._auth(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: Any, args: list[str]) -> Any:  # noqa: N802
        return await self._auth(server, args, "OAUTHBEARER")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "login": session.auth_data, "data": envelope.content})
        return "250 2.0.0 Message accepted"


@dataclass
class SmtpTestServer:
    handler: OAuthSmtpHandler
    controllers: list[Any]
    starttls_port: int
    smtps_port: int
    ca_file: Path
    host: str = "127.0.0.1"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.handler.messages

    @property
    def attempts(self) -> list[tuple[str, str, bool]]:
        return self.handler.attempts

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()


def _controller_class() -> Any:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    class LongAuthSMTP(SMTP):
        # RFC 4954 4: an AUTH line and each SASL response may be up to 12288 octets (a JWT is long);
        # aiosmtpd's defaults are SMTP's 512 (commands) and 1001 (lines)
        command_size_limit = 12288
        line_length_limit = 12288
        # the base class's per-command table falls back to SMTP.command_size_limit (512), not to ours
        command_size_limits: dict[str, int] = collections.defaultdict(lambda: 12288)

    class LongAuthController(Controller):
        def factory(self) -> SMTP:
            return LongAuthSMTP(self.handler, **self.SMTP_kwargs)

    return LongAuthController


def start_smtp(introspection_url: str, cert_file: Path, key_file: Path, ca_file: Path) -> SmtpTestServer:
    from tests.servers.dovecot import free_ports

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    handler = OAuthSmtpHandler(introspection_url)
    starttls_port, smtps_port = free_ports(2)
    common: dict[str, Any] = {"hostname": "127.0.0.1", "server_hostname": "localhost",
                              "auth_exclude_mechanism": ["LOGIN", "PLAIN"]}
    # submission: AUTH only after STARTTLS; SMTPS is TLS from the first byte (aiosmtpd's require-TLS check
    # only knows STARTTLS, so it is off there)
    Controller = _controller_class()  # noqa: N806 - a class
    submission = Controller(handler, port=starttls_port, tls_context=server_context, require_starttls=True,
                            auth_require_tls=True, **common)
    smtps = Controller(handler, port=smtps_port, ssl_context=server_context, auth_require_tls=False, **common)
    started: list[Any] = []
    try:
        for controller in (submission, smtps):
            controller.start()
            started.append(controller)
    except BaseException:
        for controller in started:
            controller.stop()
        raise
    return SmtpTestServer(handler, started, starttls_port, smtps_port, ca_file)


@pytest.fixture(scope="session")
def smtp_server(oauth_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpTestServer]:  # noqa: ANN001
    from tests.servers.dovecot import make_test_pki

    pki = make_test_pki(tmp_path_factory.mktemp("smtp-pki"))
    server = start_smtp(oauth_server.introspection_endpoint, pki.cert_file, pki.key_file, pki.ca_file)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpTestServer) -> SmtpTestServer:
    smtp_server.messages.clear()
    smtp_server.attempts.clear()
    smtp_server.handler.echo = False
    return smtp_server
