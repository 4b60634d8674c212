"""Mail accounts: which server, protocol and login a token configuration's token is used for.

A ``MailAccount`` is plain data (no Qt, no I/O). ``PROTOCOLS`` declares every supported
protocol once: its family (IMAP, POP3, SMTP), how TLS is set up and its default port.
``validate_mail_account`` returns plain-language ``FieldError``s for the dialog, the CLI
and the repository alike.

An unencrypted protocol (IMAP, POP3) sends the token in clear text. It needs no permission to a
server on this machine (literal loopback: ``localhost``, 127.0.0.0/8, ``::1``); to any other host
the account must say so explicitly (``allow_plaintext``, "Allow unencrypted connection to this
host", ``--allow-plaintext``), else validation refuses it and the connection test does too.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, replace

from desktop.models.validation import FieldError, check_name
from desktop.usage.runs import LastRun

# ---- TLS modes
TLS_NONE = "none"  # plain text: to this machine, or to another host the account explicitly allows
TLS_IMPLICIT = "implicit"  # TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465)
TLS_STARTTLS = "starttls"  # plain greeting, then STARTTLS / STLS before authenticating

FAMILY_IMAP = "IMAP"
FAMILY_POP3 = "POP3"
FAMILY_SMTP = "SMTP"

MECH_XOAUTH2 = "XOAUTH2"
MECH_OAUTHBEARER = "OAUTHBEARER"
MECHANISMS = (MECH_XOAUTH2, MECH_OAUTHBEARER)


@dataclass(frozen=True)
class ProtocolSpec:
    key: str  # stored value, e.g. "IMAP+STARTTLS"
    label: str  # shown in the dialog
    family: str
    tls: str
    default_port: int


PROTOCOLS: tuple[ProtocolSpec, ...] = (
    ProtocolSpec("IMAPS", "IMAPS (IMAP over TLS)", FAMILY_IMAP, TLS_IMPLICIT, 993),
    ProtocolSpec("IMAP+STARTTLS", "IMAP with STARTTLS", FAMILY_IMAP, TLS_STARTTLS, 143),
    ProtocolSpec("IMAP", "IMAP (unencrypted)", FAMILY_IMAP, TLS_NONE, 143),
    ProtocolSpec("POP3S", "POP3S (POP3 over TLS)", FAMILY_POP3, TLS_IMPLICIT, 995),
    ProtocolSpec("POP3+STARTTLS", "POP3 with STARTTLS (STLS)", FAMILY_POP3, TLS_STARTTLS, 110),
    ProtocolSpec("POP3", "POP3 (unencrypted)", FAMILY_POP3, TLS_NONE, 110),
    ProtocolSpec("SMTP", "SMTP submission with STARTTLS", FAMILY_SMTP, TLS_STARTTLS, 587),
    ProtocolSpec("SMTPS", "SMTPS (SMTP over TLS)", FAMILY_SMTP, TLS_IMPLICIT, 465),
)
PROTOCOLS_BY_KEY: dict[str, ProtocolSpec] = {p.key: p for p in PROTOCOLS}


def protocol_spec(key: str) -> ProtocolSpec:
    """The spec for a protocol key (case-insensitive); KeyError with the known keys."""
    spec = PROTOCOLS_BY_KEY.get((key or "").strip().upper())
    if spec is None:
        raise KeyError(f"unknown protocol '{key}' (known: {', '.join(PROTOCOLS_BY_KEY)})")
    return spec


def default_port(protocol: str) -> int:
    return protocol_spec(protocol).default_port


@dataclass
class MailAccount:
    """A mailbox or submission server that authenticates with a token configuration's token."""

    name: str
    protocol: str
    host: str
    login: str
    #: the token configuration's id (database) and name (for display and the CLI)
    config_id: int | None = None
    config_name: str = ""
    port: int | None = None  # None: the protocol's default
    mechanism: str = MECH_XOAUTH2
    #: PEM file with the CA certificate(s) to trust for a self-hosted server ('' = system CAs)
    ca_file: str = ""
    #: the admin allowed an unencrypted protocol to this (non-loopback) host; kept only where it is needed
    allow_plaintext: bool = False
    id: int | None = None
    create_time: str | None = None
    change_time: str | None = None
    #: the last connection test (None: never tested)
    last_run: LastRun | None = None

    @property
    def spec(self) -> ProtocolSpec:
        return protocol_spec(self.protocol)

    @property
    def effective_port(self) -> int:
        return self.port or self.spec.default_port

    @property
    def family(self) -> str:
        return self.spec.family

    @property
    def encrypted(self) -> bool:
        return self.spec.tls != TLS_NONE

    def copy(self, **changes: object) -> MailAccount:
        return replace(self, **changes)  # type: ignore[arg-type]

    def describe(self) -> str:
        """``IMAPS imap.example.org:993 as alice@example.org``."""
        return f"{self.protocol} {self.host}:{self.effective_port} as {self.login}"


ALLOW_PLAINTEXT_LABEL = "Allow unencrypted connection to this host"
ALLOW_PLAINTEXT_OPTION = "--allow-plaintext"


