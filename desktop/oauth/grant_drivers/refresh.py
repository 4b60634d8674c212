"""The refresh-token grant (RFC 6749 6): renews the token of every grant that keeps a refresh token
(authorization code, device code). ``invalid_grant`` marks the token "re-authorization needed"
(``desktop.oauth.token_requests``), and later calls stop here until the admin signs in again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.models.grants import REFRESH_TOKEN_GRANT
from desktop.oauth.errors import NO_REFRESH_TOKEN_HINT, STAGE_REFRESH, ReauthorizationNeeded, hint_for
from desktop.store.secrets import REFRESH_TOKEN

if TYPE_CHECKING:
    from desktop.models.config import TokenConfiguration
    from desktop.models.token import TokenState
    from desktop.oauth.tokens import TokenService

GRANT = REFRESH_TOKEN_GRANT


def renew(service: TokenService, cfg: TokenConfiguration, current: TokenState) -> TokenState:
    """Refresh with the stored refresh token (called under the token's lock)."""
    from desktop.oauth.tokens import fingerprint, logger

    assert cfg.id is not None
    if current.reauthorization_needed:
        raise ReauthorizationNeeded(
            f"'{cfg.name}' needs a new sign-in: {current.error_text}",
            hint_for(current.error_message, current.error_code, current.error_description, stage="refresh")
            or "Request a new token to sign in again.",
            error=current.error_message, code=current.error_code, description=current.error_description,
        )
    refresh_token = service.ctx.secrets.get_for(cfg.id, REFRESH_TOKEN) if current.has_refresh_token else None
    if not refresh_token:
        if current.has_access_token:
            raise ReauthorizationNeeded(f"'{cfg.name}' has no refresh token, so its token cannot be renewed.",
                                        NO_REFRESH_TOKEN_HINT)
        if current.last_requested_at:
            raise ReauthorizationNeeded(f"No token is stored for '{cfg.name}' (it was revoked or forgotten).",
                                        "Sign in again to get a new one.")
        raise ReauthorizationNeeded(f"No token has been requested for '{cfg.name}' yet.",
                                    "Sign in once to get the first token.")
    logger.info("'%s': refreshing (refresh token %s)", cfg.name, fingerprint(refresh_token))
    mapped = service._token_request(cfg, GRANT.token_key, service._values(cfg, RefreshToken=refresh_token),
                                    STAGE_REFRESH)
    return service._store_tokens(cfg, mapped, STAGE_REFRESH, previous=current)
