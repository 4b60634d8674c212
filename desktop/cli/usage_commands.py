"""Usage commands: mail accounts (``tokendesk mail ...``), web-service invokers (``tokendesk invoker
...``) and ``tokendesk invoke NAME``.

``tokendesk mail test NAME`` and ``tokendesk invoke NAME`` get a fresh token (refreshing it if
needed) and show what happened with the token redacted. Exit codes: 0 success, 1 the server or
service said no, 2 bad input (or a mail account whose settings refuse the test: unencrypted to
another host without --allow-plaintext), 3 not found, 4 the token must be requested again,
5 network problem.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from desktop.cli.common import (
    EXIT_ERROR,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_REAUTH,
    EXIT_USAGE,
    CliError,
    ContextFactory,
    print_json,
    print_table,
)
from desktop.models.status import format_when
from desktop.usage.accounts import (
    ALLOW_PLAINTEXT_LABEL,
    MECHANISMS,
    PROTOCOLS,
    PROTOCOLS_BY_KEY,
    TLS_IMPLICIT,
    TLS_STARTTLS,
    MailAccount,
    plaintext_state,
    protocol_text,
)
from desktop.usage.invokers import DEFAULT_HEADERS, METHODS, PLACEHOLDER, WebInvoker, parse_header_lines
from desktop.usage.repository import UsageNotFound, UsageRepository, UsageValidationFailed
from desktop.usage.runs import LastRun
from desktop.usage.service import UsageService  # import-light: protocol clients and httpx load on use

PROTOCOL_HELP = ", ".join(f"{p.key} ({p.default_port})" for p in PROTOCOLS)


def register(sub: argparse._SubParsersAction) -> None:
    # ---- mail accounts
    p = sub.add_parser(
        "mail", help="mail accounts that use a token (IMAP, POP3, SMTP with XOAUTH2/OAUTHBEARER)",
        description="Mail accounts that authenticate with a configuration's token. 'tokendesk mail test NAME' "
                    "signs in with a fresh token and runs a follow-up command (IMAP: INBOX count; POP3: STAT; "
                    "SMTP: NOOP); the transcript never shows the token.",
    )
    msub = p.add_subparsers(dest="mail_command", metavar="ACTION")
    m = msub.add_parser("list", help="list mail accounts")
    m.add_argument("--json", action="store_true", help="machine-readable output")
    m.set_defaults(handler=cmd_mail_list)
    m = msub.add_parser("show", help="show one mail account")
    m.add_argument("name")
    m.add_argument("--json", action="store_true", help="machine-readable output")
    m.set_defaults(handler=cmd_mail_show)
    m = msub.add_parser("add", help="add a mail account",
                        description=f"Protocols (default port): {PROTOCOL_HELP}. The unencrypted ones (IMAP, "
                                    "POP3) need --allow-plaintext unless the host is this machine.")
    m.add_argument("name")
    _mail_options(m, required=True)
    m.set_defaults(handler=cmd_mail_add)
    m = msub.add_parser("edit", help="change a mail account (only the options given)")
    m.add_argument("name")
    m.add_argument("--rename", metavar="NEW_NAME")
    _mail_options(m, required=False)
    m.set_defaults(handler=cmd_mail_edit)
    m = msub.add_parser("delete", help="delete a mail account")
    m.add_argument("name")
    m.set_defaults(handler=cmd_mail_delete)
    m = msub.add_parser("test", help="sign in with a fresh token and run a follow-up command")
    m.add_argument("name")
    m.add_argument("--json", action="store_true", help="machine-readable result with the (redacted) transcript")
    m.add_argument("-q", "--quiet", action="store_true", help="print only the one-line result")
    m.set_defaults(handler=cmd_mail_test)
    p.set_defaults(handler=lambda args, factory, parser=p: _missing_action(parser))

    # ---- invokers
    p = sub.add_parser(
        "invoker", help="web-service invokers that send a token",
        description=f"HTTP requests that carry a configuration's token: header values may contain {PLACEHOLDER} "
                    f"(default header: {DEFAULT_HEADERS[0][0]}: {DEFAULT_HEADERS[0][1]}). Send one with "
                    "'tokendesk invoke NAME'.",
    )
    isub = p.add_subparsers(dest="invoker_command", metavar="ACTION")
    i = isub.add_parser("list", help="list invokers")
    i.add_argument("--json", action="store_true")
    i.set_defaults(handler=cmd_invoker_list)
    i = isub.add_parser("add", help="add an invoker")
    i.add_argument("name")
    _invoker_options(i, required=True)
    i.set_defaults(handler=cmd_invoker_add)
    i = isub.add_parser("edit", help="change an invoker (only the options given)")
    i.add_argument("name")
    i.add_argument("--rename", metavar="NEW_NAME")
    _invoker_options(i, required=False)
    i.set_defaults(handler=cmd_invoker_edit)
    i = isub.add_parser("delete", help="delete an invoker")
    i.add_argument("name")
    i.set_defaults(handler=cmd_invoker_delete)
    p.set_defaults(handler=lambda args, factory, parser=p: _missing_action(parser))

    p = sub.add_parser("invoke", help="send an invoker's request with a fresh token; show status, headers, body",
                       description="Send the request of invoker NAME with a fresh token. The token is redacted in "
                                   "everything shown, even where the service echoes it back.")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the status line")
    p.set_defaults(handler=cmd_invoke)


def _missing_action(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _mail_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--protocol", required=required, metavar="PROTOCOL", type=str.upper,
                   choices=[x.key for x in PROTOCOLS], help=f"one of {PROTOCOL_HELP}")
    p.add_argument("--host", required=required)
    p.add_argument("--port", type=int, help="default: the protocol's port")
    p.add_argument("--login", required=required, help="the mailbox user name (usually the e-mail address)")
    p.add_argument("--config", "-c", dest="config", required=required, metavar="CONFIGURATION",
                   help="the token configuration whose token is used (must be valid)")
    p.add_argument("--mechanism", type=str.upper, choices=MECHANISMS, help="SASL mechanism (default XOAUTH2)")
    p.add_argument("--ca-file", metavar="PEM", help="trust this CA for a self-hosted server ('' = system CAs)")
    p.add_argument("--allow-plaintext", action=argparse.BooleanOptionalAction, default=None,
                   help=f"{ALLOW_PLAINTEXT_LABEL.lower()}: send the token unencrypted (IMAP, POP3) to a host that is "
                        "not this machine - only over a network you trust. A changed --host must be allowed again.")


def _invoker_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--url", required=required)
    p.add_argument("--method", type=str.upper, choices=METHODS, help="default GET")
    p.add_argument("--header", "-H", action="append", metavar="'NAME: VALUE'",
                   help=f"a header (repeat for more); replaces the headers. Default: "
                        f"'{DEFAULT_HEADERS[0][0]}: {DEFAULT_HEADERS[0][1]}'")
    p.add_argument("--body", help="request body (JSON gets Content-Type application/json)")
    p.add_argument("--body-file", metavar="FILE|-", help="read the body from FILE or stdin")
    p.add_argument("--config", "-c", dest="config", required=required, metavar="CONFIGURATION",
                   help="the token configuration whose token is sent (must be valid)")
    p.add_argument("--ca-file", metavar="PEM", help="trust this CA for a self-hosted service ('' = system CAs)")


def _fail_validation(exc: UsageValidationFailed, what: str) -> CliError:
    lines = "\n".join(f"  {e.field}: {e.message}" for e in exc.errors)
    return CliError(f"the {what} was not saved:\n{lines}", EXIT_USAGE)


# ---- add / edit / delete, the same for mail accounts and invokers
@dataclass(frozen=True)
class _Kind:
    what: str  # "mail account"
    blank: Callable[[str], Any]  # a new item named NAME, before the options are applied
    apply: Callable[[Any, argparse.Namespace], Any]  # the options given on the command line
    get: Callable[[UsageRepository, str], Any]
    add: Callable[[UsageRepository, Any], Any]
    update: Callable[[UsageRepository, Any], Any]
    delete: Callable[[UsageRepository, str], Any]
    try_command: str  # "tokendesk mail test"


def _add(args: argparse.Namespace, factory: ContextFactory, kind: _Kind) -> int:
    service = UsageService(factory())
    item = kind.apply(kind.blank(args.name), args)
    try:
        saved = kind.add(service.repo, item)
    except UsageValidationFailed as exc:
        raise _fail_validation(exc, kind.what) from None
    print(f"Added {kind.what} '{saved.name}': {saved.describe()} with the token of '{saved.config_name}'.")
    print(f"Try it: {kind.try_command} '{saved.name}'")
    return 0


def _edit(args: argparse.Namespace, factory: ContextFactory, kind: _Kind) -> int:
    service = UsageService(factory())
    try:
        item = kind.apply(kind.get(service.repo, args.name), args)
        if args.rename:
            item.name = args.rename
        saved = kind.update(service.repo, item)
    except UsageNotFound as exc:
        raise CliError(str(exc), EXIT_NOT_FOUND) from None
    except UsageValidationFailed as exc:
        raise _fail_validation(exc, kind.what) from None
    print(f"Saved {kind.what} '{saved.name}': {saved.describe()} with the token of '{saved.config_name}'.")
    return 0


def _delete(args: argparse.Namespace, factory: ContextFactory, kind: _Kind) -> int:
    try:
        gone = kind.delete(UsageService(factory()).repo, args.name)
    except UsageNotFound as exc:
        raise CliError(str(exc), EXIT_NOT_FOUND) from None
    print(f"Deleted {kind.what} '{gone.name}'.")
    return 0


# ---- mail
def cmd_mail_list(args: argparse.Namespace, factory: ContextFactory) -> int:
    accounts = UsageService(factory()).repo.list_mail_accounts()
    if args.json:
        print_json([_mail_json(a) for a in accounts])
        return 0
    if not accounts:
        print("No mail accounts yet. Add one with 'tokendesk mail add NAME --protocol IMAPS --host ... "
              "--login ... --config CONFIGURATION'.")
        return 0
    print_table(["NAME", "PROTOCOL", "SERVER", "LOGIN", "TOKEN CONFIGURATION", "MECHANISM", "LAST TEST"],
                [[a.name, protocol_text(a), f"{a.host}:{a.effective_port}", a.login, a.config_name, a.mechanism,
                  _last_run_text(a.last_run)] for a in accounts])
    return 0


def _mail_json(a: MailAccount) -> dict[str, Any]:
    return {"name": a.name, "protocol": a.protocol, "host": a.host, "port": a.effective_port, "login": a.login,
            "configuration": a.config_name, "mechanism": a.mechanism, "ca_file": a.ca_file,
            "allow_plaintext": a.allow_plaintext, "last_test": a.last_run.to_dict() if a.last_run else None}


def _unencrypted_text(a: MailAccount) -> str:
    state = plaintext_state(a)
    if not state:
        tls = a.spec.tls if a.protocol.upper() in PROTOCOLS_BY_KEY else ""
        return {TLS_IMPLICIT: "no (TLS from the first byte)", TLS_STARTTLS: "no (STARTTLS before signing in)"}.get(
            tls, f"unknown protocol {a.protocol}")
    if state == "this machine":
        return "yes, to this machine (needs no permission)"
    if state == "allowed":
        return f"allowed to {a.host} (--allow-plaintext)"
    return (f"refused: not allowed for {a.host}; the test will not run (tokendesk mail edit '{a.name}' "
            "--allow-plaintext, or choose an encrypted protocol)")


def cmd_mail_show(args: argparse.Namespace, factory: ContextFactory) -> int:
    try:
        a = UsageService(factory()).repo.get_mail_account(args.name)
    except UsageNotFound as exc:
        raise CliError(str(exc), EXIT_NOT_FOUND) from None
    if args.json:
        print_json(_mail_json(a))
        return 0
    spec = PROTOCOLS_BY_KEY.get(a.protocol.upper())
    port = a.port or (spec.default_port if spec else "?")
    rows = [("Name", a.name), ("Protocol", spec.label if spec else a.protocol), ("Server", f"{a.host}:{port}"),
            ("Login", a.login), ("Token configuration", a.config_name), ("Mechanism", a.mechanism),
            ("CA file", a.ca_file or "(the system's trusted CAs)"), ("Unencrypted", _unencrypted_text(a)),
            ("Last test", _last_run_text(a.last_run))]
    for label, value in rows:
        print(f"{label + ':':<22}{value}")
    return 0


def _last_run_text(run: LastRun | None) -> str:
    if run is None:
        return "never"
    return f"{run.text} ({format_when(run.at, datetime.now(UTC))})"


def _apply_mail_options(account: MailAccount, args: argparse.Namespace) -> MailAccount:
    if args.protocol is not None:
        account.protocol = args.protocol
    if args.host is not None:
        if args.host.strip().casefold() != account.host.strip().casefold():
            account.allow_plaintext = False  # the permission was for the old host: --allow-plaintext again
        account.host = args.host
    if args.port is not None:
        account.port = args.port
    if args.login is not None:
        account.login = args.login
    if args.config is not None:
        account.config_name, account.config_id = args.config, None
    if args.mechanism is not None:
        account.mechanism = args.mechanism
    if args.ca_file is not None:
        account.ca_file = args.ca_file
    if args.allow_plaintext is not None:
        account.allow_plaintext = args.allow_plaintext
    return account


MAIL = _Kind("mail account", lambda name: MailAccount(name=name, protocol="", host="", login=""),
             _apply_mail_options, UsageRepository.get_mail_account, UsageRepository.add_mail_account,
             UsageRepository.update_mail_account, UsageRepository.delete_mail_account, "tokendesk mail test")


def cmd_mail_add(args: argparse.Namespace, factory: ContextFactory) -> int:
    return _add(args, factory, MAIL)


def cmd_mail_edit(args: argparse.Namespace, factory: ContextFactory) -> int:
    return _edit(args, factory, MAIL)


def cmd_mail_delete(args: argparse.Namespace, factory: ContextFactory) -> int:
    return _delete(args, factory, MAIL)


def cmd_mail_test(args: argparse.Namespace, factory: ContextFactory) -> int:
    service = UsageService(factory())
    try:
        result = service.test_mail_account(args.name)
    except UsageNotFound as exc:
        raise CliError(str(exc), EXIT_NOT_FOUND) from None
    if args.json:
        print_json(result.to_dict())
    else:
        if not args.quiet:
            print(result.transcript_text())
            print()
        print(("OK: " if result.ok else "FAILED: ") + result.summary)
        if result.hint and not result.ok:
            print(result.hint, file=sys.stderr)
    if result.ok:
        return 0
    if result.stage == "refused":
        return EXIT_USAGE
    return _exit_for(result.token_problem, result.stage == "connect" or "did not answer" in result.summary)


def _exit_for(token_problem: str, network: bool) -> int:
    if token_problem == "reauth":
        return EXIT_REAUTH
    if token_problem == "network" or network:
        return EXIT_NETWORK
    return EXIT_ERROR


# ---- invokers
def cmd_invoker_list(args: argparse.Namespace, factory: ContextFactory) -> int:
    invokers = UsageService(factory()).repo.list_invokers()
    if args.json:
        print_json([{"name": i.name, "method": i.method, "url": i.url, "headers": [list(h) for h in i.headers],
                     "body": i.body, "configuration": i.config_name, "ca_file": i.ca_file,
                     "last_call": i.last_run.to_dict() if i.last_run else None} for i in invokers])
        return 0
    if not invokers:
        print("No invokers yet. Add one with 'tokendesk invoker add NAME --url https://... --config CONFIGURATION'.")
        return 0
    print_table(["NAME", "METHOD", "URL", "TOKEN CONFIGURATION", "LAST CALL"],
                [[i.name, i.method, i.url, i.config_name, _last_run_text(i.last_run)] for i in invokers])
    return 0


def _read_body(args: argparse.Namespace) -> str | None:
    if args.body is not None and args.body_file is not None:
        raise CliError("give --body or --body-file, not both", EXIT_USAGE)
    if args.body_file is None:
        return args.body
    if args.body_file == "-":
        return sys.stdin.read()
    try:
        with open(args.body_file, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise CliError(f"cannot read {args.body_file}: {exc.strerror}", EXIT_USAGE) from None


def _apply_invoker_options(invoker: WebInvoker, args: argparse.Namespace) -> WebInvoker:
    if args.url is not None:
        invoker.url = args.url
    if args.method is not None:
        invoker.method = args.method
    if args.header is not None:
        try:
            invoker.headers = parse_header_lines("\n".join(args.header))
        except ValueError as exc:
            raise CliError(f"--header: {exc}", EXIT_USAGE) from None
    body = _read_body(args)
    if body is not None:
        invoker.body = body
    if args.config is not None:
        invoker.config_name, invoker.config_id = args.config, None
    if args.ca_file is not None:
        invoker.ca_file = args.ca_file
    return invoker


INVOKER = _Kind("invoker", lambda name: WebInvoker(name=name, url=""), _apply_invoker_options,
                UsageRepository.get_invoker, UsageRepository.add_invoker, UsageRepository.update_invoker,
                UsageRepository.delete_invoker, "tokendesk invoke")


def cmd_invoker_add(args: argparse.Namespace, factory: ContextFactory) -> int:
    return _add(args, factory, INVOKER)


def cmd_invoker_edit(args: argparse.Namespace, factory: ContextFactory) -> int:
    return _edit(args, factory, INVOKER)


def cmd_invoker_delete(args: argparse.Namespace, factory: ContextFactory) -> int:
    return _delete(args, factory, INVOKER)


def cmd_invoke(args: argparse.Namespace, factory: ContextFactory) -> int:
    service = UsageService(factory())
    try:
        result = service.invoke(args.name)
    except UsageNotFound as exc:
        raise CliError(str(exc), EXIT_NOT_FOUND) from None
    if args.json:
        print_json(result.to_dict())
    elif args.quiet:
        print(result.summary)
    else:
        print(result.text())
    if result.hint and not args.json:
        print(result.hint, file=sys.stderr)
    if result.ok:
        return 0
    if result.status is not None:
        return EXIT_ERROR
    return _exit_for(result.token_problem, result.token_problem == "" and result.status is None)
