"""Mail-server connection tests: authenticate with the token, run a follow-up command.

``test_mail_account`` gets a fresh token, connects (TLS verified, always), authenticates
with XOAUTH2 or OAUTHBEARER and runs a follow-up command, because some servers (Microsoft)
report a successful login for a token that belongs to another user:

* IMAP: ``EXAMINE INBOX`` (read-only) and the message count;
* POP3: ``STAT`` (message count and size); hosts in the ``pop3.split_hosts`` setting get
  ``AUTH XOAUTH2`` and, after the server's ``+``, the base64 string alone on the next line;
* SMTP: ``NOOP`` after ``235``.

The result carries a transcript of the conversation in which every secret in use (the token,
the SASL strings, the client secret) is replaced by markers in every form a server may echo it
(``desktop/usage/redact.py``); consecutive lines of one side are redacted together, so a token a
server wraps over several reply lines is found too. The stdlib clients (imaplib, poplib, smtplib)
do the talking; small subclasses record each line they send and receive.

An unencrypted protocol to a host that is not this machine is refused before any token is fetched
unless the account allows it (``plaintext_refusal``): accounts stored by an earlier version were
never checked.
"""

from __future__ import annotations

import base64
import binascii
import imaplib
import logging
import poplib
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from desktop.usage.accounts import (
    ALLOW_PLAINTEXT_LABEL,
    FAMILY_IMAP,
    FAMILY_POP3,
    FAMILY_SMTP,
    MECH_OAUTHBEARER,
    TLS_IMPLICIT,
    TLS_STARTTLS,
    MailAccount,
    plaintext_refusal,
    plaintext_warning,
)
from desktop.usage.cancel import Cancellation
from desktop.usage.redact import Redactor
from desktop.usage.sasl import oauthbearer_string, xoauth2_string
from desktop.usage.tokens import TokenUnavailable

logger = logging.getLogger(__name__)

# ---- stages, for the result and for what to do next
STAGE_TOKEN = "token"
STAGE_CONNECT = "connect"
STAGE_TLS = "tls"
STAGE_AUTH = "authenticate"
STAGE_COMMAND = "command"
STAGE_DONE = "done"
STAGE_REFUSED = "refused"  # the account's settings forbid the test (unencrypted to another host)

MAX_TRANSCRIPT_LINES = 400
MAX_LINE_CHARS = 1000
#: what is kept of a line until it is redacted (a server cannot make the transcript hold megabytes)
MAX_RAW_LINE_CHARS = 16 * MAX_LINE_CHARS
EHLO_NAME = "localhost"  # never socket.getfqdn(): a DNS wait on machines without one


@dataclass
class TranscriptLine:
    direction: str  # "C" client, "S" server, "*" note from Tokendesk
    text: str

    def __str__(self) -> str:
        return f"{self.direction}: {self.text}"


class Transcript:
    """Redacted lines of one conversation (bounded).

    Lines are kept as they were said until ``finish``, which redacts each run of consecutive lines of
    one side (client, server, notes) as one text with the secrets known by then - a token the server
    wraps over several lines is found as a whole - and only then cuts long lines. A line's ``prefix``
    (an SMTP reply code) is not part of its text, so the text of continued reply lines joins up.
    """

    def __init__(self, redactor: Redactor, on_connect: Callable[[socket.socket], None] | None = None) -> None:
        self.redactor = redactor
        self.lines: list[TranscriptLine] = []
        #: (direction, prefix, text, characters cut off) said since the last finish, not redacted yet
        self._said: list[tuple[str, str, str, int]] = []
        self._dropped = 0
        #: told about each TCP connection as soon as it exists (a Cancellation watches it)
        self.on_connect = on_connect

    def connected(self, sock: socket.socket) -> socket.socket:
        if self.on_connect is not None:
            self.on_connect(sock)
        return sock

    def _add(self, direction: str, text: str, prefix: str = "") -> None:
        if len(self.lines) + len(self._said) >= MAX_TRANSCRIPT_LINES:
            self._dropped += 1
            return
        text = text.rstrip("\r\n")
        cut = max(0, len(text) - MAX_RAW_LINE_CHARS)
        self._said.append((direction, prefix, text[:MAX_RAW_LINE_CHARS] if cut else text, cut))

    def client(self, data: bytes | str) -> None:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        for line in text.rstrip("\r\n").split("\r\n"):
            self._add("C", line)

    def server(self, data: bytes | str, prefix: str = "") -> None:
        self._add("S", data.decode("utf-8", "replace") if isinstance(data, bytes) else data, prefix)

    def note(self, text: str) -> None:
        self._add("*", text)

    def finish(self) -> list[TranscriptLine]:
        said, self._said = self._said, []
        start = 0
        while start < len(said):
            end = start
            while end < len(said) and said[end][0] == said[start][0]:
                end += 1
            run = said[start:end]
            for (direction, prefix, _, cut), text in zip(run, self.redactor.redact_lines([t for _, _, t, _ in run]),
                                                         strict=True):
                text = prefix + text
                more = max(0, len(text) - MAX_LINE_CHARS) + cut
                if more:
                    text = text[:MAX_LINE_CHARS] + f" ... ({more} more characters)"
                self.lines.append(TranscriptLine(direction, text))
            start = end
        if self._dropped:
            self.lines.append(TranscriptLine("*", f"({self._dropped} more lines not shown)"))
            self._dropped = 0
        return self.lines


