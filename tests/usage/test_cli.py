"""``tokendesk mail ...``, ``tokendesk invoker ...`` and ``tokendesk invoke`` (fast lane and real servers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.cli.common import EXIT_NOT_FOUND, EXIT_REAUTH, EXIT_USAGE
from desktop.usage.repository import UsageRepository
from tests.servers.dovecot import MAIL_USER

ROOT = Path(__file__).resolve().parents[2]



def test_add_list_edit_delete_mail_account(run, offline_config, ctx):
    offline_config()
    code, out, _ = run("mail", "add", "Support IMAP", "--protocol", "imaps", "--host", "imap.example.org",
                       "--login", "support@example.org", "--config", "Support mailbox")
    assert code == 0
    assert "Added mail account 'Support IMAP': IMAPS imap.example.org:993 as support@example.org" in out
    code, out, _ = run("mail", "list")
    assert out.splitlines()[1].split() == ["Support", "IMAP", "IMAPS", "imap.example.org:993", "support@example.org",
                                           "Support", "mailbox", "XOAUTH2", "never"]
    code, out, _ = run("mail", "edit", "support imap", "--port", "10993", "--mechanism", "oauthbearer",
                       "--rename", "Helpdesk IMAP")
    assert code == 0
    code, out, _ = run("mail", "list", "--json")
    assert json.loads(out) == [{"name": "Helpdesk IMAP", "protocol": "IMAPS", "host": "imap.example.org",
                                "port": 10993, "login": "support@example.org", "configuration": "Support mailbox",
                                "mechanism": "OAUTHBEARER", "ca_file": "", "allow_plaintext": False,
                                "last_test": None}]
    code, out, _ = run("mail", "delete", "Helpdesk IMAP")
    assert code == 0 and UsageRepository(ctx.store).list_mail_accounts() == []


def test_bad_input_lists_every_problem_and_saves_nothing(run, offline_config, ctx):
    offline_config("Paused", valid_id=3)
    code, _, err = run("mail", "add", "X", "--protocol", "POP3S", "--host", "pop.example.org:995", "--login", "a",
                       "--config", "Paused")
    assert code == EXIT_USAGE
    assert "Host: must be a host name" in err
    assert "Token configuration: 'Paused' is invalid-temporarily" in err
    assert UsageRepository(ctx.store).list_mail_accounts() == []


def test_plain_text_to_another_host_needs_allow_plaintext_and_is_shown(run, offline_config, ctx):
    offline_config()
    repo = UsageRepository(ctx.store)
    args = ["--protocol", "IMAP", "--host", "mail.lan", "--login", "a@b.c", "--config", "Support mailbox"]
    code, _, err = run("mail", "add", "LAN IMAP", *args)
    assert code == EXIT_USAGE
    assert "Protocol: IMAP is unencrypted: the token would travel in clear text to mail.lan." in err
    assert "--allow-plaintext" in err and repo.list_mail_accounts() == []
    code, out, err = run("mail", "add", "LAN IMAP", *args, "--allow-plaintext")
    assert code == 0, err
    assert repo.get_mail_account("LAN IMAP").allow_plaintext
    code, out, _ = run("mail", "list")
    assert out.splitlines()[1].split()[:5] == ["LAN", "IMAP", "IMAP", "(unencrypted,", "allowed)"]
    assert json.loads(run("mail", "list", "--json")[1])[0]["allow_plaintext"] is True
    code, out, _ = run("mail", "show", "lan imap")
    assert code == 0
    assert "Unencrypted:          allowed to mail.lan (--allow-plaintext)" in out.splitlines()
    assert json.loads(run("mail", "show", "LAN IMAP", "--json")[1])["allow_plaintext"] is True
    # the choice is for this host: another host must be allowed again, and nothing is lost meanwhile
    code, _, err = run("mail", "edit", "LAN IMAP", "--host", "other.lan")
    assert code == EXIT_USAGE and "clear text to other.lan" in err
    assert repo.get_mail_account("LAN IMAP").host == "mail.lan"
    assert run("mail", "edit", "LAN IMAP", "--host", "other.lan", "--allow-plaintext")[0] == 0
    code, _, err = run("mail", "edit", "LAN IMAP", "--no-allow-plaintext")
    assert code == EXIT_USAGE and repo.get_mail_account("LAN IMAP").allow_plaintext
    assert run("mail", "edit", "LAN IMAP", "--protocol", "IMAPS", "--no-allow-plaintext")[0] == 0
    code, out, _ = run("mail", "show", "LAN IMAP")
    assert "Unencrypted:          no (TLS from the first byte)" in out.splitlines()
    code, _, err = run("mail", "show", "Nope")
    assert code == EXIT_NOT_FOUND and "No mail account named 'Nope'" in err


def test_not_found_exit_code(run):
    code, _, err = run("mail", "test", "Nope")
    assert code == EXIT_NOT_FOUND and "No mail account named 'Nope'" in err
    code, _, err = run("invoke", "Nope")
    assert code == EXIT_NOT_FOUND and "tokendesk invoker list" in err


def test_invoker_add_with_headers_and_body_file(run, offline_config, ctx, tmp_path):
    offline_config()
    body = tmp_path / "body.json"
    body.write_text('{"title": "From a file"}')
    code, out, err = run("invoker", "add", "Ticket API", "--url", "https://api.example.org/tickets", "--method",
                         "post", "-H", "Authorization: Bearer <OTRS_OAUTH2_TOKEN>", "-H", "X-Tenant: acme",
                         "--body-file", str(body), "--config", "Support mailbox")
    assert code == 0, err
    saved = UsageRepository(ctx.store).get_invoker("Ticket API")
    assert saved.headers == [("Authorization", "Bearer <OTRS_OAUTH2_TOKEN>"), ("X-Tenant", "acme")]
    assert (saved.method, saved.body) == ("POST", '{"title": "From a file"}')
    code, _, err = run("invoker", "edit", "Ticket API", "-H", "Accept: application/json")
    assert code == EXIT_USAGE and "no header contains <OTRS_OAUTH2_TOKEN>" in err
    assert UsageRepository(ctx.store).get_invoker("Ticket API").headers[1] == ("X-Tenant", "acme")


def test_deleting_a_configuration_in_use_is_refused_by_the_cli(run, offline_config):
    offline_config()
    run("mail", "add", "Support IMAP", "--protocol", "IMAPS", "--host", "imap.example.org", "--login", "a@b.c",
        "--config", "Support mailbox")
    code, _, err = run("delete", "Support mailbox")
    assert code != 0 and "used by mail account 'Support IMAP'" in err


def test_the_usage_commands_import_no_qt(tokendesk_home):
    code = ("import sys; from desktop.cli import main; rc = main(['mail', 'list']); rc2 = main(['invoker', 'list']);"
            "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'httpx', 'imaplib')));"
            "print(rc, rc2, bad)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "TOKENDESK_HOME": str(tokendesk_home), "PYTHON_KEYRING_BACKEND":
                               "keyring.backends.null.Keyring"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 0 []"


# ---- against the real servers
@pytest.mark.realserver
def test_mail_test_shows_the_inbox_count_from_dovecot(run, ctx, provider, dovecot):
    cfg, pair = provider()
    code, _, err = run("mail", "add", "Dovecot", "--protocol", "IMAP+STARTTLS", "--host", "127.0.0.1", "--port",
                       str(dovecot.imap_port), "--login", MAIL_USER, "--config", cfg.name,
                       "--ca-file", str(dovecot.ca_file))
    assert code == 0, err
    code, out, err = run("mail", "test", "Dovecot")
    assert code == 0, out + err
    assert out.splitlines()[-1] == f"OK: Signed in as {MAIL_USER}; INBOX holds 3 messages."
    assert "C: <redacted XOAUTH2 string>" in out
    assert pair["access_token"] not in out + err
    code, out, _ = run("mail", "test", "Dovecot", "--json")
    data = json.loads(out)
    assert data["ok"] is True and data["message_count"] == 3
    assert pair["access_token"] not in out
    # the outcome is kept with the account (the window's "Last test" column shows it too)
    code, out, _ = run("mail", "list")
    assert out.splitlines()[0].endswith("LAST TEST") and "OK, 3 messages (" in out.splitlines()[1]
    [listed] = json.loads(run("mail", "list", "--json")[1])
    assert (listed["last_test"]["ok"], listed["last_test"]["text"]) == (True, "OK, 3 messages")


@pytest.mark.realserver
def test_mail_test_exit_code_when_the_token_must_be_requested_again(run, ctx, provider, dovecot, oauth):
    cfg, pair = provider(expires_in=-5)
    oauth.revoke_token(pair["refresh_token"])
    run("mail", "add", "Dovecot", "--protocol", "IMAPS", "--host", "127.0.0.1", "--port", str(dovecot.imaps_port),
        "--login", MAIL_USER, "--config", cfg.name, "--ca-file", str(dovecot.ca_file))
    code, out, err = run("mail", "test", "Dovecot", "-q")
    assert code == EXIT_REAUTH
    assert out.startswith("FAILED: ") and "Request a new token" in err
    [listed] = json.loads(run("mail", "list", "--json")[1])
    assert (listed["last_test"]["ok"], listed["last_test"]["text"]) == (False, "failed (token)")


@pytest.mark.realserver
def test_invoke_prints_the_exchange_with_the_token_redacted(run, ctx, provider, http_api):
    cfg, pair = provider()
    run("invoker", "add", "Ticket API", "--url", http_api.url("/api/tickets"), "--config", cfg.name)
    code, out, err = run("invoke", "Ticket API")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"> GET {http_api.url('/api/tickets')}"
    assert "> Authorization: Bearer <redacted access token>" in lines
    assert any(line.startswith("< 200 OK") for line in lines)
    assert '  "authorization_seen": "Bearer <redacted access token>"' in lines
    assert pair["access_token"] not in out
    code, out, _ = run("invoker", "list")
    assert "200 OK (" in out.splitlines()[1] and out.splitlines()[0].endswith("LAST CALL")
