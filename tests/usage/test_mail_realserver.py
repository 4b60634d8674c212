"""Connection tests against real servers: Dovecot (IMAP, POP3) and an aiosmtpd submission server,
both validating every token at the real OAuth2 test server's introspection endpoint.

The token comes from the real ``TokenService`` (stored after a sign-in, refreshed when it expires).
"""

from __future__ import annotations

import base64

import pytest

from desktop.usage.accounts import MailAccount
from desktop.usage.connection import check_mail_account
from desktop.usage.repository import UsageRepository
from desktop.usage.sasl import xoauth2_base64
from desktop.usage.service import UsageService
from tests.servers.dovecot import MAIL_USER, OTHER_USER

pytestmark = pytest.mark.realserver


def add_account(ctx, cfg, protocol: str, port: int, *, name: str | None = None, login: str = MAIL_USER,
                mechanism: str = "XOAUTH2", ca_file: str = "", host: str = "127.0.0.1") -> MailAccount:
    return UsageRepository(ctx.store).add_mail_account(MailAccount(
        name=name or f"{protocol} {mechanism}", protocol=protocol, host=host, port=port, login=login,
        config_id=cfg.id, mechanism=mechanism, ca_file=ca_file))


def assert_no_secret(text: str, *secrets: str) -> None:
    """No secret, base64 of it or of the SASL strings, and no 16-character piece of its random part
    (a JWT's signature: its header and claims are base64 JSON that servers' own messages share)."""
    for secret in secrets:
        forms = [secret, base64.b64encode(secret.encode()).decode(), xoauth2_base64(MAIL_USER, secret),
                 xoauth2_base64(OTHER_USER, secret)]
        for form in forms:
            assert form not in text, "a secret is in the transcript"
        random_part = secret.split(".")[-1]
        for i in range(0, max(1, len(random_part) - 15)):
            assert random_part[i:i + 16] not in text, "a piece of a secret is in the transcript"


def imap_port(dovecot, protocol: str) -> int:
    return {"IMAP": dovecot.imap_port, "IMAP+STARTTLS": dovecot.imap_port, "IMAPS": dovecot.imaps_port,
            "POP3": dovecot.pop3_port, "POP3+STARTTLS": dovecot.pop3_port, "POP3S": dovecot.pop3s_port}[protocol]


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
@pytest.mark.parametrize("protocol", ["IMAP", "IMAP+STARTTLS", "IMAPS"])
def test_imap_shows_the_inbox_count_from_dovecot(ctx, provider, dovecot, protocol, mechanism):
    cfg, pair = provider()
    add_account(ctx, cfg, protocol, imap_port(dovecot, protocol), mechanism=mechanism, ca_file=str(dovecot.ca_file))
    result = UsageService(ctx).test_mail_account(f"{protocol} {mechanism}")
    assert result.ok, result.transcript_text()
    assert result.message_count == dovecot.inbox_count == 3
    assert result.summary == f"Signed in as {MAIL_USER}; INBOX holds 3 messages."
    text = result.transcript_text()
    assert f"C: <redacted {mechanism} string>" in text
    assert "EXAMINE INBOX" in text and "* 3 EXISTS" in text
    if protocol != "IMAP":
        assert "TLS established (certificate verified)" in text
    else:
        assert "not encrypted" in text
    assert_no_secret(text, pair["access_token"])


@pytest.mark.parametrize("protocol", ["POP3", "POP3+STARTTLS", "POP3S"])
def test_pop3_one_line_auth_and_stat(ctx, provider, dovecot, protocol):
    cfg, pair = provider()
    add_account(ctx, cfg, protocol, imap_port(dovecot, protocol), ca_file=str(dovecot.ca_file))
    result = UsageService(ctx).test_mail_account(f"{protocol} XOAUTH2")
    assert result.ok, result.transcript_text()
    assert (result.message_count, result.mailbox_size) == (3, result.mailbox_size)
    assert result.mailbox_size and result.mailbox_size > 0
    lines = [str(line) for line in result.transcript]
    assert "C: AUTH XOAUTH2 <redacted XOAUTH2 string>" in lines
    assert "C: STAT" in lines and any(line.startswith("S: +OK 3 ") for line in lines)
    assert_no_secret(result.transcript_text(), pair["access_token"])


