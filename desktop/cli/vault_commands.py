"""``tokendesk vault status|passphrase|keyring|rekey``: where the data key lives, and changing it.

Each change is one transaction (``desktop.store.vault``): the secrets stay readable whatever happens.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from desktop.cli.common import (
    EXIT_ERROR,
    EXIT_USAGE,
    CliError,
    ContextFactory,
    print_json,
    read_passphrase_file,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vault", help="the encrypted vault of secrets: status, passphrase, keyring, rekey",
        description="Every secret (client secrets, access and refresh tokens) is encrypted in the database with "
        "one data key. The key lives in the system keyring, or - without a usable keyring, or by choice - is "
        "protected by a passphrase.")
    vsub = p.add_subparsers(dest="vault_command", metavar="ACTION")
    s = vsub.add_parser("status", help="where the data key lives, and why")
    s.add_argument("--json", action="store_true")
    s = vsub.add_parser("passphrase", help="protect the data key with a passphrase (or change the passphrase); "
                        "takes the key out of the keyring")
    s.add_argument("--new-passphrase-file", metavar="FILE",
                   help="read the new passphrase from the first line of FILE instead of asking twice")
    vsub.add_parser("keyring", help="keep the data key in the system keyring (passphrase mode off)")
    vsub.add_parser("rekey", help="re-encrypt every secret under a new data key; the old key is deleted")
    p.set_defaults(handler=cmd_vault)


def cmd_vault(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    vault = ctx.vault
    if vault is None:
        raise CliError("this store has no vault", EXIT_ERROR)
    action = args.vault_command or "status"
    if action == "status":
        return _status(ctx, vault, getattr(args, "json", False))
    from desktop.store.vault_errors import VaultError

    try:
        if action == "passphrase":
            new = _new_passphrase(args.new_passphrase_file)
            was = vault.info().mode
            vault.use_passphrase(new)
            print("The vault's passphrase was changed." if was == "passphrase" else
                  "The data key is now protected by your passphrase (and no longer in the keyring). Tokendesk asks "
                  "for it once per command, or once per session in the window, which then answers for commands.")
        elif action == "keyring":
            backend = vault.use_keyring()
            print(f"The data key is now kept in the system keyring ({backend}); no passphrase is asked any more.")
        elif action == "rekey":
            count = vault.rekey()
            print(f"Re-encrypted {count} secret{'s' if count != 1 else ''} under a new data key; the old key is "
                  "deleted.")
        else:  # pragma: no cover - argparse limits the choices
            raise CliError(f"unknown vault action '{action}'", EXIT_USAGE)
    except VaultError as exc:
        raise CliError(str(exc), EXIT_ERROR) from None
    return 0


def _new_passphrase(path: str | None) -> str:
    if path:
        return read_passphrase_file(path)
    import getpass

    from desktop.store.vault_crypto import check_new_passphrase

    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise CliError("no terminal to ask for the new passphrase on: use --new-passphrase-file FILE",
                       EXIT_USAGE) from None
    os.close(tty)
    first = getpass.getpass("New passphrase for Tokendesk's secrets: ")
    problem = check_new_passphrase(first)
    if problem:
        raise CliError(problem, EXIT_USAGE)
    if getpass.getpass("Repeat it: ") != first:
        raise CliError("the two passphrases did not match; nothing changed", EXIT_USAGE)
    return first


def _status(ctx: Any, vault: Any, as_json: bool) -> int:
    from desktop.cli.system_commands import vault_check

    info = vault.info()
    data = {
        "mode": info.mode or None,
        "why": info.reason or None,
        "keyring_backend": info.backend_name or None,
        "key_id": info.key_id or None,
        "created_at": info.created_at or None,
        "rekeyed_at": info.rekeyed_at or None,
        "secrets": ctx.secrets.count() if hasattr(ctx.secrets, "count") else None,
        "earlier_version_secrets_waiting": info.legacy,
        "check": vault_check(ctx)["detail"],
    }
    if as_json:
        print_json(data)
        return 0
    mode = {"keyring": "data key in the system keyring", "passphrase": "data key protected by a passphrase"}
    print(f"vault: {mode.get(info.mode, 'not made yet (the first stored secret makes it)')}")
    if info.reason:
        print(f"why: {info.reason}")
    if info.key_id:
        print(f"key id: {info.key_id} (made {info.created_at or '-'}"
              + (f", re-keyed {info.rekeyed_at}" if info.rekeyed_at else "") + ")")
    print(f"secrets stored: {data['secrets']}")
    if info.legacy:
        print("secrets of an earlier version wait to move in (on the next command or window start)")
    print(f"check: {data['check']}", file=sys.stdout)
    return 0
