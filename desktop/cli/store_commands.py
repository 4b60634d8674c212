"""``tokendesk store init|join|grant|members|remove|status|local|copy-to``: the team store on PostgreSQL.

``init`` and ``join`` take the address, make this admin's member key and remember the store for this data
directory (``desktop/store/location.py``; the database password goes to the keyring, never to a file); the others
act on the store that is open (``TOKENDESK_STORE`` or the remembered one). No Qt.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from desktop.cli.common import EXIT_ERROR, EXIT_USAGE, CliError, ContextFactory, print_json, read_passphrase_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "store", help="the team store on PostgreSQL: init, join, grant, members, remove, status, local, copy-to",
        description="Several admins share configurations and tokens through one PostgreSQL database. Secrets are "
        "encrypted end to end: the store's data key is wrapped for each member's X25519 key, whose private half "
        "stays on the member's workstation. TOKENDESK_STORE (a postgresql:// address) chooses the store for one "
        "command; init and join remember it for this data directory.")
    ssub = p.add_subparsers(dest="store_command", metavar="ACTION")
    for name, text in (("init", "set up a new team store in an empty database; you become its first member"),
                       ("join", "register your member key with a team store; a member then grants you access"),
                       ("copy-to", "copy this local store into a new team store, all or nothing, and use it")):
        s = ssub.add_parser(name, help=text)
        s.add_argument("url", metavar="URL", help="postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        s.add_argument("--name", metavar="MEMBER", help="your name in the team (default: user@host)")
        s.add_argument("--password-file", metavar="FILE", help="the database password from the first line of FILE")
    s = ssub.add_parser("grant", help="give a joined member access to the secrets")
    s.add_argument("member", metavar="MEMBER")
    s = ssub.add_parser("remove", help="take a member out; the secrets are re-encrypted under a new key")
    s.add_argument("member", metavar="MEMBER")
    s = ssub.add_parser("members", help="the members, their key fingerprints and whether they have access")
    s.add_argument("--json", action="store_true")
    s = ssub.add_parser("status", help="which store this data directory opens")
    s.add_argument("--json", action="store_true")
    ssub.add_parser("local", help="open the local store again (the team store is left as it is)")
    s = ssub.add_parser("password", help="keep a new database password for the team store in the keyring")
    s.add_argument("--password-file", metavar="FILE", help="read it from the first line of FILE instead of asking")
    p.set_defaults(handler=cmd_store)


def cmd_store(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.store.database import DatabaseError
    from desktop.store.vault_errors import VaultError

    action = args.store_command or "status"
    try:
        if action in ("init", "join", "copy-to"):
            return _setup(action, args, factory)
        if action == "status":
            return _status(getattr(args, "json", False))
        if action == "local":
            from desktop.store.location import forget_choice

            forget_choice()
            print("This data directory opens its local store again (unless TOKENDESK_STORE says otherwise).")
            return 0
        if action == "password":
            return _save_password(args)
        return _members_action(action, args, factory)
    except (VaultError, DatabaseError) as exc:
        from desktop.cli.common import secret_failure

        raise secret_failure("", exc) if isinstance(exc, VaultError) else CliError(str(exc), EXIT_ERROR) from None


def _member_name(args: argparse.Namespace) -> str:
    from desktop.store.repository import default_member_name
    from desktop.store.team import check_member_name

    name = (args.name or default_member_name()).strip()
    if check_member_name(name):
        raise CliError("a member name is 1 to 200 printable characters", EXIT_USAGE)
    return name


def _password(args: argparse.Namespace) -> str | None:
    from desktop.store.pg_url import split_url

    if args.password_file:
        return read_passphrase_file(args.password_file)
    return split_url(args.url)[1]


def _key_passphrase() -> str | None:
    """The member key's passphrase when there is no usable keyring: $TOKENDESK_PASSPHRASE_FILE or the terminal."""
    from desktop.cli.common import terminal_passphrase

    return terminal_passphrase("new")