def test_pop3_split_hosts_get_method_and_token_on_separate_lines(ctx, provider, dovecot):
    cfg, pair = provider()
    ctx.store.set_setting("pop3.split_hosts", ["outlook.office365.com", "127.0.0.1"])
    add_account(ctx, cfg, "POP3S", dovecot.pop3s_port, name="Split", ca_file=str(dovecot.ca_file))
    result = UsageService(ctx).test_mail_account("Split")
    assert result.ok, result.transcript_text()
    assert result.message_count == 3
    lines = [str(line) for line in result.transcript]
    i = lines.index("C: AUTH XOAUTH2")
    assert lines[i + 1].startswith("S: +")
    assert lines[i + 2] == "C: <redacted XOAUTH2 string>"
    assert lines[i + 3].startswith("S: +OK")
    assert "127.0.0.1 is in pop3.split_hosts" in result.transcript_text()


def test_pop3_host_not_in_the_split_list_gets_one_line(ctx, provider, dovecot):
    cfg, _ = provider()
    ctx.store.set_setting("pop3.split_hosts", ["127.0.0.2"])
    add_account(ctx, cfg, "POP3", dovecot.pop3_port, name="One line")
    result = UsageService(ctx).test_mail_account("One line")
    assert result.ok
    assert "C: AUTH XOAUTH2" not in [str(line) for line in result.transcript]


@pytest.mark.parametrize("how", ["wrong", "revoked", "expired", "other user"])
@pytest.mark.parametrize("protocol", ["IMAPS", "POP3S"])
def test_dovecot_rejects_bad_tokens(ctx, provider, dovecot, oauth, protocol, how):
    """Dovecot asks the OAuth2 server; a token that is unknown, revoked, expired or belongs to another
    user does not open the mailbox, and the result says so in plain words."""
    cfg, pair = provider()
    token = pair["access_token"]
    login = MAIL_USER
    if how == "wrong":
        token = token[:-6] + "abcdef"
    elif how == "revoked":
        oauth.revoke_token(token)
    elif how == "expired":
        oauth.expire_token(token)
    else:
        login = OTHER_USER
    account = MailAccount(name="Bad", protocol=protocol, host="127.0.0.1", port=imap_port(dovecot, protocol),
                          login=login, config_name=cfg.name, ca_file=str(dovecot.ca_file))
    result = check_mail_account(account, lambda: token, timeout=10)
    assert not result.ok
    assert result.stage == "authenticate"
    assert result.summary.startswith("The server rejected the token:")
    assert "Authentication failed" in result.summary
    assert '"status":"401"' in result.summary  # Dovecot's error challenge, decoded
    assert f"the login '{login}'" in result.hint
    assert result.message_count is None
    assert_no_secret(result.transcript_text() + result.summary, token, pair["access_token"])


def test_a_token_of_another_user_is_named_in_the_hint(ctx, provider, dovecot):
    """The login is someone else than the account that signed in: the hint says so first."""
    cfg, _pair = provider()
    UsageRepository(ctx.store).add_mail_account(MailAccount(
        name="Other", protocol="IMAPS", host="127.0.0.1", port=dovecot.imaps_port, login=OTHER_USER,
        config_id=cfg.id, ca_file=str(dovecot.ca_file)))
    result = UsageService(ctx).test_mail_account("Other")
    assert not result.ok and result.stage == "authenticate"
    assert result.hint.startswith(f"The token was issued to {MAIL_USER}, but this account logs in as {OTHER_USER}")


def test_an_expired_stored_token_is_refreshed_first(ctx, provider, dovecot, oauth):
    """The stored access token expired: TokenService refreshes it at the OAuth2 server and the new
    token opens the mailbox."""
    cfg, pair = provider(expires_in=-60)
    oauth.expire_token(pair["access_token"])
    add_account(ctx, cfg, "IMAPS", dovecot.imaps_port, name="Refreshing", ca_file=str(dovecot.ca_file))
    before = oauth.counters["refresh_token"]
    result = UsageService(ctx).test_mail_account("Refreshing")
    assert result.ok, result.transcript_text()
    assert oauth.counters["refresh_token"] == before + 1
    assert result.message_count == 3


