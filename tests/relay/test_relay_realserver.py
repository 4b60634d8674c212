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


@pytest.mark.parametrize(("protocol", "mechanism"), [("SMTP", "XOAUTH2"), ("SMTPS", "OAUTHBEARER")])
def test_a_device_message_arrives_upstream_with_the_token(ctx, mail_account, relay_factory, smtp, oauth, protocol,
                                                          mechanism):
    from desktop.usage.repository import UsageRepository

    account, pair = mail_account
    port = smtp.starttls_port if protocol == "SMTP" else smtp.smtps_port
    UsageRepository(ctx.store).update_mail_account(account.copy(protocol=protocol, port=port, mechanism=mechanism))
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
    assert smtp.attempts == [(mechanism, MAIL_USER, True)]
    assert len(oauth.requests("/token")) == token_requests  # a valid token was used, none requested
    entry = MessageLog(ctx.store).recent(1)[0]
    assert (entry.device, entry.sender, entry.recipients, entry.ok) == ("scanner", MAIL_USER,
                                                                        ["someone@example.org"], True)
    assert entry.size > 0 and entry.answer.startswith("250")
    assert pair["access_token"] not in repr(MessageLog(ctx.store).recent(10))


# ---- never an open relay
def test_a_wrong_password_is_refused_and_throttled(ctx, mail_account, relay_factory, smtp):
    import time

    password = device(ctx)
    relay = relay_factory()
    waits = []
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.ehlo()
        for login, word in [("scanner", password + "x"), ("scanner", ""), ("nobody", password)]:
            started = time.monotonic()
            code, text = client.docmd("AUTH", "PLAIN " + _plain(login, word))
            waits.append(time.monotonic() - started)
            assert (code, text) == (535, b"5.7.8 Wrong device name or password")
        with pytest.raises(smtplib.SMTPAuthenticationError):  # smtplib tries PLAIN, then LOGIN: 2 more failures
            client.login("scanner", "guess")
    assert waits[0] >= 0.05 and waits[1] >= 0.1 and waits[2] >= 0.2  # 0.05, 0.1, 0.2 s (the fixture's throttle)
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:  # 5 failures from this address: locked out
        client.ehlo()
        code, text = client.docmd("AUTH", "PLAIN " + _plain("scanner", password))  # even the right password
        assert code == 454 and b"Too many wrong passwords" in text
    assert smtp.messages == [] and relay.stats.refused_logins == 5


def _plain(login: str, password: str) -> str:
    import base64

    return base64.b64encode(f"\0{login}\0{password}".encode()).decode()


def test_an_unauthenticated_sender_is_refused(ctx, mail_account, relay_factory, smtp):
    device(ctx)
    relay = relay_factory()
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(message())
        assert refused.value.smtp_code == 530
    assert smtp.messages == []


def test_a_foreign_sender_is_refused_an_alias_is_not(ctx, mail_account, relay_factory, smtp):
    password = device(ctx, aliases=["scans@example.test"])
    relay = relay_factory()
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.login("scanner", password)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(message(sender="ceo@example.test"))
        assert refused.value.smtp_code == 553
        assert b"may send only as tokendesk-user@example.test, scans@example.test" in refused.value.smtp_error
        client.rset()
        assert client.send_message(message(sender="Scans <scans@example.test>")) == {}
    assert [m["from"] for m in smtp.messages] == ["scans@example.test"]


def test_the_rate_limit_counts_per_device_and_hour(ctx, mail_account, relay_factory, smtp):
    password = device(ctx)
    other = device(ctx, "copier")
    relay = relay_factory(per_hour=3)
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.login("scanner", password)
        for i in range(3):
            client.send_message(message(subject=f"Scan {i}"))
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(message(subject="one too many"))
        assert refused.value.smtp_code == 451 and b"may send 3 messages an hour" in refused.value.smtp_error
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:  # another device has its own count
        client.login("copier", other)
        client.send_message(message(subject="Copy"))
    relay.stop()
    restarted = relay_factory(per_hour=3)  # the count comes from the log: a restart forgets nothing
    with smtplib.SMTP("127.0.0.1", restarted.port, timeout=30) as client:
        client.login("scanner", password)
        with pytest.raises(smtplib.SMTPSenderRefused):
            client.send_message(message(subject="after restart"))
    assert [m["data"].split(b"Subject: ")[1].split(b"\r\n")[0] for m in smtp.messages] == [
        b"Scan 0", b"Scan 1", b"Scan 2", b"Copy"]