@dataclass
class ConnectionResult:
    account: str
    ok: bool
    summary: str
    stage: str
    transcript: list[TranscriptLine] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    message_count: int | None = None
    mailbox_size: int | None = None
    #: what to do next, in plain words ('' when fine)
    hint: str = ""
    #: "reauth" / "network" / "token" when the token could not be had ('' otherwise)
    token_problem: str = ""
    #: the admin cancelled the test (the connection was closed)
    cancelled: bool = False

    def transcript_text(self) -> str:
        return "\n".join(str(line) for line in self.transcript)

    def table_text(self) -> str:
        """One line for the "Last test" column: "OK, 3 messages", "failed (authenticate)", "cancelled"."""
        if self.cancelled:
            return "cancelled"
        if self.stage == STAGE_REFUSED:
            return "refused (unencrypted)"
        if self.ok:
            return "OK" if self.message_count is None else f"OK, {_messages(self.message_count)}"
        return f"failed ({self.stage})"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["transcript"] = [str(line) for line in self.transcript]
        return data


class _Cancelled(Exception):
    """Raised inside the test when its Cancellation was used."""


class AuthRejected(Exception):
    """The server said no to the token (the message is the server's, already redacted)."""


# ---- recording clients: mixins record each line the stdlib client sends and receives
class _IMAPRecorder:
    _transcript: Transcript

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = self._transcript.connected(imaplib.IMAP4._create_socket(self, timeout))  # type: ignore[arg-type]
        if isinstance(self, imaplib.IMAP4_SSL):
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        return sock

    def send(self, data: bytes) -> None:
        if data != b"\r\n":  # imaplib sends the CRLF after a continuation answer separately
            self._transcript.client(data)
        super().send(data)  # type: ignore[misc]

    def readline(self) -> bytes:
        line: bytes = super().readline()  # type: ignore[misc]
        if line:
            self._transcript.server(line)
        return line


class _RecordingIMAP(_IMAPRecorder, imaplib.IMAP4):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float) -> None:
        self._transcript = transcript
        super().__init__(host, port, timeout=timeout)


class _RecordingIMAPS(_IMAPRecorder, imaplib.IMAP4_SSL):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float,
                 context: ssl.SSLContext) -> None:
        self._transcript = transcript
        super().__init__(host, port, ssl_context=context, timeout=timeout)


class _POP3Recorder:
    _transcript: Transcript

    def _create_socket(self, timeout: float) -> socket.socket:
        sock = self._transcript.connected(poplib.POP3._create_socket(self, timeout))  # type: ignore[arg-type]
        if isinstance(self, poplib.POP3_SSL):
            return self.context.wrap_socket(sock, server_hostname=self.host)
        return sock

    def _putline(self, line: bytes) -> None:
        self._transcript.client(line)
        super()._putline(line)  # type: ignore[misc]

    def _getline(self) -> tuple[bytes, int]:
        line, octets = super()._getline()  # type: ignore[misc]
        self._transcript.server(line)
        return line, octets


