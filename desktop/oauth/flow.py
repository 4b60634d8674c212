"""The authorization request: redirect URI, state, PKCE, the URL, and the redirect that comes back.

Pure functions and small dataclasses (no network, no Qt): the embedded login dialog, the
system-browser listener and the CLI all build the request here and hand the redirect back here.

* ``state`` is random (128 bits), single use and checked on the way back (``parse_callback``).
* PKCE S256 (RFC 7636) unless the configuration turns it off (``Config.Tokendesk.PKCE: 0``).
* The redirect URI comes from the settings (Znuny's ``HttpType://FQDN/ScriptAlias``) or the
  configuration's override; a system-browser login always uses a loopback listener
  ``http://127.0.0.1:<port>/<path>`` (RFC 8252). https is required unless the host is loopback.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from desktop.models.config import (
    AUTHORIZATION_CODE,
    TOKEN_BY_AUTHORIZATION_CODE,
    TOKEN_BY_REFRESH_TOKEN,
    TokenConfiguration,
)
from desktop.models.grants import INTERACTION_BROWSER, grant_for
from desktop.models.settings import redirect_uri as settings_redirect_uri
from desktop.models.token import utcnow
from desktop.models.validation import ENDPOINT_LABELS, is_loopback_host
from desktop.oauth.errors import (
    HTTPS_REQUIRED,
    ConfigurationProblem,
    IssuerMismatch,
    ProviderError,
    StateMismatch,
    hint_for,
)
from desktop.oauth.mapping import DEFAULT_REDIRECT_MAPPING, build_parameters, map_response

DEFAULT_CALLBACK_PATH = "oauth2/callback"


# ---- PKCE and state
def new_state() -> str:
    return secrets.token_urlsafe(16)


def new_code_verifier() -> str:
    """43..128 characters from the unreserved set (RFC 7636 4.1): 64 here."""
    return secrets.token_urlsafe(48)


def code_challenge_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# ---- URL checks
def _http_url_host(url: str, subject: str, fix: str) -> tuple[str, str]:
    """(scheme, host) of an http(s) URL; ConfigurationProblem "<subject> is not a valid ..." otherwise."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise ConfigurationProblem(f"{subject} is not a valid URL.", fix) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationProblem(f"{subject} is not a valid http(s) URL.", fix)
    return parts.scheme, host


def check_endpoint(url: str, label: str) -> None:
    """Raise ConfigurationProblem unless ``url`` is usable (https, or http on loopback)."""
    url = (url or "").strip()
    if not url:
        raise ConfigurationProblem(f"The {label.lower()} is not set.",
                                   "Fill it in with Edit (see the provider's documentation).")
    scheme, host = _http_url_host(url, f"The {label.lower()}", "Correct it with Edit.")
    if scheme == "http" and not is_loopback_host(host):
        raise ConfigurationProblem(
            f"The {label.lower()} uses http: {HTTPS_REQUIRED} ({host}).",
            "Use the https:// address of the endpoint; plain http is allowed only for 127.0.0.1, ::1 and localhost.",
        )


def check_redirect_uri(uri: str) -> None:
    scheme, host = _http_url_host(uri, f"The redirect URI {uri!r}", "Correct it in Settings.")
    if scheme == "http" and not is_loopback_host(host):
        raise ConfigurationProblem(
            f"The redirect URI {uri} uses http: {HTTPS_REQUIRED}.",
            "Set the redirect URI's scheme to https in Settings (Znuny: HttpType), or use a loopback address.",
        )


def endpoint_for(cfg: TokenConfiguration, key: str) -> str:
    """The endpoint of ``key``; the refresh endpoint falls back to the token endpoint."""
    url = cfg.endpoint(key)
    if not url and key == TOKEN_BY_REFRESH_TOKEN:
        url = cfg.endpoint(TOKEN_BY_AUTHORIZATION_CODE)
    check_endpoint(url, ENDPOINT_LABELS.get(key, key))
    return url


