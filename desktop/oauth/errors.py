"""Token errors and the plain-language hints that go with them.

Every failure the OAuth code raises is a ``TokenError`` with a message (what happened) and a
``hint`` (what to do next). ``hint_for`` is a pure function of the provider's error fields so
the table, the details pane, the login dialog and the CLI all give the same advice.
No secret or token value ever appears in a message or a hint.
"""

from __future__ import annotations

import re

from desktop.models.token import format_error_text


class TokenError(RuntimeError):
    """Base of every token failure. ``hint`` says what to do next ('' when nothing useful)."""

    def __init__(self, message: str, hint: str = "", *, error: str | None = None, code: str | None = None,
                 description: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.error = error
        self.code = code
        self.description = description

    @property
    def text(self) -> str:
        """Znuny's error text when the provider gave one, else the message."""
        if self.error:
            return format_error_text(self.error, self.code, self.description)
        return str(self)


class ReauthorizationNeeded(TokenError):
    """The token cannot be renewed without the admin signing in again (invalid_grant, no refresh token)."""


class ProviderError(TokenError):
    """The provider answered with an error (4xx OAuth error, an error on the redirect, an unusable answer)."""


class NetworkError(TokenError):
    """The provider could not be reached, timed out or answered 5xx (retried before this is raised)."""


class ConfigurationProblem(TokenError):
    """The configuration cannot be used as it is (missing endpoint, http outside loopback, ...)."""


class StateMismatch(TokenError):
    """The redirect's ``state`` is not the one this login sent (or was used already): refused."""


class IssuerMismatch(StateMismatch):
    """The sign-in answer came from another issuer than the configuration's (RFC 9207 ``iss``), or without the
    ``iss`` the provider promised: a possible mix-up attack; refused before the code is used."""


class Cancelled(TokenError):
    """The admin cancelled the sign-in; nothing was stored."""


class AuthorizationPending(TokenError):
    """Device grant (RFC 8628 3.5): the person has not finished at the verification address yet
    (``authorization_pending``) or the client polls too fast (``slow_down``); not a failure, never recorded."""


class SignInTimedOut(Cancelled):
    """No answer from the browser in time; the sign-in was abandoned and nothing was stored."""


# ---- hints
HTTPS_REQUIRED = "https is required outside this machine"

_AADSTS = re.compile(r"AADSTS(\d+)")


def aad_codes(code: str | None, description: str | None) -> set[str]:
    """Microsoft's AADSTS numbers from ``error_codes`` (joined text) and the description."""
    found: set[str] = set()
    for text in (code or "", description or ""):
        found.update(_AADSTS.findall(text))
    if code:
        found.update(part.strip() for part in code.split(",") if part.strip().isdigit())
    return found


#: the token request a failure happened in (``hint_for``'s ``stage``; ``stage_words`` names it in messages)
STAGE_EXCHANGE = "exchange"
STAGE_REFRESH = "refresh"
STAGE_CLIENT_CREDENTIALS = "client_credentials"
STAGE_DEVICE_AUTHORIZATION = "device_authorization"  # RFC 8628 3.1: asking for a user code
STAGE_DEVICE = "device"  # RFC 8628 3.4: polling the token endpoint with the device code
#: the device grant's token answers that mean "ask again later"
DEVICE_WAIT_ERRORS = frozenset({"authorization_pending", "slow_down"})


def stage_words(stage: str) -> str:
    return {STAGE_EXCHANGE: "code exchange", STAGE_REFRESH: "refresh",
            STAGE_CLIENT_CREDENTIALS: "client-credentials request", STAGE_DEVICE_AUTHORIZATION: "device authorization",
            STAGE_DEVICE: "device sign-in"}.get(stage, stage)


def hint_for(error: str | None, code: str | None = None, description: str | None = None, *,
             stage: str = "token", redirect_uri: str | None = None) -> str:
    """The likely fix for a provider error, in plain words ('' when there is nothing better to say).

    ``stage`` is ``authorize`` (error on the redirect), ``exchange`` (code for token),
    ``refresh`` or ``client_credentials``.
    """
    err = (error or "").strip().lower()
    desc = description or ""
    codes = aad_codes(code, desc)
    redirect = f" ({redirect_uri})" if redirect_uri else ""
    # Microsoft's AADSTS numbers are the most precise; look at them first
    if "50011" in codes or err == "redirect_uri_mismatch" or "redirect_uri_mismatch" in desc.lower():
        return (f"The redirect URI{redirect} is not registered for this app. Add exactly this URI to the app "
                "registration (Microsoft: Authentication > Mobile and desktop applications; Google: use a "
                "\"Desktop app\" client), or change the redirect URI in Settings or in this configuration.")
    if err == "disallowed_useragent" or "disallowed_useragent" in desc.lower():
        return ("The provider refuses to sign in inside an embedded browser. Edit this configuration, set the "
                "browser to \"system browser\", and request the token again.")
    if codes & {"53003", "530033", "50105"} and stage in (STAGE_DEVICE, STAGE_DEVICE_AUTHORIZATION):
        return ("The tenant's Conditional Access blocks this sign-in with a device code (many tenants block the "
                "device code flow, or allow it only from managed devices or certain places). Sign in with a browser "
                "instead (Request new token), or ask the tenant's administrator to allow the device code flow for "
                "this app (Entra ID: Conditional Access > Authentication flows).")
    if "70016" in codes:
        return "Waiting for the sign-in at the verification address (authorization pending)."
    if "7000218" in codes:
        return ("The provider wants a client secret. Add the secret in Edit, or allow public client flows in "
                "the app registration (Microsoft: Authentication > Allow public client flows).")
    if codes & {"7000215", "7000222"}:
        return ("The client secret is wrong or has expired. Create a new secret in the app registration and "
                "paste its value (not its ID) in Edit.")
    if "700016" in codes:
        return ("The app (client ID) was not found in this tenant. Check the client ID and the tenant in the "
                "endpoints (common, organizations, consumers or your tenant ID).")
    if "90002" in codes or "900023" in codes:
        return "The tenant in the endpoint URLs does not exist. Replace it with your tenant ID or domain."
    if codes & {"65001", "65004"} or err in ("consent_required", "interaction_required"):
        return ("Consent is missing: sign in again and accept, or have an administrator grant consent for "
                "the app's permissions.")
    if codes & {"700082", "70008", "50173", "700084"}:
        return ("The refresh token has expired or was revoked (inactivity, password change). Request a new "
                "token to sign in again.")
    if err == "invalid_client":
        return ("The provider rejected the client ID or client secret. Check both in Edit (paste the secret's "
                "value, not its ID); secrets expire at some providers, so create a new one if needed. If they "
                "are right, the provider may want the secret sent the other way: switch Client authentication "
                "(Edit > Advanced) between \"in the request body\" and \"HTTP Basic\".")
    if err == "invalid_grant":
        if stage == "exchange":
            return ("The authorization code was refused (expired, used twice, or the redirect URI or PKCE "
                    "verifier did not match). Request a new token; if it keeps failing, check the redirect URI.")
        return ("The refresh token is no longer accepted (expired, revoked, or the password changed). "
                "Request a new token to sign in again.")
    if err == "invalid_scope":
        return "The provider does not accept the requested scope. Check the scopes in Edit against its documentation."
    if err == "unauthorized_client":
        return ("This client may not use this grant type. Check the app registration's type (Google: \"Desktop "
                "app\"; Microsoft: \"Mobile and desktop applications\").")
    if err == "access_denied":
        return "The sign-in was cancelled or consent was refused. Request the token again and accept the permissions."
    if err == "unsupported_grant_type":
        return "The token endpoint does not support this grant. Check the token endpoint URL in Edit."
    if err == "invalid_request" and "code_challenge" in desc.lower():
        return ("The provider rejected the PKCE parameters. If it does not support PKCE, turn PKCE off in Edit "
                "(advanced) and try again.")
    if err == "temporarily_unavailable" or err == "server_error":
        return "The provider has a temporary problem. Try again in a few minutes."
    return ""


NO_REFRESH_TOKEN_HINT = (
    "The provider returned no refresh token, so this token cannot be renewed automatically. Keep "
    "\"offline_access\" in the scope (Microsoft, OpenID Connect) or access_type=offline with prompt=consent "
    "(Google), then request a new token."
)


def unreachable_hint(host: str) -> str:
    return (f"Could not reach {host}. Check the endpoint URL, the network connection and any proxy; "
            "Tokendesk retries automatic refreshes later.")


def timeout_hint(host: str, seconds: float) -> str:
    return (f"{host} did not answer within {seconds:g} s. Try again later, or raise the network time-out "
            "(setting network.timeout_seconds) if the provider is slow.")


def http_error_hint(status: int) -> str:
    if status >= 500:
        return "The provider has a server problem. Try again in a few minutes."
    if status in (404, 405):
        return "The endpoint URL looks wrong (the server does not know it). Check the endpoints in Edit."
    return "Check the endpoint URLs in Edit."


UNUSABLE_ANSWER_HINT = ("Nothing was stored: the token you had is kept (and works as long as it did). Check that the "
                        "token endpoint URL in Edit is right; if it is, the provider sent a broken answer - try again "
                        "later, or ask the provider.")

MALFORMED_HINT = ("The endpoint did not answer with OAuth2 JSON. Check that the token endpoint URL is right (not "
                  "the authorization page or a proxy's login page).")
