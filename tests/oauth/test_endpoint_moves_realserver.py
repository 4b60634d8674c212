"""Against two real OAuth2 servers (A and B, separate processes on different ports): after an edit or an import
moves a signed-in configuration from A to B, the next refresh sends neither A's refresh token nor the stored client
secret to B (issue 10, finding 2). B's own request log is the witness."""

from __future__ import annotations

import copy

import pytest
import yaml

from desktop.backup.importer import apply_import, parse_import, plan_import
from desktop.oauth.errors import ReauthorizationNeeded
from desktop.oauth.tokens import TokenService
from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN
from tests.servers.oauth import OAuthServerError, OAuthTestServer, start_server

pytestmark = pytest.mark.realserver


@pytest.fixture
def server_b(oauth, tmp_path):  # ``oauth`` first: it skips when node is missing
    try:
        server = start_server(tmp_path / "server-b")
    except OAuthServerError as exc:
        pytest.fail(f"the second OAuth2 test server could not start: {exc}", pytrace=False)
    yield server
    server.stop()


def point_at(cfg, server: OAuthTestServer):
    cfg.set_endpoint("AuthorizationCode", server.authorization_endpoint)
    cfg.set_endpoint("TokenByAuthorizationCode", server.token_endpoint)
    cfg.set_endpoint("TokenByRefreshToken", server.token_endpoint)
    cfg.set_endpoint("TokenRevocation", server.revocation_endpoint)
    return cfg


def values_seen(server: OAuthTestServer) -> set[str]:
    """Every parameter value and the Authorization header of every request B received."""
    seen: set[str] = set()
    for request in server.requests():
        seen.update(str(v) for v in (request.get("params") or {}).values())
        if request.get("authorization"):
            seen.add(str(request["authorization"]))
    return seen


def leaked(server: OAuthTestServer, **secrets: str) -> list[str]:
    """The names (never the values) of the secrets that reached ``server``."""
    seen = values_seen(server)
    return sorted(name for name, value in secrets.items() if value in seen)


def signed_in_at_a(ctx, server_config, sign_in):
    cfg = server_config("Moving provider")
    sign_in(cfg.name)
    refresh = ctx.secrets.get_for(cfg.id, REFRESH_TOKEN)
    secret = ctx.secrets.get_for(cfg.id, CLIENT_SECRET)
    assert refresh and secret
    return cfg, refresh, secret


def test_after_an_edit_to_another_server_the_refresh_sends_nothing_old_there(
        ctx, oauth, server_b, server_config, sign_in):
    cfg, old_refresh, old_secret = signed_in_at_a(ctx, server_config, sign_in)
    assert oauth.port != server_b.port
    ctx.configurations.update(point_at(ctx.store.get(cfg.name), server_b))
    with pytest.raises(ReauthorizationNeeded, match="revoked or forgotten"):
        TokenService(ctx, backoff=(0.05,)).refresh(cfg.name)
    assert server_b.requests("/token") == []
    assert leaked(server_b, refresh_token_of_a=old_refresh, client_secret=old_secret) == []
    assert ctx.secrets.get_for(cfg.id, CLIENT_SECRET) is None
    # the admin gives B's client secret and signs in there: only now does B see a secret, the one given for it
    ctx.configurations.update(ctx.store.get(cfg.name), server_b.client_secret)
    state = sign_in(cfg.name)
    assert state.has_refresh_token
    assert leaked(server_b, refresh_token_of_a=old_refresh) == []
    new_refresh = ctx.secrets.get_for(cfg.id, REFRESH_TOKEN)
    TokenService(ctx).refresh(cfg.name)  # B refreshes B's own token
    assert leaked(server_b, refresh_token_of_b=new_refresh) == ["refresh_token_of_b"]


def test_after_an_import_to_another_server_the_refresh_sends_nothing_old_there(
        ctx, oauth, server_b, server_config, sign_in):
    cfg, old_refresh, old_secret = signed_in_at_a(ctx, server_config, sign_in)
    record = {"Name": cfg.name, "ValidID": 1,
              "Config": copy.deepcopy(point_at(ctx.store.get(cfg.name), server_b).config)}
    plan = plan_import(ctx, parse_import(yaml.safe_dump([record]), templates=ctx.templates), overwrite=True)
    apply_import(ctx, plan)
    with pytest.raises(ReauthorizationNeeded):
        TokenService(ctx, backoff=(0.05,)).refresh(cfg.name)
    with pytest.raises(ReauthorizationNeeded):
        TokenService(ctx, backoff=(0.05,)).access_token(cfg.name)
    assert server_b.requests("/token") == [] and server_b.requests("/revoke") == []
    assert leaked(server_b, refresh_token_of_a=old_refresh, client_secret=old_secret) == []


def test_a_kept_client_secret_goes_to_the_new_server_but_the_old_tokens_do_not(
        ctx, oauth, server_b, server_config, sign_in):
    cfg, old_refresh, old_secret = signed_in_at_a(ctx, server_config, sign_in)
    old_access = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    ctx.configurations.update(point_at(ctx.store.get(cfg.name), server_b), keep_client_secret=True)
    with pytest.raises(ReauthorizationNeeded):
        TokenService(ctx).refresh(cfg.name)
    sign_in(cfg.name)  # the admin chose to send the stored secret to B: the sign-in there uses it
    exchange = [r for r in server_b.requests("/token") if r["grant_type"] == "authorization_code"][-1]
    assert exchange["params"]["client_secret"] == old_secret
    TokenService(ctx).revoke(cfg.name)
    assert leaked(server_b, refresh_token_of_a=old_refresh, access_token_of_a=old_access) == []
