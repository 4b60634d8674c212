"""One running Tokendesk window per data directory; later starts and commands talk to it over a socket.

Two GUIs on one database would both plan, both refresh and both announce every warning (each
reads the announcement log once at start), and the admin would see two tray icons. So the
first GUI listens on a Unix socket in Linux's abstract namespace (no file to go stale), named
after the user and the data directory; ``tokendesk`` started again connects, sends one line
("show", or "minimized" for ``--minimized``) and exits when the running one answers "ok".
The same socket carries the token agent's JSON requests (``desktop.agent``: ``tokendesk token``
answered by the window). Abstract sockets carry no file permissions, so both ends check the other's
user id (``SO_PEERCRED``): another user can neither raise our window nor ask it for a token nor, by
squatting the name, stop Tokendesk from starting. Elsewhere (no abstract sockets) nothing is
enforced. No Qt here, and nothing heavier than the C ``_socket`` module (not even ``socket``, ``pathlib`` or
``logging`` until needed): the check runs before PySide6 is imported, and ``tokendesk token`` asks through it.
``socket``'s Python wrapper builds four IntEnums when imported (~4 ms of the window's start), so the start's
check and claim use ``_socket`` objects; ``full`` turns one into a ``socket.socket`` where its API is needed.
"""

from __future__ import annotations

import _socket
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket
    from pathlib import Path

COMMANDS = ("show", "minimized")
_ANSWER = b"ok\n"
#: connections waiting to be accepted (a burst of ``tokendesk token`` calls, e.g. mbsync on many channels)
BACKLOG = 32


def _logger():  # noqa: ANN202 - logging is imported only when something is worth saying
    import logging

    return logging.getLogger(__name__)


def _fnv1a64(data: bytes) -> int:
    """FNV-1a, 64 bit: a stable digest of the path without importing hashlib (start-up time)."""
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def address(home: Path | str) -> str:
    """The abstract socket name for ``home`` (leading NUL: Linux abstract namespace).
    ``os.path.realpath`` is what ``Path.resolve()`` does, without importing pathlib."""
    digest = _fnv1a64(os.path.realpath(os.fspath(home)).encode("utf-8", "surrogateescape"))
    return f"\0tokendesk-{os.getuid()}-{digest:016x}"


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(_socket, "AF_UNIX") and hasattr(_socket, "SO_PEERCRED")


def full(raw: _socket.socket) -> socket.socket:
    """The ``socket.socket`` for a socket made here with ``_socket`` (the same file descriptor and timeout)."""
    import socket

    timeout = raw.gettimeout()
    sock = socket.socket(raw.family, raw.type, raw.proto, fileno=raw.detach())
    sock.settimeout(timeout)
    return sock


def peer_credentials(sock: socket.socket | _socket.socket) -> tuple[int, int, int] | None:
    """(pid, uid, gid) of the process at the other end (Linux ``SO_PEERCRED``); None when unknown."""
    try:
        raw = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    except OSError:
        return None
    if len(raw) != 12:
        return None
    return (int.from_bytes(raw[0:4], sys.byteorder, signed=True), int.from_bytes(raw[4:8], sys.byteorder),
            int.from_bytes(raw[8:12], sys.byteorder))


def _same_user(sock: socket.socket | _socket.socket) -> bool:
    """The process at the other end runs as this user."""
    creds = peer_credentials(sock)
    return creds is not None and creds[1] == os.getuid()


def connect(home: Path | str, timeout: float) -> socket.socket | None:
    """A connection to the window on ``home``, its user checked; None when none listens (or another user's)."""
    raw = _connect(home, timeout)
    return None if raw is None else full(raw)


def _connect(home: Path | str, timeout: float) -> _socket.socket | None:
    if not supported():
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address(home))
    except OSError:
        sock.close()
        return None  # nobody listens
    if not _same_user(sock):
        sock.close()
        _logger().warning("another user's process holds Tokendesk's instance socket; not talking to it")
        return None
    return sock


def ask_running_instance(command: str, home: Path | str, timeout: float = 2.0) -> bool:
    """True when a Tokendesk GUI for ``home`` took ``command``; False when none runs (or it hangs)."""
    sock = _connect(home, timeout)
    if sock is None:
        return False  # this start is the first
    try:
        sock.sendall(command.encode("ascii") + b"\n")
        return sock.recv(16) == _ANSWER
    except OSError as exc:  # it listens but does not answer in time: start anyway
        _logger().warning("another Tokendesk holds %s but did not answer: %s", home, exc)
        return False
    finally:
        sock.close()


def claim(home: Path | str, *, raw: bool = False) -> socket.socket | None:
    """Listen for later starts; None when another instance already listens (or not supported). ``raw``: a
    ``_socket.socket`` (the window's start: ``full`` makes it a ``socket.socket`` once it serves)."""
    if not supported():
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.bind(address(home))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock if raw else full(sock)  # type: ignore[return-value]


def read_command(listener: socket.socket) -> str | None:
    """Accept one waiting connection, read its command and answer; None when nothing usable came.
    (The window serves the socket through ``desktop.agent.AgentServer``, which also speaks this.)"""
    try:
        conn, _ = listener.accept()
    except (BlockingIOError, InterruptedError):
        return None
    with conn:
        if not _same_user(conn):
            return None
        conn.settimeout(1.0)
        try:
            line = conn.recv(64).decode("ascii", "replace").strip()
        except OSError:
            return None
        if line not in COMMANDS:
            return None
        try:
            conn.sendall(_ANSWER)
        except OSError:
            pass
        return line
