"""The history's token rows (issue 11, point 6) against the real OAuth2 servers: a sign-in by code, by device code
and by client credentials, a refresh, a revoke - each recorded with the member, in the transaction that stores
the tokens (a refused answer stores nothing and records nothing). Never a token in a row."""

# ruff: noqa: F811 - the fixtures imported from tests.servers.device are the tests' arguments
from __future__ import annotations

import pytest

from desktop.oauth.errors import ReauthorizationNeeded
from desktop.oauth.tokens import TokenService
from desktop.store import history
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN
from tests.oauth.test_device_realserver import _config as device_config
from tests.oauth.test_device_realserver import _in_background
from tests.servers.device import device_browser, device_server  # noqa: F401

pytestmark = pytest.mark.realserver


def rows(ctx, name: str) -> list[tuple[str, str, str]]:
    return [(e.member, e.action, e.detail) for e in history.for_configuration(ctx.store, name)]


def no_token_in_history(ctx, cfg) -> None:
    text = repr(history.for_configuration(ctx.store, cfg.name, limit=None))
    for value in (ctx.secrets.get_for(cfg.id, ACCESS_TOKEN), ctx.secrets.get_for(cfg.id, REFRESH_TOKEN)):
        assert not value or value not in text


def test_sign_in_refresh_and_revoke_are_recorded(ctx, oauth, server_config, sign_in):
    cfg = server_config("Mailbox")
    ctx.store.member = "bob@helpdesk"
    sign_in(cfg.name)
    service = TokenService(ctx, backoff=(0.05, 0.05))
    service.refresh(cfg.name)
    no_token_in_history(ctx, cfg)
    ctx.store.member = "carol@laptop"
    service.revoke(cfg.name)
    assert rows(ctx, cfg.name)[:3] == [("carol@laptop", "revoke", ""),
                                       ("bob@helpdesk", "refresh", "refresh token rotated"),
                                       ("bob@helpdesk", "sign-in", "authorization code")]


def test_a_refused_refresh_records_nothing(ctx, oauth, server_config, sign_in):
    cfg = server_config("Refused")
    sign_in(cfg.name)
    before = rows(ctx, cfg.name)
    oauth.fault("token", "error", status=400, grant_type="refresh_token",
                body={"error": "invalid_grant", "error_description": "refresh token revoked"})
    with pytest.raises(ReauthorizationNeeded):
        TokenService(ctx, backoff=(0.05, 0.05)).refresh(cfg.name)
    assert rows(ctx, cfg.name) == before


def test_client_credentials_first_token_is_a_sign_in_then_renewals_are_refreshes(ctx, oauth):
    cfg = ctx.templates.require("Microsoft Exchange Online (client credentials)").new_configuration("App only")
    cfg.client_id = oauth.client_id
    cfg.set_endpoint("TokenByClientCredentials", oauth.token_endpoint)
    ctx.configurations.add(cfg, oauth.client_secret)
    service = TokenService(ctx, backoff=(0.05, 0.05))
    service.access_token("App only", mark_used=False)
    service.refresh("App only")
    assert [r[1:] for r in rows(ctx, "App only")] == [
        ("refresh", "client credentials"), ("sign-in", "client credentials"),
        ("add", "template Microsoft Exchange Online (client credentials)")]


def test_device_sign_in_is_recorded(ctx, device_server, device_browser):
    cfg = device_config(ctx, device_server)
    service = TokenService(ctx)
    auth = service.start_device_authorization(cfg.name)
    auth.interval = 5.5
    thread, box = _in_background(lambda: service.wait_for_device(auth))
    device_browser.approve(auth.verification_uri, auth.user_code)
    thread.join(30)
    assert "error" not in box, box.get("error")
    assert rows(ctx, cfg.name)[0][1:] == ("sign-in", "device code")
    no_token_in_history(ctx, cfg)
