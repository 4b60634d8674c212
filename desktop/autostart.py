"""Start Tokendesk in the tray when the admin logs in (the XDG Autostart specification).

Enabled means: ``$XDG_CONFIG_HOME/autostart/tokendesk.desktop`` (default ``~/.config``) exists and
is not hidden. The entry starts ``tokendesk --minimized`` with the interpreter and data directory
of the running Tokendesk (a ``TOKENDESK_HOME`` in use is written into the entry, so the right
database opens at log-in). Disabling deletes the file. One instance per data directory is kept by
``desktop.instance``, so an autostart while Tokendesk already runs only asks it to stay. No Qt here.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from desktop import APP_NAME
from desktop.paths import ENV_HOME

FILENAME = "tokendesk.desktop"


def entry_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / FILENAME


def is_enabled() -> bool:
    path = entry_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    # an entry a desktop's settings switched off stays on disk with Hidden=true (or a GNOME flag)
    lines = {line.strip().lower() for line in text.splitlines()}
    return "hidden=true" not in lines and "x-gnome-autostart-enabled=false" not in lines


def command() -> list[str]:
    """What the entry runs: this interpreter with ``-m desktop --minimized`` (works for a venv, an
    editable install and a system package alike), in this data directory when one was chosen."""
    argv = [sys.executable, "-m", "desktop", "--minimized"]
    home = os.environ.get(ENV_HOME)
    if home:
        argv = ["env", f"{ENV_HOME}={Path(home).expanduser().resolve()}", *argv]
    return argv


def _exec_value(argv: list[str]) -> str:
    """The Exec key's value: each argument quoted as the Desktop Entry spec wants (\"...\" with \\ escapes)."""
    def quote(arg: str) -> str:
        arg = arg.replace("%", "%%")  # % starts a field code (%f, %u, ...)
        if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
            return arg
        escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
        return f'"{escaped}"'

    # the string-value escape (\\ for a backslash) applies on top of the quoting rule
    return " ".join(quote(a) for a in argv).replace("\\", "\\\\")


def entry_text() -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={APP_NAME}\n"
        "Comment=Keeps OAuth2 tokens fresh and warns before they expire (started in the tray)\n"
        f"Exec={_exec_value(command())}\n"
        "Icon=tokendesk\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def enable() -> Path:
    """Write the entry (atomically; mode 0644 as desktop files are); returns its path."""
    path = entry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(entry_text(), encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def disable() -> bool:
    """Delete the entry; True when there was one."""
    try:
        entry_path().unlink()
    except FileNotFoundError:
        return False
    return True


def describe() -> str:
    return (f"on ({entry_path()})" if is_enabled() else "off") + f"; runs: {shlex.join(command())}"