def is_this_machine(host: str | None) -> bool:
    """True for a literal loopback host only: ``localhost``, 127.0.0.0/8, ``::1`` (with or without brackets).

    Names that merely resolve to this machine (``mail.localhost``, an /etc/hosts entry) do not count:
    what a name resolves to can change, what the admin typed cannot.
    """
    host = (host or "").strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped is not None and mapped.is_loopback)


def needs_plaintext_permission(account: MailAccount) -> bool:
    """The protocol is unencrypted and the host is not this machine (False for an unknown protocol)."""
    try:
        encrypted = account.encrypted
    except KeyError:
        return False
    return not encrypted and not is_this_machine(account.host)


def _secure_choices(account: MailAccount) -> str:
    """``IMAPS or IMAP with STARTTLS`` for the account's family."""
    labels = [p.key if p.tls == TLS_IMPLICIT else f"{p.family} with STARTTLS"
              for p in PROTOCOLS if p.family == account.family and p.tls != TLS_NONE]
    return " or ".join(labels)


def plaintext_refusal(account: MailAccount) -> str:
    """'' when the account may connect as it is; else why not and what to do (validation and connect time)."""
    if account.allow_plaintext or not needs_plaintext_permission(account):
        return ""
    host = account.host.strip()
    return (
        f"{account.protocol} is unencrypted: the token would travel in clear text to {host}. "
        f"Choose {_secure_choices(account)}, or, only if every network between here and {host} is trusted, "
        f'tick "{ALLOW_PLAINTEXT_LABEL}" ({ALLOW_PLAINTEXT_OPTION} on the command line).'
    )


def plaintext_state(account: MailAccount) -> str:
    """'' (encrypted), "this machine", "allowed" or "refused" - for the account lists."""
    try:
        if account.encrypted:
            return ""
    except KeyError:
        return ""
    if is_this_machine(account.host):
        return "this machine"
    return "allowed" if account.allow_plaintext else "refused"


def protocol_text(account: MailAccount) -> str:
    """``IMAPS``, or ``IMAP (unencrypted, allowed)`` - the protocol as the lists show it."""
    state = plaintext_state(account)
    return f"{account.protocol} (unencrypted, {state})" if state else account.protocol


def plaintext_warning(account: MailAccount) -> str:
    """'' when the connection is encrypted; else a note for the transcript."""
    if account.encrypted:
        return ""
    if is_this_machine(account.host):
        return f"{account.protocol} is not encrypted: the token travels in clear text to this machine."
    allowed = " (allowed for this account)" if account.allow_plaintext else ""
    return f"{account.protocol} is not encrypted: the token travels in clear text to {account.host}{allowed}."


def check_host(host: str) -> str | None:
    """None when ``host`` is a host name or an IP address (IPv6 with or without brackets)."""
    host = (host or "").strip()
    if not host:
        return "is required"
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
        return None
    except ValueError:
        pass
    if not re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?", host):
        return "must be a host name or an IP address, without a scheme (imaps://), path or port"
    return None


def validate_mail_account(
    account: MailAccount,
    *,
    existing_names: set[str] | None = None,
    own_name: str | None = None,
    check_files: bool = True,
) -> list[FieldError]:
    """Every problem with ``account``, one FieldError per field (empty when fine).

    The token configuration is checked by the repository (it needs the store).
    """
    errors: list[FieldError] = []
    problem = check_name(account.name, existing_names, own_name)
    if problem:
        errors.append(FieldError("Name", problem.replace("configuration", "mail account")))
    try:
        protocol_spec(account.protocol)
    except KeyError as exc:
        errors.append(FieldError("Protocol", str(exc.args[0])))
    problem = check_host(account.host)
    if problem:
        errors.append(FieldError("Host", problem))
    elif "Protocol" not in {e.field for e in errors}:
        refusal = plaintext_refusal(account)
        if refusal:
            errors.append(FieldError("Protocol", refusal))
    if account.port is not None and not (isinstance(account.port, int) and 0 < account.port < 65536):
        errors.append(FieldError("Port", "must be a number from 1 to 65535 (empty: the protocol's default)"))
    if not (account.login or "").strip():
        errors.append(FieldError("Login", "is required (the mailbox user name, usually the e-mail address)"))
    elif any(c in account.login for c in "\x01\r\n"):
        errors.append(FieldError("Login", "must not contain control characters"))
    if account.mechanism not in MECHANISMS:
        errors.append(FieldError("Mechanism", f"must be one of {', '.join(MECHANISMS)}"))
    if account.config_id is None and not account.config_name:
        errors.append(FieldError("Token configuration", "is required"))
    if account.ca_file:
        problem = check_ca_file(account.ca_file) if check_files else None
        if problem:
            errors.append(FieldError("CA file", problem))
    return errors


def check_ca_file(path: str) -> str | None:
    """None when ``path`` is a readable PEM file, else why not."""
    expanded = os.path.expanduser(path)
    if not os.path.isfile(expanded):
        return f"{path} does not exist (give the PEM file of the server's CA, or leave it empty)"
    try:
        with open(expanded, "rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror})"
    if b"-----BEGIN CERTIFICATE-----" not in head:
        return f"{path} is not a PEM certificate file (it has no BEGIN CERTIFICATE line)"
    return None
