"""The ``tokendesk`` command line. Importing this package imports no Qt.

``tokendesk`` with no subcommand (or ``python -m desktop``) starts the GUI; every
subcommand lives in a module of this package that exposes ``register(subparsers)``.
Errors go to stderr with a non-zero exit code (see ``desktop.cli.common``).

``tokendesk token NAME`` is asked of a running window first (``desktop.cli.via_window``), before
argparse, logging or any store module is imported: that path is a Python start plus a socket.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

from desktop import __version__
from desktop.cli.common import (
    EXIT_ERROR,
    EXIT_NETWORK,
    EXIT_REAUTH,
    EXIT_USAGE,
    CliError,
    ContextFactory,
    default_context_factory,
)

#: modules that contribute subcommands, in the order --help lists them
COMMAND_MODULES = [
    "desktop.cli.config_commands",
    "desktop.cli.history_commands",
    "desktop.cli.system_commands",
    "desktop.cli.oauth_commands",
    "desktop.cli.backup_commands",
    "desktop.cli.usage_commands",
    "desktop.cli.vault_commands",
    "desktop.cli.store_commands",
    "desktop.cli.relay_commands",
    "desktop.cli.monitor_commands",
]

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

#: subcommands that scripts call often: only their own module is imported (see bench/bench_token.py)
FAST_COMMANDS = {"token": "desktop.cli.oauth_commands", "check": "desktop.cli.monitor_commands",
                 "list": "desktop.cli.config_commands", "show": "desktop.cli.config_commands"}


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    import argparse
    import importlib

    parser = argparse.ArgumentParser(
        prog="tokendesk",
        description="OAuth2 token administration for the desktop. Without a command, the window opens.",
        epilog="Exit codes: 0 success, 1 error, 2 usage error, 3 not found, "
        "4 interactive re-authorization needed, 5 network or provider error.",
    )
    parser.add_argument("--version", action="version", version=f"tokendesk {__version__}")
    parser.add_argument("--minimized", action="store_true", help="start the window hidden in the system tray")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens to stderr (never secrets)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that capability is not built yet
            raise
        module.register(sub)
    return parser


_GUI_FLAGS = {"--minimized", "-v", "--verbose"}


def _setup_logging(verbose: bool) -> None:
    import logging

    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _start_gui(minimized: bool) -> int:
    """The window - unless Tokendesk already runs on this data directory: then that one shows itself."""
    from desktop.instance import ask_running_instance
    from desktop.paths import data_dir

    if ask_running_instance("minimized" if minimized else "show", data_dir()):
        if not minimized:
            print("tokendesk: already running; its window was brought to the front.", file=sys.stderr)
        return 0
    import desktop.ui  # noqa: F401  PySide6 and its work-arounds first: the modules imported after it scan faster
    from desktop.app import run_gui  # Qt only on this path

    return run_gui(minimized=minimized)


def main(argv: Sequence[str] | None = None, context_factory: ContextFactory | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if set(arguments) <= _GUI_FLAGS:
        # no command: the window, decided before the parser is built so the GUI start imports no
        # subcommand module (start-up time, see bench/). The start allocates several hundred thousand objects
        # (modules, Qt's enums, the window) and frees few: the cyclic garbage collector would run ~70 times
        # for nothing (~10 ms); run_gui turns it on again once the window has painted.
        gc.disable()
        _setup_logging(bool({"-v", "--verbose"} & set(arguments)))
        return _start_gui(minimized="--minimized" in arguments)
    first = next((a for a in arguments if not a.startswith("-")), None)
    factory = context_factory or default_context_factory
    if first == "token":
        from desktop.cli import via_window

        plain = via_window.parse_token_arguments(arguments)
        if plain is not None:  # no argparse at all: a running window answers, else this process (bench/)
            return _run(lambda: _token(plain, factory))
    parser = build_parser([FAST_COMMANDS[first]] if first in FAST_COMMANDS else COMMAND_MODULES)
    args = parser.parse_args(arguments)
    _setup_logging(args.verbose)
    if not args.command:  # GUI flags in a form the fast path does not know (e.g. the abbreviation --min)
        return _start_gui(minimized=args.minimized)
    return _run(lambda: args.handler(args, factory))


def _token(plain: tuple[str, str, str | None, bool], factory: ContextFactory) -> int:
    """``tokendesk token NAME [--format F] [--user U]``: asked of a running window before anything heavy is
    imported (desktop.agent); when none answers, this process opens the store (oauth_commands.token_here)."""
    from desktop.cli import via_window

    name, fmt, user, verbose = plain
    if verbose:
        _setup_logging(True)
    code = via_window.token_via_window(name, fmt, user)
    if code is not None:
        return code
    _setup_logging(verbose)
    from desktop.cli.oauth_commands import token_here

    return token_here(name, fmt, user, factory)


def _run(handler: Callable[[], int | None]) -> int:
    """A command's handler, with its errors as one plain line on stderr and an exit code."""
    try:
        return int(handler() or 0)
    except CliError as exc:
        print(f"tokendesk: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tokendesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except SystemExit:
        raise
    except Exception as exc:  # last resort: one plain line, no traceback unless -v
        from desktop.store.vault_errors import VaultError, VaultLocked

        if isinstance(exc, VaultError):  # the vault is locked, the keyring went away, ...
            print(f"tokendesk: {exc}", file=sys.stderr)
            return EXIT_REAUTH if isinstance(exc, VaultLocked) else EXIT_ERROR
        from desktop.store.database import damage_from
        from desktop.store.pg import StoreUnreachable  # psycopg is not imported by this

        if isinstance(exc, StoreUnreachable):  # the team store's server cannot be reached
            print(f"tokendesk: {exc}", file=sys.stderr)
            return EXIT_NETWORK

        damaged = damage_from(exc)  # a damaged database file: what happened and what to do
        if damaged is not None:
            print(f"tokendesk: {damaged}", file=sys.stderr)
            return EXIT_ERROR
        import logging

        logging.getLogger("desktop.cli").debug("unexpected error", exc_info=True)
        print(f"tokendesk: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


__all__ = ["main", "build_parser", "EXIT_USAGE"]
