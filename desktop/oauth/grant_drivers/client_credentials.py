"""The client-credentials grant (RFC 6749 4.4): no sign-in; a new token is asked for with the client's own
credentials, also to renew it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.models.grants import CLIENT_CREDENTIALS_GRANT
from desktop.oauth.errors import STAGE_CLIENT_CREDENTIALS

if TYPE_CHECKING:
    from desktop.models.config import TokenConfiguration
    from desktop.models.token import TokenState
    from desktop.oauth.tokens import TokenService

GRANT = CLIENT_CREDENTIALS_GRANT


def renew(service: TokenService, cfg: TokenConfiguration, current: TokenState) -> TokenState:
    """Ask for a new token (called under the token's lock)."""
    mapped = service._token_request(cfg, GRANT.token_key, service._values(cfg), STAGE_CLIENT_CREDENTIALS)
    return service._store_tokens(cfg, mapped, STAGE_CLIENT_CREDENTIALS)