def test_parallel_connections_cannot_slip_past_the_rate_limit(ctx, mail_account, relay_factory, smtp):
    from concurrent.futures import ThreadPoolExecutor

    password = device(ctx)
    relay = relay_factory(per_hour=5)

    def send(i: int) -> int:
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=60) as client:
            client.login("scanner", password)
            try:
                client.send_message(message(subject=f"Scan {i}"))
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                assert exc.smtp_code == 451
                return 0
            return 1

    with ThreadPoolExecutor(8) as pool:
        sent = sum(pool.map(send, range(12)))
    assert sent == 5 == len(smtp.messages)


def test_on_a_network_address_auth_needs_starttls_first(ctx, mail_account, relay_factory, smtp):
    """The relay listens on 0.0.0.0 (every address of this machine, so not loopback) and the test connects through
    127.0.0.1: the rule is about where the relay listens, not where a client comes from."""
    import ssl

    from desktop.relay.tls import certificate

    password = device(ctx)
    cert = certificate(listen_host="0.0.0.0")
    relay = relay_factory(host="0.0.0.0", certificate=cert)
    assert relay.tls
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.ehlo()
        assert "starttls" in client.esmtp_features and "auth" not in client.esmtp_features
        code, text = client.docmd("AUTH", "PLAIN " + _plain("scanner", password))
        assert code == 530 and b"STARTTLS" in text
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(message())
        assert refused.value.smtp_code == 530
    pinned = ssl.create_default_context(cafile=str(cert.cert_file))
    pinned.check_hostname = False  # a device that pins the fingerprint; the SHA-256 is compared below
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.starttls(context=pinned)
        der = client.sock.getpeercert(binary_form=True)
        import hashlib

        assert ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest()) == cert.fingerprint
        client.login("scanner", password)
        assert client.send_message(message()) == {}
    assert len(smtp.messages) == 1


def test_a_network_address_without_a_certificate_does_not_start(ctx):
    from desktop.relay.server import RelayServer, RelayStartError

    with pytest.raises(RelayStartError, match="needs STARTTLS"):
        RelayServer(ctx, listen="0.0.0.0:2599").start()


def test_an_8bit_utf8_message_arrives_as_sent(ctx, mail_account, relay_factory, smtp):
    password = device(ctx)
    relay = relay_factory()
    msg = message(subject="Grüße aus dem Scanner", body="Überweisung für Müller – 3 Seiten\n")
    raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n", utf8=True))
    assert "Grüße".encode() in raw  # 8-bit, not encoded words
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.login("scanner", password)
        assert client.sendmail(MAIL_USER, ["archive@example.org"], raw, mail_options=["BODY=8BITMIME"]) == {}
    assert smtp.messages[0]["data"] == raw


def test_a_refused_token_echoed_by_the_upstream_shows_nowhere(ctx, mail_account, relay_factory, smtp, oauth, capsys,
                                                              caplog, run_status):
    import base64

    _account, pair = mail_account
    token = pair["access_token"]
    oauth.revoke_token(token)
    smtp.handler.echo = True  # a careless server: the refused token in its 535 reply, wrapped, base64, URL-encoded
    password = device(ctx)
    relay = relay_factory()
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.login("scanner", password)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(message())
    told = refused.value.smtp_error.decode()
    assert refused.value.smtp_code == 451 and "could not sign in upstream" in told
    entry = MessageLog(ctx.store).recent(1)[0]
    assert "535" in entry.answer and "Username and token not accepted" in entry.answer
    assert "rejected the token for tokendesk-user@example.test" in entry.hint
    status = run_status()
    seen = " ".join([told, entry.answer, entry.hint, repr(relay.stats.errors), status, caplog.text,
                     *capsys.readouterr()])
    b64 = base64.b64encode(token.encode()).decode()
    middle = len(token) // 2
    for secret in (token, token[-40:], token[middle:middle + 40], b64[-60:]):  # not the JWT header: all tokens share it
        assert secret not in seen
    assert "<redacted access token>" in entry.answer and "<redacted XOAUTH2 string>" in entry.answer


@pytest.fixture
def run_status(ctx, capsys):
    from desktop.cli import main

    def invoke() -> str:
        capsys.readouterr()
        assert main(["relay", "status"], context_factory=lambda: ctx) == 0
        return capsys.readouterr().out

    return invoke
