"""One running Tokendesk window per data directory; a second start asks the first to show itself.

Two GUIs on one database would both plan, both refresh and both announce every warning (each
reads the announcement log once at start), and the admin would see two tray icons. So the
first GUI listens on a Unix socket in Linux's abstract namespace (no file to go stale), named
after the user and the data directory; ``tokendesk`` started again connects, sends one line
("show", or "minimized" for ``--minimized``) and exits when the running one answers "ok".
Abstract sockets carry no file permissions, so both ends check the other's user id
(``SO_PEERCRED``): another user can neither raise our window nor, by squatting the name, stop
Tokendesk from starting. Elsewhere (no abstract sockets) nothing is enforced. No Qt here: the check runs before PySide6
is imported, so a second start costs milliseconds. ``desktop.app`` serves the socket.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

COMMANDS = ("show", "minimized")
_ANSWER = b"ok\n"


def _fnv1a64(data: bytes) -> int:
    """FNV-1a, 64 bit: a stable digest of the path without importing hashlib (start-up time)."""
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def address(home: Path) -> str:
    """The abstract socket name for ``home`` (leading NUL: Linux abstract namespace)."""
    digest = _fnv1a64(str(home.resolve()).encode("utf-8", "surrogateescape"))
    return f"\0tokendesk-{os.getuid()}-{digest:016x}"


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "AF_UNIX") and hasattr(socket, "SO_PEERCRED")


def _same_user(sock: socket.socket) -> bool:
    """The process at the other end runs as this user (Linux SO_PEERCRED: pid, uid, gid)."""
    try:
        _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                               struct.calcsize("3i")))
    except OSError:
        return False
    return uid == os.getuid()


def ask_running_instance(command: str, home: Path, timeout: float = 2.0) -> bool:
    """True when a Tokendesk GUI for ``home`` took ``command``; False when none runs (or it hangs)."""
    if not supported():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address(home))
        except OSError:
            return False  # nobody listens: this start is the first
        if not _same_user(sock):
            logger.warning("another user's process holds Tokendesk's instance socket; starting anyway")
            return False
        try:
            sock.sendall(command.encode("ascii") + b"\n")
            return sock.recv(16) == _ANSWER
        except OSError as exc:  # it listens but does not answer in time: start anyway
            logger.warning("another Tokendesk holds %s but did not answer: %s", home, exc)
            return False


def claim(home: Path) -> socket.socket | None:
    """Listen for later starts; None when another instance already listens (or not supported)."""
    if not supported():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(address(home))
        sock.listen(4)
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock


def read_command(listener: socket.socket) -> str | None:
    """Accept one waiting connection, read its command and answer; None when nothing usable came."""
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
