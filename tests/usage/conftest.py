"""Fixtures of the usage room: real loopback servers and a signed-in configuration.

``provider`` adds a configuration (Generic OAuth2 template) that points at the real OAuth2
test server and gives it a token pair minted by that server for ``MAIL_USER``, stored the
way a completed sign-in stores it (secrets in the keyring, facts in the token state), so
``TokenService.access_token`` (the real one) hands it out or refreshes it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.servers.dovecot import MAIL_USER, dovecot, dovecot_server  # noqa: F401  (pytest fixtures)
from tests.servers.http_api import http_api, http_api_server, https_api, https_api_server  # noqa: F401
from tests.servers.oauth import OAuthTestServer, oauth, oauth_server  # noqa: F401
from tests.servers.smtp_server import smtp, smtp_server  # noqa: F401


def point_at(cfg, server: OAuthTestServer) -> None:
    cfg.client_id = server.client_id
    cfg.scope = "openid email offline_access"
    cfg.set_endpoint("AuthorizationCode", server.authorization_endpoint)
    cfg.set_endpoint("TokenByAuthorizationCode", server.token_endpoint)
    cfg.set_endpoint("TokenByRefreshToken", server.token_endpoint)
    cfg.set_endpoint("TokenRevocation", server.revocation_endpoint)


def store_tokens(ctx, config_id: int, access: str, refresh: str | None, expires_in: float) -> None:
    """What a completed sign-in leaves behind: secrets in the secret store, facts in the state."""
    from desktop.models.token import utcnow
    from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN

    ctx.secrets.set_for(config_id, ACCESS_TOKEN, access)
    if refresh:
        ctx.secrets.set_for(config_id, REFRESH_TOKEN, refresh)
    from desktop.oauth.claims import token_info

    now = utcnow()
    ctx.store.update_state(config_id, has_access_token=True, has_refresh_token=bool(refresh),
                           token_expires_at=now + timedelta(seconds=expires_in), last_requested_at=now,
                           token_info=token_info({"token_type": "Bearer"}, access))


@pytest.fixture
def provider(ctx, oauth: OAuthTestServer):  # noqa: F811
    """Factory: a signed-in configuration at the real OAuth2 server; returns (cfg, token pair)."""

    def factory(name: str = "Mail provider", *, user: str = MAIL_USER, expires_in: float = 3600):
        cfg = ctx.templates.require("Generic OAuth2").new_configuration(name)
        point_at(cfg, oauth)
        saved = ctx.configurations.add(cfg, oauth.client_secret)
        pair = oauth.issue(client_id=oauth.client_id, user=user, scope=cfg.scope)
        store_tokens(ctx, saved.id, pair["access_token"], pair.get("refresh_token"), expires_in)
        return saved, pair

    return factory


@pytest.fixture
def offline_config(ctx):
    """Factory: a configuration without a server (for repository and validation tests)."""

    def factory(name: str = "Support mailbox", valid_id: int = 1):
        cfg = ctx.templates.require("Generic OAuth2").new_configuration(name)
        cfg.client_id = "client-" + name.lower().replace(" ", "-")
        cfg.set_endpoint("AuthorizationCode", "https://login.example.test/authorize")
        cfg.set_endpoint("TokenByAuthorizationCode", "https://login.example.test/token")
        cfg.set_endpoint("TokenByRefreshToken", "https://login.example.test/token")
        cfg.valid_id = valid_id
        return ctx.configurations.add(cfg, "s3cret")

    return factory
