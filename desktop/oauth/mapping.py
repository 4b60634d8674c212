"""Request parameters and response mapping, the Znuny way (pure functions).

A request is its static ``Parameters`` plus its ``AutofilledParametersMapping`` (parameter name ->
one of ClientID, ClientSecret, Scope, AuthorizationCode, RefreshToken, State, RedirectURL).
A response goes through ``Response.ParametersMapping`` (provider field -> Token,
TokenExpirationDate, RefreshToken, RefreshTokenExpirationDate, ErrorMessage, ErrorDescription,
ErrorCode, AuthorizationCode, State). Znuny's semantics are kept: a field that is absent
changes nothing; ``*ExpirationDate`` arrives as seconds and becomes now + seconds; array values
(Microsoft's ``error_codes``) are joined with ", ".

A token answer is checked before anything is stored (``token_response_problem``): the access token must be
text a bearer token can be (visible ASCII, at most ``MAX_TOKEN_CHARS``), a refresh token printable ASCII text;
``expires_in`` a number of at least 1 second and at most ``MAX_TOKEN_LIFETIME`` (365 days - no provider issues
longer-lived access tokens; 1e12 would be 31,000 years), ``refresh_token_expires_in`` at most
``MAX_REFRESH_TOKEN_LIFETIME`` (3650 days); ``token_type`` Bearer in any case (RFC 6749 7.1 / RFC 6750). An
absent ``token_type`` is taken as Bearer: RFC 6749 5.1 requires it, but some providers leave it out, and a
Bearer token is the only kind Tokendesk hands out (mail SASL, ``Authorization: Bearer``). ``null`` or ``""``
count as absent, as in Znuny.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

logger = logging.getLogger(__name__)

#: used when a configuration has no ParametersMapping for a token request (older or hand-made files)
DEFAULT_TOKEN_MAPPING: dict[str, str] = {
    "access_token": "Token",
    "expires_in": "TokenExpirationDate",
    "refresh_token": "RefreshToken",
    "refresh_token_expires_in": "RefreshTokenExpirationDate",
    "error": "ErrorMessage",
    "error_description": "ErrorDescription",
    "error_codes": "ErrorCode",
}

#: used when a configuration has no ParametersMapping for the authorization redirect
DEFAULT_REDIRECT_MAPPING: dict[str, str] = {
    "code": "AuthorizationCode",
    "state": "State",
    "error": "ErrorMessage",
    "error_description": "ErrorDescription",
    "error_codes": "ErrorCode",
}

#: autofill sources that never go into a URL shown to a browser
SECRET_SOURCES = frozenset({"ClientSecret", "RefreshToken", "AuthorizationCode"})

#: the longest access-token lifetime believed (longer answers are refused, not stored)
MAX_TOKEN_LIFETIME = timedelta(days=365)
#: the longest refresh-token lifetime believed
MAX_REFRESH_TOKEN_LIFETIME = timedelta(days=3650)
#: the longest token kept (Microsoft's JWTs with many group claims stay well below this)
MAX_TOKEN_CHARS = 65536
_LIFETIMES = {"TokenExpirationDate": MAX_TOKEN_LIFETIME, "RefreshTokenExpirationDate": MAX_REFRESH_TOKEN_LIFETIME}
_TOKEN_TARGETS = ("Token", "RefreshToken")
_TEXT_DEPTH = 8


def build_parameters(static: Mapping[str, str], autofilled: Mapping[str, str], values: Mapping[str, str | None],
                     *, allow_secrets: bool = True) -> dict[str, str]:
    """Static parameters, then the autofilled ones whose source has a non-empty value.

    ``values`` maps a source name (``ClientID``, ``State``, ...) to its value. Sources without a
    value are left out (a public client has no ClientSecret). With ``allow_secrets=False`` (the
    authorization URL) secret sources are never filled in.
    """
    params = {str(k): "" if v is None else str(v) for k, v in static.items()}
    for param, source in autofilled.items():
        if not allow_secrets and source in SECRET_SOURCES:
            logger.warning("not putting %s into the authorization URL (parameter %s)", source, param)
            continue
        value = values.get(source)
        if value:
            params[param] = value
    return params


def _text(value: Any, depth: int = 0) -> str:
    if isinstance(value, list | tuple):
        if depth >= _TEXT_DEPTH:
            return "..."
        return ", ".join(_text(v, depth + 1) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def _seconds(value: Any) -> float | None:
    """A finite number of seconds, or None (not a number, NaN, infinite, too large for a float)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str):
            seconds = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) else None