def _setup(action: str, args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.store import location, team
    from desktop.store.pg_url import is_store_url, split_url
    from desktop.store.repository import Store
    from desktop.store.team_keys import NoKeyringForMemberKey, public_key_fingerprint

    if not is_store_url(args.url):
        raise CliError(f"'{args.url}' is not a postgresql:// address", EXIT_USAGE)
    member, password = _member_name(args), _password(args)
    shown = split_url(args.url)[0]
    source = factory() if action == "copy-to" else None
    if source is not None and source.store.is_team:
        raise CliError("copy-to copies the local store; this data directory has a team store open "
                       "('tokendesk store local' first)", EXIT_USAGE)
    target = Store.open(shown, password=password)
    try:
        def run(passphrase: str | None) -> str:
            if action == "join":
                return team.join_store(target, member, passphrase=passphrase)
            if action == "init":
                return team.init_store(target, member, passphrase=passphrase)
            from desktop.store.team_copy import copy_to

            return copy_to(source, target, member, passphrase=passphrase)

        try:
            where = run(None)
        except NoKeyringForMemberKey:
            passphrase = _key_passphrase()
            if passphrase is None:
                raise CliError("no usable keyring for your member key, and no terminal to ask for a passphrase: set "
                               "TOKENDESK_PASSPHRASE_FILE", EXIT_ERROR) from None
            where = run(passphrase)
        if password is not None:
            try:
                location.save_password(shown, password)
            except Exception as exc:  # noqa: BLE001 - the store works; say where the password must come from
                print(f"note: the database password was not saved ({exc})", file=sys.stderr)
        location.save_choice(shown, member)
        public = target.conn.execute("SELECT public_key FROM member WHERE name = ?", (member,)).fetchone()[0]
    finally:
        target.close()
    kept = "the system keyring" if where == "keyring" else where
    print(f"Team store {shown}: you are '{member}', key fingerprint {public_key_fingerprint(public)} "
          f"(private key in {kept}).")
    if action == "join":
        print(f"No access to the secrets yet: ask a member to run 'tokendesk store grant {member}' and to compare the "
              "fingerprint with you. Until then commands that need a secret exit 4.")
    elif action == "copy-to":
        print(f"Copied: {where}. This data directory now opens the team store; the local file is left as it was.")
    if os.environ.get("TOKENDESK_STORE") and split_url(os.environ["TOKENDESK_STORE"])[0] != shown:
        print("note: TOKENDESK_STORE is set to another store and wins over the one remembered here.", file=sys.stderr)
    return 0


def _members_action(action: str, args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.store import team

    ctx = factory()
    if action == "members":
        rows = team.members(ctx.store)
        if getattr(args, "json", False):
            print_json([{"name": m.name, "fingerprint": m.fingerprint, "access": m.has_access,
                         "added_by": m.added_by, "since": m.create_time} for m in rows])
            return 0
        width = max([len(m.name) for m in rows] + [6])
        for m in rows:
            you = " (you)" if m.name == ctx.store.member else ""
            state = "access" if m.has_access else "waiting for a grant"
            print(f"{m.name:<{width}}  {m.fingerprint}  {state}{you}")
        return 0
    if action == "grant":
        granted = team.grant(ctx.store, _vault(ctx), args.member)
        print(f"'{granted.name}' has access now (key fingerprint {granted.fingerprint}: compare it with them).")
        return 0
    if action == "remove":
        count = team.remove(ctx.store, _vault(ctx), args.member)
        print(f"'{args.member}' removed; {count} secret{'s' if count != 1 else ''} re-encrypted under a new key.")
        return 0
    raise CliError(f"unknown store action '{action}'", EXIT_USAGE)  # pragma: no cover


def _save_password(args: argparse.Namespace) -> int:
    from desktop.store import location
    from desktop.store.pg_url import display_url

    choice = location.current()
    if not choice.is_team or choice.url is None:
        raise CliError("this data directory opens the local store, which has no database password", EXIT_USAGE)
    if args.password_file:
        password = read_passphrase_file(args.password_file)
    else:
        import getpass

        try:
            password = getpass.getpass(f"Database password for {display_url(choice.url)}: ")
        except (EOFError, KeyboardInterrupt):
            raise CliError("no password given", EXIT_USAGE) from None
    if not password:
        raise CliError("no password given", EXIT_USAGE)
    from desktop.store.repository import Store

    Store.open(display_url(choice.url), password=password).close()  # it must let us in first
    location.save_password(choice.url, password)
    print("The database password is kept in the system keyring.")
    return 0


def _vault(ctx: Any) -> Any:
    if ctx.vault is None:
        raise CliError("this store has no vault", EXIT_ERROR)
    return ctx.vault


def _status(as_json: bool) -> int:
    from desktop.store.location import current
    from desktop.store.pg_url import display_url

    choice = current()
    data = {"store": "team" if choice.is_team else "local", "source": choice.source,
            "location": display_url(choice.url) if choice.url else str(choice.path), "member": choice.member}
    if as_json:
        print_json(data)
    elif choice.is_team:
        print(f"Team store {data['location']} as '{choice.member or 'user@host'}' ({choice.source}).")
    else:
        print(f"Local store {data['location']}.")
    return 0