# ---- redirect URI
def is_loopback_uri(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        return parts.scheme == "http" and is_loopback_host(parts.hostname)
    except ValueError:
        return False


def configured_redirect_uri(cfg: TokenConfiguration, settings: dict[str, Any]) -> str:
    """The redirect URI the embedded browser uses: the configuration's override, else the settings'."""
    uri = cfg.redirect_url_override or settings_redirect_uri(settings)
    check_redirect_uri(uri)
    return uri


def loopback_redirect_uri(cfg: TokenConfiguration, settings: dict[str, Any], port: int) -> str:
    """``http://127.0.0.1:<port>/<path>`` for a system-browser login (RFC 8252 7.3: any port).

    The path (and a loopback host name such as ``localhost``) comes from the override or the
    settings when they are loopback, so a registration like ``http://localhost/oauth2/callback``
    still matches; a non-loopback override cannot be used with the system browser.
    """
    override = cfg.redirect_url_override
    base = override or settings_redirect_uri(settings)
    host = "127.0.0.1"
    path = "/" + DEFAULT_CALLBACK_PATH
    if base:
        parts = urlsplit(base)
        if is_loopback_uri(base):
            host = parts.hostname or host
            path = parts.path or "/"
        elif override:
            raise ConfigurationProblem(
                f"The system browser needs a loopback redirect URI (http://127.0.0.1:<port>/...), but this "
                f"configuration's redirect URI is {override}.",
                "Remove the redirect URI override in Edit, or use the embedded browser for this configuration.",
            )
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


def same_endpoint(url: str, redirect_uri: str) -> bool:
    """Does ``url`` go to the redirect URI (scheme, host, port and path equal; query ignored)?"""
    try:
        a, b = urlsplit(url), urlsplit(redirect_uri)
        port_a = a.port or (443 if a.scheme == "https" else 80)
        port_b = b.port or (443 if b.scheme == "https" else 80)
    except ValueError:
        return False
    return (
        a.scheme.lower() == b.scheme.lower()
        and (a.hostname or "").lower() == (b.hostname or "").lower()
        and port_a == port_b
        and (a.path.rstrip("/") or "/") == (b.path.rstrip("/") or "/")
    )


# ---- the authorization request
@dataclass
class AuthorizationRequest:
    """One login attempt. Hold on to it until the redirect comes back; it is single use."""

    config_id: int
    config_name: str
    url: str
    redirect_uri: str
    state: str
    code_verifier: str | None
    created_at: datetime = field(default_factory=utcnow)
    used: bool = False

    def __repr__(self) -> str:  # never show state or verifier in logs
        return (f"AuthorizationRequest(config={self.config_name!r}, redirect_uri={self.redirect_uri!r}, "
                f"used={self.used})")


def build_authorization_request(cfg: TokenConfiguration, redirect_uri: str) -> AuthorizationRequest:
    """A fresh request: random state, PKCE S256 (unless off), the URL from the configuration."""
    if grant_for(cfg).interaction != INTERACTION_BROWSER:
        raise ConfigurationProblem(
            f"'{cfg.name}' uses {grant_for(cfg).label.lower()}: there is no sign-in in a browser.",
            "Use Refresh to request a token.",
        )
    if cfg.id is None:
        raise ConfigurationProblem("Save the configuration before requesting a token.")
    base = endpoint_for(cfg, AUTHORIZATION_CODE)
    check_redirect_uri(redirect_uri)
    state = new_state()
    verifier = new_code_verifier() if cfg.pkce_enabled else None
    values = {"ClientID": cfg.client_id, "Scope": cfg.scope, "State": state, "RedirectURL": redirect_uri}
    params = build_parameters(cfg.static_parameters(AUTHORIZATION_CODE), cfg.autofilled_parameters(AUTHORIZATION_CODE),
                              values, allow_secrets=False)
    if "state" not in params and "State" not in cfg.autofilled_parameters(AUTHORIZATION_CODE).values():
        params["state"] = state  # state is not optional in Tokendesk, whatever the file says
    if verifier:
        params["code_challenge"] = code_challenge_s256(verifier)
        params["code_challenge_method"] = "S256"
    parts = urlsplit(base)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k not in params] + list(params.items())
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return AuthorizationRequest(
        config_id=cfg.id, config_name=cfg.name, url=url, redirect_uri=redirect_uri, state=state, code_verifier=verifier
    )


