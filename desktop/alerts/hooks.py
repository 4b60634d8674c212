"""The command hook: an admin's program run for an alert, in the manner of pizauth's notify hooks.

The setting ``alerts.<kind>.command`` is a command line split like a shell would (``shlex``) but run without one:
``/usr/local/bin/page-oncall --team mail`` runs that program with those two arguments. The alert is described in
environment variables (nothing else is passed; no secret is among them):

=============================  =====================================================================
``TOKENDESK_ALERT_KIND``       client_secret, refresh_token, refresh_failed or token
``TOKENDESK_ALERT_EVENT``      e.g. client_secret_expiring, refresh_token_expired, refresh_failed
``TOKENDESK_ALERT_SEVERITY``   warning or critical
``TOKENDESK_ALERT_TITLE``      e.g. "Client secret expires soon"
``TOKENDESK_ALERT_MESSAGE``    what happened and what to do, in plain words
``TOKENDESK_ALERT_ACTION``     what fixes it: refresh, request (sign in again) or edit (a new client secret)
``TOKENDESK_ALERT_DUE``        when it became true (ISO 8601, UTC)
``TOKENDESK_ALERT_EXPIRES``    the expiry it is about (ISO 8601, UTC; empty when none)
``TOKENDESK_ALERT_ID``         a stable identity (the same alert is never sent twice)
``TOKENDESK_CONFIGURATION``    the token configuration's name
``TOKENDESK_HOST``             this machine's name
=============================  =====================================================================

Exit status 0 counts as delivered; anything else (a non-zero exit, a program that cannot be started, more than
``TIMEOUT`` seconds) is a failure that is tried again on the next run. The hook's output is kept short for the
report. ``TOKENDESK_PASSPHRASE_FILE`` is not handed on.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from dataclasses import dataclass

from desktop.alerts.kinds import Alert
from desktop.notify.events import iso

TIMEOUT = 30.0
#: how much of the hook's output a failure report keeps
OUTPUT_CHARS = 400
#: not handed on to a hook: how this process opens the vault
WITHHELD = ("TOKENDESK_PASSPHRASE_FILE",)


@dataclass
class HookResult:
    ok: bool
    detail: str = ""


def parse_command(text: str) -> list[str]:
    """The argument list of a command line; ValueError in plain words when it cannot be split."""
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"the command cannot be read ({exc}): close every quote") from None
    return argv


def alert_environment(alert: Alert) -> dict[str, str]:
    return {
        "TOKENDESK_ALERT_KIND": alert.kind,
        "TOKENDESK_ALERT_EVENT": alert.event,
        "TOKENDESK_ALERT_SEVERITY": alert.severity,
        "TOKENDESK_ALERT_TITLE": alert.title,
        "TOKENDESK_ALERT_MESSAGE": alert.message,
        "TOKENDESK_ALERT_ACTION": alert.action,
        "TOKENDESK_ALERT_DUE": iso(alert.due_at),
        "TOKENDESK_ALERT_EXPIRES": iso(alert.expires_at) if alert.expires_at else "",
        "TOKENDESK_ALERT_ID": alert.id,
        "TOKENDESK_CONFIGURATION": alert.name,
        "TOKENDESK_HOST": socket.gethostname(),
    }


def run_hook(command: str, alert: Alert, timeout: float = TIMEOUT) -> HookResult:
    try:
        argv = parse_command(command)
    except ValueError as exc:
        return HookResult(False, str(exc))
    if not argv:
        return HookResult(False, "no command is set")
    env = {k: v for k, v in os.environ.items() if k not in WITHHELD}
    env.update(alert_environment(alert))
    try:
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                              check=False, start_new_session=True)
    except FileNotFoundError:
        return HookResult(False, f"{argv[0]}: no such program (give its full path)")
    except PermissionError:
        return HookResult(False, f"{argv[0]}: not allowed to run it (is it executable?)")
    except subprocess.TimeoutExpired:
        return HookResult(False, f"{argv[0]} did not finish within {timeout:.0f} s")
    except OSError as exc:
        return HookResult(False, f"{argv[0]} could not be started: {exc.strerror or exc}")
    if done.returncode != 0:
        said = (done.stderr or done.stdout or b"").decode("utf-8", "replace").strip()[:OUTPUT_CHARS]
        return HookResult(False, f"{argv[0]} exited with status {done.returncode}" + (f": {said}" if said else ""))
    return HookResult(True)
