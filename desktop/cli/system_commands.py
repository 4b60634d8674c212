"""The machine around Tokendesk: ``doctor`` (secrets and keyring, data directory and its integrity, tray,
QtWebEngine, log, a running window, proxy) and ``autostart`` (start in the tray at log-in).

Qt is only probed in a child process (``_qt_probe``), so a missing display or library cannot crash the command.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import stat
import sys
from typing import Any

from desktop.cli.common import EXIT_ERROR, CliError, ContextFactory, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check keyring, tray, QtWebEngine and the data directory")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_doctor)

    p = sub.add_parser("autostart", help="start Tokendesk in the tray at log-in: on, off, or show the state")
    p.add_argument("state", nargs="?", choices=["on", "off"])
    p.set_defaults(handler=cmd_autostart)


def _qt_probe(code: str, timeout: float = 30.0) -> tuple[bool, str]:
    """Run a Qt check in a child process, so a missing display or library cannot crash us."""
    import subprocess

    env = dict(os.environ)
    env.setdefault(
        "QT_QPA_PLATFORM", os.environ.get("QT_QPA_PLATFORM") or ("xcb" if os.environ.get("DISPLAY") else "offscreen")
    )
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return False, "the check did not finish in time"
    out = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode != 0:
        err = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return False, (err[-1] if err else f"exit code {proc.returncode}")[:300]
    return True, out


def vault_check(ctx: Any) -> dict[str, Any]:
    """Doctor's line about secrets: the vault's mode and why, and whether the keyring works (probe)."""
    from desktop.store.keyring_access import probe_keyring
    from desktop.store.vault import MODE_KEYRING, MODE_PASSPHRASE, MODE_TEAM

    vault = ctx.vault
    if vault is None:
        return {"check": "secrets", "ok": True, "detail": ctx.secrets.description}
    info = vault.info()
    probe = probe_keyring()
    keyring_text = f"keyring {probe.backend}: " + ("works (an item was written, read back and deleted)"
                                                   if probe.usable else probe.reason)
    if info.mode == MODE_TEAM:
        from desktop.store import team
        from desktop.store.team_keys import MemberKeyStore

        mine = [m for m in team.members(ctx.store) if m.name == ctx.store.member]
        keys = MemberKeyStore(ctx.store.store_id, ctx.store.member)
        where = keys.location() or "nowhere on this workstation"
        ok = bool(mine and mine[0].has_access and keys.exists())
        state = ("access" if mine and mine[0].has_access else "waiting for a grant") if mine else "not a member"
        return {"check": "secrets", "ok": ok, "detail": f"team store vault: the data key wrapped for each member; you "
                f"('{ctx.store.member}'): {state}; your member key: {where}; {keyring_text}"}
    if info.mode == MODE_KEYRING:
        ok = probe.usable
        detail = f"encrypted vault, data key in the system keyring; why: {info.reason}; {keyring_text}"
    elif info.mode == MODE_PASSPHRASE:
        ok = True
        detail = f"encrypted vault, data key protected by a passphrase; why: {info.reason}; {keyring_text}"
    else:
        ok = probe.usable or not info.legacy
        where = "the system keyring" if probe.usable else "a passphrase (no usable keyring)"
        detail = f"no secret stored yet; the vault will keep its key in {where}; {keyring_text}"
        if info.legacy:
            detail = f"secrets of an earlier version wait to move into the vault; {keyring_text}"
    return {"check": "secrets", "ok": ok, "detail": detail}


def doctor_report(ctx: Any) -> list[dict[str, Any]]:
    from desktop import paths
    from desktop.store.database import SCHEMA_VERSION, damaged_message, quick_check, schema_version

    checks: list[dict[str, Any]] = [vault_check(ctx)]
    home = paths.data_dir()
    db = ctx.store.path
    mode = stat.S_IMODE(db.stat().st_mode) if db and db.exists() else None
    writable = os.access(home, os.W_OK)
    detail = f"{home} ({'writable' if writable else 'NOT writable'}); database {db or ctx.store.location}"
    if mode is not None:
        detail += f" mode {mode:o}"
    problems = quick_check(ctx.store.conn)  # every page read once: a damaged one shows up here
    try:
        counted = f"{ctx.store.count()} configurations"
    except sqlite3.DatabaseError:
        counted = "the configurations cannot be counted"
    detail += f"; schema {schema_version(ctx.store.conn)}/{SCHEMA_VERSION}; {counted}"
    if problems:
        detail += f"; integrity check FAILED: {damaged_message(db, '; '.join(problems))}"
    else:
        detail += "; integrity check passed"
    checks.append({"check": "data directory", "ok": writable and (mode is None or not mode & 0o077) and not problems,
                   "detail": detail, **({"damaged": True} if problems else {})})
    ok, out = _qt_probe(
        "import sys;from PySide6.QtWidgets import QApplication,QSystemTrayIcon;"
        "app=QApplication([sys.argv[0] or 'tokendesk']);"
        "tray=QSystemTrayIcon.isSystemTrayAvailable();"
        "print(app.platformName()+(' with a system tray' if tray else ' without a system tray'))"
    )
    tray_ok = ok and "without" not in out
    checks.append(
        {
            "check": "tray",
            "ok": tray_ok,
            "detail": (f"{out}" if ok else f"Qt cannot start: {out}")
            + ("" if tray_ok else "; notifications go to the window bar (and D-Bus where available)"),
        }
    )
    ok, out = _qt_probe("import PySide6.QtWebEngineWidgets as w, PySide6; print('QtWebEngine ' + PySide6.__version__)")
    checks.append(
        {
            "check": "QtWebEngine",
            "ok": ok,
            "detail": out if ok else f"not usable ({out}); use the system browser for logins",
        }
    )
    from desktop import instance, logfile

    log = logfile.directory_for(home) / logfile.FILENAME
    if log.exists():
        size_kb = sum(p.stat().st_size for p in log.parent.glob(logfile.FILENAME + "*")) // 1024
        log_detail = f"{log} ({size_kb} KB with its rotated files)"
    else:
        log_detail = f"{log} not written yet (the window writes it)"
    checks.append({"check": "log", "ok": True, "detail": log_detail})
    if instance.supported():
        running = instance.ask_running_instance("minimized", home)  # "minimized" changes nothing there
        checks.append({"check": "window", "ok": True,
                       "detail": "running on this data directory" if running else "not running"})
    from desktop.oauth import proxy

    # what token requests, discovery and web calls go through (stdlib only; nothing is sent)
    checks.append({"check": "proxy", "ok": True, "detail": proxy.describe()})
    return checks


def cmd_autostart(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop import autostart

    try:
        if args.state == "on":
            print(f"Tokendesk starts in the tray at log-in: {autostart.enable()}")
        elif args.state == "off":
            print("Autostart removed." if autostart.disable() else "Autostart was not on.")
        else:
            print(f"autostart: {autostart.describe()}")
    except OSError as exc:
        raise CliError(f"cannot change the autostart entry {autostart.entry_path()}: {exc.strerror or exc}") from None
    return 0


def cmd_doctor(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    checks = doctor_report(ctx)
    if args.json:
        print_json(checks)
    else:
        for c in checks:
            print(f"[{'ok' if c['ok'] else '!!'}] {c['check']}: {c['detail']}")
    # a missing tray or keyring is a warning, not a failure: the app still works; a damaged database is one
    return EXIT_ERROR if any(c.get("damaged") for c in checks) else 0
