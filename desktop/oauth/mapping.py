"""Request parameters and response mapping, the Znuny way (pure functions).

A request is its static ``Parameters`` plus its ``AutofilledParametersMapping`` (parameter name ->
one of ClientID, ClientSecret, Scope, AuthorizationCode, RefreshToken, State, RedirectURL).
A response goes through ``Response.ParametersMapping`` (provider field -> Token,
TokenExpirationDate, RefreshToken, RefreshTokenExpirationDate, ErrorMessage, ErrorDescription,
ErrorCode, AuthorizationCode, State). Znuny's semantics are kept: a field that is absent
changes nothing; ``*ExpirationDate`` arrives as seconds and becomes now + seconds; array values
(Microsoft's ``error_codes``) are joined with ", ".
"""

from __future__ import annotations

import logging
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


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


@dataclass
class MappedResponse:
    """The targets found in a response; a target that is absent here changes nothing."""

    values: dict[str, Any]
    #: the whole answer (for desktop.oauth.claims; never logged)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

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
    for field_name, target in effective.items():
        if field_name not in payload:
            continue
        raw = payload[field_name]
        if target.endswith("ExpirationDate"):
            seconds = _seconds(raw)
            if seconds is None:
                logger.warning("ignoring %s: %r is not a number of seconds", field_name, type(raw).__name__)
                continue
            values[target] = seconds
            continue
        text = _text(raw).strip()
        if text:
            values[target] = text
    return MappedResponse(values)
