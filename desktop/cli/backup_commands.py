"""Backup commands: ``tokendesk export`` and ``tokendesk import`` (Znuny's YAML format, optionally age-encrypted)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from desktop.backup.encrypted import (
    AGE_SUFFIX,
    CLEAR_TEXT_HINT,
    EncryptedBackup,
    EncryptedBackupError,
    encrypt_text,
    open_backup,
)
from desktop.backup.export import (
    SECRETS_WARNING,
    ExportError,
    default_export_filename,
    export_configurations,
    write_export,
)
from desktop.backup.importer import ImportBlocked, PlanChanged, apply_import, plan_import
from desktop.cli.common import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_USAGE, CliError, ContextFactory
from desktop.services import TokenBusy
from desktop.store.repository import StoreError
from desktop.store.secrets import SecretStoreError

#: a passphrase file's first line is read up to this many bytes
MAX_PASSPHRASE_BYTES = 4096


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export configurations to Znuny's YAML format (client secrets only when asked, never tokens; "
        "optionally encrypted for a passphrase)",
        description="Write all configurations, or the named ones, as a Znuny-compatible YAML list. "
        "Default file: OAuth2TokenConfigurationExport_YYYYMMDD_HHMMSS.yml in the current folder "
        "(.yml.age with --encrypt). With --encrypt the YAML is encrypted for a passphrase in the age format, "
        "so a backup with client secrets can travel; 'tokendesk import' and 'age -d' open it. Znuny reads "
        "only plain YAML.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="configurations to export (default: all)")
    p.add_argument("--include-secrets", action="store_true",
                   help="also write the client secrets (the file gets mode 0600); in clear text unless --encrypt")
    p.add_argument("--encrypt", action="store_true",
                   help="encrypt the file for a passphrase (age format), asked twice on the terminal")
    p.add_argument("--passphrase-file", metavar="FILE|-",
                   help="with --encrypt: read the passphrase from the first line of FILE ('-': standard input) "
                   "instead of the terminal, for scripts")
    p.add_argument("-o", "--output", metavar="FILE|-",
                   help="where to write ('-' for standard output; encrypted data only when it is not a terminal)")
    p.add_argument("--salvage", action="store_true",
                   help="for a damaged database: write every configuration (and with --include-secrets every client "
                   "secret) that can still be read, row by row, and name the ones that cannot; import the file "
                   "into a new database")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser(
        "import",
        help="import configurations from a Znuny or Tokendesk YAML export (also an age-encrypted one)",
        description="Check every record first and print what would happen to each. Nothing is changed "
        "when any record is invalid (exit code 1); otherwise everything is applied in one transaction. "
        "An encrypted export (age, from 'tokendesk export --encrypt') is recognised; its passphrase is "
        "asked on the terminal or read with --passphrase-file. A wrong passphrase imports nothing (exit code 1).",
    )
    p.add_argument("file", metavar="FILE", help="the YAML export file, plain or encrypted (.age)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace configurations of the same name (otherwise they are skipped); one whose "
                   "endpoints move to another host forgets its stored tokens and client secret")
    p.add_argument("--send-client-secret-to-new-hosts", action="store_true",
                   help="with --overwrite: keep the stored client secret of a configuration whose endpoints move "
                   "to another host (it is then sent there); without it the secret is removed")
    p.add_argument("--dry-run", action="store_true", help="only check and report; change nothing")
    p.add_argument("--passphrase-file", metavar="FILE|-",
                   help="for an encrypted file: read the passphrase from the first line of FILE ('-': standard "
                   "input) instead of the terminal")
    p.set_defaults(handler=cmd_import)


# ---- passphrases
def _have_terminal() -> bool:
    """A terminal to ask on: getpass reads /dev/tty (and falls back to a terminal stdin)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return sys.stdin.isatty()
    os.close(fd)
    return True


def read_passphrase_file(name: str) -> str:
    """The first line of ``name`` ('-': standard input) without its line end."""
    try:
        if name == "-":
            raw = sys.stdin.buffer.readline(MAX_PASSPHRASE_BYTES + 1)
        else:
            with open(name, "rb") as fh:
                raw = fh.readline(MAX_PASSPHRASE_BYTES + 1)
    except OSError as exc:
        raise CliError(f"cannot read the passphrase file {name} ({exc.strerror or exc.__class__.__name__})") from None
    if len(raw) > MAX_PASSPHRASE_BYTES:
        raise CliError(f"the first line of the passphrase file {name} is longer than {MAX_PASSPHRASE_BYTES} bytes")
    try:
        passphrase = raw.rstrip(b"\r\n").decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"the passphrase file {name} is not UTF-8 text") from None
    if not passphrase:
        raise CliError(f"the passphrase file {name} is empty (its first line is the passphrase)")
    return passphrase


def ask_passphrase(args: argparse.Namespace, *, confirm: bool, what: str) -> str:
    """The passphrase from ``--passphrase-file`` or the terminal (twice when ``confirm``)."""
    if args.passphrase_file:
        return read_passphrase_file(args.passphrase_file)
    if not _have_terminal():
        raise CliError("there is no terminal to ask the passphrase on; use --passphrase-file FILE", EXIT_USAGE)
    import getpass

    try:
        passphrase = getpass.getpass(f"Passphrase for {what}: ")
        if not passphrase:
            raise CliError(f"no passphrase was entered; nothing was {'exported' if confirm else 'imported'}")
        if confirm and getpass.getpass("The same passphrase again: ") != passphrase:
            raise CliError("the two passphrases differ; nothing was exported")
    except EOFError:
        raise CliError(f"no passphrase was entered; nothing was {'exported' if confirm else 'imported'}") from None
    return passphrase


