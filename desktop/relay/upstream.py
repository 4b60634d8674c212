"""Hand one message to the upstream SMTP server of a mail account, signed in with the account's token.

``Upstream.send`` opens a connection (SMTPS, or SMTP with STARTTLS; the certificate always verified,
``desktop.usage.connection.tls_context``), authenticates with XOAUTH2 or OAUTHBEARER, and runs MAIL, RCPT for
every recipient and DATA. Any recipient refused means nothing is sent (RSET) and the device is told which one;
so a message reaches all its recipients or the device hears that it did not. The answer is an
``UpstreamAnswer``: the code and words to give the device, and the upstream's own words for the log.

A signed-in connection is kept for the next message (``POOL_SIZE`` per account, used again within
``IDLE_SECONDS``): a burst of messages pays TLS and AUTH once per connection, not per message. One that the server
closed meanwhile is replaced before anything of the message was sent; one that breaks after DATA was sent makes the
device send again.

Tokens come through the usage seam (``desktop.usage.tokens``: ``TokenService.access_token``, which renews only a
token that is due). ``TokenCache`` keeps the token between messages for ``ttl`` seconds, so a burst of messages
asks the store once; a rejected token is fetched once more before the device is told to try later.
Nothing here logs a token or a SASL string.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from desktop.usage.accounts import MECH_OAUTHBEARER, TLS_IMPLICIT, MailAccount
from desktop.usage.sasl import oauthbearer_string, xoauth2_string
from desktop.usage.tokens import TokenSource, TokenUnavailable, fetch_token


@dataclass
class UpstreamAnswer:
    #: what the device is told, e.g. "250 2.0.0 ..." / "451 4.4.1 ..."
    reply: str
    #: the upstream's own code (None: it was never reached or never answered)
    code: int | None
    #: the upstream's words (or what went wrong on the way), for the log
    text: str
    #: where it failed before the upstream could answer: "token", "connect", "tls", "broken" ('' otherwise)
    stage: str = ""

    @property
    def ok(self) -> bool:
        return self.reply.startswith("2")


class TokenCache:
    """Tokens per configuration, kept ``ttl`` seconds: ``TokenService`` renews a token that is due, so a token it
    handed out is good for a while; the cache saves a store read (and a "last used" write) per message."""

    def __init__(self, source: TokenSource, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.ttl, self.clock = source, ttl, clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def get(self, config_name: str, *, fresh: bool = False) -> str:
        with self._lock:  # one fetch at a time: parallel messages wait for the first one's token
            held = self._tokens.get(config_name)
            if held and not fresh and self.clock() - held[1] < self.ttl:
                return held[0]
            self.fetches += 1
            token = fetch_token(self.source, config_name)
            self._tokens[config_name] = (token, self.clock())
            return token

    def forget(self, config_name: str) -> None:
        with self._lock:
            self._tokens.pop(config_name, None)


def _words(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error
    return error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)


class _Rejected(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


#: signed-in upstream connections kept per account, and for how long an idle one is used again
POOL_SIZE = 4
IDLE_SECONDS = 30.0


def _pool_key(account: MailAccount) -> tuple[object, ...]:
    """An edited account (another host, login, mechanism, CA) never gets a connection of its old settings."""
    return (account.name, account.protocol, account.host, account.effective_port, account.login, account.mechanism,
            account.ca_file, account.config_name)


def _close(client: smtplib.SMTP, *, polite: bool = False) -> None:
    try:
        if polite:
            client.quit()
            return
    except (OSError, smtplib.SMTPException):
        pass
    client.close()


def _broken(where: str, exc: BaseException) -> UpstreamAnswer:
    return UpstreamAnswer("451 4.4.2 The connection to the upstream server broke; the message may not have been "
                          "delivered, try again", None, f"{where}: {_exc_words(exc)}", "broken")


class Upstream:
    def __init__(self, tokens: TokenCache, timeout: float = 30.0, ehlo_name: str = "tokendesk-relay") -> None:
        self.tokens, self.timeout, self.ehlo_name = tokens, timeout, ehlo_name
        self._idle: dict[tuple[object, ...], list[tuple[smtplib.SMTP, float]]] = {}
        self._pool_lock = threading.Lock()
        self._closed = False

    def send(self, account: MailAccount, mail_from: str, rcpt_tos: list[str], data: bytes,
             mail_options: list[str] | None = None) -> UpstreamAnswer:
        """``mail_options``: the device's MAIL parameters; BODY=8BITMIME and SMTPUTF8 go on where the upstream
        offers them."""
        used: list[str] = []
        answer = self._send(account, mail_from, rcpt_tos, data, mail_options, used)
        return answer if answer.ok or not used else _redacted(answer, account, used)

    def _send(self, account: MailAccount, mail_from: str, rcpt_tos: list[str], data: bytes,
              mail_options: list[str] | None, used: list[str]) -> UpstreamAnswer:
        try:
            token = self.tokens.get(account.config_name)
        except TokenUnavailable as exc:
            return UpstreamAnswer("451 4.7.0 The relay has no token for its upstream account; try again later",
                                  None, str(exc), "token")
        used.append(token)
        for attempt in (1, 2):
            try:
                return self._send_once(account, token, mail_from, rcpt_tos, data, mail_options or [])
            except _Rejected as exc:
                if attempt == 2:
                    return UpstreamAnswer("451 4.7.0 The relay could not sign in upstream; try again later",
                                          exc.code, exc.text)
                try:  # the cached token may have been replaced meanwhile: ask once more
                    token = self.tokens.get(account.config_name, fresh=True)
                    used.append(token)
                except TokenUnavailable as tu:
                    return UpstreamAnswer("451 4.7.0 The relay has no token for its upstream account; try again "
                                          "later", exc.code, f"{exc.text}; {tu}", "token")
        raise AssertionError("not reached")

    def _connect(self, account: MailAccount) -> smtplib.SMTP:
        from desktop.usage.connection import tls_context

        context = tls_context(account.ca_file)
        host, port = account.host, account.effective_port
        if account.spec.tls == TLS_IMPLICIT:
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, local_hostname=self.ehlo_name, timeout=self.timeout,
                                                    context=context)
            client.ehlo(self.ehlo_name)
            return client
        client = smtplib.SMTP(host, port, local_hostname=self.ehlo_name, timeout=self.timeout)
        try:
            client.ehlo(self.ehlo_name)
            if not client.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError(f"{host}:{port} does not offer STARTTLS; the token is never sent "
                                                    "without TLS")
            client.starttls(context=context)
            client.ehlo(self.ehlo_name)
        except BaseException:
            client.close()
            raise
        return client

    def _send_once(self, account: MailAccount, token: str, mail_from: str, rcpt_tos: list[str],
                   data: bytes, mail_options: list[str]) -> UpstreamAnswer:
        where = f"{account.host}:{account.effective_port}"
        key = _pool_key(account)
        client = self._take(key)
        if client is not None:  # a signed-in connection from the last messages: no TLS handshake, no AUTH
            progress: dict[str, bool] = {}
            try:
                answer = self._transaction(client, mail_from, rcpt_tos, data, _options(client, mail_options),
                                           progress)
            except (OSError, smtplib.SMTPException) as exc:
                _close(client)
                if progress.get("data"):
                    return _broken(where, exc)
                client = None  # closed by the server meanwhile, before anything of this message: a new one
            else:
                self._give_back(key, client)
                return answer
        try:
            client = self._connect(account)
        except ssl.SSLCertVerificationError as exc:
            return UpstreamAnswer("451 4.4.1 The upstream server's certificate is not trusted; try again later",
                                  None, f"the certificate of {account.host} is not trusted: "
                                        f"{exc.verify_message or exc}", "tls")
        except (OSError, smtplib.SMTPException) as exc:
            return UpstreamAnswer("451 4.4.1 The upstream server cannot be reached; try again later", None,
                                  f"{where} cannot be reached: {_exc_words(exc)}", "connect")
        try:
            self._authenticate(client, account, token)
            answer = self._transaction(client, mail_from, rcpt_tos, data, _options(client, mail_options), {})
        except _Rejected:
            _close(client)
            raise
        except smtplib.SMTPResponseException as exc:
            _close(client)
            return UpstreamAnswer(f"{exc.smtp_code} {_words(exc)}", exc.smtp_code, _words(exc))
        except (OSError, smtplib.SMTPException) as exc:
            _close(client)
            return _broken(where, exc)
        self._give_back(key, client)
        return answer

    # ---- signed-in connections kept for the next message (at most POOL_SIZE per account, IDLE_SECONDS)
    def _take(self, key: tuple[object, ...]) -> smtplib.SMTP | None:
        now = time.monotonic()
        with self._pool_lock:
            idle = self._idle.get(key, [])
            while idle:
                client, since = idle.pop()
                if now - since < IDLE_SECONDS:
                    return client
                _close(client, polite=True)
        return None

    def _give_back(self, key: tuple[object, ...], client: smtplib.SMTP) -> None:
        with self._pool_lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < POOL_SIZE:
                idle.append((client, time.monotonic()))
                return
        _close(client, polite=True)

    def close(self) -> None:
        """QUIT every kept connection (the relay stops)."""
        with self._pool_lock:
            self._closed = True
            kept = [client for idle in self._idle.values() for client, _since in idle]
            self._idle.clear()
        for client in kept:
            _close(client, polite=True)

    def _authenticate(self, client: smtplib.SMTP, account: MailAccount, token: str) -> None:
        raw = _sasl_raw(account, token)
        calls = [0]

        def respond(challenge: bytes | None = None) -> str:
            calls[0] += 1
            return raw if calls[0] == 1 else ""  # an error challenge: an empty answer brings the final 535

        one_line = len(raw) * 4 // 3 + 40 <= 512  # RFC 4954: no initial response that makes the line too long
        try:
            client.auth(account.mechanism, respond, initial_response_ok=one_line)
        except smtplib.SMTPAuthenticationError as exc:
            raise _Rejected(exc.smtp_code, f"{exc.smtp_code} {_words(exc)}") from None

    @staticmethod
    def _transaction(client: smtplib.SMTP, mail_from: str, rcpt_tos: list[str], data: bytes,
                     options: list[str], progress: dict[str, bool]) -> UpstreamAnswer:
        """MAIL, every RCPT, DATA. ``progress["data"]`` is set once DATA was sent: a connection that breaks after
        that may have delivered the message (the device is told to send again), before it nothing happened."""
        code, msg = client.mail(mail_from, options)
        if code != 250:
            client.rset()
            words = msg.decode("utf-8", "replace")
            return UpstreamAnswer(f"{code} {words}", code, f"MAIL FROM: {code} {words}")
        for rcpt in rcpt_tos:
            code, msg = client.rcpt(rcpt)
            if code not in (250, 251):
                client.rset()
                words = msg.decode("utf-8", "replace")
                return UpstreamAnswer(f"{code} {words} (recipient {rcpt}; nothing was sent)", code,
                                      f"RCPT TO {rcpt}: {code} {words}")
        progress["data"] = True
        try:
            code, msg = client.data(data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (not 354): nothing was sent
            client.rset()
            return UpstreamAnswer(f"{exc.smtp_code} {_words(exc)}", exc.smtp_code, f"DATA: {exc.smtp_code} "
                                                                                   f"{_words(exc)}")
        words = msg.decode("utf-8", "replace")
        if code == 250:
            return UpstreamAnswer(f"250 2.0.0 Delivered upstream: {words}", code, f"{code} {words}")
        client.rset()
        return UpstreamAnswer(f"{code} {words}", code, f"DATA: {code} {words}")


def _sasl_raw(account: MailAccount, token: str) -> str:
    if account.mechanism == MECH_OAUTHBEARER:
        return oauthbearer_string(account.login, token, account.host, account.effective_port)
    return xoauth2_string(account.login, token)


def _redacted(answer: UpstreamAnswer, account: MailAccount, tokens: list[str]) -> UpstreamAnswer:
    """A refusal as the device, the log and the window see it: no token and no SASL string in any form, however a
    careless server echoed it (``desktop.usage.redact``)."""
    import base64

    from desktop.usage.redact import Redactor

    redactor = Redactor()
    for token in tokens:
        raw = _sasl_raw(account, token)
        redactor.add_token(token)
        redactor.add_sasl(account.mechanism, raw, base64.b64encode(raw.encode("utf-8")).decode("ascii"))
    return UpstreamAnswer(redactor.redact(answer.reply), answer.code, redactor.redact(answer.text), answer.stage)


def _options(client: smtplib.SMTP, wanted: list[str]) -> list[str]:
    offered = {"BODY=8BITMIME": "8bitmime", "SMTPUTF8": "smtputf8"}
    return [o for o in (w.upper() for w in wanted) if o in offered and client.has_extn(offered[o])]


def _exc_words(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_words(exc)}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__