@dataclass(frozen=True)
class Callback:
    """What came back on the redirect, after the state check."""

    code: str | None
    error: str | None = None
    error_description: str | None = None
    error_code: str | None = None


def callback_params(url: str) -> dict[str, str]:
    """Query (and, for response_mode=fragment, fragment) parameters of a redirect URL ({} for what is not one)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1/..." and the like: no parameters, so no state
        return {}
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.fragment and "=" in parts.fragment:
        for k, v in parse_qsl(parts.fragment, keep_blank_values=True):
            params.setdefault(k, v)
    return params


def same_secret(given: object, expected: str | None) -> bool:
    """Constant-time comparison of a value that came back on a redirect (any text: non-ASCII too) with ours."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return secrets.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def parse_callback(cfg: TokenConfiguration, request: AuthorizationRequest, url: str) -> Callback:
    """Check the redirect against ``request`` (state, single use) and read code or error from it.

    Raises StateMismatch (nothing may be stored then) when the state is missing, wrong, or the
    request was used already; IssuerMismatch (a StateMismatch) when ``iss`` names another issuer or is missing
    where the provider announced it (RFC 9207); ProviderError when the provider sent an error (hint included).
    """
    if request.used:
        raise StateMismatch("This sign-in was already completed or abandoned; the redirect was refused.",
                            "Request a new token to sign in again.")
    params = callback_params(url)
    mapped = map_response(cfg.response_mapping(AUTHORIZATION_CODE), params, DEFAULT_REDIRECT_MAPPING)
    returned_state = mapped.get("State")
    if not same_secret(returned_state, request.state):
        raise StateMismatch(
            "The sign-in answer does not belong to this request (state parameter missing or different); it was refused "
            "and nothing was stored.",
            "Request the token again from Tokendesk and finish the sign-in in the window or tab it opens.",
        )
    request.used = True
    _check_issuer(cfg, params.get("iss"))
    if mapped.is_error:
        error = mapped.error or "error"
        raise ProviderError(
            f"The provider refused the sign-in: {mapped.error_description or error}",
            hint_for(error, mapped.error_code, mapped.error_description, stage="authorize",
                     redirect_uri=request.redirect_uri),
            error=error, code=mapped.error_code, description=mapped.error_description,
        )
    code = mapped.get("AuthorizationCode")
    if not code:
        raise ProviderError("The provider's redirect carried neither an authorization code nor an error.",
                            "Check the authorization endpoint and its response_type=code parameter in Edit.",
                            error="invalid_response", description="no code on the redirect")
    return Callback(code=str(code))


def _check_issuer(cfg: TokenConfiguration, iss: str | None) -> None:
    """RFC 9207: an ``iss`` on the answer must be the configuration's issuer (when known; simple string
    comparison), and must be there when the provider announced it. Checked before errors and codes are read."""
    expected = cfg.issuer
    hint = ("Another site may be trying to take over this sign-in (a mix-up attack), or the provider's issuer "
            "changed. Request the token again; if it keeps happening, check the issuer with Discover in Edit.")
    if iss is not None and expected and iss != expected:
        raise IssuerMismatch(
            f"The sign-in answer comes from the issuer {iss}, not from {expected}; it was refused and nothing was "
            "stored.", hint, error="issuer_mismatch",
            description=f"the sign-in answer came from the issuer {iss}, not from {expected}")
    if iss is None and expected and cfg.iss_parameter_supported:
        raise IssuerMismatch(
            f"The sign-in answer came without the iss parameter, which {expected} always sends (RFC 9207); it was "
            "refused and nothing was stored.", hint, error="issuer_mismatch",
            description=f"the sign-in answer came without the iss parameter {expected} announced")