def test_a_configuration_needing_reauthorization_stops_before_connecting(ctx, provider, dovecot, oauth):
    cfg, pair = provider(expires_in=-60)
    oauth.revoke_token(pair["refresh_token"])
    add_account(ctx, cfg, "IMAPS", dovecot.imaps_port, name="Dead", ca_file=str(dovecot.ca_file))
    result = UsageService(ctx).test_mail_account("Dead")
    assert not result.ok
    assert result.stage == "token" and result.token_problem == "reauth"
    assert "Request a new token" in result.hint
    assert not any(line.direction in ("C", "S") for line in result.transcript)


# ---- TLS is verified, always
def test_tls_without_the_ca_file_is_refused(ctx, provider, dovecot):
    cfg, pair = provider()
    add_account(ctx, cfg, "IMAPS", dovecot.imaps_port, name="No CA")
    result = UsageService(ctx).test_mail_account("No CA")
    assert not result.ok and result.stage == "tls"
    assert "The certificate of 127.0.0.1 is not trusted" in result.summary
    assert "set the CA file" in result.hint
    assert "AUTHENTICATE" not in result.transcript_text()  # the token was never sent


@pytest.mark.parametrize("protocol", ["IMAP+STARTTLS", "POP3S"])
def test_tls_with_an_unrelated_ca_is_refused(ctx, provider, dovecot, protocol):
    cfg, _ = provider()
    add_account(ctx, cfg, protocol, imap_port(dovecot, protocol), name="Wrong CA",
                ca_file=str(dovecot.pki.other_ca_file))
    result = UsageService(ctx).test_mail_account("Wrong CA")
    assert not result.ok and result.stage == "tls"
    assert "not trusted" in result.summary
    assert "AUTH" not in "\n".join(line.text for line in result.transcript if line.direction == "C"
                                   and "CAPABILITY" not in line.text and "STARTTLS" not in line.text)


def test_tls_to_a_host_name_the_certificate_does_not_cover_is_refused(ctx, provider, dovecot):
    cfg, _ = provider()
    # 127.0.0.2 is loopback too, but the certificate is made out to 127.0.0.1 / ::1 / localhost only
    account = MailAccount(name="Wrong name", protocol="IMAPS", host="127.0.0.2", port=dovecot.imaps_port,
                          login=MAIL_USER, config_name=cfg.name, ca_file=str(dovecot.ca_file))
    result = check_mail_account(account, lambda: "not-sent", timeout=5)
    assert not result.ok
    # either refused outright (Dovecot listens on 127.0.0.1 only) or, if it connects, not trusted
    assert result.stage in ("connect", "tls")


def test_implicit_tls_against_a_plain_port_fails_clearly(ctx, provider, dovecot):
    cfg, _ = provider()
    add_account(ctx, cfg, "IMAPS", dovecot.imap_port, name="Mixed up", ca_file=str(dovecot.ca_file))
    result = UsageService(ctx).test_mail_account("Mixed up")
    assert not result.ok and result.stage == "tls"
    assert "TLS from the start" in result.hint


# ---- SMTP submission (aiosmtpd, introspection)
@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
@pytest.mark.parametrize("protocol", ["SMTP", "SMTPS"])
def test_smtp_authenticates_with_235_then_noop(ctx, provider, smtp, protocol, mechanism):
    cfg, pair = provider()
    port = smtp.starttls_port if protocol == "SMTP" else smtp.smtps_port
    add_account(ctx, cfg, protocol, port, mechanism=mechanism, ca_file=str(smtp.ca_file))
    result = UsageService(ctx).test_mail_account(f"{protocol} {mechanism}")
    assert result.ok, result.transcript_text()
    assert result.summary == f"Signed in as {MAIL_USER} (235); NOOP answered 250."
    lines = [str(line) for line in result.transcript]
    # a JWT makes the AUTH line longer than 512 octets, so the response follows an empty 334 (RFC 4954 4)
    i = lines.index(f"C: AUTH {mechanism}")
    assert lines[i + 1:i + 3] == ["S: 334 ", f"C: <redacted {mechanism} string>"]
    assert lines[i + 3].startswith("S: 235 ")
    assert "C: noop" in lines and lines[lines.index("C: noop") + 1].startswith("S: 250")
    if protocol == "SMTP":
        assert "C: STARTTLS" in lines
    assert smtp.attempts == [(mechanism, MAIL_USER, True)]
    assert_no_secret(result.transcript_text(), pair["access_token"])


