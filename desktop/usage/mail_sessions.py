"""The three mail conversations of a connection test: IMAP, POP3 and SMTP.

Each session connects with a recording client (``transcript.py``), secures the connection (TLS from
the start or STARTTLS, certificate verified), authenticates with the SASL string it is given and
runs a follow-up command, because some servers (Microsoft) report a successful login for a token
that belongs to another user:

* IMAP: ``EXAMINE INBOX`` (read-only) and the message count;
* POP3: ``STAT`` (message count and size); hosts in the ``pop3.split_hosts`` setting get
  ``AUTH XOAUTH2`` and, after the server's ``+``, the base64 string alone on the next line;
* SMTP: ``NOOP`` after ``235``.

A session returns what it found (``summary`` and counts) and raises what went wrong: ``AuthRejected``
when the server said no to the token, else the stdlib's and the socket's errors, which
``connection.py`` turns into a result. ``progress["stage"]`` says how far it got.
"""

from __future__ import annotations

import base64
import binascii
import imaplib
import poplib
import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from desktop.usage.accounts import FAMILY_IMAP, FAMILY_POP3, FAMILY_SMTP, TLS_IMPLICIT, TLS_STARTTLS, MailAccount
from desktop.usage.transcript import (
    EHLO_NAME,
    RecordingIMAP,
    RecordingIMAPS,
    RecordingPOP3,
    RecordingPOP3S,
    RecordingSMTP,
    RecordingSMTPS,
    Transcript,
)

# ---- how far a session got (the result's stage when it fails there)
STAGE_CONNECT = "connect"
STAGE_TLS = "tls"
STAGE_AUTH = "authenticate"
STAGE_COMMAND = "command"


class AuthRejected(Exception):
    """The server said no to the token (the message is the server's, already redacted)."""


def exc_text(exc: BaseException) -> str:
    """An error's words (an SMTP reply's code and text), for a transcript note or a summary."""
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        return f"{exc.smtp_code} {error.decode('utf-8', 'replace') if isinstance(error, bytes) else error}"
    parts = [a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in exc.args]
    return " ".join(parts) or type(exc).__name__


def _decode_challenge(data: bytes | str) -> str:
    """Servers answer a bad token with a base64 JSON challenge; show it decoded."""
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    text = text.strip()
    if not text:
        return ""
    try:
        return base64.b64decode(text, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return text


# ---- what the three conversations share
def _open(account: MailAccount, transcript: Transcript, context: ssl.SSLContext | None, timeout: float,
          progress: dict[str, Any], plain: Callable[..., Any], implicit_tls: Callable[..., Any]) -> Any:
    """Connect with the recording client: ``implicit_tls`` (TLS from the start) or ``plain``."""
    host, port = account.host, account.effective_port
    if account.spec.tls == TLS_IMPLICIT:
        progress["stage"] = STAGE_TLS
        assert context is not None
        return implicit_tls(transcript, host, port, timeout, context)
    return plain(transcript, host, port, timeout)


def _secure(account: MailAccount, transcript: Transcript, progress: dict[str, Any],
            starttls: Callable[[], Any]) -> bool:
    """Run ``starttls`` for a STARTTLS account and note the TLS; True when STARTTLS was run."""
    if account.spec.tls == TLS_STARTTLS:
        progress["stage"] = STAGE_TLS
        starttls()
        transcript.note("TLS established (certificate verified)")
        return True
    if account.spec.tls == TLS_IMPLICIT:
        transcript.note("TLS established (certificate verified)")
    return False


@contextmanager
def _closed_on_failure(close: Callable[[], Any]) -> Iterator[None]:
    """Close the connection (quietly) when anything goes wrong inside, then let the failure through."""
    try:
        yield
    except BaseException:
        _quietly(close)
        raise


def _rejected(text: str, challenges: list[str]) -> AuthRejected:
    """The server's final answer, with its last non-empty error challenge (decoded) in brackets."""
    extra = [c for c in challenges if c]
    return AuthRejected(text + (f" ({extra[-1]})" if extra else ""))


def messages_text(count: int) -> str:
    return f"{count} message" if count == 1 else f"{count} messages"


# ---- IMAP
def imap_session(account: MailAccount, transcript: Transcript, context: ssl.SSLContext | None, mech: str,
                 raw: str, b64: str, split_hosts: Any, timeout: float, progress: dict[str, Any]) -> dict[str, Any]:
    client: imaplib.IMAP4 = _open(account, transcript, context, timeout, progress, RecordingIMAP, RecordingIMAPS)
    with _closed_on_failure(client.shutdown):
        _secure(account, transcript, progress, lambda: client.starttls(ssl_context=context))
        progress["stage"] = STAGE_AUTH
        if f"AUTH={mech}" not in client.capabilities:
            transcript.note(f"The server does not announce AUTH={mech}; trying anyway")
        challenges: list[str] = []

        def respond(challenge: bytes) -> bytes | str:
            if not challenges and not challenge:
                challenges.append("")
                return raw
            challenges.append(challenge.decode("utf-8", "replace"))  # imaplib has decoded the base64
            return b""  # an error challenge: answer empty so the server sends its final NO

        try:
            client.authenticate(mech, respond)
        except imaplib.IMAP4.error as exc:
            raise _rejected(exc_text(exc), challenges) from None
        progress["stage"] = STAGE_COMMAND
        typ, data = client.select("INBOX", readonly=True)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"EXAMINE INBOX failed: {exc_text(imaplib.IMAP4.error(*data))}")
        count = int(data[0] or 0)
        _quietly(client.logout, (OSError, imaplib.IMAP4.error))
    return {"summary": f"Signed in as {account.login}; INBOX holds {messages_text(count)}.", "message_count": count}


