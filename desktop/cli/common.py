"""Shared CLI plumbing: exit codes, errors, the context factory, output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop.services import Context

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_REAUTH = 4  # interactive re-authorization needed (tokendesk token / refresh)
EXIT_NETWORK = 5  # provider unreachable, time-out or 5xx

ContextFactory = Callable[[], "Context"]


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


#: a file whose first line is the vault passphrase, for scripts and services that have no terminal
ENV_PASSPHRASE_FILE = "TOKENDESK_PASSPHRASE_FILE"


def default_context_factory() -> Context:  # noqa: F821
    """The CLI's composition root: the context of one command, with the delete guards."""
    from desktop.services import open_context
    from desktop.usage.guards import install_delete_guards

    ctx = open_context(passphrase_provider=terminal_passphrase, agent_key=window_vault_key)
    install_delete_guards(ctx)
    return ctx


def window_vault_key() -> tuple[str, bytes] | None:
    """The open vault's key from a Tokendesk window on this data directory (None when none runs)."""
    try:
        from desktop.agent import ask_vault_key
    except ImportError:  # pragma: no cover - the agent module is part of the package
        return None
    return ask_vault_key()


def read_passphrase_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            line = fh.readline()
    except OSError as exc:
        raise CliError(f"cannot read the passphrase file {path} ({exc.strerror or exc})") from None
    passphrase = line.rstrip("\r\n")
    if not passphrase:
        raise CliError(f"the passphrase file {path} is empty")
    return passphrase


def terminal_passphrase(purpose: str) -> str | None:
    """The vault passphrase: from $TOKENDESK_PASSPHRASE_FILE, else asked on the terminal (/dev/tty, not
    echoed). ``purpose`` "new" asks twice. None when there is no terminal to ask on."""
    import os

    path = os.environ.get(ENV_PASSPHRASE_FILE)
    if path:
        return read_passphrase_file(path)
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    os.close(tty)
    import getpass

    if purpose != "new":
        try:
            return getpass.getpass("Tokendesk vault passphrase: ")
        except (EOFError, KeyboardInterrupt):
            return None
    from desktop.store.vault_crypto import check_new_passphrase

    print("No usable keyring: Tokendesk protects its secrets with a passphrase instead. You will be asked for it "
          "once per command, or never while the Tokendesk window runs (it answers for it).", file=sys.stderr)
    for _ in range(3):
        try:
            first = getpass.getpass("Choose a passphrase for Tokendesk's secrets: ")
            problem = check_new_passphrase(first)
            if problem:
                print(problem, file=sys.stderr)
                continue
            if getpass.getpass("Repeat it: ") == first:
                return first
        except (EOFError, KeyboardInterrupt):
            return None
        print("The two did not match; try again.", file=sys.stderr)
    return None


def secret_failure(prefix: str, exc: Exception) -> CliError:
    """A secret store failure as a CLI error: exit 4 when the vault waits for its passphrase, else 1."""
    from desktop.store.vault_errors import VaultLocked

    return CliError(f"{prefix}{exc}", EXIT_REAUTH if isinstance(exc, VaultLocked) else EXIT_ERROR)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(headers))
    print(line.rstrip())
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
