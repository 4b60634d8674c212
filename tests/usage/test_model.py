"""Pure core: mail accounts, invokers, header handling and redaction (no Qt, no network)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from desktop.usage.accounts import (
    PROTOCOLS,
    MailAccount,
    check_ca_file,
    check_host,
    default_port,
    needs_plaintext_permission,
    plaintext_warning,
    protocol_spec,
    validate_mail_account,
)
from desktop.usage.invokers import (
    PLACEHOLDER,
    WebInvoker,
    apply_token,
    body_content_type,
    format_header_lines,
    parse_header_lines,
    pretty_body,
    validate_invoker,
)
from desktop.usage.redact import Redactor
from desktop.usage.sasl import oauthbearer_base64, oauthbearer_string, xoauth2_base64, xoauth2_string


def account(**changes) -> MailAccount:
    values = {"name": "Support IMAP", "protocol": "IMAPS", "host": "imap.example.org", "login": "support@example.org",
              "config_name": "Mail provider"}
    values.update(changes)
    return MailAccount(**values)


def fields(errors) -> dict[str, str]:
    return {e.field: e.message for e in errors}


# ---- protocols and ports
@pytest.mark.parametrize(("protocol", "port"), [
    ("IMAPS", 993), ("IMAP+STARTTLS", 143), ("IMAP", 143), ("POP3S", 995), ("POP3+STARTTLS", 110),
    ("POP3", 110), ("SMTP", 587), ("SMTPS", 465),
])
def test_default_ports(protocol, port):
    assert default_port(protocol) == port
    assert account(protocol=protocol).effective_port == port
    assert account(protocol=protocol, port=10993).effective_port == 10993


def test_protocol_keys_are_case_insensitive_and_unknown_ones_are_named():
    assert protocol_spec("imap+starttls").key == "IMAP+STARTTLS"
    with pytest.raises(KeyError, match="unknown protocol 'IMAP4S'.*IMAPS"):
        protocol_spec("IMAP4S")
    assert len({p.key for p in PROTOCOLS}) == 8


def test_plaintext_warning_only_for_unencrypted_protocols():
    assert plaintext_warning(account(protocol="IMAPS")) == ""
    assert "clear text to mail.lan" in plaintext_warning(account(protocol="POP3", host="mail.lan"))
    assert "this machine" in plaintext_warning(account(protocol="IMAP", host="127.0.0.1"))


# ---- unencrypted protocols: only to this machine, or by an explicit choice per account
@pytest.mark.parametrize("protocol", ["IMAP", "POP3"])
@pytest.mark.parametrize("host", ["mail.lan", "192.168.1.5", "10.0.0.1", "::2", "[fe80::1]", "0.0.0.0",
                                  "localhost.example.org", "mail.localhost", "127.0.0.1.nip.io"])
def test_plain_protocols_to_another_host_are_refused_without_the_option(protocol, host):
    errors = fields(validate_mail_account(account(protocol=protocol, host=host)))
    assert list(errors) == ["Protocol"]
    message = errors["Protocol"]
    assert f"{protocol} is unencrypted: the token would travel in clear text to {host}." in message
    assert f"Choose {protocol}S" in message and "STARTTLS" in message
    assert '"Allow unencrypted connection to this host"' in message and "--allow-plaintext" in message
    assert validate_mail_account(account(protocol=protocol, host=host, allow_plaintext=True)) == []
    assert needs_plaintext_permission(account(protocol=protocol, host=host))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LocalHost", "localhost."])
@pytest.mark.parametrize("protocol", ["IMAP", "POP3"])
def test_plain_protocols_to_this_machine_need_no_option(protocol, host):
    assert validate_mail_account(account(protocol=protocol, host=host)) == []
    assert not needs_plaintext_permission(account(protocol=protocol, host=host))


@pytest.mark.parametrize("protocol", ["IMAPS", "IMAP+STARTTLS", "POP3S", "POP3+STARTTLS", "SMTP", "SMTPS"])
def test_encrypted_protocols_need_no_option(protocol):
    assert validate_mail_account(account(protocol=protocol, host="mail.lan")) == []
    assert not needs_plaintext_permission(account(protocol=protocol, host="mail.lan"))


# ---- validation
def test_a_complete_account_is_valid():
    assert validate_mail_account(account()) == []


def test_every_problem_is_reported_with_its_field():
    errors = fields(validate_mail_account(
        account(name=" ", protocol="IMAP4", host="imaps://imap.example.org", login="", port=70000, mechanism="PLAIN",
                config_name="")))
    assert set(errors) == {"Name", "Protocol", "Host", "Port", "Login", "Mechanism", "Token configuration"}
    assert "scheme" in errors["Host"]
    assert "65535" in errors["Port"]


def test_names_are_unique_case_insensitively_except_for_itself():
    errors = fields(validate_mail_account(account(name="support imap"), existing_names={"Support IMAP"}))
    assert "already used by another mail account" in errors["Name"]
    assert validate_mail_account(account(), existing_names={"Support IMAP"}, own_name="Support IMAP") == []


@pytest.mark.parametrize("host", ["imap.example.org", "127.0.0.1", "::1", "[::1]", "mail-1.example.org.", "localhost"])
def test_good_hosts(host):
    assert check_host(host) is None


@pytest.mark.parametrize("host", ["", "imap.example.org:993", "imap example.org", "imap://x", "x/y", "-bad"])
def test_bad_hosts(host):
    assert check_host(host) is not None


def test_login_with_control_characters_is_refused():
    # \x01 would break the XOAUTH2 string apart
    assert "control characters" in fields(validate_mail_account(account(login="a\x01auth=Bearer x")))["Login"]


def test_ca_file_checks(tmp_path):
    assert "does not exist" in check_ca_file(str(tmp_path / "missing.pem"))
    not_pem = tmp_path / "ca.der"
    not_pem.write_bytes(b"\x30\x82binary")
    assert "not a PEM" in check_ca_file(str(not_pem))
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    assert check_ca_file(str(pem)) is None
    assert "CA file" in fields(validate_mail_account(account(ca_file=str(not_pem))))


# ---- invokers
def invoker(**changes) -> WebInvoker:
    values = {"name": "Ticket API", "url": "https://api.example.org/tickets", "config_name": "Mail provider"}
    values.update(changes)
    return WebInvoker(**values)


def test_invoker_defaults_to_the_bearer_header():
    inv = invoker()
    assert inv.method == "GET"
    assert inv.headers == [("Authorization", f"Bearer {PLACEHOLDER}")]
    assert validate_invoker(inv) == []


def test_invoker_validation():
    errors = fields(validate_invoker(invoker(name="", method="FETCH", url="http://api.example.org/x",
                                             headers=[("X Bad", "v")], body="{}", config_name="")))
    assert set(errors) == {"Name", "Method", "URL", "Headers", "Body", "Token configuration"}
    assert "https" in errors["URL"]
    # http is fine on loopback; the placeholder must be somewhere in the headers
    errors = fields(validate_invoker(invoker(url="http://127.0.0.1:8080/x", headers=[("Accept", "application/json")])))
    assert list(errors) == ["Headers"] and PLACEHOLDER in errors["Headers"]
    assert "URL" in fields(validate_invoker(invoker(url=f"https://x.example.org/?access_token={PLACEHOLDER}")))
    assert "Body" in fields(validate_invoker(invoker(method="POST", body=f'{{"t": "{PLACEHOLDER}"}}')))


def test_header_lines_round_trip_and_errors():
    text = "Authorization: Bearer <OTRS_OAUTH2_TOKEN>\n\nX-Tenant:  acme \nAccept: application/json"
    headers = parse_header_lines(text)
    assert headers == [("Authorization", "Bearer <OTRS_OAUTH2_TOKEN>"), ("X-Tenant", "acme"),
                       ("Accept", "application/json")]
    assert parse_header_lines(format_header_lines(headers)) == headers
    with pytest.raises(ValueError, match="line 2 has no ':'"):
        parse_header_lines("Accept: */*\nBroken line")


def test_apply_token_replaces_every_placeholder():
    headers = [("Authorization", f"Bearer {PLACEHOLDER}"), ("X-Token", PLACEHOLDER), ("Accept", "*/*")]
    assert apply_token(headers, "abc.def") == [("Authorization", "Bearer abc.def"), ("X-Token", "abc.def"),
                                               ("Accept", "*/*")]


def test_body_content_type_and_pretty_body():
    assert body_content_type('{"a": 1}', []) == "application/json"
    assert body_content_type("plain", []) == "text/plain; charset=utf-8"
    assert body_content_type('{"a": 1}', [("content-type", "application/vnd.x+json")]) is None
    assert body_content_type("", []) is None
    assert pretty_body('{"b":[1,2],"a":"ä"}', "application/json") == '{\n  "b": [\n    1,\n    2\n  ],\n  "a": "ä"\n}'
    assert pretty_body("not json {", "application/json") == "not json {"
    assert pretty_body("hello", "text/plain") == "hello"


# ---- SASL strings (the test vector from PROVIDERS.md)
def test_xoauth2_vector():
    assert xoauth2_base64("unit-test-user", "unit-test-token") == (
        "dXNlcj11bml0LXRlc3QtdXNlcgFhdXRoPUJlYXJlciB1bml0LXRlc3QtdG9rZW4BAQ==")


def test_oauthbearer_escapes_the_login():
    raw = oauthbearer_string("a,b=c", "tok", "mail.example.org", 993)
    assert raw == "n,a=a=2Cb=3Dc,\x01host=mail.example.org\x01port=993\x01auth=Bearer tok\x01\x01"
    assert base64.b64decode(oauthbearer_base64("a,b=c", "tok", "mail.example.org", 993)).decode() == raw


# ---- redaction
def test_redactor_replaces_token_and_sasl_strings():
    token = "ya29.a0AfH6SMBx-secret-token-value"
    redactor = Redactor()
    redactor.add_token(token)
    raw, b64 = xoauth2_string("u@example.org", token), xoauth2_base64("u@example.org", token)
    redactor.add_sasl("XOAUTH2", raw, b64)
    text = f"C: A1 AUTHENTICATE XOAUTH2 {b64}\nBearer {token}\n{base64.b64encode(token.encode()).decode()}"
    out = redactor.redact(text)
    assert token not in out and b64 not in out
    assert out.splitlines() == ["C: A1 AUTHENTICATE XOAUTH2 <redacted XOAUTH2 string>",
                                "Bearer <redacted access token>", "<redacted access token>"]


@given(token=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=80),
       before=st.text(max_size=40), after=st.text(max_size=40))
def test_redaction_never_leaves_the_token(token, before, after):
    redactor = Redactor()
    redactor.add_token(token)
    b64 = xoauth2_base64("user@example.org", token)
    redactor.add_sasl("XOAUTH2", xoauth2_string("user@example.org", token), b64)
    out = redactor.redact(f"{before}{token}{after} AUTH XOAUTH2 {b64}")
    assert b64 not in out
    assume(token not in f"{before}<redacted access token>{after} AUTH XOAUTH2 <redacted XOAUTH2 string>")
    assert token not in out
