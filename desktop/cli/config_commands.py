"""Configuration commands: list, templates, show, add, edit, delete, settings (doctor, autostart: system_commands)."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from desktop.cli.common import (
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    CliError,
    ContextFactory,
    print_json,
    print_table,
    secret_failure,
)
from desktop.models.config import (
    AUTHORIZATION_CODE,
    BROWSER_EMBEDDED,
    BROWSER_SYSTEM,
    CLIENT_AUTH_BASIC,
    CLIENT_AUTH_POST,
    TOKEN_BY_AUTHORIZATION_CODE,
    TOKEN_BY_CLIENT_CREDENTIALS,
    TOKEN_BY_REFRESH_TOKEN,
    TOKEN_REVOCATION,
    VALIDITY_LABELS,
    TokenConfiguration,
    parse_day,
)
from desktop.models.settings import SETTINGS, spec_for
from desktop.models.status import last_used_text, refresh_status, token_status
from desktop.models.token import TokenState, utcnow
from desktop.services import ChangedMeanwhile, InUseError, ValidationFailed
from desktop.store.repository import DuplicateNameError, NotFoundError
from desktop.store.secrets import SecretStoreError

VALIDITY_BY_LABEL = {label: vid for vid, label in VALIDITY_LABELS.items()}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list token configurations and their status")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("templates", help="list the provider templates")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_templates)

    p = sub.add_parser("show", help="show one configuration (never its secrets)")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("add", help="add a configuration from a template")
    p.add_argument("--template", "-t", required=True, help="template name (see 'tokendesk templates')")
    p.add_argument("--name", "-n", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument(
        "--client-secret-file",
        metavar="FILE|-",
        help="read the client secret from FILE, or from stdin with '-' (never as an argument)",
    )
    _add_field_options(p)
    p.set_defaults(handler=cmd_add)

    p = sub.add_parser(
        "edit", help="change a configuration (only the options given)",
        description="Change the options given and keep the rest. An endpoint moved to another host (scheme, host "
        "or port) forgets the stored tokens, and the stored client secret unless --send-client-secret-to-new-hosts "
        "is given or a new one comes with --client-secret-file.")
    p.add_argument("name")
    p.add_argument("--client-id")
    p.add_argument("--client-secret-file", metavar="FILE|-",
                   help="a new client secret from FILE, or from stdin with '-' (never as an argument)")
    p.add_argument("--send-client-secret-to-new-hosts", action="store_true",
                   help="keep the stored client secret when endpoints move to another host (it is then sent there); "
                   "without it the secret is removed")
    _add_field_options(p)
    p.set_defaults(handler=cmd_edit)

    p = sub.add_parser("delete", help="delete a configuration with its token and secrets")
    p.add_argument("name")
    p.set_defaults(handler=cmd_delete)

    p = sub.add_parser("settings", help="read or change settings")
    ssub = p.add_subparsers(dest="settings_command", metavar="ACTION")
    g = ssub.add_parser("get", help="print one setting, or all")
    g.add_argument("key", nargs="?")
    g.add_argument("--json", action="store_true")
    s = ssub.add_parser("set", help="change a setting (lists: comma-separated)")
    s.add_argument("key")
    s.add_argument("value")
    r = ssub.add_parser("reset", help="back to the default")
    r.add_argument("key")
    p.set_defaults(handler=cmd_settings)


def _add_field_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scope", help="space-separated scopes (default: the template's)")
    p.add_argument("--auth-url", help="authorization endpoint")
    p.add_argument("--token-url", help="token endpoint (authorization code)")
    p.add_argument("--refresh-url", help="token refresh endpoint (default: the token endpoint)")
    p.add_argument("--client-credentials-url", help="token endpoint of a client-credentials template")
    p.add_argument("--revocation-url", help="RFC 7009 revocation endpoint")
    p.add_argument("--validity", choices=list(VALIDITY_BY_LABEL), help="default: valid")
    p.add_argument("--browser", choices=[BROWSER_EMBEDDED, BROWSER_SYSTEM], help="where the login runs")
    p.add_argument("--redirect-uri", help="override the redirect URI built from the settings")
    p.add_argument("--no-pkce", action="store_true", help="do not send PKCE (only for providers that reject it)")
    p.add_argument("--client-auth", choices=["post", "basic"],
                   help="client secret in the request body (post, Znuny's way, default) or as HTTP Basic")
    p.add_argument("--notify-expired-token", choices=["on", "off"])
    p.add_argument("--notify-expired-refresh-token", choices=["on", "off"])
    p.add_argument("--client-secret-expires", metavar="DATE",
                   help="the day the client secret expires, YYYY-MM-DD (warnings 30, 7 and 1 days ahead and on the "
                   "day); '' or 'none' forgets it")


def _apply_field_options(cfg: TokenConfiguration, args: argparse.Namespace) -> None:
    if args.scope is not None:
        cfg.scope = args.scope
    if args.auth_url:
        cfg.set_endpoint(AUTHORIZATION_CODE, args.auth_url)
    if args.token_url:
        cfg.set_endpoint(TOKEN_BY_AUTHORIZATION_CODE, args.token_url)
        if not args.refresh_url and not cfg.refresh_url:
            cfg.set_endpoint(TOKEN_BY_REFRESH_TOKEN, args.token_url)
    if args.refresh_url:
        cfg.set_endpoint(TOKEN_BY_REFRESH_TOKEN, args.refresh_url)
    if args.client_credentials_url:
        cfg.set_endpoint(TOKEN_BY_CLIENT_CREDENTIALS, args.client_credentials_url)
    if args.revocation_url:
        cfg.set_endpoint(TOKEN_REVOCATION, args.revocation_url)
    if args.validity:
        cfg.valid_id = VALIDITY_BY_LABEL[args.validity]
    if args.browser:
        cfg.browser_mode = args.browser
    if args.redirect_uri:
        cfg.redirect_url_override = args.redirect_uri
    if args.no_pkce:
        cfg.pkce_enabled = False
    if args.client_auth:
        cfg.client_authentication = CLIENT_AUTH_BASIC if args.client_auth == "basic" else CLIENT_AUTH_POST
    if args.notify_expired_token:
        cfg.notify_on_expired_token = args.notify_expired_token == "on"
    if args.notify_expired_refresh_token:
        cfg.notify_on_expired_refresh_token = args.notify_expired_refresh_token == "on"
    if args.client_secret_expires is not None:
        text = args.client_secret_expires.strip()
        if text.lower() in ("", "none"):
            cfg.client_secret_expires = None
        elif (day := parse_day(text)) is None:
            raise CliError(f"--client-secret-expires must be a date written year-month-day, such as 2027-05-31, "
                           f"not '{text}' (Entra shows it under Certificates & secrets, column Expires); nothing "
                           "was saved", EXIT_USAGE)
        else:
            cfg.client_secret_expires = day


def read_secret_file(spec: str) -> str:
    if spec == "-":
        data = sys.stdin.read()
    else:
        try:
            data = Path(spec).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read the client secret file {spec}: {exc.strerror}") from None
    secret = data.strip("\r\n")
    if not secret.strip():
        raise CliError("the client secret file is empty")
    return secret


# ---- summaries shared by list and show
def state_summary(cfg: TokenConfiguration, state: TokenState, token_lead: timedelta | None = None) -> dict[str, Any]:
    """Like the window's table: the access token is 'expiring' inside the automatic-refresh lead time
    (``refresh.lead_time_seconds``), the refresh token inside the configuration's warning lead time."""
    now = utcnow()
    if token_lead is None:
        token_lead = timedelta(seconds=spec_for("refresh.lead_time_seconds").default)
    # the warning lead time matters only for a refresh token with a known expiry: reading it parses the whole
    # configuration, which 'list' over 10,000 configurations would otherwise do for every row
    needs_lead = state.has_refresh_token and state.refresh_token_expires_at is not None
    lead = timedelta(minutes=cfg.notification_lead_time_minutes) if needs_lead else timedelta(0)
    ts = token_status(state, now, token_lead)
    rs = refresh_status(state, now, lead)
    return {
        "token_status": ts.kind.value,
        "token_status_text": ts.text,
        "refresh_token_status": rs.kind.value,
        "refresh_token_status_text": rs.text,
        "token_expires_at": state.token_expires_at.isoformat() if state.token_expires_at else None,
        "refresh_token_expires_at": state.refresh_token_expires_at.isoformat()
        if state.refresh_token_expires_at
        else None,
        "last_requested_at": state.last_requested_at.isoformat() if state.last_requested_at else None,
        "last_refreshed_at": state.last_refreshed_at.isoformat() if state.last_refreshed_at else None,
        "last_used_at": state.last_used_at.isoformat() if state.last_used_at else None,
        "last_used_by": state.last_used_by or None,  # the program that asked (desktop.procinfo)
        "error": state.error_text if state.has_error else None,
        "reauthorization_needed": state.reauthorization_needed,
    }


