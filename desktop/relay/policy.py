"""The relay's rules, kept apart from the SMTP plumbing so each can be tested on its own.

* Where it listens: ``parse_listen`` (``ADDRESS:PORT``, ``[::1]:PORT``); ``needs_tls``: anything but loopback
  (127.0.0.0/8, ::1, ``localhost``) needs STARTTLS before AUTH - never an open relay on a network.
* How often a device may send: ``RateLimit`` (N messages per hour, counted from the message log plus what is
  in flight, so parallel connections cannot slip past it and a restart forgets nothing).
* Wrong passwords: ``AuthThrottle`` - every failure from one peer address makes its next answer wait longer
  (1, 2, 4 ... up to ``max_delay`` seconds); after ``lockout_after`` failures within ``window`` seconds the
  address gets no more tries until the window has passed.
* An upstream refusal in plain words: ``upstream_hint`` (what a mail test would tell the admin).
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_LISTEN = "127.0.0.1:2525"


class ListenError(ValueError):
    pass


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:2525`` -> ("127.0.0.1", 2525); ``[::1]:2525``; ``:2525`` means 127.0.0.1."""
    text = (text or "").strip() or DEFAULT_LISTEN
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ListenError(f"'{text}' has no port: write ADDRESS:PORT, for example {DEFAULT_LISTEN}.")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise ListenError(f"'{port_text}' is not a port number: write ADDRESS:PORT, e.g. {DEFAULT_LISTEN}.") from None
    if not 0 < port < 65536:
        raise ListenError(f"The port must be between 1 and 65535, not {port}.")
    return host, port


def is_loopback(host: str) -> bool:
    if host.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def needs_tls(host: str) -> bool:
    """Listening anywhere but on this machine's loopback needs STARTTLS (and AUTH only after it)."""
    return not is_loopback(host)


@dataclass
class RateLimit:
    """At most ``per_hour`` accepted messages per device and hour (0: no limit)."""

    per_hour: int
    sent_within_hour: Callable[[str], int]
    _in_flight: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def try_begin(self, device: str) -> str:
        """'' and the message counts as in flight; else the refusal's words."""
        with self._lock:
            if self.per_hour <= 0:
                self._in_flight[device] = self._in_flight.get(device, 0) + 1
                return ""
            used = self.sent_within_hour(device) + self._in_flight.get(device, 0)
            if used >= self.per_hour:
                return (f"451 4.7.1 Rate limit: device {device} may send {self.per_hour} messages an hour and "
                        "has; try again later")
            self._in_flight[device] = self._in_flight.get(device, 0) + 1
            return ""

    def end(self, device: str) -> None:
        with self._lock:
            left = self._in_flight.get(device, 0) - 1
            if left > 0:
                self._in_flight[device] = left
            else:
                self._in_flight.pop(device, None)


@dataclass
class AuthThrottle:
    base_delay: float = 1.0
    max_delay: float = 16.0
    lockout_after: int = 10
    window: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, peer: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(peer, []) if now - t < self.window]
        if kept:
            self._failures[peer] = kept
        else:
            self._failures.pop(peer, None)
        return kept

    def locked_out(self, peer: str) -> float:
        """Seconds until ``peer`` may try again (0: it may)."""
        with self._lock:
            now = self.clock()
            recent = self._recent(peer, now)
            if len(recent) < self.lockout_after:
                return 0.0
            return max(0.0, self.window - (now - recent[-self.lockout_after]))

    def failed(self, peer: str) -> float:
        """Count a failure; the seconds to wait before answering it."""
        with self._lock:
            now = self.clock()
            recent = self._recent(peer, now)
            recent.append(now)
            self._failures[peer] = recent
            return min(self.max_delay, self.base_delay * 2 ** (len(recent) - 1))

    def succeeded(self, peer: str) -> None:
        with self._lock:
            self._failures.pop(peer, None)


def upstream_hint(code: int | None, text: str, account_login: str, account_host: str, mismatch: str = "",
                  stage: str = "") -> str:
    """What the admin should do about an upstream answer, in plain words ('' when there is nothing to say)."""
    low = text.casefold()
    if code is not None and 200 <= code < 300:
        return ""
    later = " The devices were told to try again later, so they keep their messages."
    if stage == "token":
        return ("Tokendesk has no usable token for the mail account: request a new token for its configuration "
                "(Request new token on the Tokens tab, or 'tokendesk authorize')." + later)
    if stage == "connect":
        return (f"{account_host} could not be reached: check the network, and the mail account's host and port "
                "(a mail test of the account shows the details)." + later)
    if stage == "tls":
        return (f"The certificate of {account_host} is not trusted: if the server uses its own CA, set the CA file "
                "on the mail account. Tokendesk never turns verification off." + later)
    if stage == "broken":
        return (f"The connection to {account_host} broke while sending; the device was told to send again (the "
                "message may arrive twice, never not at all).")
    exchange = re.search(r"\b5\.7\.(139|3)\b", low)
    if exchange or "smtpclientauthentication is disabled" in low:
        code_text = exchange.group(0) if exchange else "5.7.139"
        return (f"SMTP AUTH is disabled for the mailbox {account_login} (Exchange {code_text}): "
                "turn on Authenticated SMTP for it (Microsoft 365 admin center > the user > Mail > Manage email apps, "
                "or Set-CASMailbox -SmtpClientAuthenticationDisabled $false), then send again.")
    if code in (535, 534, 530) or "5.7.8" in low:
        return (mismatch + " " if mismatch else "") + (
            f"{account_host} rejected the token for {account_login}: check that this login is the account that "
            "signed in when the token was requested and that the scope grants SMTP; request a new token if it "
            "was revoked (a mail test of the account shows the details).")
    if code == 550 or code == 553 or "5.7.60" in low or "sendas" in low.replace(" ", ""):
        return (f"{account_host} refused the sender or a recipient: a device may send only as {account_login} "
                "unless that mailbox may send as the alias (Send As permission).")
    if code is None:
        return (f"{account_host} could not be reached or the token could not be had; the device was told to try "
                "again later (a mail test of the account shows the details).")
    if 400 <= code < 500:
        return "The upstream server asked to try again later; the device was told so and keeps the message."
    return ""
