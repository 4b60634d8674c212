"""Fixtures of the oauth room: the real OAuth2 test server and configurations that point at it."""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.servers.oauth import OAuthTestServer, oauth, oauth_server  # noqa: F401  (pytest fixtures)

SCOPE = "openid email offline_access"
ROOT = Path(__file__).resolve().parents[2]


def screenshot_path(name: str) -> Path:
    """Where a screenshot goes: artifacts/screenshots/ (git-ignored) for every run, or docs/screenshots/
    (the committed ones) when TOKENDESK_UPDATE_SCREENSHOTS=1. Look at it after the run."""
    folder = ROOT / ("docs" if os.environ.get("TOKENDESK_UPDATE_SCREENSHOTS") else "artifacts") / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def follow_to_redirect(url: str) -> str:
    """GET ``url`` and follow redirects while they stay on that server (what a browser does); return the
    first address that leaves it (the redirect URI with code or error) without requesting it."""
    origin = urllib.parse.urlsplit(url)[:2]
    opener = urllib.request.build_opener(_NoRedirect)
    for _ in range(10):
        try:
            opener.open(url, timeout=10)
        except urllib.error.HTTPError as exc:
            location = exc.headers.get("Location")
            if exc.code not in (301, 302, 303, 307, 308) or not location:
                raise
            url = urllib.parse.urljoin(url, location)
            if urllib.parse.urlsplit(url)[:2] != origin:
                return url
            continue
        raise AssertionError(f"{url} answered without a redirect")
    raise AssertionError("too many redirects")


@pytest.fixture
def server_config(ctx, oauth: OAuthTestServer):  # noqa: F811
    """Factory: a configuration (Generic OAuth2 template) that points at the test server."""

    def factory(name: str = "Test provider", *, secret: str | None = None, client_id: str | None = None,
                pkce: bool = True, revocation: bool = True, template: str = "Generic OAuth2", **tokendesk: object):
        cfg = ctx.templates.require(template).new_configuration(name)
        cfg.client_id = client_id or oauth.client_id
        cfg.scope = SCOPE
        cfg.set_endpoint("AuthorizationCode", oauth.authorization_endpoint)
        cfg.set_endpoint("TokenByAuthorizationCode", oauth.token_endpoint)
        cfg.set_endpoint("TokenByRefreshToken", oauth.token_endpoint)
        if revocation:
            cfg.set_endpoint("TokenRevocation", oauth.revocation_endpoint)
        cfg.pkce_enabled = pkce
        for key, value in tokendesk.items():
            cfg.config.setdefault("Tokendesk", {})[key] = value
        return ctx.configurations.add(cfg, oauth.client_secret if secret is None else secret)

    return factory


@pytest.fixture
def sign_in(ctx):
    """Run the authorization-code flow over plain HTTP (a browser that follows redirects): returns the state."""
    from desktop.oauth.tokens import TokenService

    def run(name: str, service: TokenService | None = None):
        service = service or TokenService(ctx)
        request = service.begin_authorization(name)
        callback = follow_to_redirect(request.url)
        return service.complete_authorization(request, callback)

    return run
