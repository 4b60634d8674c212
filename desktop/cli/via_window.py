"""``tokendesk token`` / ``refresh`` answered by a running window (``desktop.agent``), and the token's output.

Lean on purpose: ``desktop.cli.main`` reads plain ``token`` arguments with ``parse_token_arguments`` and
asks the window before argparse or any store module is imported, so ``tokendesk token NAME`` with a
window running costs a Python start, ``socket`` and ``json``. Nothing here imports Qt, sqlite3 or
keyring. When no window answers, the caller goes on to ``desktop.cli.oauth_commands.token_here``,
which opens the store itself.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from desktop.cli.common import EXIT_OK, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from desktop.models.token import TokenState

FORMATS = ("raw", "header", "json", "xoauth2")


def format_token(fmt: str, name: str, token: str, *, expires_at: str | None, account: str | None,
                 scope: str | None, user: str | None, token_type: str | None = None) -> str:
    """The line ``tokendesk token`` prints (``expires_at``: ISO 8601 or None; ``token_type``: as the provider
    gave it, kept with the token - only Bearer tokens are stored - or None when it did not say: "Bearer")."""
    if fmt == "raw":
        return token
    if fmt == "header":
        return f"Authorization: Bearer {token}"
    if fmt == "xoauth2":
        from desktop.usage.sasl import xoauth2_base64

        login = user or account  # the account the token names, when the provider said
        if not login:
            raise CliError("--format xoauth2 needs --user LOGIN (the mail account's login): this token does not "
                           "name its account", EXIT_USAGE)
        return xoauth2_base64(login, token)
    import json
    from datetime import UTC, datetime

    expires = datetime.fromisoformat(expires_at) if expires_at else None
    return json.dumps({
        "configuration": name,
        "access_token": token,
        "token_type": token_type if isinstance(token_type, str) and token_type else "Bearer",
        "expires_at": expires.isoformat() if expires else None,
        "expires_in": max(0, int((expires - datetime.now(UTC)).total_seconds())) if expires else None,
        "account": account or None,
        "scope": scope or None,
    })


def token_via_window(name: str, fmt: str = "raw", user: str | None = None) -> int | None:
    """Print the token as the window hands it out; None when no window answered (work alone)."""
    from desktop import agent

    answer = agent.ask({"op": agent.OP_TOKEN, "name": name})
    if answer is None:
        return None
    if not answer["ok"]:
        raise CliError(str(answer.get("message") or "the Tokendesk window could not hand out the token"),
                       _exit_code(answer))
    token = answer.get("token")
    if not isinstance(token, str) or not token:
        return None  # garbled: work alone
    out = format_token(fmt, name, token, expires_at=answer.get("expires_at"), account=answer.get("account"),
                       scope=answer.get("scope"), user=user, token_type=answer.get("token_type"))
    sys.stdout.write(out + "\n")
    return EXIT_OK


def refresh_via_window(name: str) -> tuple[int, str, str, TokenState | None] | None:
    """Ask the window to renew ``name`` now: (0, the configuration's name, '', its new state) or (exit code,
    the configuration's name, the failure's text, None); None when no window answered (work alone)."""
    from desktop import agent

    answer = agent.ask({"op": agent.OP_REFRESH, "name": name})
    if answer is None:
        return None
    canonical = str(answer.get("name") or name)
    if not answer["ok"]:
        return _exit_code(answer), canonical, str(answer.get("message") or "the refresh failed"), None
    from datetime import datetime

    from desktop.models.token import TokenState

    expires = answer.get("expires_at")
    state = TokenState(config_id=0, has_access_token=True, has_refresh_token=bool(answer.get("has_refresh_token")),
                       token_expires_at=datetime.fromisoformat(expires) if expires else None)
    return EXIT_OK, canonical, "", state


def _exit_code(answer: dict) -> int:
    code = answer.get("exit")
    return code if isinstance(code, int) and 0 < code < 126 else 1


def parse_token_arguments(arguments: list[str]) -> tuple[str, str, str | None, bool] | None:
    """``token NAME [--format F] [--user U]`` (and ``-v``) without argparse: (name, format, user, verbose),
    or None for anything else (``--help``, abbreviations, mistakes: argparse deals with those)."""
    name: str | None = None
    fmt, user, verbose = "raw", None, False
    rest = list(arguments)
    while rest and rest[0] in ("-v", "--verbose"):
        verbose = True
        rest.pop(0)
    if not rest or rest.pop(0) != "token":
        return None
    while rest:
        arg = rest.pop(0)
        if arg in ("-v", "--verbose"):
            return None  # argparse would refuse it after the command
        option, eq, value = arg.partition("=")
        if option in ("--format", "--user"):
            if not eq:
                if not rest:
                    return None
                value = rest.pop(0)
            if option == "--format":
                if value not in FORMATS:
                    return None
                fmt = value
            else:
                user = value
            continue
        if arg.startswith("-") or name is not None:
            return None
        name = arg
    if name is None:
        return None
    return name, fmt, user, verbose
