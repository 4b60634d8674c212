"""``tokendesk history NAME``: who did what to a configuration, newest first, in local time (``desktop.store.history``).

A deleted configuration's history is still shown (found by its name). No Qt.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from desktop.cli.common import EXIT_NOT_FOUND, EXIT_USAGE, CliError, ContextFactory, print_json, print_table

if TYPE_CHECKING:
    from desktop.store.history import HistoryEntry

DEFAULT_CLI_LIMIT = 50


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "history", help="who did what to a configuration, and when (also after it was deleted)",
        description="The configuration's history, newest first, in local time: who (the member) added, edited, "
        "deleted, signed in, refreshed, revoked, forgot or exported it, and which programs were handed its token "
        "(recorded once an hour per program).")
    p.add_argument("name")
    p.add_argument("--limit", type=int, default=DEFAULT_CLI_LIMIT, metavar="N",
                   help=f"show the newest N entries (default {DEFAULT_CLI_LIMIT}; 0 shows all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_history)


def _zone() -> str:
    now = datetime.now().astimezone()
    offset = now.strftime("%z")
    return f"{now.tzname() or 'local time'}, UTC{offset[:3]}:{offset[3:]}" if offset else "local time"


def cmd_history(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.store import history
    from desktop.store.repository import NotFoundError

    if args.limit < 0:
        raise CliError(f"--limit must be 0 (all) or more, not {args.limit}", EXIT_USAGE)
    ctx = factory()
    cfg = ctx.store.find(args.name)
    entries = history.for_configuration(ctx.store, args.name, None if args.limit == 0 else args.limit + 1)
    if cfg is None and not entries:
        raise CliError(str(NotFoundError(args.name)), EXIT_NOT_FOUND)
    more = args.limit != 0 and len(entries) > args.limit
    entries = entries[:args.limit] if more else entries
    name = cfg.name if cfg is not None else entries[0].config_name
    if args.json:
        print_json({"configuration": name, "deleted": cfg is None, "more": more,
                    "entries": [e.as_json() for e in entries]})
        return 0
    state = " (deleted)" if cfg is None else ""
    if not entries:
        print(f"No history for '{name}' yet.")
        return 0
    print(f"History of '{name}'{state}, newest first (times in {_zone()}):")
    print_table(["TIME", "MEMBER", "ACTION", "DETAIL"],
                [[e.local_time_text(), e.member, e.action_words, _detail(e, name)] for e in entries])
    if more:
        print("... older entries not shown: --limit 0 shows all, --limit N the newest N.")
    return 0


def _detail(entry: HistoryEntry, name: str) -> str:
    detail, then = entry.detail, entry.config_name
    if then != name:  # renamed since, or a configuration of that name before
        return f"(as '{then}') {detail}".rstrip()
    return detail
