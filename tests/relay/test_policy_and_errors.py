"""The relay's rules on their own (listen address, throttle, hints) and upstream refusals in plain words: an
upstream that answers as Exchange Online does with SMTP AUTH turned off (a stub, from Microsoft's documented
replies: 535 5.7.139 / 535 5.7.3), and an upstream that is down."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from desktop.relay.devices import DeviceRepository
from desktop.relay.log import MessageLog
from desktop.relay.policy import AuthThrottle, ListenError, needs_tls, parse_listen, upstream_hint
from desktop.usage.accounts import MailAccount
from desktop.usage.repository import UsageRepository

EXCHANGE_139 = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
                "Visit https://aka.ms/smtp_auth_disabled for more information.")
EXCHANGE_3 = "535 5.7.3 Authentication unsuccessful"


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:2525", ("127.0.0.1", 2525)), (":2526", ("127.0.0.1", 2526)), ("[::1]:25", ("::1", 25)),
    ("0.0.0.0:587", ("0.0.0.0", 587)), ("", ("127.0.0.1", 2525)),
])
def test_listen_addresses(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize(("text", "words"), [("127.0.0.1", "has no port"), ("h:x", "is not a port"),
                                             ("h:70000", "between 1 and 65535")])
def test_bad_listen_addresses_say_how_to_write_one(text, words):
    with pytest.raises(ListenError, match=words):
        parse_listen(text)


def test_only_loopback_listens_without_tls():
    assert not needs_tls("127.0.0.1") and not needs_tls("127.0.0.2") and not needs_tls("::1")
    assert not needs_tls("localhost")
    assert needs_tls("0.0.0.0") and needs_tls("192.168.1.10") and needs_tls("::") and needs_tls("relay.lan")


def test_the_throttle_doubles_and_locks_out_then_forgets():
    now = [0.0]
    throttle = AuthThrottle(base_delay=1, max_delay=4, lockout_after=4, window=60, clock=lambda: now[0])
    assert [throttle.failed("10.0.0.5") for _ in range(4)] == [1, 2, 4, 4]
    assert throttle.locked_out("10.0.0.5") == 60 and throttle.locked_out("10.0.0.6") == 0
    now[0] = 61
    assert throttle.locked_out("10.0.0.5") == 0 and throttle.failed("10.0.0.5") == 1
    throttle.succeeded("10.0.0.5")
    assert throttle.failed("10.0.0.5") == 1


def test_hints_name_what_to_do():
    assert "SMTP AUTH is disabled for the mailbox a@b.test (Exchange 5.7.139)" in upstream_hint(
        535, EXCHANGE_139, "a@b.test", "smtp.office365.com")
    assert "Exchange 5.7.3)" in upstream_hint(535, EXCHANGE_3, "a@b.test", "smtp.office365.com")
    assert upstream_hint(535, "535 5.7.8 Username and token not accepted", "a@b.test", "h",
                         "The token was issued to x@b.test.").startswith("The token was issued to x@b.test. h rejected")
    assert "could not be reached" in upstream_hint(None, "refused", "a@b.test", "h")
    assert "request a new token" in upstream_hint(None, "no token", "a@b.test", "h", stage="token")
    assert "set the CA file" in upstream_hint(None, "not trusted", "a@b.test", "h", stage="tls")
    assert upstream_hint(250, "ok", "a@b.test", "h") == ""


# ---- an upstream stub that answers like Exchange with SMTP AUTH disabled
@pytest.fixture
def exchange(tmp_path):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.servers.dovecot import free_ports, make_test_pki

    pki = make_test_pki(tmp_path / "pki")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert_file, pki.key_file)

    class Handler:
        reply = EXCHANGE_139
        attempts = 0

        async def auth_XOAUTH2(self, server, args):  # noqa: N802
            Handler.attempts += 1
            return AuthResult(success=False, handled=False, message=Handler.reply)

    port = free_ports(1)[0]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_require_tls=True, auth_exclude_mechanism=["LOGIN", "PLAIN"])
    controller.start()
    yield Handler, port, pki.ca_file
    controller.stop()


@pytest.fixture
def relay_to(ctx, make_config, relay_factory):
    def factory(port: int, ca_file: str, **options):
        cfg = make_config("Exchange")
        UsageRepository(ctx.store).add_mail_account(MailAccount(
            name="Exchange mail", protocol="SMTP", host="127.0.0.1", port=port, login="printer@contoso.test",
            config_id=cfg.id, ca_file=str(ca_file)))
        password = DeviceRepository(ctx.store).add("printer", "Exchange mail")[1]
        options.setdefault("tokens", lambda name: "a-token-from-tokendesk")
        return relay_factory(**options), password

    return factory


def _send(port: int, password: str) -> smtplib.SMTPResponseException:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "printer@contoso.test", "boss@contoso.test", "Scan"
    msg.set_content("x")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.login("printer", password)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(msg)
    return refused.value


@pytest.mark.parametrize(("reply", "code"), [(EXCHANGE_139, "5.7.139"), (EXCHANGE_3, "5.7.3")])
def test_smtp_auth_disabled_at_exchange_is_explained(ctx, exchange, relay_to, run_cli, reply, code):
    handler, port, ca_file = exchange
    handler.reply = reply
    relay, password = relay_to(port, ca_file)
    refused = _send(relay.port, password)
    assert refused.smtp_code == 451 and b"could not sign in upstream" in refused.smtp_error  # the device keeps it
    assert handler.attempts == 2  # the token once more, then the device is told to try later
    entry = MessageLog(ctx.store).recent(1)[0]
    assert not entry.ok and code in entry.answer
    assert f"SMTP AUTH is disabled for the mailbox printer@contoso.test (Exchange {code})" in entry.hint
    assert relay.stats.errors[0].hint == entry.hint and relay.stats.failed == 1
    out = run_cli("relay", "status")
    assert "Last errors:" in out and code in out and "What to do: SMTP AUTH is disabled" in out
    assert "a-token-from-tokendesk" not in out + entry.answer + entry.hint


def test_an_upstream_that_is_down_gets_a_temporary_answer_and_a_hint(ctx, relay_to, run_cli):
    from tests.servers.dovecot import free_ports

    relay, password = relay_to(free_ports(1)[0], "")
    refused = _send(relay.port, password)
    assert refused.smtp_code == 451 and b"cannot be reached" in refused.smtp_error
    out = run_cli("relay", "status")
    assert "cannot be reached" in out
    assert "What to do: 127.0.0.1 could not be reached: check the network, and the mail account's host and port" in out
    assert "they keep their messages" in out


@pytest.fixture
def run_cli(ctx, capsys):
    from desktop.cli import main

    def invoke(*argv: str) -> str:
        capsys.readouterr()
        assert main(list(argv), context_factory=lambda: ctx) == 0
        return capsys.readouterr().out

    return invoke