class _RecordingPOP3(_POP3Recorder, poplib.POP3):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float) -> None:
        self._transcript = transcript
        super().__init__(host, port, timeout=timeout)


class _RecordingPOP3S(_POP3Recorder, poplib.POP3_SSL):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float,
                 context: ssl.SSLContext) -> None:
        self._transcript = transcript
        super().__init__(host, port, timeout=timeout, context=context)


_ENHANCED_STATUS = re.compile(rb"[245]\.\d{1,3}\.\d{1,3} ")


class _SMTPRecorder:
    _transcript: Transcript

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = self._transcript.connected(smtplib.SMTP._get_socket(self, host, port, timeout))  # type: ignore[arg-type]
        if isinstance(self, smtplib.SMTP_SSL):
            return self.context.wrap_socket(sock, server_hostname=self._host)
        return sock

    def send(self, s: bytes | str) -> None:
        self._transcript.client(s)
        super().send(s)  # type: ignore[misc]

    def getreply(self) -> tuple[int, bytes]:
        code, msg = super().getreply()  # type: ignore[misc]
        lines = msg.split(b"\n") if msg else [b""]
        for i, line in enumerate(lines):
            prefix = f"{code}{'-' if i < len(lines) - 1 else ' '}"
            status = _ENHANCED_STATUS.match(line)  # "5.7.8 ", repeated on every line of a reply
            if status:
                prefix += status.group().decode("ascii")
                line = line[status.end():]
            self._transcript.server(line, prefix)
        return code, msg


class _RecordingSMTP(_SMTPRecorder, smtplib.SMTP):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float) -> None:
        self._transcript = transcript
        super().__init__(host, port, local_hostname=EHLO_NAME, timeout=timeout)


class _RecordingSMTPS(_SMTPRecorder, smtplib.SMTP_SSL):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float,
                 context: ssl.SSLContext) -> None:
        self._transcript = transcript
        super().__init__(host, port, local_hostname=EHLO_NAME, timeout=timeout, context=context)