def _kind(value: Any) -> str:
    """A JSON value's kind in words (never the value: it may be a token)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, int | float):
        return "a number"
    return "text" if isinstance(value, str) else type(value).__name__


def shown_value(value: Any) -> str:
    """A non-secret field's value for a message: short, one line."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return _kind(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e18:
            value = int(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _expiry_problem(field_name: str, target: str, raw: Any) -> tuple[float | None, str | None]:
    """(seconds, None) for a usable lifetime, (None, None) for an absent one, (None, why) otherwise."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    seconds = _seconds(raw)
    if seconds is None:
        return None, f"{field_name} is {shown_value(raw)}, not a number of seconds"
    what = "the refresh token" if target == "RefreshTokenExpirationDate" else "the token"
    if seconds < 1:  # 0, negative, or a fraction of a second
        return None, f"{field_name} is {shown_value(raw)}: {what} would have expired on arrival"
    limit = _LIFETIMES.get(target, MAX_TOKEN_LIFETIME)
    if seconds > limit.total_seconds():
        return None, (f"{field_name} is {shown_value(seconds)} seconds; Tokendesk accepts at most {limit.days} days "
                      f"for {what}")
    return seconds, None


@dataclass
class MappedResponse:
    """The targets found in a response; a target that is absent here changes nothing."""

    values: dict[str, Any]
    #: the whole answer (for desktop.oauth.claims; never logged)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: target -> the provider's field it came from (for messages: "expires_in", or a renamed field)
    sources: dict[str, str] = field(default_factory=dict)
    #: fields that were present but unusable, in words (no value of a secret field is ever quoted)
    problems: list[str] = field(default_factory=list)

    def get(self, target: str) -> Any:
        return self.values.get(target)

    def has(self, target: str) -> bool:
        return target in self.values

    @property
    def token(self) -> str | None:
        return self.values.get("Token")

    @property
    def refresh_token(self) -> str | None:
        return self.values.get("RefreshToken")

    @property
    def error(self) -> str | None:
        return self.values.get("ErrorMessage")

    @property
    def error_description(self) -> str | None:
        return self.values.get("ErrorDescription")

    @property
    def error_code(self) -> str | None:
        return self.values.get("ErrorCode")

    @property
    def is_error(self) -> bool:
        return bool(self.error or self.error_code)

    def expires_at(self, target: str, now: datetime) -> datetime | None:
        seconds = self.values.get(target)
        return None if seconds is None else now + timedelta(seconds=seconds)


def map_response(mapping: Mapping[str, str], payload: Mapping[str, Any],
                 defaults: Mapping[str, str] | None = None) -> MappedResponse:
    """Apply ``ParametersMapping`` to a response (token JSON or redirect query).

    ``defaults`` fill in targets the configuration does not map at all (so a configuration
    without ``error_codes`` still gets Microsoft's codes); the configuration wins where both map.
    Empty strings count as absent; unparsable expiry values are ignored (and logged).
    """
    effective: dict[str, str] = {}
    if defaults:
        mapped_targets = set(mapping.values())
        effective.update({f: t for f, t in defaults.items() if t not in mapped_targets})
    effective.update(mapping)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems: list[str] = []
    for field_name, target in effective.items():
        sources.setdefault(target, field_name)
        if field_name not in payload:
            continue
        raw = payload[field_name]
        if target.endswith("ExpirationDate"):
            seconds, problem = _expiry_problem(field_name, target, raw)
            if problem:
                logger.warning("ignoring %s: %s", field_name, problem)
                problems.append(problem)
            elif seconds is not None:
                values[target] = seconds
            continue
        if target in _TOKEN_TARGETS and raw is not None and not isinstance(raw, str):
            problems.append(f"{field_name} is {_kind(raw)}, not text")
            continue
        text = _text(raw).strip()
        if text:
            values[target] = text
    return MappedResponse(values, sources=sources, problems=problems)


def _visible_ascii(text: str, *, spaces: bool) -> bool:
    low = 0x20 if spaces else 0x21
    return all(low <= ord(c) <= 0x7E for c in text)


def token_response_problem(mapped: MappedResponse, payload: Mapping[str, Any]) -> str | None:
    """Why a successful-looking token answer cannot be stored, in words; None when it can (module docstring).
    Never quotes a token."""
    if mapped.problems:
        return mapped.problems[0]
    token_type = payload.get("token_type")
    if token_type is not None and not (isinstance(token_type, str) and token_type.strip().lower() == "bearer"):
        return f"token_type is {shown_value(token_type)}; Tokendesk can use only Bearer tokens (RFC 6750)"
    access_field = mapped.sources.get("Token", "access_token")
    token = mapped.token
    if not token:
        return f"it has no {access_field}"
    if len(token) > MAX_TOKEN_CHARS:
        return f"{access_field} is {len(token)} characters long; Tokendesk accepts at most {MAX_TOKEN_CHARS}"
    if not _visible_ascii(token, spaces=False):
        return (f"{access_field} has characters a bearer token cannot have (only visible ASCII, no spaces or "
                "control characters)")
    refresh = mapped.refresh_token
    refresh_field = mapped.sources.get("RefreshToken", "refresh_token")
    if refresh is not None:
        if len(refresh) > MAX_TOKEN_CHARS:
            return f"{refresh_field} is {len(refresh)} characters long; Tokendesk accepts at most {MAX_TOKEN_CHARS}"
        if not _visible_ascii(refresh, spaces=True):
            return (f"{refresh_field} has characters a refresh token cannot have (only printable ASCII, no control "
                    "characters)")
    return None