# ---- POP3
def pop3_session(account: MailAccount, transcript: Transcript, context: ssl.SSLContext | None, mech: str,
                 raw: str, b64: str, split_hosts: Any, timeout: float, progress: dict[str, Any]) -> dict[str, Any]:
    host = account.host
    client: poplib.POP3 = _open(account, transcript, context, timeout, progress, RecordingPOP3, RecordingPOP3S)
    with _closed_on_failure(client.close):
        _secure(account, transcript, progress, lambda: client.stls(context=context))
        progress["stage"] = STAGE_AUTH
        split = host.casefold() in {h.strip().casefold() for h in split_hosts}
        if split:
            transcript.note(f"{host} is in pop3.split_hosts: method and token on separate lines")
            client._putcmd(f"AUTH {mech}")
            line, _ = client._getline()
            if not line.startswith(b"+") or line.startswith(b"+OK"):
                raise AuthRejected(line.decode("utf-8", "replace"))
            client._putcmd(b64)
        else:
            client._putcmd(f"AUTH {mech} {b64}")
        line, _ = client._getline()
        if line.startswith(b"+ ") or line == b"+":
            challenge = _decode_challenge(line[1:])
            client._putcmd("")  # the server wants an empty answer before its final -ERR
            final, _ = client._getline()
            raise _rejected(final.decode("utf-8", "replace"), [challenge])
        if not line.startswith(b"+OK"):
            raise AuthRejected(line.decode("utf-8", "replace"))
        progress["stage"] = STAGE_COMMAND
        count, size = client.stat()
        _quietly(client.quit, (OSError, poplib.error_proto))
    return {"summary": f"Signed in as {account.login}; the mailbox holds {messages_text(count)} ({size} bytes).",
            "message_count": count, "mailbox_size": size}


# ---- SMTP
def smtp_session(account: MailAccount, transcript: Transcript, context: ssl.SSLContext | None, mech: str,
                 raw: str, b64: str, split_hosts: Any, timeout: float, progress: dict[str, Any]) -> dict[str, Any]:
    host, port = account.host, account.effective_port
    client: smtplib.SMTP = _open(account, transcript, context, timeout, progress, RecordingSMTP, RecordingSMTPS)

    def starttls() -> None:
        if not client.has_extn("starttls"):
            raise smtplib.SMTPNotSupportedError(
                f"{host}:{port} does not offer STARTTLS; the token is not sent without TLS")
        client.starttls(context=context)

    with _closed_on_failure(client.close):
        client.ehlo(EHLO_NAME)
        if _secure(account, transcript, progress, starttls):
            client.ehlo(EHLO_NAME)
        progress["stage"] = STAGE_AUTH
        offered = (client.esmtp_features.get("auth") or "").upper().split()
        if mech not in offered:
            transcript.note(f"The server offers AUTH {' '.join(offered) or '(nothing)'}; trying {mech} anyway")
        challenges: list[str] = []
        calls = [0]

        def respond(challenge: bytes | None = None) -> str:
            calls[0] += 1
            if calls[0] == 1:  # the initial response (on the AUTH line, or after an empty 334)
                return raw
            challenges.append(challenge.decode("utf-8", "replace") if challenge else "")  # decoded by smtplib
            return ""  # an error challenge: answer empty so the server sends its final 535

        # RFC 4954 4: no initial response when it would make the AUTH line longer than SMTP's 512 octets
        one_line = len(f"AUTH {mech} {b64}\r\n") <= 512
        try:
            code, _msg = client.auth(mech, respond, initial_response_ok=one_line)
        except smtplib.SMTPAuthenticationError as exc:
            raise _rejected(exc_text(exc), challenges) from None
        progress["stage"] = STAGE_COMMAND
        code, msg = client.noop()
        if code != 250:
            raise smtplib.SMTPResponseException(code, msg)
        _quietly(client.quit, (OSError, smtplib.SMTPException))
    return {"summary": f"Signed in as {account.login} (235); NOOP answered 250."}


def _quietly(fn: Callable[[], Any], errors: tuple[type[BaseException], ...] = (Exception,)) -> None:
    try:
        fn()
    except errors:  # closing after a failure must not hide the failure; a failed goodbye is no failure
        pass


#: the session for each protocol family
SESSIONS: dict[str, Callable[..., dict[str, Any]]] = {
    FAMILY_IMAP: imap_session, FAMILY_POP3: pop3_session, FAMILY_SMTP: smtp_session,
}
