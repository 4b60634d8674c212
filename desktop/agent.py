"""The window as the token agent: ``tokendesk token`` and ``refresh`` answered by a running window. No Qt.

While a Tokendesk window runs on a data directory, ``tokendesk token NAME`` does not open the
store, the vault or the keyring itself: it asks the window over the instance socket
(``desktop.instance``: abstract Unix socket, ``SO_PEERCRED`` checked both ways), and the window
answers from its open vault. A refresh then happens in the window - the same ``TokenService`` code
under the same cross-process lock (``desktop.oauth.locks``) as the command line's own path, so
window and command never race. Without a window (nobody listens, or it does not take the request
in time, or it is an older Tokendesk that knows only "show"), the command does the work itself.

Protocol, version 1: one line of JSON each way, UTF-8, ``\\n``-terminated.

* request ``{"v":1,"op":"token","name":NAME}`` (also ``"refresh"``; ``"vault_key"`` without a
  name), at most ``MAX_REQUEST`` bytes, read within ``READ_TIMEOUT``;
* the window takes it at once with ``{"v":1,"accepted":true}`` - the client waits ``ACCEPT_TIMEOUT``
  for that (a hung window costs a script a second, not a minute) and then up to ``ANSWER_TIMEOUT``
  for the work, which may include a refresh with its retries;
* answer ``{"v":1,"ok":true,"token":...,"token_type":"Bearer","expires_at":ISO|null,"account":...,
  "scope":...}`` (``refresh``: ``name``, ``expires_at``, ``has_refresh_token``), or
  ``{"v":1,"ok":false,"message":...,"hint":...,"exit":3|4|5|1}`` with the command line's own
  texts and exit codes, or ``{"v":1,"ok":false,"unsupported":true}`` / ``"locked":true`` (an
  unknown request; the window's vault waits for its passphrase): the command then works alone.

The lines "show" and "minimized" (a second ``tokendesk`` start) keep working as before. The window
accepts on its GUI thread and serves each connection on a small bounded pool (``AgentServer``);
``TokenAgent`` does the work and records who asked: the peer's pid from ``SO_PEERCRED``, walked up
to the program behind it by ``desktop.procinfo`` (``/usr/bin/msmtp``), kept as "last used by".

The client side imports nothing but ``socket`` and ``json`` (``tokendesk token`` with a window
running costs a fraction of a keyring read). No token is ever logged.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from desktop import instance

if TYPE_CHECKING:
    from pathlib import Path

    from desktop.services import Context

VERSION = 1
#: the longest request line the window reads (a configuration name is at most a few hundred bytes)
MAX_REQUEST = 4096
#: the longest answer line the command reads (a token of a few KB, JSON-escaped)
MAX_ANSWER = 256 * 1024
#: client: connecting plus the window taking the request; longer means it hangs - work alone
ACCEPT_TIMEOUT = 1.0
#: client: the work after the window took it (a refresh with retries, possibly after another refresh's lock)
ANSWER_TIMEOUT = 180.0
#: window: reading the request line, and writing the answer
READ_TIMEOUT = 2.0
WRITE_TIMEOUT = 5.0
#: window: requests served at once, and waiting beyond those (more are closed unanswered: the command works alone)
WORKERS = 4
MAX_WAITING = 32

OP_TOKEN = "token"
OP_REFRESH = "refresh"
OP_VAULT_KEY = "vault_key"
OPS = (OP_TOKEN, OP_REFRESH, OP_VAULT_KEY)

_ACCEPTED = b'{"v":1,"accepted":true}\n'


def _logger():  # noqa: ANN202 - logging is imported only when something is worth saying (client start-up time)
    import logging

    return logging.getLogger(__name__)


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def _decode(line: bytes | None) -> dict[str, Any] | None:
    if not line:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class _LineReader:
    """Lines from a socket, at most ``limit`` bytes each (the socket's time-out applies to every read)."""

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.sock = sock
        self.limit = limit
        self.buffer = b""

    def line(self) -> bytes | None:
        """The next line without its newline; None at the end of the stream or past the limit."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > self.limit:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line if len(line) <= self.limit else None


# ---- the client (the command line)
def default_home() -> str:
    """The data directory, as ``desktop.paths.data_dir`` names it (without creating it)."""
    home = os.environ.get("TOKENDESK_HOME")
    if home:
        return os.path.expanduser(home)
    from desktop.paths import data_dir

    return str(data_dir(create=False))


def ask(request: dict[str, Any], home: Path | str | None = None, *, accept_timeout: float | None = None,
        answer_timeout: float | None = None) -> dict[str, Any] | None:
    """The window's answer to ``request`` (``"ok"`` true or false), or None when no window answered it:
    none runs, it did not take the request within ``accept_timeout``, it is an older Tokendesk, the
    answer was garbled, or the window cannot serve it (unknown request, vault locked). None means: work
    alone."""
    sock = instance.connect(default_home() if home is None else home,
                            ACCEPT_TIMEOUT if accept_timeout is None else accept_timeout)
    if sock is None:
        return None
    message: dict[str, Any] | None = None
    with sock:
        try:
            sock.sendall(_encode({"v": VERSION, **request}))
            reader = _LineReader(sock, MAX_ANSWER)
            message = _decode(reader.line())
            if message is not None and message.get("accepted") is True:
                sock.settimeout(ANSWER_TIMEOUT if answer_timeout is None else answer_timeout)
                message = _decode(reader.line())
        except OSError as exc:  # time-out, reset: the window hangs or went away
            _logger().info("the Tokendesk window did not answer (%s); working without it", exc)
            return None
    if message is None or message.get("v") != VERSION or not isinstance(message.get("ok"), bool):
        _logger().info("no usable answer from the Tokendesk window (an older version?); working without it")
        return None
    if message.get("unsupported") or message.get("locked"):
        return None
    return message


def ask_vault_key(home: Path | str | None = None) -> tuple[str, bytes] | None:
    """The key of the vault a running window has open: (key id, key), or None (no window, or its vault is
    locked). ``desktop.cli.common`` hands this to the vault, so a command run while the window is unlocked
    needs no passphrase."""
    import base64
    import binascii

    answer = ask({"op": OP_VAULT_KEY}, home)
    if not answer or not answer.get("ok"):
        return None
    key_id, key = answer.get("key_id"), answer.get("key")
    if not isinstance(key_id, str) or not isinstance(key, str):
        return None
    try:
        return key_id, base64.b64decode(key, validate=True)
    except (ValueError, binascii.Error):
        return None


# ---- the window's side: serving the socket
class AgentServer:
    """Serves the instance socket: ``accept_ready()`` runs on the thread that watches the listener (the
    GUI's, through a ``QSocketNotifier``) and never blocks; reading, working and answering happen on a
    pool of ``workers`` threads. ``handle(request, peer_pid)`` returns the answer (without ``v``);
    ``on_command("show"|"minimized")`` is called on a worker thread (the GUI queues it to its thread)."""

    def __init__(self, listener: socket.socket, handle: Callable[[dict[str, Any], int], dict[str, Any]],
                 on_command: Callable[[str], None], *, workers: int = WORKERS, max_waiting: int = MAX_WAITING,
                 read_timeout: float = READ_TIMEOUT) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.listener = listener
        self.handle = handle
        self.on_command = on_command
        self.read_timeout = read_timeout
        self._limit = workers + max_waiting
        self._busy = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tokendesk-agent")
        self._closed = False

    def accept_ready(self) -> int:
        """Accept every waiting connection (non-blocking); returns how many were taken on."""
        taken = 0
        while not self._closed:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError, TimeoutError):
                break
            except OSError:
                _logger().warning("the instance socket refused a connection", exc_info=True)
                break
            creds = instance.peer_credentials(conn)
            if creds is None or creds[1] != os.getuid():
                conn.close()  # another user: not a word
                continue
            with self._lock:
                full = self._busy >= self._limit
                if not full:
                    self._busy += 1
            if full:
                _logger().warning("too many requests at once; one was closed unanswered (it works alone)")
                conn.close()
                continue
            try:
                self._pool.submit(self._serve, conn, creds[0])
            except RuntimeError:  # the pool shut down meanwhile
                self._release()
                conn.close()
                break
            taken += 1
        return taken

    def close(self, timeout: float = 0.0) -> bool:
        """Stop taking requests: waiting ones are closed unanswered (their commands work alone), running ones
        get up to ``timeout`` seconds to finish. False when some still run."""
        import time

        self._closed = True
        self._pool.shutdown(wait=False)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._busy <= 0:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1

    def _serve(self, conn: socket.socket, pid: int) -> None:
        try:
            with conn:
                if self._closed:
                    return  # the window is quitting: the command works alone
                conn.settimeout(self.read_timeout)
                line = _LineReader(conn, MAX_REQUEST).line()
                if line is None:
                    return
                text = line.strip()
                if text in (b"show", b"minimized"):  # a second start of the window (desktop.instance)
                    try:
                        conn.sendall(b"ok\n")
                    except OSError:
                        pass
                    self.on_command(text.decode("ascii"))
                    return
                request = _decode(text)
                if request is None:
                    return  # not ours: close without a word
                if request.get("v") != VERSION:
                    conn.sendall(_encode({"v": VERSION, "ok": False, "unsupported": True,
                                          "message": f"protocol version {request.get('v')!r} is not spoken here"}))
                    return
                conn.sendall(_ACCEPTED)
                try:
                    answer = self.handle(request, pid)
                except Exception as exc:  # handle() answers its own failures; this is the last resort
                    _logger().warning("agent: a %s request failed: %s", request.get("op"), type(exc).__name__,
                                      exc_info=True)
                    answer = {"ok": False, "exit": 1, "message": f"error: {exc}"}
                conn.settimeout(WRITE_TIMEOUT)
                conn.sendall(_encode({"v": VERSION, **answer}))
        except OSError as exc:  # the command gave up (time-out) or went away: nothing to do
            _logger().debug("agent: connection from pid %d ended early: %s", pid, exc)
        except Exception:
            _logger().exception("agent: serving a request failed")
        finally:
            self._release()


# ---- the window's side: the work
def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _vault_error_kinds() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(VaultError, VaultLocked) when the vault module exists, else empty tuples."""
    try:
        from desktop.store.vault_errors import VaultError, VaultLocked
    except ImportError:
        return (), ()
    return (VaultError,), (VaultLocked,)


class TokenAgent:
    """Answers the agent's requests from a context (the window's): the same ``TokenService`` calls as the
    command line. ``on_changed(config_id)`` is told (on the worker thread) when a token's state changed -
    refreshed, marked used, an error stored - so the window can update that row."""

    def __init__(self, ctx: Context, on_changed: Callable[[int], None] | None = None,
                 program_for: Callable[[int], str] | None = None) -> None:
        self.ctx = ctx
        self.on_changed = on_changed or (lambda _config_id: None)
        if program_for is None:
            from desktop.procinfo import requesting_program

            program_for = requesting_program
        self.program_for = program_for
        #: the token answers handed out, by casefolded name, with their expiry: what this window holds and serves
        #: while a team store cannot be reached (issue 11 point 8), until they expire - never written anywhere
        self._held: dict[str, tuple[dict[str, Any], Any]] = {}

    def __call__(self, request: dict[str, Any], peer_pid: int) -> dict[str, Any]:
        op = request.get("op")
        if op == OP_VAULT_KEY:
            return self._vault_key()
        name = request.get("name")
        if op not in (OP_TOKEN, OP_REFRESH) or not isinstance(name, str) or not name or len(name) > 1000:
            return {"ok": False, "unsupported": True, "message": "unknown request"}
        if self._vault_locked():
            return {"ok": False, "locked": True, "message": "the window's vault waits for its passphrase"}
        from desktop.oauth.errors import TokenError
        from desktop.store.repository import NotFoundError

        vault_error, vault_locked = _vault_error_kinds()
        config_id: int | None = None
        canonical = name
        try:
            cfg = self.ctx.store.get(name)
            config_id, canonical = cfg.id, cfg.name
            assert config_id is not None
            before = self.ctx.store.get_state(config_id)
            if op == OP_TOKEN:
                answer, after = self._token(cfg.name, peer_pid)
            else:
                answer, after = self._refresh(cfg.name)
        except NotFoundError as exc:
            return {"ok": False, "exit": 3, "message": str(exc), "hint": ""}
        except TokenError as exc:
            from desktop.cli.oauth_commands import _token_failure

            failure = _token_failure(exc, name)
            self._changed(config_id)  # the failure is stored on the token
            return {"ok": False, "exit": failure.exit_code, "message": str(failure), "hint": exc.hint or "",
                    "name": canonical}
        except Exception as exc:
            if vault_locked and isinstance(exc, vault_locked):
                return {"ok": False, "locked": True, "message": "the window's vault waits for its passphrase"}
            if vault_error and isinstance(exc, vault_error):
                return {"ok": False, "exit": 1, "message": str(exc), "hint": getattr(exc, "hint", "")}
            from desktop.store.database import damage_from

            damaged = damage_from(exc, self.ctx.store.path)
            if damaged is not None:  # the command prints what happened and what to do, as it would alone
                return {"ok": False, "exit": 1, "message": str(damaged), "hint": ""}
            away = self._while_away(op, name, exc)
            if away is not None:
                return away
            _logger().warning("agent: the %s request for '%s' failed", op, name, exc_info=True)
            return {"ok": False, "exit": 1, "message": f"error: {exc}", "hint": ""}
        if after != before:
            self._changed(config_id)
        if getattr(self.ctx.store, "is_team", False):
            self._hold(op, (name, canonical), answer, after)
        return answer

    def _hold(self, op: str, names: tuple[str, str], answer: dict[str, Any], state: Any) -> None:
        for key in {n.casefold() for n in names}:
            if op == OP_TOKEN and state.token_expires_at is not None:
                self._held[key] = (dict(answer), state.token_expires_at)
            else:  # refreshed: the next request holds the new token
                self._held.pop(key, None)

    def _while_away(self, op: str, name: str, exc: BaseException) -> dict[str, Any] | None:
        """The team store cannot be reached: a token this window holds, until it expires; else None (not a team
        store, another error) or the refusal in words."""
        if not getattr(self.ctx.store, "is_team", False):
            return None
        from desktop.models.token import utcnow
        from desktop.store.pg import StoreUnreachable
        from desktop.store.pg_listen import is_unreachable

        if not is_unreachable(self.ctx.store, exc):
            return None
        held = self._held.get(name.casefold()) if op == OP_TOKEN else None
        if held is not None and held[1] > utcnow():
            _logger().info("agent: the team store cannot be reached; '%s' served from the token this window holds "
                           "(valid until %s)", name, held[1])
            return dict(held[0])
        message = str(exc) if isinstance(exc, StoreUnreachable) else (
            f"The team store {self.ctx.store.location} cannot be reached ({exc}).")
        return {"ok": False, "exit": 1, "message": message,
                "hint": "While the server is away the window hands out only the valid tokens it handed out before; "
                        "check the network and that the database server runs, then try again."}

    def _token(self, name: str, peer_pid: int) -> tuple[dict[str, Any], Any]:
        from desktop.oauth.tokens import TokenService, fingerprint

        program = self.program_for(peer_pid) if peer_pid > 0 else ""
        token, state = TokenService(self.ctx).access_token_and_state(name, used_by=program)
        _logger().debug("agent: token %s of '%s' handed to %s (pid %d)", fingerprint(token), name,
                        program or "an unknown program", peer_pid)
        return {
            "ok": True,
            "token": token,
            "token_type": state.token_info.get("token_type") or "Bearer",  # as the provider gave it
            "expires_at": _iso(state.token_expires_at),
            "account": state.account or None,
            "scope": state.token_info.get("granted_scope") or None,
        }, state

    def _refresh(self, name: str) -> tuple[dict[str, Any], Any]:
        from desktop.oauth.tokens import TokenService

        state = TokenService(self.ctx).refresh(name)
        _logger().info("agent: '%s' refreshed for the command line", name)
        return {"ok": True, "name": name, "expires_at": _iso(state.token_expires_at),
                "has_refresh_token": state.has_refresh_token}, state

    def _vault_locked(self) -> bool:
        """The window's vault is protected by a passphrase not given yet: the command asks for it itself."""
        vault = getattr(self.ctx, "vault", None)
        if vault is None or getattr(vault, "is_open", True):
            return False
        try:
            return vault.info().mode == "passphrase"
        except Exception:
            return False

    def _vault_key(self) -> dict[str, Any]:
        """The open vault's key for a command on this data directory (never opens the vault for it)."""
        import base64

        vault = getattr(self.ctx, "vault", None)
        if vault is None or not getattr(vault, "is_open", False):
            return {"ok": False, "locked": True, "message": "no open vault"}
        cipher = vault.cipher()
        return {"ok": True, "key_id": cipher.key_id, "key": base64.b64encode(cipher.key).decode("ascii")}

    def _changed(self, config_id: int | None) -> None:
        if config_id is None:
            return
        try:
            self.on_changed(config_id)
        except Exception:
            _logger().debug("agent: telling the window about a change failed", exc_info=True)
