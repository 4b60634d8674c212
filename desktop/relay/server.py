"""The SMTP submission relay: devices log in with their name and password, the relay sends upstream with a token.

``RelayServer`` runs aiosmtpd's asyncio server in a thread of its own (the window's GUI thread and the CLI's main
thread only start and stop it); blocking work - password checks (scrypt), the store, the upstream connection - runs
on a small thread pool, never in the event loop.

Nothing is lost because nothing is acknowledged that the upstream server did not accept first (synchronous
pass-through): the device's DATA gets the upstream's own answer, or a temporary 451 when the upstream could not be
reached or the token could not be had, so the device keeps the message and tries again. A relay that is killed
while a message is in flight has acknowledged nothing for it; there is no queue on disk that could be lost or
delivered twice by the relay. (A kill after the upstream accepted and before the device heard it makes the
device send again: a message may arrive twice, never not at all.)

The rules (``policy.py``): AUTH is required (PLAIN or LOGIN, the device's name and password); on any address but
loopback only after STARTTLS; wrong passwords are throttled per peer address; a device sends only as its account's
address or its aliases; at most N messages an hour per device (setting ``relay.max_messages_per_hour``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from desktop.relay.devices import Device, DeviceRepository, verify_password
from desktop.relay.log import LogEntry, MessageLog
from desktop.relay.policy import AuthThrottle, RateLimit, needs_tls, parse_listen, upstream_hint
from desktop.relay.tls import RelayCertificate, relay_dir
from desktop.relay.upstream import TokenCache, Upstream, UpstreamAnswer

if TYPE_CHECKING:
    from desktop.services import Context
    from desktop.usage.tokens import TokenSource

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"
RECENT_ERRORS = 20


class RelayStartError(RuntimeError):
    """The relay cannot start (address in use, no certificate for a network address, ...), in plain words."""


@dataclass
class RelayStats:
    started_at: datetime | None = None
    delivered: int = 0
    failed: int = 0
    refused_logins: int = 0
    #: the newest failures first: (time, device, answer, hint)
    errors: list[LogEntry] = field(default_factory=list)


class _Handler:
    """aiosmtpd's handler: AUTH PLAIN/LOGIN against the devices, MAIL's sender rule, DATA passed upstream."""

    def __init__(self, relay: RelayServer) -> None:
        self.relay = relay

    # ---- AUTH (aiosmtpd prefers a handler's auth_* methods over its own)
    async def auth_PLAIN(self, server: Any, args: list[str]) -> Any:  # noqa: N802 - aiosmtpd's naming
        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await server.push("501 5.5.2 Malformed PLAIN response")
            return AuthResult(success=False, handled=True)
        return await self._check(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: Any, args: list[str]) -> Any:  # noqa: N802
        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) == 1:
            login = await server.challenge_auth("Username:")
        else:
            try:
                login = base64.b64decode(args[1], validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        if login is MISSING:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth("Password:")
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._check(server, login, password)

    async def _check(self, server: Any, login: bytes, password: bytes) -> Any:
        from aiosmtpd.smtp import AuthResult

        relay = self.relay
        peer = str((server.session.peer or ("?",))[0])
        wait = relay.throttle.locked_out(peer)
        if wait:
            await server.push(f"454 4.7.0 Too many wrong passwords from {peer}; try again in {int(wait // 60) + 1} "
                              "minutes")
            return AuthResult(success=False, handled=True)
        name = login.decode("utf-8", "replace")
        device = await relay.run(relay.verify, name, password.decode("utf-8", "replace"))
        if device is None:
            delay = relay.throttle.failed(peer)
            relay.stats.refused_logins += 1
            logger.warning("relay: wrong device name or password from %s (waiting %.1f s)", peer, delay)
            await asyncio.sleep(delay)
            return AuthResult(success=False, handled=False, message="535 5.7.8 Wrong device name or password")
        relay.throttle.succeeded(peer)
        return AuthResult(success=True, auth_data=device.name)

    # ---- the envelope
    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          mail_options: list[str]) -> str:
        relay = self.relay
        device = await relay.run(relay.devices.find, str(session.auth_data))
        if device is None:
            return "530 5.7.0 This device was removed; authenticate again"
        if not device.may_send_as(address):
            allowed = ", ".join(device.senders) or "no address"
            return f"553 5.7.1 Device {device.name} may send only as {allowed}, not as {address}"
        refusal = await relay.run(relay.rate_precheck, device.name)
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return await self.relay.run(self.relay.deliver, str(session.auth_data), envelope.mail_from,
                                    list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content),
                                    list(envelope.mail_options))


class RelayServer:
    """Start, stop and the counts of one relay. ``on_change()`` is called (from any thread) after every message,
    refused login and start/stop, for the window."""

    def __init__(self, ctx: Context, *, listen: str | None = None, per_hour: int | None = None,
                 certificate: RelayCertificate | None = None, tokens: TokenSource | None = None,
                 throttle: AuthThrottle | None = None, token_ttl: float = 60.0,
                 on_change: Callable[[], None] | None = None) -> None:
        from desktop.usage.tokens import token_source

        store = ctx.store
        self.ctx = ctx
        self.host, self.port = parse_listen(listen if listen is not None else store.get_setting("relay.listen"))
        self.tls = needs_tls(self.host)
        self.certificate = certificate
        self.devices = DeviceRepository(store)
        self.log = MessageLog(store)
        limit = per_hour if per_hour is not None else int(store.get_setting("relay.max_messages_per_hour"))
        self.rate = RateLimit(limit, self.log.sent_within)
        self.throttle = throttle or AuthThrottle()
        self.tokens = TokenCache(tokens or token_source(ctx), ttl=token_ttl)
        self._timeout = float(store.get_setting("network.timeout_seconds") or 20)
        self.upstream = Upstream(self.tokens, timeout=self._timeout)
        self.stats = RelayStats()
        self.on_change = on_change
        self._pool: ThreadPoolExecutor | None = None
        self._controller: Any = None
        self._pepper = secrets.token_bytes(16)
        self._verified: dict[str, tuple[str, bytes]] = {}  # device -> (its stored hash, pepper-hash of the password)
        self._lock = threading.Lock()

    # ---- life cycle
    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self) -> None:
        if self.running:
            return
        if self.tls and self.certificate is None:
            raise RelayStartError(f"Listening on {self.host} (not this machine's loopback) needs STARTTLS: give a "
                                  "certificate, or let Tokendesk make one.")
        import warnings

        from aiosmtpd.controller import Controller

        # AUTH without TLS is allowed on loopback only (needs_tls): the data never leaves this machine
        warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-connection chatter (the same warning)
        context = self.certificate.server_context() if self.tls and self.certificate else None
        kwargs: dict[str, Any] = {"hostname": self.host, "port": self.port, "server_hostname": "tokendesk-relay",
                                  "auth_required": True, "auth_require_tls": self.tls,
                                  "auth_exclude_mechanism": ["CRAM-MD5"], "ready_timeout": 10.0}
        if context is not None:
            kwargs.update(tls_context=context, require_starttls=True)
        if self.upstream._closed:  # started again after a stop: a fresh set of upstream connections
            self.upstream = Upstream(self.tokens, timeout=self._timeout)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="relay")
        controller = Controller(_Handler(self), **kwargs)
        try:
            controller.start()
        except OSError as exc:
            self._pool.shutdown(wait=False)
            self._pool = None
            if exc.errno == errno.EADDRINUSE:
                raise RelayStartError(f"{self.address} is in use - is another relay running ('tokendesk relay "
                                      "status')? Stop it, or choose another address with --listen.") from None
            raise RelayStartError(f"The relay cannot listen on {self.address}: {exc.strerror or exc}.") from None
        self._controller = controller
        self.stats.started_at = datetime.now(UTC)
        self._write_state()
        logger.info("relay listening on %s (%s)", self.address, "STARTTLS required" if self.tls else "loopback")
        self._changed()

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is None:
            return
        try:
            controller.stop()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=False)
                self._pool = None
            self.upstream.close()
            self._remove_state()
            self.stats.started_at = None
            self._changed()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        assert self._pool is not None
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # ---- the work (pool threads)
    def verify(self, name: str, password: str) -> Device | None:
        device = self.devices.find(name)
        if device is None:
            verify_password(password, _DUMMY_HASH)  # the same time for an unknown name as for a wrong password
            return None
        peppered = hashlib.sha256(self._pepper + password.encode("utf-8")).digest()
        with self._lock:
            known = self._verified.get(device.name)
        if known and known[0] == device.password_hash and secrets.compare_digest(known[1], peppered):
            return device
        if not verify_password(password, device.password_hash):
            return None
        with self._lock:
            self._verified[device.name] = (device.password_hash, peppered)
        return device

    def rate_precheck(self, device: str) -> str:
        """MAIL FROM already hears of a used-up limit (DATA checks again, counting what is in flight)."""
        refusal = self.rate.try_begin(device)
        if not refusal:
            self.rate.end(device)
        return refusal

    def deliver(self, device_name: str, mail_from: str, rcpt_tos: list[str], data: bytes,
                mail_options: list[str] | None = None) -> str:
        from desktop.usage.repository import UsageRepository

        device = self.devices.find(device_name)
        if device is None:
            return "530 5.7.0 This device was removed; nothing was sent"
        refusal = self.rate.try_begin(device.name)
        if refusal:
            return refusal
        try:
            account = UsageRepository(self.ctx.store).find_mail_account(device.account_name)
            if account is None:
                answer = UpstreamAnswer("451 4.3.0 The relay's mail account for this device is gone; try again "
                                        "later", None, f"the mail account of device {device.name} was deleted")
            else:
                answer = self.upstream.send(account, mail_from, rcpt_tos, data, mail_options)
            self._record(device, account, mail_from, rcpt_tos, len(data), answer)
        finally:
            self.rate.end(device.name)
        return answer.reply

    def _record(self, device: Device, account: Any, mail_from: str, rcpt_tos: list[str], size: int,
                answer: UpstreamAnswer) -> None:
        hint = ""
        if not answer.ok and account is not None:
            mismatch = ""
            if answer.code in (535, 534, 530) and account.config_id is not None:
                from desktop.oauth.claims import account_mismatch

                try:
                    mismatch = account_mismatch(self.ctx.store.get_state(account.config_id).token_info, account.login)
                except Exception:  # a hint is a courtesy
                    mismatch = ""
            hint = upstream_hint(answer.code, answer.text, account.login, account.host, mismatch, answer.stage)
        entry = LogEntry(time=datetime.now(UTC), device=device.name, sender=mail_from, recipients=rcpt_tos,
                         size=size, ok=answer.ok, answer=answer.text, hint=hint)
        with self._lock:
            if answer.ok:
                self.stats.delivered += 1
            else:
                self.stats.failed += 1
                self.stats.errors.insert(0, entry)
                del self.stats.errors[RECENT_ERRORS:]
        try:
            self.log.record(entry)
        except Exception as exc:  # the message's fate is decided; a log that cannot be written must not change it
            logger.warning("relay: could not log a message of %s: %s", device.name, exc)
        if not answer.ok:
            logger.warning("relay: message of %s not delivered: %s", device.name, answer.text)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # the window's listener must not break delivery
                logger.debug("relay listener failed", exc_info=True)

    # ---- the state file (tokendesk relay status)
    def _write_state(self) -> None:
        folder = relay_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = {"pid": os.getpid(), "listen": self.address, "tls": self.tls,
                 "fingerprint": self.certificate.fingerprint if self.tls and self.certificate else "",
                 "started": (self.stats.started_at or datetime.now(UTC)).isoformat(timespec="seconds")}
        tmp = folder / f".{STATE_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, folder / STATE_FILE)

    def _remove_state(self) -> None:
        path = relay_dir() / STATE_FILE
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass


def running_relay() -> dict[str, Any] | None:
    """What the state file says about a relay that runs (None: none does; a stale file from a killed one is
    ignored)."""
    path = relay_dir() / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(state["pid"]), 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return state
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state


_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

__all__ = ["RelayServer", "RelayStartError", "RelayStats", "running_relay"]