# ---- TLS
def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """A verifying context: the system CAs, or only ``ca_file`` when the account names one.

    Certificate and host-name checks are always on; there is no switch to turn them off.
    """
    import os

    context = ssl.create_default_context(cafile=os.path.expanduser(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# ---- the test
def check_mail_account(
    account: MailAccount,
    token: Callable[[], str],
    *,
    split_hosts: list[str] | tuple[str, ...] = (),
    timeout: float = 20.0,
    cancel: Cancellation | None = None,
    client_secret: Callable[[], str | None] | None = None,
) -> ConnectionResult:
    """Run the connection test for ``account``; ``token()`` returns a fresh access token.

    Never raises for what a server or the network does: every outcome is a result. ``cancel``
    (used from another thread) closes the connection and makes the result "cancelled".
    ``client_secret()`` (asked once the token was asked for) gives the configuration's client
    secret, redacted like the token wherever it shows up (a provider's error may quote it).
    """
    redactor = Redactor()
    transcript = Transcript(redactor, on_connect=cancel.watch if cancel is not None else None)
    started = time.monotonic()
    try:
        return _check(account, token, split_hosts, timeout, cancel, redactor, transcript, started, client_secret)
    finally:
        if cancel is not None:
            cancel.close()


def _check(account: MailAccount, token: Callable[[], str], split_hosts: list[str] | tuple[str, ...], timeout: float,
           cancel: Cancellation | None, redactor: Redactor, transcript: Transcript,
           started: float, client_secret: Callable[[], str | None] | None = None) -> ConnectionResult:

    def result(ok: bool, summary: str, stage: str, **extra: Any) -> ConnectionResult:
        return ConnectionResult(
            account=account.name, ok=ok, summary=redactor.redact(summary), stage=stage,
            transcript=transcript.finish(), elapsed_seconds=round(time.monotonic() - started, 3), **extra,
        )

    refusal = plaintext_refusal(account)
    if refusal:  # an account stored before the rule: no token is fetched, nothing is sent
        transcript.note(refusal)
        return result(False, refusal, STAGE_REFUSED,
                      hint=f'Edit the account: choose an encrypted protocol, or tick "{ALLOW_PLAINTEXT_LABEL}" '
                           f"(tokendesk mail edit '{account.name}' --allow-plaintext).")

    def learn_client_secret() -> None:
        if client_secret is None:
            return
        try:
            redactor.add_client_secret(client_secret())
        except Exception as exc:  # a secret that cannot be read now is not sent on this connection either
            logger.debug("client secret of %s not read for redaction: %s", account.config_name, type(exc).__name__)

    transcript.note(f"Getting a fresh token from '{account.config_name}'")
    try:
        access_token = token()
    except TokenUnavailable as exc:
        learn_client_secret()
        transcript.note(str(exc))
        hint = ("Request a new token for this configuration, then test again." if exc.kind == "reauth"
                else "Check the network connection and the provider, then test again.")
        return result(False, str(exc), STAGE_TOKEN, hint=hint, token_problem=exc.kind)
    redactor.add_token(access_token)
    learn_client_secret()
    if cancel is not None and cancel.cancelled:
        return _cancelled(result, transcript, STAGE_TOKEN)
    host, port = account.host, account.effective_port
    raw, mech = _sasl(account, access_token)
    b64 = base64.b64encode(raw.encode("utf-8")).decode("ascii")
    redactor.add_sasl(mech, raw, b64)
    transcript.note(f"Token received. Connecting to {account.describe()}")
    warning = plaintext_warning(account)
    if warning:
        transcript.note("Warning: " + warning)

    context: ssl.SSLContext | None = None
    if account.spec.tls in (TLS_IMPLICIT, TLS_STARTTLS):
        try:
            context = tls_context(account.ca_file)
        except (OSError, ssl.SSLError) as exc:
            msg = f"The CA file {account.ca_file} cannot be used: {exc}"
            transcript.note(msg)
            return result(False, msg, STAGE_TLS, hint="Give a PEM file with the server's CA certificate.")

    conversation = {FAMILY_IMAP: _imap, FAMILY_POP3: _pop3, FAMILY_SMTP: _smtp}[account.family]
    progress: dict[str, Any] = {"stage": STAGE_CONNECT}
    try:
        try:
            details = conversation(account, transcript, context, mech, raw, b64, split_hosts, timeout, progress)
        except Exception:
            if cancel is not None and cancel.cancelled:
                raise _Cancelled from None  # whatever the closed socket made the client say
            raise
        if cancel is not None and cancel.cancelled:
            raise _Cancelled
    except _Cancelled:
        return _cancelled(result, transcript, progress["stage"])
    except AuthRejected as exc:
        text = redactor.redact(str(exc))
        transcript.note(f"Authentication failed: {text}")
        return result(False, f"The server rejected the token: {text}", STAGE_AUTH, hint=_auth_hint(account))
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        transcript.note(f"TLS certificate not accepted: {reason}")
        hint = ("If the server uses a certificate from its own CA, set the CA file on the account. "
                "Tokendesk never turns verification off.") if not account.ca_file else (
                f"The certificate is not signed by the CA in {account.ca_file}, or it is not made out to {host}.")
        return result(False, f"The certificate of {host} is not trusted: {reason}", STAGE_TLS, hint=hint)
    except ssl.SSLError as exc:
        transcript.note(f"TLS failed: {exc}")
        return result(False, f"TLS with {host}:{port} failed ({exc.reason or exc}).", STAGE_TLS,
                      hint=f"Check that {host}:{port} speaks {account.protocol}: TLS from the start (IMAPS 993, "
                           "POP3S 995, SMTPS 465) or STARTTLS (IMAP 143, POP3 110, SMTP 587).")
    except TimeoutError:
        transcript.note(f"No answer within {timeout:g} seconds")
        return result(False, f"{host}:{port} did not answer within {timeout:g} seconds.", progress["stage"],
                      hint="Check host, port and firewall; the time-out is the network.timeout_seconds setting.")
    except socket.gaierror as exc:
        transcript.note(f"Host name lookup failed: {exc.strerror or exc}")
        return result(False, f"The host name {host} cannot be resolved.", STAGE_CONNECT,
                      hint="Check the host name and the network connection.")
    except ConnectionRefusedError:
        transcript.note("Connection refused")
        return result(False, f"Nothing accepts connections on {host}:{port}.", STAGE_CONNECT,
                      hint="Check the host, the port and that the server runs.")
    except (imaplib.IMAP4.error, poplib.error_proto, smtplib.SMTPException) as exc:
        text = redactor.redact(_exc_text(exc))
        transcript.note(f"Server error: {text}")
        return result(False, f"The server answered with an error: {text}", progress["stage"],
                      hint="See the transcript for the server's words.")
    except (OSError, EOFError, UnicodeError, ValueError) as exc:
        text = redactor.redact(_exc_text(exc))
        transcript.note(f"Connection failed: {text}")
        return result(False, f"The connection to {host}:{port} failed: {text}", progress["stage"],
                      hint="Check host, port and protocol.")
    transcript.note(details["summary"])
    return result(True, details.pop("summary"), STAGE_DONE, **details)


def _cancelled(result: Callable[..., ConnectionResult], transcript: Transcript, stage: str) -> ConnectionResult:
    transcript.note("Cancelled; the connection was closed")
    return result(False, "Cancelled; the connection was closed.", stage, cancelled=True,
                  hint="Press Test connection again when you are ready.")


def _exc_text(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        return f"{exc.smtp_code} {error.decode('utf-8', 'replace') if isinstance(error, bytes) else error}"
    parts = [a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in exc.args]
    return " ".join(parts) or type(exc).__name__


def _auth_hint(account: MailAccount) -> str:
    return (
        f"Check that the login '{account.login}' is the account that signed in when the token was requested, "
        f"that the configuration's scope grants {account.family} access, and that {account.mechanism} is enabled "
        "for the mailbox; request a new token if it was revoked."
    )


def _sasl(account: MailAccount, token: str) -> tuple[str, str]:
    if account.mechanism == MECH_OAUTHBEARER:
        return oauthbearer_string(account.login, token, account.host, account.effective_port), MECH_OAUTHBEARER
    return xoauth2_string(account.login, token), "XOAUTH2"


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


def _messages(count: int) -> str:
    return f"{count} message" if count == 1 else f"{count} messages"


# ---- IMAP
def _imap(account: MailAccount, transcript: Transcript, context: ssl.SSLContext | None, mech: str, raw: str,
          b64: str, split_hosts: Any, timeout: float, progress: dict[str, Any]) -> dict[str, Any]:
    client: imaplib.IMAP4 = _open(account, transcript, context, timeout, progress, _RecordingIMAP, _RecordingIMAPS)
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
            raise _rejected(_exc_text(exc), challenges) from None
        progress["stage"] = STAGE_COMMAND
        typ, data = client.select("INBOX", readonly=True)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"EXAMINE INBOX failed: {_exc_text(imaplib.IMAP4.error(*data))}")
        count = int(data[0] or 0)
        _quietly(client.logout, (OSError, imaplib.IMAP4.error))
    return {"summary": f"Signed in as {account.login}; INBOX holds {_messages(count)}.", "message_count": count}


# ---- POP3
def _pop3(account: MailAccount, transcript: Transcript, context: ssl.SSLContext | None, mech: str, raw: str,
          b64: str, split_hosts: Any, timeout: float, progress: dict[str, Any]) -> dict[str, Any]:
    host = account.host
    client: poplib.POP3 = _open(account, transcript, context, timeout, progress, _RecordingPOP3, _RecordingPOP3S)
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
    return {"summary": f"Signed in as {account.login}; the mailbox holds {_messages(count)} ({size} bytes).",
            "message_count": count, "mailbox_size": size}


# ---- SMTP
def _smtp(account: MailAccount, transcript: Transcript, context: ssl.SSLContext | None, mech: str, raw: str,
          b64: str, split_hosts: Any, timeout: float, progress: dict[str, Any]) -> dict[str, Any]:
    host, port = account.host, account.effective_port
    client: smtplib.SMTP = _open(account, transcript, context, timeout, progress, _RecordingSMTP, _RecordingSMTPS)

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
            raise _rejected(_exc_text(exc), challenges) from None
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