def test_smtp_rejects_a_revoked_token_with_535(ctx, provider, smtp, oauth):
    cfg, pair = provider()
    oauth.revoke_token(pair["access_token"])
    add_account(ctx, cfg, "SMTP", smtp.starttls_port, name="Revoked SMTP", ca_file=str(smtp.ca_file))
    result = UsageService(ctx).test_mail_account("Revoked SMTP")
    assert not result.ok and result.stage == "authenticate"
    assert "535 5.7.8" in result.summary and '"status": "401"' in result.summary
    lines = [str(line) for line in result.transcript]
    assert any(line.startswith("S: 334 ") for line in lines)
    assert smtp.attempts == [("XOAUTH2", MAIL_USER, False)]
    assert_no_secret(result.transcript_text(), pair["access_token"])


def test_smtp_short_token_goes_on_the_auth_line(smtp):
    """A token short enough for a 512-octet line is sent as the initial response (unknown here: 535)."""
    account = MailAccount(name="Short", protocol="SMTPS", host="127.0.0.1", port=smtp.smtps_port, login=MAIL_USER,
                          config_name="x", ca_file=str(smtp.ca_file))
    result = check_mail_account(account, lambda: "short-opaque-token-0123456789", timeout=10)
    lines = [str(line) for line in result.transcript]
    assert "C: AUTH XOAUTH2 <redacted XOAUTH2 string>" in lines
    assert not result.ok and "535 5.7.8" in result.summary
    assert "short-opaque-token" not in result.transcript_text()
    assert smtp.attempts == [("XOAUTH2", MAIL_USER, False)]


def test_smtp_without_the_ca_file_never_sends_the_token(ctx, provider, smtp):
    cfg, _ = provider()
    add_account(ctx, cfg, "SMTP", smtp.starttls_port, name="No CA SMTP")
    result = UsageService(ctx).test_mail_account("No CA SMTP")
    assert not result.ok and result.stage == "tls"
    assert smtp.attempts == []


# ---- network problems are results, not crashes
def test_nothing_listening(ctx, provider):
    from tests.servers.dovecot import free_ports

    cfg, _ = provider()
    port = free_ports(1)[0]
    add_account(ctx, cfg, "IMAPS", port, name="Nobody home")
    result = UsageService(ctx).test_mail_account("Nobody home")
    assert not result.ok and result.stage == "connect"
    assert result.summary == f"Nothing accepts connections on 127.0.0.1:{port}."


def test_smtp_echoing_the_token_over_a_multiline_reply_shows_none_of_it(ctx, provider, smtp, oauth):
    """A server that quotes the rejected token in its 535 - wrapped over reply lines, base64 of the SASL
    string, URL-encoded, cut short - gets it redacted in the transcript and in the summary."""
    from tests.usage.test_redact import leaks

    cfg, pair = provider()
    token = pair["access_token"]
    oauth.revoke_token(token)
    smtp.handler.echo = True
    add_account(ctx, cfg, "SMTP", smtp.starttls_port, name="Chatty SMTP", ca_file=str(smtp.ca_file))
    result = UsageService(ctx).test_mail_account("Chatty SMTP")
    assert not result.ok and result.stage == "authenticate"
    lines = [str(line) for line in result.transcript]
    i = lines.index("S: 535-5.7.8 Username and token not accepted. You sent:")
    assert lines[i + 1] == "S: 535-5.7.8 <redacted access token>"
    assert "S: 535 5.7.8 cut short: <redacted access token>" in lines
    assert "S: 535-5.7.8 which is, in base64:" in lines
    assert leaks(result.transcript_text(), token) == []
    assert leaks(result.summary, token) == []
    assert_no_secret(result.transcript_text() + result.summary, token)