def _token_lead(ctx: Any) -> timedelta:
    return timedelta(seconds=int(ctx.store.get_setting("refresh.lead_time_seconds")))


def cmd_list(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    rows = ctx.store.list_with_state()
    token_lead = _token_lead(ctx)
    if args.json:
        print_json(
            [
                {
                    "name": cfg.name,
                    "template": cfg.template_name,
                    "validity": cfg.validity_label,
                    **state_summary(cfg, st, token_lead),
                    "account": st.account or None,
                }
                for cfg, st in rows
            ]
        )
        return 0
    if not rows:
        print("No token configurations yet. Add one with 'tokendesk add --template ... ' or in the window.")
        return 0
    table = []
    for cfg, st in rows:
        s = state_summary(cfg, st, token_lead)
        table.append([cfg.name, cfg.template_name, s["token_status_text"], s["refresh_token_status_text"],
                      cfg.validity_label, st.account])
    print_table(["NAME", "TEMPLATE", "TOKEN", "REFRESH TOKEN", "VALIDITY", "SIGNED IN AS"], table)
    return 0



def cmd_templates(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.models.templates import load_templates

    catalog = load_templates()
    for problem in catalog.problems:
        print(f"tokendesk: warning: template skipped: {problem}", file=sys.stderr)
    if args.json:
        print_json(
            [
                {
                    "name": t.name,
                    "description": t.description,
                    "file": str(t.path) if t.path else None,
                    "auth_flow": t.config.get("AuthFlow", "AuthorizationCode"),
                }
                for t in catalog.templates
            ]
        )
        return 0
    print_table(["TEMPLATE", "DESCRIPTION"], [[t.name, t.description] for t in catalog.templates])
    return 0


def configuration_details(cfg: TokenConfiguration) -> dict[str, Any]:
    """Everything about a configuration that is not a secret."""
    return {
        "name": cfg.name,
        "template": cfg.template_name,
        "auth_flow": cfg.auth_flow,
        "validity": cfg.validity_label,
        "client_id": cfg.client_id,
        "client_secret": "stored" if cfg.has_client_secret else "missing",
        "client_secret_expires": cfg.client_secret_expires_text or None,
        "scope": cfg.scope,
        "endpoints": {
            "authorization": cfg.authorization_url or None,
            "token": cfg.token_url or None,
            "refresh": cfg.refresh_url or None,
            "client_credentials": cfg.client_credentials_url or None,
            "revocation": cfg.revocation_url or None,
        },
        "client_authentication": cfg.client_authentication,
        "pkce": cfg.pkce_enabled,
        "browser": cfg.browser_mode,
        "redirect_uri_override": cfg.redirect_url_override or None,
        "notifications": {
            "expired_token": cfg.notify_on_expired_token,
            "expired_refresh_token": cfg.notify_on_expired_refresh_token,
            "before_token_expiry": cfg.notify_before_token_expiry,
            "before_refresh_token_expiry": cfg.notify_before_refresh_token_expiry,
            "lead_time_minutes": cfg.notification_lead_time_minutes,
        },
        "created": cfg.create_time,
        "changed": cfg.change_time,
    }


def cmd_show(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    cfg = _get(ctx, args.name)
    assert cfg.id is not None
    state = ctx.store.get_state(cfg.id)
    data = configuration_details(cfg)
    data["token"] = state_summary(cfg, state, _token_lead(ctx))
    if state.has_access_token and state.token_info:  # who signed in, what was granted (never the token)
        data["token"]["info"] = dict(state.token_info)
    if args.json:
        print_json(data)
        return 0
    # as the window's details pane says it: "last used: 2026-11-27 14:02 (3 min ago) by /usr/bin/msmtp"
    used = last_used_text(state.last_used_at, state.last_used_by, utcnow())
    data["token"] = {("last_used" if key == "last_used_at" else key): (used if key == "last_used_at" else value)
                     for key, value in data["token"].items() if key != "last_used_by"}
    _print_mapping(data)
    return 0


def _print_mapping(data: dict[str, Any], indent: int = 0) -> None:
    for key, value in data.items():
        label = key.replace("_", " ")
        if isinstance(value, dict):
            print(" " * indent + f"{label}:")
            _print_mapping(value, indent + 2)
        else:
            shown = "-" if value is None else ("yes" if value is True else "no" if value is False else str(value))
            print(" " * indent + f"{label}: {shown}")


def _get(ctx: Any, name: str) -> TokenConfiguration:
    try:
        return ctx.store.get(name)
    except NotFoundError as exc:
        raise CliError(str(exc), EXIT_NOT_FOUND) from None


def cmd_add(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.models.templates import TemplateError  # with its YAML: only where templates are read

    ctx = factory()
    try:
        template = ctx.templates.require(args.template)
    except TemplateError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    cfg = template.new_configuration(args.name)
    cfg.client_id = args.client_id
    _apply_field_options(cfg, args)
    secret = read_secret_file(args.client_secret_file) if args.client_secret_file else None
    try:
        saved = ctx.configurations.add(cfg, secret)
    except ValidationFailed as exc:
        lines = "\n".join(f"  {e.field}: {e.message}" for e in exc.errors)
        raise CliError(f"the configuration was not saved:\n{lines}", EXIT_USAGE) from None
    except DuplicateNameError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except SecretStoreError as exc:
        raise secret_failure("the configuration was not saved: ", exc) from None
    print(f"Added '{saved.name}' (template {saved.template_name}); secrets in the {ctx.secrets.description}.")
    if not secret and template.client_secret_required:
        print(f"No client secret was given, and {template.name} needs one: sign-ins fail until you add it with Edit "
              f"in the window or: tokendesk edit {shlex.quote(saved.name)} --client-secret-file FILE")
    elif not secret:
        print("No client secret was given: add one with Edit in the window if the provider requires it.")
    shape = template.client_id_warning(saved.client_id or "")
    if shape:
        print(f"tokendesk: warning: the client ID {shape}", file=sys.stderr)
    return 0


def cmd_edit(args: argparse.Namespace, factory: ContextFactory) -> int:
    import shlex

    from desktop.models.origins import describe_moves, new_origins
    from desktop.services import TokenBusy

    ctx = factory()
    stored = _get(ctx, args.name)
    cfg = stored.copy()
    if args.client_id:
        cfg.client_id = args.client_id
    _apply_field_options(cfg, args)
    secret = read_secret_file(args.client_secret_file) if args.client_secret_file else None
    moves = ctx.configurations.endpoint_moves(cfg)
    keep = args.send_client_secret_to_new_hosts
    try:
        # saved only over the version read above: an edit in between (a window, another command) is not lost
        saved = ctx.configurations.update(cfg, secret, keep_client_secret=keep, expected=stored)
    except ChangedMeanwhile as exc:
        raise CliError(f"'{stored.name}' was not changed: it was changed meanwhile (in another window or by a "
                       f"tokendesk command): {'; '.join(exc.changes)}. Run the command again to apply your options "
                       "to the current version.") from None
    except ValidationFailed as exc:
        lines = "\n".join(f"  {e.field}: {e.message}" for e in exc.errors)
        raise CliError(f"'{stored.name}' was not changed:\n{lines}", EXIT_USAGE) from None
    except DuplicateNameError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except TokenBusy as exc:
        raise CliError(f"'{stored.name}' was not changed: {exc}") from None
    except SecretStoreError as exc:
        raise secret_failure(f"'{stored.name}' was not changed: ", exc) from None
    print(f"Saved '{saved.name}'.")
    if moves:
        text = describe_moves(moves)
        print(f"{text[:1].upper()}{text[1:]}: the stored tokens were forgotten; request a new token with: "
              f"tokendesk authorize {shlex.quote(saved.name)}")
        if secret:
            print("The new client secret is stored.")
        elif stored.has_client_secret and keep:
            print(f"The stored client secret is kept and will be sent to {', '.join(new_origins(moves))}.")
        elif stored.has_client_secret:
            print("The stored client secret was removed: it is not sent to a new host without "
                  "--send-client-secret-to-new-hosts. Give it again with --client-secret-file.")
    return 0


def cmd_delete(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    cfg = _get(ctx, args.name)
    try:
        ctx.configurations.delete(cfg.name)
    except InUseError as exc:
        raise CliError(str(exc)) from None
    except SecretStoreError as exc:
        raise CliError(f"'{cfg.name}' was not deleted: {exc}") from None
    print(f"Deleted '{cfg.name}' with its token and secrets.")
    return 0


def cmd_settings(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    action = args.settings_command or "get"
    try:
        if action == "get":
            values = ctx.store.settings()
            if getattr(args, "key", None):
                spec = spec_for(args.key)
                value = values[args.key]
                if args.json:
                    print_json(value)
                else:
                    print(spec.format(value))
                return 0
            if getattr(args, "json", False):
                print_json(values)
                return 0
            rows = [
                [s.key, s.format(values[s.key]), s.znuny or "", s.help] for s in SETTINGS if not s.key.startswith("ui.")
            ]
            print_table(["SETTING", "VALUE", "ZNUNY NAME", "MEANING"], rows)
            from desktop.models.settings import redirect_uri

            print(f"\nRedirect URI: {redirect_uri(values)}")
            return 0
        spec = spec_for(args.key)
        if action == "set":
            value = spec.parse(args.value)
            if spec.key.startswith("redirect."):
                _check_redirect(ctx.store.settings() | {spec.key: value})
            if spec.key.startswith("alerts."):
                from desktop.alerts.runner import setting_problem

                if (problem := setting_problem(spec.key, value)) is not None:
                    raise ValueError(f"{spec.key} was not changed: {problem}")
            ctx.store.set_setting(spec.key, value)
            print(f"{spec.key} = {spec.format(value)}")
            return 0
        if action == "reset":
            if spec.key.startswith("redirect."):
                _check_redirect(ctx.store.settings() | {spec.key: spec.default})
            ctx.store.set_setting(spec.key, spec.default)
            print(f"{spec.key} = {spec.format(spec.default)} (default)")
            return 0
    except (KeyError, ValueError) as exc:
        raise CliError(str(exc.args[0] if exc.args else exc), EXIT_USAGE) from None
    raise CliError(f"unknown settings action '{action}'", EXIT_USAGE)


def _check_redirect(values: dict[str, Any]) -> None:
    from desktop.models.settings import redirect_uri
    from desktop.models.validation import check_url

    uri = redirect_uri(values)
    problem = check_url(uri)
    if problem:
        raise ValueError(f"the redirect URI would be {uri}, which {problem}")
