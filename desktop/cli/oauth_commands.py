"""Token commands: authorize, refresh, token, revoke, forget.

``tokendesk token NAME`` is the workstation's token service (mbsync, msmtp, curl, scripts): it
prints a valid access token, refreshing first when needed. It imports no Qt, and no authlib or
httpx unless a refresh is needed. Exit codes (desktop.cli.common): 0 success, 3 unknown name,
4 interactive re-authorization needed, 5 network or provider error, 1 anything else.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

from desktop.cli.common import (
    EXIT_ERROR,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REAUTH,
    CliError,
    ContextFactory,
)
from desktop.cli.via_window import FORMATS, format_token, refresh_via_window, token_via_window

if TYPE_CHECKING:
    import argparse

    from desktop.oauth.errors import TokenError
    from desktop.services import Context

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("authorize", help="sign in and store a new token (system or embedded browser)",
                       description="Run the authorization-code flow for NAME and store the token. "
                       "The system browser also prints the sign-in address, for use over SSH.")
    p.add_argument("name")
    p.add_argument("--browser", choices=["system", "embedded"],
                   help="where the sign-in runs (default: the configuration's setting)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S",
                   help="give up after S seconds without an answer from the browser (default 300)")
    p.add_argument("--no-open", action="store_true",
                   help="system browser: only print the address, do not start a browser")
    p.add_argument("--device", action="store_true",
                   help="device code (RFC 8628): print an address and a code to enter there on any device, then "
                   "wait (no browser or display needed; the configuration needs Requests.DeviceAuthorization)")
    p.set_defaults(handler=cmd_authorize)

    p = sub.add_parser("refresh", help="renew a token now (refresh token or client credentials)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("name", nargs="?")
    target.add_argument("--all", action="store_true", help="every valid configuration that has a token")
    p.set_defaults(handler=cmd_refresh)

    p = sub.add_parser("token", help="print a valid access token (refreshed first when needed)",
                       description="Print a valid access token for NAME. Exit 4 when an interactive sign-in is "
                       "needed ('tokendesk authorize NAME'), 5 when the provider cannot be reached.")
    p.add_argument("name")
    p.add_argument("--format", choices=FORMATS, default="raw",
                   help="raw token (default), an HTTP 'Authorization: Bearer' header, JSON, or a base64 "
                   "XOAUTH2 string (for --user LOGIN, or the account the token names)")
    p.add_argument("--user", metavar="LOGIN",
                   help="mail login for --format xoauth2 (default: the account the token names, if it does)")
    p.set_defaults(handler=cmd_token)

    p = sub.add_parser("revoke", help="revoke the token at the provider (RFC 7009) and delete it here")
    p.add_argument("name")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=cmd_revoke)

    p = sub.add_parser("forget", help="delete the stored token here (the provider is not told)")
    p.add_argument("name")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=cmd_forget)


# ---- helpers
def _exit_code(exc: TokenError) -> int:
    from desktop.oauth.errors import NetworkError, ProviderError, ReauthorizationNeeded

    if isinstance(exc, ReauthorizationNeeded):
        return EXIT_REAUTH
    if isinstance(exc, NetworkError | ProviderError):
        return EXIT_NETWORK
    return EXIT_ERROR


def _token_failure(exc: TokenError, name: str) -> CliError:
    from desktop.oauth.errors import ReauthorizationNeeded

    lines = [str(exc)]
    if exc.hint:
        lines.append(exc.hint)
    if isinstance(exc, ReauthorizationNeeded):
        lines.append(f"Next: tokendesk authorize \"{name}\" (or Request new token in the window).")
    return CliError("\n".join(lines), _exit_code(exc))


def _service(ctx: Context) -> Any:
    from desktop.oauth.tokens import TokenService

    return TokenService(ctx)


def _configuration(ctx: Context, name: str) -> Any:
    from desktop.store.repository import NotFoundError

    try:
        return ctx.store.get(name)
    except NotFoundError as exc:
        raise CliError(str(exc), EXIT_NOT_FOUND) from None


def _confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes or not sys.stdin.isatty():
        return True
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _describe(state: Any) -> str:
    from desktop.models.status import format_local

    parts = []
    parts.append(f"valid until {format_local(state.token_expires_at)}" if state.token_expires_at
                 else "no expiry given")
    parts.append("refresh token stored" if state.has_refresh_token else "no refresh token")
    return ", ".join(parts)


# ---- commands
def cmd_token(args: argparse.Namespace, factory: ContextFactory) -> int:
    """A running window answers (desktop.agent); without one, the store is opened here. (Plain arguments do not
    come here: desktop.cli.main asks the window and calls token_here without argparse.)"""
    code = token_via_window(args.name, args.format, args.user)
    if code is not None:
        return code
    return token_here(args.name, args.format, args.user, factory)


def token_here(name: str, fmt: str, user: str | None, factory: ContextFactory) -> int:
    """``tokendesk token`` without a window: this process opens the store and the vault."""
    import os

    from desktop.oauth.errors import TokenError
    from desktop.oauth.tokens import TokenService
    from desktop.procinfo import requesting_program

    ctx = factory()
    _configuration(ctx, name)
    try:
        token, state = TokenService(ctx).access_token_and_state(name, used_by=requesting_program(os.getppid()))
    except TokenError as exc:
        raise _token_failure(exc, name) from None
    out = format_token(fmt, name, token, user=user, account=state.account or None,
                       expires_at=state.token_expires_at.isoformat() if state.token_expires_at else None,
                       scope=state.token_info.get("granted_scope") or None,
                       token_type=state.token_info.get("token_type") or None)
    sys.stdout.write(out + "\n")
    return EXIT_OK


def cmd_refresh(args: argparse.Namespace, factory: ContextFactory) -> int:
    """NAME: the running window refreshes (the same code and lock), else this process does; ``--all`` loops."""
    from desktop.models.grants import keeps_refresh_token
    from desktop.oauth.errors import TokenError

    if not args.all:
        answered = refresh_via_window(args.name)
        if answered is not None:
            code, name, text, state = answered
            if code == EXIT_NOT_FOUND:
                raise CliError(text, code)
            if code != EXIT_OK:
                print(f"{name}: failed: {text}", file=sys.stderr)
                return code
            print(f"{name}: refreshed ({_describe(state)})")
            return EXIT_OK
    ctx = factory()
    service = None
    if args.all:
        names = []
        for cfg, state in ctx.store.list_with_state():
            if not cfg.is_valid:
                print(f"{cfg.name}: skipped (marked {cfg.validity_label})")
            elif keeps_refresh_token(cfg) and not state.has_refresh_token:
                print(f"{cfg.name}: skipped (no refresh token; request a token first)")
            elif state.reauthorization_needed:
                print(f"{cfg.name}: skipped (needs a new sign-in: tokendesk authorize \"{cfg.name}\")")
            else:
                names.append(cfg.name)
    else:
        names = [_configuration(ctx, args.name).name]
    codes: list[int] = []
    window = args.all  # --all: each name is asked of the window, until it is clear that none answers
    for name in names:
        answered = refresh_via_window(name) if window else None
        if answered is None:
            window = False
            service = service or _service(ctx)
            try:
                state = service.refresh(name)
            except TokenError as exc:
                failure = _token_failure(exc, name)
                print(f"{name}: failed: {failure}", file=sys.stderr)
                codes.append(failure.exit_code)
                continue
        else:
            code, _name, text, state = answered
            if code != EXIT_OK:
                print(f"{name}: failed: {text}", file=sys.stderr)
                codes.append(code)
                continue
        print(f"{name}: refreshed ({_describe(state)})")
    if not codes:
        return EXIT_OK
    for code in (EXIT_REAUTH, EXIT_NETWORK):
        if code in codes:
            return code
    return EXIT_ERROR


def cmd_authorize(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.models.config import BROWSER_SYSTEM
    from desktop.oauth.errors import TokenError
    from desktop.oauth.tokens import warnings_for

    ctx = factory()
    cfg = _configuration(ctx, args.name)
    mode = args.browser or cfg.browser_mode
    try:
        if args.device:
            state = _authorize_device(ctx, cfg.name)
        elif mode == BROWSER_SYSTEM or args.no_open:
            state = _authorize_system(ctx, cfg.name, args.timeout, open_browser=not args.no_open)
        else:
            state = _authorize_embedded(ctx, cfg.name)
    except TokenError as exc:
        raise _token_failure(exc, cfg.name) from None
    if state is None:
        print("Sign-in cancelled; the stored token (if any) is unchanged.", file=sys.stderr)
        return EXIT_ERROR
    print(f"Token stored for '{cfg.name}' ({_describe(state)}).")
    for note in warnings_for(cfg, state):
        print(f"Note: {note}", file=sys.stderr)
    return EXIT_OK


def _authorize_system(ctx: Context, name: str, timeout: float, *, open_browser: bool) -> Any:
    import webbrowser

    from desktop.oauth.loopback import LoopbackListener, authorize_with_system_browser

    def show(url: str, opened: bool) -> None:
        if opened:
            print("Your browser should open the sign-in page. If it does not (or you are on SSH), open this address:")
        else:
            print("Open this address in a browser to sign in:")
        print(f"\n  {url}\n")
        print(f"Waiting up to {timeout:g} s. If the browser runs on another machine, paste the address it ends "
              "on (starting with http://127.0.0.1) here and press Enter.", flush=True)

    def read_pasted(listener: LoopbackListener) -> None:
        if not sys.stdin or not sys.stdin.isatty():
            return

        def run() -> None:
            for line in sys.stdin:
                text = line.strip()
                if not text:
                    continue
                if listener.submit(text):
                    return
                print("That address is not the answer to this sign-in (code and state missing or different).",
                      file=sys.stderr, flush=True)

        threading.Thread(target=run, name="tokendesk-paste", daemon=True).start()

    return authorize_with_system_browser(
        _service(ctx), name, timeout=timeout, open_browser=webbrowser.open if open_browser else None,
        show_url=show, on_listener=read_pasted,
    )


def _authorize_device(ctx: Context, name: str) -> Any:
    """RFC 8628: the address and the code on stderr, then poll until the token is stored (Ctrl+C cancels)."""
    from desktop.oauth.grant_drivers.device import device_hint

    service = _service(ctx)
    hint = device_hint(service.configuration(name), ctx.templates)
    if hint:
        print(f"Note: {hint}", file=sys.stderr)
    auth = service.start_device_authorization(name)
    minutes = max(1, round(auth.seconds_left(service.clock()) / 60))
    print(f"On any device, open {auth.verification_uri}\nand enter the code: {auth.user_code}", file=sys.stderr)
    if auth.verification_uri_complete:
        print(f"(or open {auth.verification_uri_complete}, which carries the code)", file=sys.stderr)
    print(f"The code is valid for about {minutes} min. Waiting for the sign-in...", file=sys.stderr, flush=True)
    try:
        return service.wait_for_device(auth)
    except KeyboardInterrupt:
        return None


def _authorize_embedded(ctx: Context, name: str) -> Any:
    """Only the login dialog (Qt is imported here and only here)."""
    try:
        from desktop.ui.dialogs.login_dialog import run_standalone_login
    except ImportError as exc:
        raise CliError(f"the embedded browser is not available ({exc}); use --browser system", EXIT_ERROR) from None
    return run_standalone_login(ctx, name)


def cmd_revoke(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.oauth.errors import ConfigurationProblem, TokenError
    from desktop.oauth.http import host_of

    ctx = factory()
    cfg = _configuration(ctx, args.name)
    if not cfg.revocation_url:
        raise CliError(f"'{cfg.name}' has no revocation endpoint. Use 'tokendesk forget \"{cfg.name}\"' to delete "
                       "the token here, and remove the app's access in the provider's account settings.", EXIT_ERROR)
    if not _confirm(f"Revoke the token of '{cfg.name}' at {host_of(cfg.revocation_url)} and delete it here?", args.yes):
        print("Nothing changed.")
        return EXIT_OK
    try:
        _service(ctx).revoke(cfg.name)
    except ConfigurationProblem as exc:
        raise CliError(f"{exc} {exc.hint}".strip(), EXIT_ERROR) from None
    except TokenError as exc:
        raise _token_failure(exc, cfg.name) from None
    print(f"Revoked and deleted the token of '{cfg.name}'.")
    return EXIT_OK


def cmd_forget(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    cfg = _configuration(ctx, args.name)
    if not _confirm(f"Delete the stored token of '{cfg.name}' here (the provider is not told)?", args.yes):
        print("Nothing changed.")
        return EXIT_OK
    _service(ctx).forget(cfg.name)
    print(f"Deleted the stored token of '{cfg.name}'. The configuration is kept.")
    return EXIT_OK
