"""The set-ups of docs/usage-with-other-programs.md, run for real: curl, msmtp, mbsync and getmail6 get their token
from ``tokendesk token NAME`` (the installed command, in a child process) and talk to Dovecot, the
aiosmtpd submission server and the HTTP API, all of which check the token by introspection.

Each program is skipped when it is not installed (Debian: curl, msmtp, isync and, for mbsync's
XOAUTH2, libsasl2-modules-kdexoauth2, getmail6; see scripts/apt-packages.txt).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.servers.dovecot import MAIL_USER
from tests.usage.conftest import point_at, store_tokens

pytestmark = pytest.mark.realserver

NAME = "Mail provider"
TOKEN_CMD = f"tokendesk token '{NAME}'"


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed")
    return path


@pytest.fixture
def shell(ctx, oauth, tokendesk_home, tmp_path, shared_keyring):
    """A signed-in configuration that a *separate process* can read: the vault's key sits in a keyring file
    that the test and its children share (the test's in-memory keyring is invisible to child processes).
    Returns (run(command) -> CompletedProcess, token pair)."""
    cfg = ctx.templates.require("Generic OAuth2").new_configuration(NAME)
    point_at(cfg, oauth)
    saved = ctx.configurations.add(cfg, oauth.client_secret)
    pair = oauth.issue(client_id=oauth.client_id, user=MAIL_USER, scope=cfg.scope)
    store_tokens(ctx, saved.id, pair["access_token"], pair["refresh_token"], 3600)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "TOKENDESK_HOME": str(tokendesk_home), "HOME": str(tmp_path),
           "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), **shared_keyring[1]}
    if shutil.which("tokendesk", path=env["PATH"]) is None:
        pytest.skip("the tokendesk command is not installed (pip install -e .)")

    def run(command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", command], input=stdin, capture_output=True, text=True, timeout=60,
                              env=env, cwd=tmp_path)

    probe = run(TOKEN_CMD)
    assert probe.returncode == 0 and probe.stdout.strip() == pair["access_token"], probe.stderr
    return run, pair


def test_curl_lists_the_mailbox_with_the_token(shell, dovecot):
    need("curl")
    run, _ = shell
    ca = dovecot.ca_file
    listing = run(f'curl -sS --ssl-reqd --cacert {ca} --login-options AUTH=XOAUTH2 -u "{MAIL_USER}:" '
                  f'--oauth2-bearer "$({TOKEN_CMD})" imap://127.0.0.1:{dovecot.imap_port}/')
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.strip() == '* LIST (\\HasNoChildren) "." INBOX'
    examine = run(f'curl -sS --cacert {ca} --login-options AUTH=XOAUTH2 -u "{MAIL_USER}:" '
                  f'--oauth2-bearer "$({TOKEN_CMD})" -X "EXAMINE INBOX" imaps://127.0.0.1:{dovecot.imaps_port}/')
    assert examine.returncode == 0 and "* 3 EXISTS" in examine.stdout
    pop = run(f'curl -sS --cacert {ca} --login-options AUTH=OAUTHBEARER -u "{MAIL_USER}:" '
              f'--oauth2-bearer "$({TOKEN_CMD})" pop3s://127.0.0.1:{dovecot.pop3s_port}/')
    assert pop.returncode == 0 and len(pop.stdout.strip().splitlines()) == 3


def test_curl_is_refused_with_a_revoked_token(shell, dovecot, oauth):
    need("curl")
    run, pair = shell
    oauth.revoke_token(pair["access_token"])
    result = run(f'curl -sS --cacert {dovecot.ca_file} --login-options AUTH=XOAUTH2 -u "{MAIL_USER}:" '
                 f'--oauth2-bearer "$({TOKEN_CMD})" imaps://127.0.0.1:{dovecot.imaps_port}/')
    assert result.returncode == 67  # CURLE_LOGIN_DENIED


def test_curl_sends_mail(shell, smtp, tmp_path):
    need("curl")
    run, _ = shell
    message = tmp_path / "message.txt"
    message.write_text("Subject: curl and Tokendesk\r\n\r\nHello.\r\n")
    result = run(f'curl -sS --ssl-reqd --cacert {smtp.ca_file} --login-options AUTH=XOAUTH2 -u "{MAIL_USER}:" '
                 f'--oauth2-bearer "$({TOKEN_CMD})" --mail-from {MAIL_USER} --mail-rcpt colleague@example.test '
                 f'--upload-file {message} smtp://127.0.0.1:{smtp.starttls_port}')
    assert result.returncode == 0, result.stderr
    # curl 7.88 prefers OAUTHBEARER for SMTP when the server offers it, whatever --login-options says
    assert [(login, ok) for _mech, login, ok in smtp.attempts] == [(MAIL_USER, True)]
    assert b"curl and Tokendesk" in smtp.messages[0]["data"]


def test_curl_calls_the_web_service(shell, http_api):
    need("curl")
    run, _ = shell
    result = run(f'curl -sS --oauth2-bearer "$({TOKEN_CMD})" {http_api.url("/api/tickets")}')
    assert result.returncode == 0, result.stderr
    assert f'"user": "{MAIL_USER}"' in result.stdout
    header = run(f'curl -sS -H "$(tokendesk token \'{NAME}\' --format header)" {http_api.url("/api/tickets")}')
    assert f'"user": "{MAIL_USER}"' in header.stdout


@pytest.mark.parametrize(("auth", "tls_starttls"), [("xoauth2", "on"), ("oauthbearer", "off")])
def test_msmtp_sends_with_passwordeval(shell, smtp, tmp_path, auth, tls_starttls):
    need("msmtp")
    run, _ = shell
    port = smtp.starttls_port if tls_starttls == "on" else smtp.smtps_port
    rc = tmp_path / "msmtprc"
    rc.write_text(
        "defaults\ntls on\n"
        f"tls_trust_file {smtp.ca_file}\n\n"
        "account tokendesk\n"
        f"host 127.0.0.1\nport {port}\ntls_starttls {tls_starttls}\n"
        f"auth {auth}\nuser {MAIL_USER}\nfrom {MAIL_USER}\n"
        f'passwordeval "{TOKEN_CMD}"\n'
    )
    rc.chmod(0o600)
    result = run(f"msmtp -C {rc} -a tokendesk colleague@example.test",
                 stdin="Subject: Sent with a Tokendesk token\n\nHello.\n")
    assert result.returncode == 0, result.stderr
    assert smtp.attempts == [(auth.upper(), MAIL_USER, True)]
    assert len(smtp.messages) == 1 and smtp.messages[0]["to"] == ["colleague@example.test"]
    assert b"Sent with a Tokendesk token" in smtp.messages[0]["data"]


def test_mbsync_fetches_the_inbox_with_passcmd(shell, dovecot, tmp_path):
    need("mbsync")
    if not any(Path(d).glob("libkdexoauth2.so*") or Path(d).glob("libxoauth2.so*")
               for d in ("/usr/lib/x86_64-linux-gnu/sasl2", "/usr/lib/sasl2", "/usr/lib64/sasl2")):
        pytest.skip("no Cyrus SASL XOAUTH2 plugin (Debian: libsasl2-modules-kdexoauth2)")
    run, _ = shell
    local = tmp_path / "mail"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        # isync 1.4 checks the certificate's DNS names only, so the host is "localhost", not 127.0.0.1
        f"IMAPAccount tokendesk\nHost localhost\nPort {dovecot.imaps_port}\nUser {MAIL_USER}\n"
        f'PassCmd "{TOKEN_CMD}"\nAuthMechs XOAUTH2\nSSLType IMAPS\nCertificateFile {dovecot.ca_file}\n\n'
        "IMAPStore tokendesk-remote\nAccount tokendesk\n\n"
        f"MaildirStore tokendesk-local\nPath {local}/\nInbox {local}/INBOX\n\n"
        "Channel tokendesk\nFar :tokendesk-remote:\nNear :tokendesk-local:\nPatterns INBOX\nCreate Near\n"
        "SyncState *\n"
    )
    result = run(f"mbsync -c {rc} tokendesk")
    assert result.returncode == 0, result.stderr
    assert len(list((local / "INBOX" / "cur").iterdir())) == dovecot.inbox_count == 3


def test_getmail_fetches_the_inbox_with_password_command(shell, dovecot, tmp_path):
    """getmail6 (Debian's getmail): IMAPS with use_xoauth2 and the token from password_command. (fetchmail 6.4
    in Debian 12 has no OAuth2 mechanism at all; see the docs.)"""
    need("getmail")
    run, _ = shell
    as_root = ""
    local = tmp_path / "maildir"
    if os.geteuid() == 0:
        # getmail refuses to deliver as root (CI): it delivers as nobody, into a maildir nobody can reach
        # (pytest's own temporary folders are private to root)
        as_root = "user = nobody\n"
        local = Path(tempfile.mkdtemp(prefix="tokendesk-getmail-")) / "maildir"
        nobody = pwd.getpwnam("nobody")
        os.chmod(local.parent, 0o755)
    for sub in ("cur", "new", "tmp"):
        (local / sub).mkdir(parents=True)
    if as_root:
        for path in (local, *local.iterdir()):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
    getmail_dir = tmp_path / "getmail"
    getmail_dir.mkdir()
    (getmail_dir / "getmailrc").write_text(
        "[retriever]\ntype = SimpleIMAPSSLRetriever\nserver = localhost\n"
        f"port = {dovecot.imaps_port}\nusername = {MAIL_USER}\nuse_xoauth2 = True\n"
        f'password_command = ("tokendesk", "token", "{NAME}")\nca_certs = {dovecot.ca_file}\n'
        'mailboxes = ("INBOX",)\n\n'
        f"[destination]\ntype = Maildir\npath = {local}/\n{as_root}\n"
        "[options]\nread_all = true\ndelete = false\nverbose = 1\n"
    )
    result = run(f"getmail --getmaildir {getmail_dir} --rcfile getmailrc")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((local / "new").iterdir())) == dovecot.inbox_count == 3
    assert "3 messages (" in result.stdout and "retrieved" in result.stdout
    if as_root:
        shutil.rmtree(local.parent)
