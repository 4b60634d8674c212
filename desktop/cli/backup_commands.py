"""Backup commands: ``tokendesk export`` and ``tokendesk import`` (Znuny's YAML format)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktop.backup.export import (
    SECRETS_WARNING,
    ExportError,
    default_export_filename,
    export_configurations,
    write_export,
)
from desktop.backup.importer import ImportBlocked, PlanChanged, apply_import, plan_import, read_import_file
from desktop.cli.common import EXIT_ERROR, EXIT_NOT_FOUND, CliError, ContextFactory
from desktop.store.repository import StoreError
from desktop.store.secrets import SecretStoreError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export configurations to Znuny's YAML format (client secrets only when asked, never tokens)",
        description="Write all configurations, or the named ones, as a Znuny-compatible YAML list. "
        "Default file: OAuth2TokenConfigurationExport_YYYYMMDD_HHMMSS.yml in the current folder.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="configurations to export (default: all)")
    p.add_argument("--include-secrets", action="store_true",
                   help="also write the client secrets in clear text (the file gets mode 0600)")
    p.add_argument("-o", "--output", metavar="FILE|-", help="where to write ('-' for standard output)")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser(
        "import",
        help="import configurations from a Znuny or Tokendesk YAML export",
        description="Check every record first and print what would happen to each. Nothing is changed "
        "when any record is invalid (exit code 1); otherwise everything is applied in one transaction.",
    )
    p.add_argument("file", metavar="FILE", help="the YAML export file")
    p.add_argument("--overwrite", action="store_true",
                   help="replace configurations of the same name (otherwise they are skipped)")
    p.add_argument("--dry-run", action="store_true", help="only check and report; change nothing")
    p.set_defaults(handler=cmd_import)


def cmd_export(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    try:
        result = export_configurations(ctx, args.names, include_secrets=args.include_secrets)
    except ExportError as exc:
        code = EXIT_NOT_FOUND if str(exc).startswith("No configuration named") else EXIT_ERROR
        raise CliError(str(exc), code) from None
    if args.include_secrets:
        print(f"tokendesk: warning: {SECRETS_WARNING}", file=sys.stderr)
    if args.output == "-":
        sys.stdout.write(result.text)
        sys.stdout.flush()
        print(result.summary(), file=sys.stderr)
        return 0
    path = Path(args.output) if args.output else Path.cwd() / default_export_filename()
    try:
        write_export(path, result.text, private=result.has_secrets)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    print(f"{result.summary()} File: {path}")
    return 0


def cmd_import(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    parsed = read_import_file(args.file, ctx.templates)
    plan = plan_import(ctx, parsed, args.overwrite)
    for line in plan.report_lines():
        print(line)
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
    except SecretStoreError as exc:
        raise CliError(f"nothing was imported: a client secret could not be stored ({exc})") from None
    except StoreError as exc:
        raise CliError(f"nothing was imported: {exc}") from None
    for line in summary.lines():
        print(line)
    return 0
