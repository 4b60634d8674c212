"""Mail-server connection tests: authenticate with the token, run a follow-up command.

``check_mail_account`` gets a fresh token, connects (TLS verified, always), authenticates
with XOAUTH2 or OAUTHBEARER and runs a follow-up command (the IMAP, POP3 and SMTP conversations
are in ``desktop/usage/mail_sessions.py``); every outcome is a ``ConnectionResult`` with what to do
next in plain words.

The result carries a transcript of the conversation in which every secret in use (the token,
the SASL strings, the client secret) is replaced by markers in every form a server may echo it
(``desktop/usage/redact.py``); consecutive lines of one side are redacted together, so a token a
server wraps over several reply lines is found too (``desktop/usage/transcript.py``: the transcript
and the recording stdlib clients).

An unencrypted protocol to a host that is not this machine is refused before any token is fetched
unless the account allows it (``plaintext_refusal``): accounts stored by an earlier version were
never checked.
"""

from __future__ import annotations

import base64
import imaplib
import logging
import poplib
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from desktop.usage.accounts import (
    ALLOW_PLAINTEXT_LABEL,
    MECH_OAUTHBEARER,
    TLS_IMPLICIT,
    TLS_STARTTLS,
    MailAccount,
    plaintext_refusal,
    plaintext_warning,
)
from desktop.usage.cancel import Cancellation
from desktop.usage.mail_sessions import (
    SESSIONS,
    STAGE_AUTH,
    STAGE_COMMAND,
    STAGE_CONNECT,
    STAGE_TLS,
    AuthRejected,
    exc_text,
    messages_text,
)
from desktop.usage.redact import Redactor
from desktop.usage.sasl import oauthbearer_string, xoauth2_string
from desktop.usage.tokens import TokenUnavailable
from desktop.usage.transcript import Transcript, TranscriptLine

logger = logging.getLogger(__name__)

# ---- stages, for the result and for what to do next (connect, tls, authenticate, command: mail_sessions.py)
STAGE_TOKEN = "token"
STAGE_DONE = "done"
STAGE_REFUSED = "refused"  # the account's settings forbid the test (unencrypted to another host)
__all__ = ["STAGE_TOKEN", "STAGE_CONNECT", "STAGE_TLS", "STAGE_AUTH", "STAGE_COMMAND", "STAGE_DONE", "STAGE_REFUSED",
           "ConnectionResult", "check_mail_account", "tls_context"]


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
            return "OK" if self.message_count is None else f"OK, {messages_text(self.message_count)}"
        return f"failed ({self.stage})"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["transcript"] = [str(line) for line in self.transcript]
        return data


class _Cancelled(Exception):
    """Raised inside the test when its Cancellation was used."""


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

    conversation = SESSIONS[account.family]
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
        text = redactor.redact(exc_text(exc))
        transcript.note(f"Server error: {text}")
        return result(False, f"The server answered with an error: {text}", progress["stage"],
                      hint="See the transcript for the server's words.")
    except (OSError, EOFError, UnicodeError, ValueError) as exc:
        text = redactor.redact(exc_text(exc))
        transcript.note(f"Connection failed: {text}")
        return result(False, f"The connection to {host}:{port} failed: {text}", progress["stage"],
                      hint="Check host, port and protocol.")
    transcript.note(details["summary"])
    return result(True, details.pop("summary"), STAGE_DONE, **details)


def _cancelled(result: Callable[..., ConnectionResult], transcript: Transcript, stage: str) -> ConnectionResult:
    transcript.note("Cancelled; the connection was closed")
    return result(False, "Cancelled; the connection was closed.", stage, cancelled=True,
                  hint="Press Test connection again when you are ready.")


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
