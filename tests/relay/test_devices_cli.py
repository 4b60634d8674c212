"""Relay devices and the ``tokendesk relay`` commands that need no server: add (password shown once, stored only
as a hash), list, remove, status; plain-language refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from desktop.relay.devices import DeviceRepository, hash_password, verify_password
from desktop.usage.accounts import MailAccount
from desktop.usage.repository import UsageRepository


@pytest.fixture
def accounts(ctx, make_config):
    cfg = make_config("Office 365")
    repo = UsageRepository(ctx.store)
    repo.add_mail_account(MailAccount(name="Printer mail", protocol="SMTP", host="smtp.office365.com",
                                      login="printer@example.org", config_id=cfg.id))
    repo.add_mail_account(MailAccount(name="Inbox", protocol="IMAPS", host="outlook.office365.com",
                                      login="printer@example.org", config_id=cfg.id))
    return repo


def test_a_password_is_kept_only_as_a_scrypt_hash():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsf", stored)
    assert not verify_password("x", "garbage")


def test_device_add_prints_the_password_alone_on_the_last_line(run, ctx, accounts, tokendesk_home):
    code, out, err = run("relay", "device", "add", "hall-printer", "--account", "printer mail",
                         "--alias", "scans@example.org")
    assert code == 0, err
    password = out.splitlines()[-1]
    assert len(password) == 24 and " " not in password
    assert "sends through 'Printer mail' as printer@example.org, scans@example.org" in out
    device = DeviceRepository(ctx.store).get("HALL-PRINTER")
    assert verify_password(password, device.password_hash)
    files = [p for p in tokendesk_home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" or ".db-" in p.name or p.name.endswith(".sqlite3") for p in files), files
    assert not [p for p in files if password.encode() in p.read_bytes()]
    code, out, _ = run("relay", "device", "list")
    assert code == 0 and "hall-printer" in out and "Printer mail" in out and "scans@example.org" in out
    assert password not in out
    code, out, _ = run("relay", "device", "list", "--json")
    listed = json.loads(out)
    assert listed[0]["name"] == "hall-printer" and listed[0]["senders"] == ["printer@example.org",
                                                                            "scans@example.org"]
    assert "password" not in out


@pytest.mark.parametrize(("argv", "words", "exit_code"), [
    (["relay", "device", "add", "x", "--account", "Nope"], "no mail account named 'Nope'", 2),
    (["relay", "device", "add", "x", "--account", "Inbox"], "is a IMAPS account; the relay sends through an SMTP", 2),
    (["relay", "device", "add", "bad name", "--account", "Printer mail"], "cannot be a device name", 2),
    (["relay", "device", "add", "x", "--account", "Printer mail", "--alias", "nobody"], "is not an e-mail", 2),
    (["relay", "device", "remove", "ghost"], "no relay device named 'ghost'", 3),
])
def test_bad_input_is_refused_in_words_and_changes_nothing(run, ctx, accounts, argv, words, exit_code):
    code, out, err = run(*argv)
    assert code == exit_code and words in err and out == ""
    assert DeviceRepository(ctx.store).list() == []


def test_a_name_twice_is_refused_and_remove_takes_it_away(run, ctx, accounts):
    assert run("relay", "device", "add", "scanner", "--account", "Printer mail")[0] == 0
    code, _, err = run("relay", "device", "add", "Scanner", "--account", "Printer mail")
    assert code == 2 and "exists already" in err
    code, out, _ = run("relay", "device", "remove", "scanner")
    assert code == 0 and "removed" in out
    assert DeviceRepository(ctx.store).list() == []


def test_deleting_the_mail_account_removes_its_devices(run, ctx, accounts):
    assert run("relay", "device", "add", "scanner", "--account", "Printer mail")[0] == 0
    accounts.delete_mail_account("Printer mail")
    assert DeviceRepository(ctx.store).list() == []


def test_status_when_not_running(run, accounts):
    run("relay", "device", "add", "scanner", "--account", "Printer mail")
    code, out, _ = run("relay", "status")
    assert code == 0
    assert "Relay: not running" in out and "127.0.0.1:2525" in out and "100 messages per device and hour" in out
    assert "scanner" in out and "0/0" in out


def test_the_relay_commands_import_no_qt(tokendesk_home):
    code = ("import sys; from desktop.cli import main; main(['relay', 'status']); "
            "main(['relay', 'device', 'list']); import desktop.relay.server, desktop.relay.upstream; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken'))]; "
            "print('QT', bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_serve_on_a_network_address_shows_the_certificate_fingerprint(tokendesk_home, ctx):
    import os
    import signal

    from desktop.relay.tls import fingerprint_of, relay_dir
    from tests.servers.dovecot import free_ports

    port = free_ports(1)[0]
    env = {**os.environ, "TOKENDESK_HOME": str(tokendesk_home)}
    proc = subprocess.Popen([sys.executable, "-m", "desktop", "relay", "serve", "--listen", f"0.0.0.0:{port}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first, second = proc.stdout.readline(), proc.stdout.readline()
        assert f"Relay listening on 0.0.0.0:{port} (STARTTLS required before AUTH)" in first, first
        cert = relay_dir() / "relay-cert.pem"
        assert f"(self-signed, generated); SHA-256 fingerprint {fingerprint_of(cert)}" in second
        assert oct((relay_dir() / "relay-key.pem").stat().st_mode & 0o777) == "0o600"
        again = subprocess.run([sys.executable, "-m", "desktop", "relay", "serve", "--listen", f"0.0.0.0:{port}"],
                               env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 1 and f"0.0.0.0:{port} is in use - is another relay running" in again.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Relay stopped: 0 delivered, 0 failed." in out, err


@pytest.mark.parametrize(("argv", "words"), [
    (["relay", "serve", "--listen", "127.0.0.1"], "has no port"),
    (["relay", "serve", "--cert", "/nonexistent.pem"], "Give both the certificate (--cert) and its private key"),
])
def test_serve_refuses_bad_options_in_words(run, argv, words):
    code, _out, err = run(*argv)
    assert code == 2 and words in err


def test_status_json_for_scripts(run, ctx, accounts):
    from datetime import UTC, datetime

    from desktop.relay.log import LogEntry, MessageLog

    run("relay", "device", "add", "scanner", "--account", "Printer mail")
    MessageLog(ctx.store).record(LogEntry(time=datetime.now(UTC), device="scanner", sender="printer@example.org",
                                          recipients=["a@example.org"], size=1200, ok=False,
                                          answer="535 5.7.139 Authentication unsuccessful", hint="SMTP AUTH is off"))
    code, out, _ = run("relay", "status", "--json")
    data = json.loads(out)
    assert code == 0 and data["running"] is None and data["listen_setting"] == "127.0.0.1:2525"
    assert data["devices"] == [{"name": "scanner", "account": "Printer mail", "senders": ["printer@example.org"],
                                "delivered_24h": 0, "failed_24h": 1}]
    assert data["last_errors"][0]["answer"].startswith("535 5.7.139") and data["last_errors"][0]["size"] == 1200
