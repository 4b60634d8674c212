"""Connection tests and invocations without servers: token problems, nothing listening, TLS set-up,
and redaction of a service that echoes the token (httpx MockTransport). The real conversations are
in the ``realserver`` tests."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from desktop.oauth.errors import NetworkError, ProviderError, ReauthorizationNeeded
from desktop.usage.accounts import MailAccount
from desktop.usage.connection import check_mail_account, tls_context
from desktop.usage.invoke import invoke
from desktop.usage.invokers import PLACEHOLDER, WebInvoker
from desktop.usage.tokens import TokenUnavailable, fetch_token

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJlLXJhbmRvbS1wYXJ0LTEyMzQ1Njc4OTA"


def account(**changes) -> MailAccount:
    values = {"name": "Support IMAP", "protocol": "IMAPS", "host": "127.0.0.1", "login": "u@example.org",
              "config_name": "Mail provider"}
    values.update(changes)
    return MailAccount(**values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the token seam
@pytest.mark.parametrize(("exc", "kind", "words"), [
    (ReauthorizationNeeded("The refresh token was revoked.", "Request a new token (Ctrl+R)."), "reauth",
     "The refresh token was revoked. Request a new token (Ctrl+R)."),
    (NetworkError("Timed out after 20 s.", "Check the network."), "network", "could not be reached"),
    (ProviderError("invalid_client", "Check the client secret."), "token", "Check the client secret."),
    (KeyError("Mail provider"), "token", "no token configuration named"),
])
def test_token_failures_become_plain_messages_with_a_kind(exc, kind, words):
    def source(name: str) -> str:
        raise exc

    with pytest.raises(TokenUnavailable) as info:
        fetch_token(source, "Mail provider")
    assert info.value.kind == kind
    assert words.lower() in str(info.value).lower()


def test_an_empty_token_means_sign_in_first():
    with pytest.raises(TokenUnavailable, match="has no access token yet") as info:
        fetch_token(lambda name: "", "Mail provider")
    assert info.value.kind == "reauth"
    assert "tokendesk authorize" in str(info.value)


def test_no_token_no_connection():
    def token() -> str:
        raise TokenUnavailable("'Mail provider' needs a new sign-in.", "reauth")

    result = check_mail_account(account(port=free_port()), token, timeout=2)
    assert not result.ok and result.stage == "token" and result.token_problem == "reauth"
    assert result.summary == "'Mail provider' needs a new sign-in."
    assert [line.direction for line in result.transcript] == ["*", "*"]


@pytest.mark.parametrize("protocol", ["IMAPS", "IMAP+STARTTLS", "POP3", "SMTP", "SMTPS"])
def test_nothing_listening_is_a_result_not_an_exception(protocol):
    port = free_port()
    result = check_mail_account(account(protocol=protocol, port=port), lambda: TOKEN, timeout=2)
    assert not result.ok and result.stage == "connect"
    assert result.summary == f"Nothing accepts connections on 127.0.0.1:{port}."
    assert TOKEN not in result.transcript_text()


def test_a_server_that_never_answers_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        result = check_mail_account(account(protocol="IMAP", port=port), lambda: TOKEN, timeout=0.5)
    assert not result.ok
    assert result.summary == f"127.0.0.1:{port} did not answer within 0.5 seconds."
    assert "network.timeout_seconds" in result.hint


def test_a_broken_ca_file_is_reported_before_connecting(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    result = check_mail_account(account(ca_file=str(bad), port=free_port()), lambda: TOKEN, timeout=2)
    assert not result.ok and result.stage == "tls"
    assert result.summary.startswith(f"The CA file {bad} cannot be used")


def test_tls_context_always_verifies(tmp_path):
    import ssl

    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


# ---- invoke with a mock transport (the real service is in test_invoke_realserver.py)
def echo_transport(status: int = 200) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        payload = {"you_sent": dict(request.headers), "body": request.content.decode() or None}
        return httpx.Response(status, json=payload, headers={"X-Echo-Token": request.headers.get("x-token", "")})

    return httpx.MockTransport(handler)


def test_the_token_is_redacted_in_everything_shown_even_when_echoed():
    inv = WebInvoker(name="Echo", url="https://echo.example.org/", method="POST", body='{"a": 1}',
                     headers=[("Authorization", f"Bearer {PLACEHOLDER}"), ("X-Token", PLACEHOLDER)],
                     config_name="Mail provider")
    result = invoke(inv, lambda: TOKEN, transport=echo_transport())
    assert result.ok and result.status == 200
    shown = result.text() + json.dumps(result.to_dict())
    assert TOKEN not in shown
    assert TOKEN.split(".")[-1][:16] not in shown
    assert ("x-echo-token", "<redacted access token>") in result.response_headers
    body = json.loads(result.body)
    assert body["you_sent"]["authorization"] == "Bearer <redacted access token>"
    assert body["you_sent"]["content-type"] == "application/json"
    assert body["body"] == '{"a": 1}'


def test_no_token_no_request():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    def token() -> str:
        raise TokenUnavailable("Sign in again.", "reauth")

    result = invoke(WebInvoker(name="X", url="https://x.example.org/", config_name="c"), token,
                    transport=httpx.MockTransport(handler))
    assert not result.ok and result.token_problem == "reauth" and calls == []


def test_403_gets_its_own_hint():
    result = invoke(WebInvoker(name="X", url="https://x.example.org/", config_name="c"), lambda: TOKEN,
                    transport=echo_transport(403))
    assert not result.ok and result.status == 403
    assert "lacks permission" in result.hint


@pytest.mark.parametrize(("protocol", "stage"), [("IMAP", "connect"), ("IMAPS", "tls"), ("POP3S", "tls"),
                                               ("SMTP", "connect"), ("SMTPS", "tls")])
def test_cancel_closes_a_hanging_connection_at_once_and_says_cancelled(protocol, stage):
    import threading
    import time

    from desktop.usage.cancel import Cancellation

    with socket.socket() as listener:  # accepts (the kernel does) and never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        cancel = Cancellation()
        results = []
        worker = threading.Thread(target=lambda: results.append(
            check_mail_account(account(protocol=protocol, port=port), lambda: TOKEN, timeout=30, cancel=cancel)))
        started = time.monotonic()
        worker.start()
        time.sleep(0.3)  # connected, waiting for the greeting or the TLS handshake
        cancel.cancel()
        worker.join(5)
        elapsed = time.monotonic() - started
    assert not worker.is_alive() and elapsed < 5  # not the 30 s time-out
    [result] = results
    assert (result.ok, result.cancelled, result.stage) == (False, True, stage)
    assert result.summary == "Cancelled; the connection was closed."
    assert str(result.transcript[-1]).endswith("Cancelled; the connection was closed")


def test_cancelled_before_connecting_never_connects():
    from desktop.usage.cancel import Cancellation

    cancel = Cancellation()

    def token() -> str:
        cancel.cancel()  # the admin pressed Cancel while the token was being fetched
        return TOKEN

    result = check_mail_account(account(port=free_port()), token, timeout=2, cancel=cancel)
    assert result.cancelled and result.stage == "token"
    assert not any("Connecting" in str(line) for line in result.transcript)


# ---- unencrypted to another host: refused at connect time too (accounts stored before the rule)
@pytest.mark.parametrize("protocol", ["IMAP", "POP3"])
def test_plain_text_to_another_host_is_refused_before_any_token_or_connection(protocol):
    asked = []

    def token() -> str:
        asked.append(1)
        return TOKEN

    result = check_mail_account(account(name="Old", protocol=protocol, host="192.0.2.10"), token, timeout=2)
    assert (result.ok, result.stage, result.table_text()) == (False, "refused", "refused (unencrypted)")
    assert result.summary.startswith(f"{protocol} is unencrypted: the token would travel in clear text to 192.0.2.10.")
    assert "tokendesk mail edit 'Old' --allow-plaintext" in result.hint
    assert asked == [] and not any("Connecting" in str(line) for line in result.transcript)


def test_the_explicit_choice_lets_the_test_connect():
    asked = []

    def token() -> str:
        asked.append(1)
        return TOKEN

    result = check_mail_account(account(protocol="IMAP", host="192.0.2.10", allow_plaintext=True), token,
                                timeout=0.3)
    assert asked == [1] and result.stage == "connect"  # TEST-NET: no answer, but it was tried
    assert "clear text to 192.0.2.10" in result.transcript_text()


def test_a_stored_old_account_is_refused_by_the_service_and_the_cli(ctx, offline_config, capsys):
    from desktop.cli import main
    from desktop.cli.common import EXIT_USAGE
    from desktop.usage.service import UsageService

    cfg = offline_config()
    ctx.store.conn.execute(
        "INSERT INTO mail_account(name, name_key, protocol, host, port, login, config_id, mechanism, ca_file, "
        "create_time, change_time) VALUES ('Old POP3', 'old pop3', 'POP3', 'pop.lan', NULL, 'a', ?, 'XOAUTH2', '', "
        "'2024-01-01 00:00:00', '2024-01-01 00:00:00')", (cfg.id,))
    asked = []
    result = UsageService(ctx, tokens=lambda name: asked.append(name) or TOKEN).test_mail_account("Old POP3")
    assert result.stage == "refused" and asked == []
    code = main(["mail", "test", "Old POP3"], context_factory=lambda: ctx)
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE
    assert "FAILED: POP3 is unencrypted: the token would travel in clear text to pop.lan." in out
    assert "tokendesk mail edit 'Old POP3' --allow-plaintext" in err


# ---- every secret in use is redacted: the client secret too
def test_the_client_secret_is_redacted_from_a_token_failure(ctx, offline_config):
    from desktop.usage.service import UsageService

    secret = "cs-9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c"
    cfg = ctx.templates.require("Generic OAuth2").new_configuration("Chatty provider")
    cfg.client_id = "client"
    for endpoint in ("AuthorizationCode", "TokenByAuthorizationCode", "TokenByRefreshToken"):
        cfg.set_endpoint(endpoint, "https://login.example.test/x")
    ctx.configurations.add(cfg, secret)
    from desktop.usage.repository import UsageRepository

    UsageRepository(ctx.store).add_mail_account(account(name="Chatty", protocol="IMAPS", config_name="Chatty provider"))

    def tokens(name: str) -> str:
        raise TokenUnavailable(f"The provider said: invalid_client (client_secret={secret[:24]}...)", "token")

    result = UsageService(ctx, tokens=tokens).test_mail_account("Chatty")
    shown = result.summary + result.transcript_text()
    assert secret[:16] not in shown and "client_secret=<redacted client secret>..." in result.summary
