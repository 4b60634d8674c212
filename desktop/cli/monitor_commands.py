"""Monitoring commands: ``check`` (a monitoring plugin: Icinga, Nagios, Zabbix, cron) and ``alerts run``."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from desktop.cli.common import ContextFactory, print_json

UNKNOWN = 3


class _PluginParser(argparse.ArgumentParser):
    """A usage error is UNKNOWN (exit 3) for a monitoring plugin, in its one-line form (argparse says 2)."""

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split()).removeprefix("usage: ")
        print(f"TOKENDESK UNKNOWN - {message} (usage: {usage})")
        raise SystemExit(UNKNOWN)


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of days") from None
    if value < 0:
        raise argparse.ArgumentTypeError("days must not be negative")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    previous = sub._parser_class
    sub._parser_class = _PluginParser
    try:
        p = sub.add_parser(
            "check", help="monitoring plugin: OK/WARNING/CRITICAL/UNKNOWN with exit code 0/1/2/3",
            description="Check every configuration (or those named) the way a monitoring system wants it: one "
            "status line with performance data, one line per problem, exit 0 OK, 1 WARNING, 2 CRITICAL, "
            "3 UNKNOWN. Covers failed refreshes, refresh tokens that died or will die, configurations that need a "
            "sign-in, client secrets that expire, and configurations that cannot work. Reads the store only: it "
            "never refreshes, never needs the vault (works while it is locked) and never prints a secret.")
        p.add_argument("names", nargs="*", metavar="NAME", help="configurations to check (default: all)")
        p.add_argument("--warning", "-w", type=_days, default=None, metavar="DAYS",
                       help="WARNING when a refresh token or client secret expires within DAYS (default 7)")
        p.add_argument("--critical", "-c", type=_days, default=None, metavar="DAYS",
                       help="CRITICAL within DAYS (default 1)")
        p.add_argument("--json", action="store_true", help="the same as JSON (same exit code)")
        p.set_defaults(handler=cmd_check)
    finally:
        sub._parser_class = previous

    p = sub.add_parser("alerts", help="send the due alerts (commands and mail, each once): for cron or a timer")
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION")
    r = asub.add_parser("run", help="send every alert that is due and was not sent yet; retry failed ones")
    r.add_argument("--dry-run", action="store_true", help="say what would be sent, send nothing")
    asub.add_parser("list", help="the alert settings: per kind, the command and the mail recipients")
    t = asub.add_parser("test", help="send a test alert through every configured route (or those of KIND ...)")
    t.add_argument("kinds", nargs="*", metavar="KIND", help="client_secret, refresh_token, refresh_failed, token")
    p.set_defaults(handler=cmd_alerts)


def cmd_check(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.alerts.check import (
        DEFAULT_CRITICAL_DAYS,
        DEFAULT_WARNING_DAYS,
        check_all,
    )
    from desktop.models.token import utcnow

    warning = DEFAULT_WARNING_DAYS if args.warning is None else args.warning
    critical = DEFAULT_CRITICAL_DAYS if args.critical is None else args.critical
    if critical > warning:
        return _unknown(args, f"--critical {critical} is more days than --warning {warning}: the critical "
                              "threshold must come later (fewer days left)")
    try:
        ctx = factory()
        pairs = ctx.store.list_with_state()
    except Exception as exc:  # a missing or damaged store is UNKNOWN, in one line
        from desktop.store.database import damage_from

        damaged = damage_from(exc)
        return _unknown(args, str(damaged) if damaged is not None else f"cannot read the Tokendesk store: {exc}")
    if args.names:
        by_key = {cfg.name.casefold(): (cfg, st) for cfg, st in pairs}
        missing = [n for n in args.names if n.casefold() not in by_key]
        if missing:
            return _unknown(args, f"no configuration named {', '.join(repr(n) for n in missing)} (see "
                                  "'tokendesk list')")
        pairs = [by_key[n.casefold()] for n in dict.fromkeys(args.names)]
    def secret_required(cfg) -> bool:
        template = ctx.templates.get(cfg.template_name)
        return bool(template and template.client_secret_required)

    result = check_all(pairs, utcnow(), warning_days=warning, critical_days=critical, secret_required=secret_required)
    if args.json:
        print_json(result.as_json())
    else:
        print(result.text())
    return result.state


def _unknown(args: Any, message: str) -> int:
    if getattr(args, "json", False):
        print_json({"state": "UNKNOWN", "exit_code": UNKNOWN, "summary": message, "configurations": []})
    else:
        print(f"TOKENDESK UNKNOWN - {message}")
    return UNKNOWN


def cmd_alerts(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.alerts.runner import alerts_cli

    return alerts_cli(args, factory, sys.stdout)
