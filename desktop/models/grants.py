"""OAuth2 grants as data: what each needs, how the admin takes part, how its token is renewed.

A ``Grant`` is a descriptor; the code that runs it is its driver in ``desktop.oauth.grant_drivers`` (one module per
grant), which ``TokenService`` dispatches to. Everything else - the window, the CLI, validation, notifications -
asks the descriptor (``grant_for(cfg)``, ``renewal_for(cfg)``, ``sign_in_grants(cfg)``) instead of comparing the
configuration's ``AuthFlow`` string, so a new grant is a descriptor, a driver and (when the admin takes part) a
dialog.

* authorization code (RFC 6749 4.1): a sign-in in a browser; renewed with the refresh token.
* client credentials (RFC 6749 4.4): no sign-in; renewed by asking again with the client secret.
* refresh token (RFC 6749 6): the renewal of the grants that keep a refresh token.
* device authorization (RFC 8628): the admin types a user code on another device; renewed with the refresh token.
  Offered for every configuration with a ``Requests.DeviceAuthorization`` block, whatever its ``AuthFlow``.

Pure: no network, no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.models.config import TokenConfiguration

# how the admin takes part
INTERACTION_BROWSER = "browser"  # a sign-in page in a browser, back over the redirect URI
INTERACTION_NONE = "none"  # nobody: the client's own credentials
INTERACTION_USER_CODE = "user_code"  # a code to type at an address, on any device

# how the token is renewed
RENEW_WITH_REFRESH_TOKEN = "refresh_token"
RENEW_BY_ASKING_AGAIN = "ask_again"

# the request blocks (Znuny's Config.Requests keys; DeviceAuthorization is Tokendesk's, in Znuny's shape)
AUTHORIZATION_CODE = "AuthorizationCode"
TOKEN_BY_AUTHORIZATION_CODE = "TokenByAuthorizationCode"
TOKEN_BY_REFRESH_TOKEN = "TokenByRefreshToken"
TOKEN_BY_CLIENT_CREDENTIALS = "TokenByClientCredentials"
DEVICE_AUTHORIZATION = "DeviceAuthorization"

#: RFC 8628 3.4: the token request's grant_type
DEVICE_CODE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True)
class Grant:
    """One grant: its name, the ``AuthFlow`` that makes it a configuration's own grant (None: not chosen by
    AuthFlow), the request blocks it sends, the interaction and the renewal."""

    kind: str
    label: str
    auth_flow: str | None
    request_keys: tuple[str, ...]
    interaction: str
    renews: str
    #: the block whose endpoint the token request goes to (the answer's mapping too)
    token_key: str

    @property
    def signs_in(self) -> bool:
        """Does a person take part (a browser sign-in or a user code)?"""
        return self.interaction != INTERACTION_NONE

    @property
    def keeps_refresh_token(self) -> bool:
        return self.renews == RENEW_WITH_REFRESH_TOKEN


AUTHORIZATION_CODE_GRANT = Grant(
    kind="authorization_code", label="Authorization code", auth_flow="AuthorizationCode",
    request_keys=(AUTHORIZATION_CODE, TOKEN_BY_AUTHORIZATION_CODE, TOKEN_BY_REFRESH_TOKEN),
    interaction=INTERACTION_BROWSER, renews=RENEW_WITH_REFRESH_TOKEN, token_key=TOKEN_BY_AUTHORIZATION_CODE)
CLIENT_CREDENTIALS_GRANT = Grant(
    kind="client_credentials", label="Client credentials", auth_flow="ClientCredentials",
    request_keys=(TOKEN_BY_CLIENT_CREDENTIALS,), interaction=INTERACTION_NONE, renews=RENEW_BY_ASKING_AGAIN,
    token_key=TOKEN_BY_CLIENT_CREDENTIALS)
REFRESH_TOKEN_GRANT = Grant(
    kind="refresh_token", label="Refresh token", auth_flow=None, request_keys=(TOKEN_BY_REFRESH_TOKEN,),
    interaction=INTERACTION_NONE, renews=RENEW_WITH_REFRESH_TOKEN, token_key=TOKEN_BY_REFRESH_TOKEN)
DEVICE_GRANT = Grant(
    kind="device_code", label="Device code", auth_flow=None,
    request_keys=(DEVICE_AUTHORIZATION, TOKEN_BY_AUTHORIZATION_CODE, TOKEN_BY_REFRESH_TOKEN),
    interaction=INTERACTION_USER_CODE, renews=RENEW_WITH_REFRESH_TOKEN, token_key=TOKEN_BY_AUTHORIZATION_CODE)

GRANTS: tuple[Grant, ...] = (AUTHORIZATION_CODE_GRANT, CLIENT_CREDENTIALS_GRANT, REFRESH_TOKEN_GRANT, DEVICE_GRANT)
#: the AuthFlow values Znuny knows (absent = AuthorizationCode), each with its grant
BY_AUTH_FLOW: dict[str, Grant] = {g.auth_flow: g for g in GRANTS if g.auth_flow}
DEFAULT_AUTH_FLOW = "AuthorizationCode"


def grant_for(cfg: TokenConfiguration) -> Grant:
    """The configuration's own grant, by its ``AuthFlow`` (an unknown value counts as the authorization code:
    validation says it is wrong, ``auth_flow_problem``)."""
    return BY_AUTH_FLOW.get(cfg.auth_flow, AUTHORIZATION_CODE_GRANT)


def renewal_for(cfg: TokenConfiguration) -> Grant:
    """The grant that renews this configuration's token: the refresh-token grant, or the own grant again."""
    own = grant_for(cfg)
    return REFRESH_TOKEN_GRANT if own.keeps_refresh_token else own


def has_device_grant(cfg: TokenConfiguration) -> bool:
    """A ``Requests.DeviceAuthorization`` block with a URL: the device grant can be used, whatever the AuthFlow."""
    return bool(cfg.endpoint(DEVICE_AUTHORIZATION))


def sign_in_grants(cfg: TokenConfiguration) -> tuple[Grant, ...]:
    """The grants a person can get this configuration's first token with (the own one first; none for client
    credentials without a device block)."""
    own = grant_for(cfg)
    grants = [own] if own.signs_in else []
    if has_device_grant(cfg):
        grants.append(DEVICE_GRANT)
    return tuple(grants)


def keeps_refresh_token(cfg: TokenConfiguration) -> bool:
    """Is this configuration's token renewed with a refresh token (so a missing one is worth a warning)?"""
    return renewal_for(cfg).keeps_refresh_token


def auth_flow_problem(cfg: TokenConfiguration) -> str | None:
    """Validation's words for an AuthFlow no grant has (None when known)."""
    if cfg.auth_flow in BY_AUTH_FLOW:
        return None
    known = " or ".join(BY_AUTH_FLOW)
    return f"must be {known}, not {cfg.auth_flow!r}"


def endpoint_keys(cfg: TokenConfiguration) -> tuple[str, ...]:
    """The request blocks whose endpoints this configuration uses (its own grant's, plus the device block when it
    has one)."""
    keys = list(grant_for(cfg).request_keys)
    if has_device_grant(cfg):
        keys += [k for k in DEVICE_GRANT.request_keys if k not in keys]
    return tuple(keys)