# ---- export
def cmd_export(args: argparse.Namespace, factory: ContextFactory) -> int:
    if args.passphrase_file and not args.encrypt:
        raise CliError("--passphrase-file is only used with --encrypt", EXIT_USAGE)
    to_stdout = args.output == "-"
    if args.encrypt and to_stdout and sys.stdout.isatty():
        raise CliError("refusing to write encrypted (binary) data to the terminal; use -o FILE "
                       "or redirect standard output", EXIT_USAGE)
    if args.salvage and args.names:
        raise CliError("--salvage writes everything that can still be read; leave out the names", EXIT_USAGE)
    try:
        if args.salvage:
            result = _salvage(args, factory)
        else:
            result = export_configurations(factory(), args.names, include_secrets=args.include_secrets)
    except ExportError as exc:
        code = EXIT_NOT_FOUND if str(exc).startswith("No configuration named") else EXIT_ERROR
        raise CliError(str(exc), code) from None
    if args.include_secrets and not args.encrypt:
        print(f"tokendesk: warning: {SECRETS_WARNING} {CLEAR_TEXT_HINT}", file=sys.stderr)
    data: str | bytes = result.text
    summary = result.summary()
    if args.encrypt:
        passphrase = ask_passphrase(args, confirm=True, what="the encrypted backup")
        try:
            data = encrypt_text(result.text, passphrase)
        except EncryptedBackupError as exc:
            raise CliError(str(exc)) from None
        summary += " Encrypted for a passphrase (age)."
    if to_stdout:
        if isinstance(data, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(data)
            sys.stdout.flush()
        print(summary, file=sys.stderr)
        return 0
    if args.output:
        path = Path(args.output)
    else:
        path = Path.cwd() / (default_export_filename() + (AGE_SUFFIX if args.encrypt else ""))
    try:
        write_export(path, data, private=result.has_secrets)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    print(f"{summary} File: {path}")
    if args.salvage:
        print(SALVAGE_NEXT, file=sys.stderr)
    return 0


SALVAGE_NEXT = ("tokendesk: next: check the file, quit Tokendesk, move the database away (with its -wal and "
                "-shm files) and run 'tokendesk import FILE'; then sign in again where a token is needed.")


def _salvage(args: argparse.Namespace, factory: ContextFactory):  # noqa: ANN202 - a SalvageResult
    """``export --salvage``: through the store and its vault; when even the store cannot be opened (its
    identity or the vault's description sit on a damaged page), straight from the file, without secrets."""
    from desktop.backup.salvage import salvage_configurations
    from desktop.store.database import damage_from, open_damaged

    try:
        ctx = factory()
    except Exception as exc:
        damaged = damage_from(exc)
        if damaged is None or damaged.path is None:
            raise
        print(f"tokendesk: the store cannot be opened ({damaged.detail}); reading the file directly"
              + (", without client secrets" if args.include_secrets else ""), file=sys.stderr)
        conn = open_damaged(damaged.path)
        try:
            result = salvage_configurations(conn, None, include_secrets=args.include_secrets)
        finally:
            conn.close()
    else:
        result = salvage_configurations(ctx.store.conn, ctx.secrets, include_secrets=args.include_secrets)
    for line in result.problem_lines():
        print(f"tokendesk: {line}", file=sys.stderr)
    return result


# ---- import
def cmd_import(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    try:
        opened = open_backup(args.file, ctx.templates)
        if isinstance(opened, EncryptedBackup):
            passphrase = ask_passphrase(args, confirm=False, what=Path(args.file).name)
            parsed = opened.read(passphrase, ctx.templates)
        else:
            if args.passphrase_file:
                print("tokendesk: note: the file is not encrypted; the passphrase file was not read", file=sys.stderr)
            parsed = opened
    except EncryptedBackupError as exc:
        raise CliError(str(exc)) from None
    plan = plan_import(ctx, parsed, args.overwrite, keep_client_secret=args.send_client_secret_to_new_hosts)
    for line in plan.report_lines():
        print(line)
    if plan.asks_client_secret and not plan.keep_client_secret:
        print("note: the stored client secret of a configuration whose endpoints move to another host is removed; "
              "give --send-client-secret-to-new-hosts to keep it (it is then sent to the new host)")
    if not plan.ok:
        n = len(plan.problems)
        print(f"tokendesk: nothing was imported: {n} problem{'s' if n != 1 else ''} (listed above). "
              "Fix the file and run the import again.", file=sys.stderr)
        return EXIT_ERROR
    if args.dry_run:
        print("Dry run: nothing was changed.")
        return 0
    try:
        summary = apply_import(ctx, plan)
    except (ImportBlocked, PlanChanged) as exc:
        raise CliError(str(exc)) from None
    except TokenBusy as exc:
        raise CliError(f"nothing was imported: {exc}") from None
    except SecretStoreError as exc:
        raise CliError(f"nothing was imported: a client secret could not be stored ({exc})") from None
    except StoreError as exc:
        raise CliError(f"nothing was imported: {exc}") from None
    for line in summary.lines():
        print(line)
    return 0
