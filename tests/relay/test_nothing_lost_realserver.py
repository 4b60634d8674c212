"""Nothing lost: a message is acknowledged only after the upstream accepted it. The upstream down and back; an
expired token renewed once for many messages; a ``tokendesk relay serve`` process SIGKILLed while devices send."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from email.message import EmailMessage

import pytest

from desktop.relay.devices import DeviceRepository
from desktop.relay.log import MessageLog
from tests.relay.conftest import ACCOUNT
from tests.servers.dovecot import MAIL_USER, free_ports

pytestmark = pytest.mark.realserver


def message(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = MAIL_USER, "archive@example.org", subject
    msg.set_content("scanned page\n")
    return msg


def subjects(smtp) -> list[str]:
    return [m["data"].split(b"Subject: ")[1].split(b"\r\n")[0].decode() for m in smtp.messages]


def test_the_upstream_down_and_back(ctx, forwarded_account, forwarder, relay_factory, smtp):
    forwarded_account()
    password = DeviceRepository(ctx.store).add("scanner", ACCOUNT)[1]
    relay = relay_factory()
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.login("scanner", password)
        client.send_message(message("before"))
        forwarder.down()  # a blip: the relay's kept upstream connection is gone, the server is back at once
        forwarder.up()
        client.send_message(message("after a blip"))  # a new upstream connection, before anything was sent
        forwarder.down()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(message("while down"))
        assert refused.value.smtp_code == 451  # temporary: the device keeps the message and tries again
        assert b"cannot be reached; try again later" in refused.value.smtp_error
        forwarder.up()
        client.send_message(message("while down"))  # the device's retry
        client.send_message(message("after"))
    assert subjects(smtp) == ["before", "after a blip", "while down", "after"]
    log = MessageLog(ctx.store).recent(10)
    assert [e.ok for e in reversed(log)] == [True, True, False, True, True]
    assert "could not be reached" in log[2].hint and relay.stats.failed == 1 and relay.stats.delivered == 4


def test_an_expired_token_is_renewed_once_for_many_messages(ctx, forwarded_account, relay_factory, smtp, oauth):
    forwarded_account(expires_in=-60)  # stored token already expired: the refresh token must be used, once
    password = DeviceRepository(ctx.store).add("scanner", ACCOUNT)[1]
    relay = relay_factory()
    before = len(oauth.requests("/token"))
    for i in range(6):
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
            client.login("scanner", password)
            client.send_message(message(f"Scan {i}"))
    token_requests = oauth.requests("/token")[before:]
    assert [r.get("grant_type") for r in token_requests] == ["refresh_token"]
    assert len(smtp.messages) == 6 and all(ok for _m, _l, ok in smtp.attempts)
    assert relay.tokens.fetches == 1
    assert len(smtp.attempts) == 1  # one signed-in upstream connection carried all six


def test_a_killed_relay_loses_nothing_it_acknowledged(ctx, forwarded_account, forwarder, smtp, shared_keyring,
                                                     tokendesk_home, tmp_path):
    forwarded_account()
    passwords = {name: DeviceRepository(ctx.store).add(name, ACCOUNT)[1] for name in ("dev0", "dev1", "dev2")}
    forwarder.delay = 0.15  # upstream connections open slowly and every chunk towards the server waits a little:
    forwarder.chunk_delay = 0.02  # messages are in flight when the kill comes
    env = {**os.environ, "TOKENDESK_HOME": str(tokendesk_home), "HOME": str(tmp_path), **shared_keyring[1]}
    port = free_ports(1)[0]

    def serve() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "desktop", "relay", "serve", "--listen", f"127.0.0.1:{port}"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        assert "Relay listening on 127.0.0.1:" in line, line + proc.stderr.read()
        return proc

    proc = serve()
    acknowledged: set[str] = set()
    unanswered: list[str] = []
    cut_off: list[str] = []  # connected and sending when the relay died (not: refused after it died)
    lock = threading.Lock()
    stop = threading.Event()

    def device(name: str) -> None:
        n = 0
        while not stop.is_set():
            subject = f"{name}-{n}"
            n += 1
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    client.login(name, passwords[name])
                    client.send_message(message(subject))
                with lock:
                    acknowledged.add(subject)
            except (OSError, smtplib.SMTPException) as exc:
                with lock:
                    unanswered.append(subject)
                    if not isinstance(exc, ConnectionRefusedError):
                        cut_off.append(subject)
                if stop.is_set() or proc.poll() is not None:
                    return
                time.sleep(0.05)

    threads = [threading.Thread(target=device, args=(name,)) for name in passwords]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    time.sleep(0.5)  # a connection the relay had opened upstream finishes or is dropped by the server
    delivered = set(subjects(smtp))
    assert len(acknowledged) >= 6
    assert acknowledged <= delivered, acknowledged - delivered  # nothing acknowledged is missing
    assert cut_off, "no message was in flight at the kill"
    # the devices send what was never acknowledged again, to a restarted relay: everything arrives
    proc = serve()
    status = subprocess.run([sys.executable, "-m", "desktop", "relay", "status"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert f"Relay: running on 127.0.0.1:{port} (process {proc.pid}," in status.stdout, status.stdout + status.stderr
    try:
        for subject in unanswered:
            name = subject.split("-")[0]
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.login(name, passwords[name])
                client.send_message(message(subject))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert "Relay stopped:" in out and proc.returncode == 0
    assert acknowledged | set(unanswered) <= set(subjects(smtp))
