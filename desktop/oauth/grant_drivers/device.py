"""The device authorization grant (RFC 8628): a user code to type at an address, on any device.

1. ``start``: POST the ``Requests.DeviceAuthorization`` block (Znuny's shape: Request URL, Parameters,
   AutofilledParametersMapping - usually client_id, scope, and client_secret for confidential clients) and read the
   answer through its ``Response.ParametersMapping`` (RFC 8628's names when absent) into a ``DeviceAuthorization``.
2. ``poll``: one token request, ``grant_type=urn:ietf:params:oauth:grant-type:device_code``, at the configuration's
   token endpoint (``TokenByAuthorizationCode``): ``authorization_pending`` is None, ``slow_down`` adds 5 seconds to
   the interval (3.5), ``access_denied`` and ``expired_token`` end it (``DeviceSignInEnded``, exit 4 in the CLI),
   anything else is the provider's error as for any token request. Tokens are stored as a code exchange's are, and
   refresh as usual.
3. ``wait``: poll every ``interval`` seconds until a token, the end, the code's expiry or ``cancelled()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from desktop.models.grants import DEVICE_AUTHORIZATION, DEVICE_CODE_GRANT_TYPE, DEVICE_GRANT
from desktop.oauth.errors import (
    STAGE_DEVICE,
    STAGE_DEVICE_AUTHORIZATION,
    AuthorizationPending,
    Cancelled,
    ConfigurationProblem,
    NetworkError,
    ProviderError,
    ReauthorizationNeeded,
    hint_for,
)

if TYPE_CHECKING:
    from desktop.models.token import TokenState
    from desktop.oauth.tokens import TokenService

GRANT = DEVICE_GRANT

#: Response.ParametersMapping when the block has none (RFC 8628 3.2), provider field -> Tokendesk name
DEFAULT_DEVICE_MAPPING: dict[str, str] = {
    "device_code": "DeviceCode",
    "user_code": "UserCode",
    "verification_uri": "VerificationURI",
    "verification_uri_complete": "VerificationURIComplete",
    "expires_in": "ExpiresIn",
    "interval": "Interval",
    "error": "ErrorMessage",
    "error_description": "ErrorDescription",
    "error_codes": "ErrorCode",
}
#: the request when the block names no parameters (a public client's)
DEFAULT_AUTOFILL = {"client_id": "ClientID", "scope": "Scope"}
DEFAULT_INTERVAL = 5.0  # RFC 8628 3.2
SLOW_DOWN_STEP = 5.0  # RFC 8628 3.5
MAX_INTERVAL = 60.0

DENIED_TEXT = "The sign-in was refused at the provider's page (access denied); nothing was stored."
DENIED_HINT = ("Whoever entered the code chose not to allow access, or the account may not use this app. Start the "
               "device sign-in again and allow access; ask the provider's administrator if it keeps being refused.")
EXPIRED_TEXT = "The code expired before the sign-in was finished; nothing was stored."
EXPIRED_HINT = ("Start the device sign-in again and enter the new code at the address before the countdown ends "
                "(codes live 5 to 15 minutes).")


class DeviceSignInEnded(ReauthorizationNeeded):
    """The device sign-in ended without a token: denied (``access_denied``) or expired (``expired_token``)."""


@dataclass
class DeviceAuthorization:
    """One device sign-in: what to show the admin, and the device code to poll with (never shown or logged)."""

    config_id: int
    config_name: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_at: datetime
    interval: float
    device_code: str = field(repr=False)
    polls: int = 0
    slow_downs: int = 0

    def seconds_left(self, now: datetime) -> int:
        return max(0, int((self.expires_at - now).total_seconds()))


def _text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def start(service: TokenService, name: str) -> DeviceAuthorization:
    """Ask the device authorization endpoint for a user code (RFC 8628 3.1-3.2)."""
    from desktop.oauth import http
    from desktop.oauth.flow import endpoint_for
    from desktop.oauth.mapping import build_parameters
    from desktop.oauth.token_requests import basic_credentials
    from desktop.oauth.tokens import logger

    cfg = service.configuration(name)
    assert cfg.id is not None
    service._check_usable_configuration(cfg)
    if not cfg.endpoint(DEVICE_AUTHORIZATION):
        raise ConfigurationProblem(
            f"'{cfg.name}' has no device authorization endpoint, so it cannot sign in with a code.",
            "Add Requests.DeviceAuthorization (Discover fills it from the provider's device_authorization_endpoint), "
            "or use a template's device-code variant.")
    url = endpoint_for(cfg, DEVICE_AUTHORIZATION)
    endpoint_for(cfg, GRANT.token_key)  # fail before the code is shown, not after the sign-in
    service._prepare_secrets()
    autofilled = cfg.autofilled_parameters(DEVICE_AUTHORIZATION) or DEFAULT_AUTOFILL
    values = service._values(cfg)
    params = build_parameters(cfg.static_parameters(DEVICE_AUTHORIZATION), autofilled, values)
    basic = basic_credentials(cfg, params, autofilled, values)
    try:
        answer = http.post_form(url, params, timeout=service.timeout, basic=basic)
    except NetworkError as exc:
        service._store_error(cfg.id, exc)
        raise
    mapping = cfg.response_mapping(DEVICE_AUTHORIZATION) or DEFAULT_DEVICE_MAPPING
    got = {target: answer.payload[source] for source, target in mapping.items()
           if answer.payload and answer.payload.get(source) not in (None, "")}
    if answer.status >= 400 or got.get("ErrorMessage") or answer.payload is None:
        error = _text_of(got.get("ErrorMessage")) or f"http_{answer.status}"
        description = _text_of(got.get("ErrorDescription")) or None
        code = ", ".join(str(c) for c in got["ErrorCode"]) if isinstance(got.get("ErrorCode"), list) else \
            (_text_of(got.get("ErrorCode")) or None)
        cls = NetworkError if answer.status >= 500 else ProviderError
        exc = cls(f"The provider refused the device authorization: {description or error}",
                  hint_for(error, code, description, stage=STAGE_DEVICE_AUTHORIZATION), error=error, code=code,
                  description=description)
        service._store_error(cfg.id, exc)
        raise exc
    device_code, user_code = _text_of(got.get("DeviceCode")), _text_of(got.get("UserCode"))
    verification_uri = _text_of(got.get("VerificationURI"))
    if not device_code or not user_code or not verification_uri:
        exc = ProviderError(f"{http.host_of(url)}'s device authorization answer lacks the device code, the user code "
                            "or the verification address.",
                            "Check the device authorization endpoint and its Response.ParametersMapping in Edit.",
                            error="invalid_response", description="incomplete device authorization answer")
        service._store_error(cfg.id, exc)
        raise exc
    now = service.clock()
    auth = DeviceAuthorization(
        config_id=cfg.id, config_name=cfg.name, user_code=user_code, verification_uri=verification_uri,
        verification_uri_complete=_text_of(got.get("VerificationURIComplete")),
        expires_at=now + timedelta(seconds=min(_number(got.get("ExpiresIn"), 600.0), 3600.0)),
        interval=min(_number(got.get("Interval"), DEFAULT_INTERVAL), MAX_INTERVAL), device_code=device_code)
    logger.info("'%s': device sign-in started (code valid %d s, polling every %g s)", cfg.name,
                auth.seconds_left(now), auth.interval)
    return auth


def poll(service: TokenService, auth: DeviceAuthorization) -> TokenState | None:
    """One token request (RFC 8628 3.4); None while the person has not finished."""
    from desktop.oauth.tokens import logger

    cfg = service._by_id(auth.config_id)
    assert cfg.id is not None
    values = service._values(cfg)
    extra = {"grant_type": DEVICE_CODE_GRANT_TYPE, "device_code": auth.device_code}
    auth.polls += 1
    with service._lock(cfg.id):
        try:
            mapped = service._token_request(cfg, GRANT.token_key, values, STAGE_DEVICE, extra)
        except AuthorizationPending as pending:
            if pending.error == "slow_down":
                auth.slow_downs += 1
                auth.interval = min(auth.interval + SLOW_DOWN_STEP, MAX_INTERVAL)
                logger.info("'%s': the provider asked to poll more slowly; now every %g s", cfg.name, auth.interval)
            return None
        except ProviderError as exc:
            if exc.error == "access_denied":
                raise _ended(service, cfg.id, DENIED_TEXT, DENIED_HINT, exc) from None
            if exc.error == "expired_token":
                raise _ended(service, cfg.id, EXPIRED_TEXT, EXPIRED_HINT, exc) from None
            raise
        state = service._store_tokens(cfg, mapped, STAGE_DEVICE)
    logger.info("'%s': device sign-in finished; token stored (refresh token %s)", cfg.name,
                "yes" if state.has_refresh_token else "no")
    return service._ask_who_signed_in(cfg, mapped.token, state)


def _ended(service: TokenService, config_id: int, text: str, hint: str, cause: ProviderError) -> DeviceSignInEnded:
    exc = DeviceSignInEnded(text, hint, error=cause.error, code=cause.code, description=cause.description or text)
    service._store_error(config_id, exc)
    return exc


def wait(service: TokenService, auth: DeviceAuthorization, *, cancelled: Callable[[], bool] = lambda: False,
         sleep: Callable[[float], None] = time.sleep, step: float = 0.2) -> TokenState:
    """Poll every ``auth.interval`` seconds (checking ``cancelled`` every ``step``) until the token is stored."""
    while True:
        waited = 0.0
        while waited < auth.interval:
            if cancelled():
                raise Cancelled("The device sign-in was cancelled; nothing was stored.")
            pause = min(step, auth.interval - waited)
            sleep(pause)
            waited += pause
        if service.clock() >= auth.expires_at:
            cfg = service._by_id(auth.config_id)
            raise _ended(service, cfg.id or auth.config_id, EXPIRED_TEXT, EXPIRED_HINT,
                         ProviderError(EXPIRED_TEXT, error="expired_token"))
        state = poll(service, auth)
        if state is not None:
            return state


def device_hint(cfg: Any, templates: Any = None) -> str:
    """What to know before a device sign-in of ``cfg`` starts ('' when nothing): the scopes its provider refuses
    there, from its template's ``DeviceGrantRefusedScopes`` (scope -> what to say; Google Mail's names Gmail)."""
    if templates is None:
        from desktop.models.templates import load_templates

        templates = load_templates()
    template = templates.get(cfg.template_name) if cfg.template_name else None
    refused = template.extra.get("DeviceGrantRefusedScopes") if template is not None else None
    if not isinstance(refused, dict):
        return ""
    scopes = set(str(cfg.scope or "").split())
    return " ".join(str(text) for scope, text in refused.items() if scope in scopes)
