"""Pure parts of the flow (no server): URL building, redirect URIs, callbacks, mapping, error text and hints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from desktop.models.config import TokenConfiguration
from desktop.models.token import TokenState
from desktop.oauth.errors import ConfigurationProblem, ProviderError, StateMismatch, aad_codes, hint_for
from desktop.oauth.flow import (
    build_authorization_request,
    code_challenge_s256,
    configured_redirect_uri,
    loopback_redirect_uri,
    new_code_verifier,
    parse_callback,
    same_endpoint,
)
from desktop.oauth.mapping import DEFAULT_TOKEN_MAPPING, build_parameters, map_response
from desktop.oauth.tokens import warnings_for

SETTINGS = {"redirect.http_type": "http", "redirect.fqdn": "127.0.0.1:8765", "redirect.script_alias": "oauth2/callback"}


def template_config(ctx, template: str, name: str = "cfg") -> TokenConfiguration:
    cfg = ctx.templates.require(template).new_configuration(name)
    cfg.client_id = "my-client"
    cfg.id = 7
    return cfg


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def test_rfc7636_appendix_b_vector():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    verifier = new_code_verifier()
    assert 43 <= len(verifier) <= 128 and verifier != new_code_verifier()


def test_microsoft_authorization_url(ctx):
    cfg = template_config(ctx, "Microsoft Exchange Online")
    request = build_authorization_request(cfg, "http://127.0.0.1:8765/oauth2/callback")
    assert request.url.startswith("https://login.microsoftonline.com/common/oauth2/v2.0/authorize?")
    q = query(request.url)
    assert q["client_id"] == "my-client"
    assert q["response_type"] == "code" and q["response_mode"] == "query" and q["prompt"] == "select_account"
    assert q["redirect_uri"] == "http://127.0.0.1:8765/oauth2/callback"
    assert "offline_access" in q["scope"].split()
    assert q["state"] == request.state and len(request.state) >= 16
    assert q["code_challenge"] == code_challenge_s256(request.code_verifier)
    assert q["code_challenge_method"] == "S256"
    assert "client_secret" not in q
    assert request.state not in repr(request) and request.code_verifier not in repr(request)


def test_state_is_random_per_request(ctx):
    cfg = template_config(ctx, "Google Mail")
    a = build_authorization_request(cfg, "http://127.0.0.1:1/cb")
    b = build_authorization_request(cfg, "http://127.0.0.1:1/cb")
    assert a.state != b.state and a.code_verifier != b.code_verifier
    q = query(a.url)
    assert q["access_type"] == "offline" and q["prompt"] == "consent"


def test_pkce_off(ctx):
    cfg = template_config(ctx, "Generic OAuth2")
    cfg.set_endpoint("AuthorizationCode", "https://idp.example.com/auth?tenant=x")
    cfg.pkce_enabled = False
    request = build_authorization_request(cfg, "http://127.0.0.1:1/cb")
    q = query(request.url)
    assert "code_challenge" not in q and request.code_verifier is None
    assert q["tenant"] == "x"  # a query in the endpoint survives


def test_client_secret_never_goes_into_the_url(ctx):
    cfg = template_config(ctx, "Generic OAuth2")
    cfg.set_endpoint("AuthorizationCode", "https://idp.example.com/auth")
    autofilled = cfg.config["Requests"]["AuthorizationCode"]["Request"]["AutofilledParametersMapping"]
    autofilled["client_secret"] = "ClientSecret"
    request = build_authorization_request(cfg, "http://127.0.0.1:1/cb")
    assert "client_secret" not in query(request.url)


def test_http_endpoint_outside_loopback_is_refused(ctx):
    cfg = template_config(ctx, "Generic OAuth2")
    cfg.set_endpoint("AuthorizationCode", "http://idp.example.com/auth")
    with pytest.raises(ConfigurationProblem) as info:
        build_authorization_request(cfg, "http://127.0.0.1:1/cb")
    assert "https is required outside this machine" in str(info.value)


def test_redirect_uri_from_settings_and_override(ctx):
    cfg = template_config(ctx, "Microsoft Exchange Online")
    assert configured_redirect_uri(cfg, SETTINGS) == "http://127.0.0.1:8765/oauth2/callback"
    znuny = {"redirect.http_type": "https", "redirect.fqdn": "znuny.example.com", "redirect.script_alias": "otrs/cb"}
    assert configured_redirect_uri(cfg, znuny) == "https://znuny.example.com/otrs/cb"
    with pytest.raises(ConfigurationProblem) as info:
        configured_redirect_uri(cfg, {**znuny, "redirect.http_type": "http"})
    assert "https is required outside this machine" in str(info.value)
    cfg.redirect_url_override = "https://override.example.com/cb"
    assert configured_redirect_uri(cfg, SETTINGS) == "https://override.example.com/cb"


def test_loopback_redirect_for_the_system_browser(ctx):
    cfg = template_config(ctx, "Google Mail")
    assert loopback_redirect_uri(cfg, SETTINGS, 4321) == "http://127.0.0.1:4321/oauth2/callback"
    znuny = {"redirect.http_type": "https", "redirect.fqdn": "znuny.example.com", "redirect.script_alias": "otrs/cb"}
    assert loopback_redirect_uri(cfg, znuny, 4321) == "http://127.0.0.1:4321/oauth2/callback"
    cfg.redirect_url_override = "http://localhost/native"
    assert loopback_redirect_uri(cfg, SETTINGS, 4321) == "http://localhost:4321/native"
    cfg.redirect_url_override = "https://znuny.example.com/cb"
    with pytest.raises(ConfigurationProblem):
        loopback_redirect_uri(cfg, SETTINGS, 4321)


def test_same_endpoint():
    assert same_endpoint("http://127.0.0.1:8765/oauth2/callback?code=1&state=2", "http://127.0.0.1:8765/oauth2/callback")
    assert same_endpoint("https://a.example/cb/", "https://A.example:443/cb")
    assert not same_endpoint("http://127.0.0.1:8766/oauth2/callback", "http://127.0.0.1:8765/oauth2/callback")
    assert not same_endpoint("http://127.0.0.1:8765/other", "http://127.0.0.1:8765/oauth2/callback")


def test_parse_callback_checks_state_once(ctx):
    cfg = template_config(ctx, "Microsoft Exchange Online")
    request = build_authorization_request(cfg, "http://127.0.0.1:1/cb")
    with pytest.raises(StateMismatch):
        parse_callback(cfg, request, "http://127.0.0.1:1/cb?code=abc&state=nope")
    with pytest.raises(StateMismatch):
        parse_callback(cfg, request, "http://127.0.0.1:1/cb?code=abc")
    assert parse_callback(cfg, request, f"http://127.0.0.1:1/cb?code=abc&state={request.state}").code == "abc"
    with pytest.raises(StateMismatch):
        parse_callback(cfg, request, f"http://127.0.0.1:1/cb?code=abc&state={request.state}")


def test_parse_callback_microsoft_error(ctx):
    cfg = template_config(ctx, "Microsoft Exchange Online")
    request = build_authorization_request(cfg, "http://127.0.0.1:1/cb")
    url = (f"http://127.0.0.1:1/cb?error=invalid_request&error_description=AADSTS50011%3A+The+redirect+URI+"
           f"%27http%3A%2F%2F127.0.0.1%3A1%2Fcb%27+does+not+match&state={request.state}")
    with pytest.raises(ProviderError) as info:
        parse_callback(cfg, request, url)
    assert info.value.error == "invalid_request"
    assert "redirect URI (http://127.0.0.1:1/cb) is not registered" in info.value.hint
    assert info.value.text.startswith("invalid_request: AADSTS50011")


def test_map_response_znuny_semantics():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    mapped = map_response(DEFAULT_TOKEN_MAPPING, {"access_token": "A", "expires_in": "3599", "scope": "x"})
    assert mapped.token == "A" and not mapped.has("RefreshToken")
    assert mapped.expires_at("TokenExpirationDate", now) == now + timedelta(seconds=3599)
    assert mapped.expires_at("RefreshTokenExpirationDate", now) is None
    ms = map_response({"error": "ErrorMessage", "error_codes": "ErrorCode", "error_description": "ErrorDescription"},
                      {"error": "invalid_grant", "error_codes": [70008, 50173],
                       "error_description": "AADSTS70008: expired"})
    assert ms.error_code == "70008, 50173" and ms.is_error
    # a configuration without error_codes still gets them from the defaults; its own mapping wins elsewhere
    google = map_response({"access_token": "Token"}, {"error": "invalid_grant", "error_codes": [1]},
                          DEFAULT_TOKEN_MAPPING)
    assert google.error == "invalid_grant" and google.error_code == "1"
    renamed = map_response({"tok": "Token"}, {"tok": "T", "access_token": "other"}, DEFAULT_TOKEN_MAPPING)
    assert renamed.token == "T"
    assert not map_response(DEFAULT_TOKEN_MAPPING, {"expires_in": "soon"}).has("TokenExpirationDate")


def test_build_parameters_skips_empty_sources():
    autofilled = {"client_id": "ClientID", "client_secret": "ClientSecret", "refresh_token": "RefreshToken"}
    values = {"ClientID": "c", "ClientSecret": None, "RefreshToken": "r"}
    params = build_parameters({"grant_type": "refresh_token"}, autofilled, values)
    assert params == {"grant_type": "refresh_token", "client_id": "c", "refresh_token": "r"}


@pytest.mark.parametrize(
    ("error", "code", "description", "stage", "expected"),
    [
        ("invalid_client", None, None, "refresh", "client ID or client secret"),
        ("invalid_grant", None, None, "refresh", "Request a new token"),
        ("invalid_grant", None, None, "exchange", "authorization code was refused"),
        ("invalid_request", "50011", "AADSTS50011: The redirect URI does not match", "authorize", "redirect URI"),
        ("redirect_uri_mismatch", None, None, "authorize", "redirect URI"),
        ("disallowed_useragent", None, "This user-agent is not permitted", "authorize", "system browser"),
        ("invalid_client", "7000218", "AADSTS7000218: client_assertion or client_secret", "exchange", "public client"),
        ("invalid_grant", "700082", "AADSTS700082: expired due to inactivity", "refresh", "expired"),
        ("access_denied", None, None, "authorize", "consent"),
    ],
)
def test_hints(error, code, description, stage, expected):
    assert expected in hint_for(error, code, description, stage=stage)


def test_aad_codes():
    assert aad_codes("50011, 70008", "AADSTS90002: tenant") == {"50011", "70008", "90002"}


def test_znuny_error_text():
    state = TokenState(config_id=1, error_message="invalid_grant", error_code="70008, 50173",
                       error_description="AADSTS70008: expired")
    assert state.error_text == "invalid_grant (error code 70008, 50173): AADSTS70008: expired"


def test_warning_when_no_refresh_token(ctx):
    cfg = template_config(ctx, "Microsoft Exchange Online")
    notes = warnings_for(cfg, TokenState(config_id=7, has_access_token=True, has_refresh_token=False,
                                         token_expires_at=datetime.now(UTC)))
    assert any("offline_access" in n for n in notes)
