"""The authorization-code grant (RFC 6749 4.1, PKCE, RFC 9207): a sign-in in a browser, the redirect checked, the
code exchanged at the token endpoint. The browser side is the login dialog's or the loopback listener's
(``desktop.oauth.loopback``); the URL and the redirect's checks are ``desktop.oauth.flow``'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.models.grants import AUTHORIZATION_CODE_GRANT
from desktop.oauth.errors import STAGE_EXCHANGE, IssuerMismatch, ProviderError, StateMismatch

if TYPE_CHECKING:
    from desktop.models.token import TokenState
    from desktop.oauth.flow import AuthorizationRequest
    from desktop.oauth.tokens import TokenService

GRANT = AUTHORIZATION_CODE_GRANT


def begin(service: TokenService, name: str, redirect_uri: str | None = None) -> AuthorizationRequest:
    """A new single-use request (URL with state and PKCE). ``redirect_uri`` None: from the settings."""
    from desktop.oauth.flow import build_authorization_request, configured_redirect_uri, endpoint_for
    from desktop.oauth.tokens import logger

    cfg = service.configuration(name)
    service._check_usable_configuration(cfg)
    uri = redirect_uri or configured_redirect_uri(cfg, service.ctx.store.settings())
    endpoint_for(cfg, GRANT.token_key)  # fail before the sign-in, not after it
    request = build_authorization_request(cfg, uri)
    logger.info("'%s': authorization request prepared (redirect %s, PKCE %s)", cfg.name, uri,
                "on" if request.code_verifier else "off")
    return request


def complete(service: TokenService, request: AuthorizationRequest, callback_url: str) -> TokenState:
    """Check the redirect (state, single use), exchange the code and store the tokens."""
    from desktop.oauth.flow import parse_callback
    from desktop.oauth.tokens import logger

    cfg = service._by_id(request.config_id)
    try:
        callback = parse_callback(cfg, request, callback_url)
    except IssuerMismatch as exc:
        logger.warning("'%s': redirect refused (%s); nothing stored", cfg.name, exc.description)
        service._store_error(cfg.id, exc)  # shown on the row: the admin should know
        raise
    except StateMismatch:
        logger.warning("'%s': redirect refused (state mismatch or reused request); nothing stored", cfg.name)
        raise
    except ProviderError as exc:
        service._store_error(cfg.id, exc)
        raise
    assert callback.code is not None
    return exchange(service, request, callback.code)


def exchange(service: TokenService, request: AuthorizationRequest, code: str) -> TokenState:
    """The code (and PKCE verifier) for tokens, stored in one transaction."""
    from desktop.oauth.tokens import logger

    cfg = service._by_id(request.config_id)
    assert cfg.id is not None
    service._prepare_secrets()
    values = service._values(cfg, AuthorizationCode=code, RedirectURL=request.redirect_uri)
    extra = {"code_verifier": request.code_verifier} if request.code_verifier else {}
    with service._lock(cfg.id):
        mapped = service._token_request(cfg, GRANT.token_key, values, STAGE_EXCHANGE, extra,
                                        redirect_uri=request.redirect_uri)
        state = service._store_tokens(cfg, mapped, STAGE_EXCHANGE)
    logger.info("'%s': new token stored (expires %s, refresh token %s)", cfg.name, state.token_expires_at,
                "yes" if state.has_refresh_token else "no")
    return service._ask_who_signed_in(cfg, mapped.token, state)
