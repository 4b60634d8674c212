"""Issue 16, point 2: "Signed in as" after a sign-in at a generic OpenID Connect provider whose tokens name no
account - the real OAuth2/OIDC test server (tests/servers/oauth_server.mjs) with ``identity`` "sub" (the ID token
carries only an opaque ``sub``, the e-mail address comes only from /userinfo) or "none" (no ID token at all)."""

from __future__ import annotations

import hashlib

import pytest

from desktop.oauth.discovery import discover
from desktop.oauth.tokens import TokenService
from desktop.ui.features.oauth import details_html

pytestmark = pytest.mark.realserver

USER = "tokendesk-user@example.test"


def subject_of(user: str) -> str:
    return "sub-" + hashlib.sha256(user.encode()).hexdigest()[:16]


@pytest.fixture
def oidc_config(ctx, oauth, server_config):
    """A Generic OpenID Connect configuration whose endpoints (and userinfo endpoint) came from discovery."""

    def make(name: str = "Generic OIDC"):
        cfg = server_config(name, template="Generic OpenID Connect")
        found = discover(oauth.issuer, 5)
        found.record_on(cfg)
        return ctx.configurations.update(cfg)

    return make


def test_discovery_keeps_the_userinfo_endpoint(oauth, oidc_config):
    cfg = oidc_config()
    assert cfg.userinfo_url == oauth.issuer + "/userinfo"


def test_an_id_token_with_only_sub_gets_the_account_from_userinfo(ctx, oauth, oidc_config, sign_in):
    oauth.configure(identity="sub")
    cfg = oidc_config()
    state = sign_in(cfg.name)
    assert state.account == USER  # what the table's "Signed in as" and the details show
    stored = ctx.store.get_state(cfg.id)
    assert stored.token_info["account"] == USER and stored.token_info["subject"] == subject_of(USER)
    asked = oauth.requests("/userinfo")
    assert len(asked) == 1 and asked[0]["authorization"] == "Bearer"
    assert "Signed in as" in details_html(cfg, stored, ctx.store.settings())
    assert USER in details_html(cfg, stored, ctx.store.settings())
    # a refresh keeps who signed in (its answer carries only the sub again), without asking userinfo again
    TokenService(ctx).refresh(cfg.name)
    assert ctx.store.get_state(cfg.id).account == USER and len(oauth.requests("/userinfo")) == 1


def test_without_a_userinfo_endpoint_the_id_tokens_sub_names_the_account(ctx, oauth, server_config, sign_in):
    oauth.configure(identity="sub")
    cfg = server_config("No discovery", template="Generic OpenID Connect")  # endpoints typed in: no userinfo
    state = sign_in(cfg.name)
    assert state.account == subject_of(USER) and "account" not in state.token_info
    assert oauth.requests("/userinfo") == []


def test_a_failing_userinfo_endpoint_never_fails_the_sign_in(ctx, oauth, oidc_config, sign_in):
    oauth.configure(identity="sub")
    oauth.fault("userinfo", "status", status=500)
    cfg = oidc_config("Userinfo down")
    state = sign_in(cfg.name)
    assert state.has_access_token and state.has_refresh_token and not state.has_error
    assert state.account == subject_of(USER)  # the ID token's sub, as before the question
    assert len(oauth.requests("/userinfo")) == 1


def test_tokens_that_name_the_account_need_no_userinfo(ctx, oauth, oidc_config, sign_in):
    cfg = oidc_config("Named")  # identity "username": preferred_username in the tokens
    assert sign_in(cfg.name).account == USER
    assert oauth.requests("/userinfo") == []


def test_where_nothing_names_the_account_the_details_say_so(ctx, oauth, server_config, sign_in):
    oauth.configure(identity="none")  # no ID token, no account claim in the access token
    cfg = server_config("Plain OAuth2")
    state = sign_in(cfg.name)
    assert state.has_access_token and state.account == ""
    text = details_html(cfg, ctx.store.get_state(cfg.id), ctx.store.settings())
    assert "the provider did not say who signed in" in text
