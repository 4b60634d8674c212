"""Google and Microsoft, as their documentation describes them, played by the real local server.

The provider templates are used as shipped, with only their endpoints pointed at the loopback
server; the server's control endpoint serves the providers' documented answers (Microsoft's
``error_codes`` and AADSTS texts, Google's refresh answers without ``refresh_token``, Google's
``disallowed_useragent`` page for embedded browsers). No HTTP client is mocked.
"""

from __future__ import annotations

from datetime import timedelta

import PySide6.QtWebEngineWidgets  # noqa: F401 - QtWebEngine before the QApplication exists
import pytest

from desktop.models.token import utcnow
from desktop.oauth.errors import ProviderError, ReauthorizationNeeded
from desktop.oauth.tokens import TokenService, warnings_for
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN

pytestmark = pytest.mark.realserver

MICROSOFT = "Microsoft Exchange Online"
GOOGLE = "Google Mail"


@pytest.fixture
def provider_config(ctx, oauth):
    """A configuration from a shipped template whose endpoints point at the local server."""

    def factory(template: str, name: str, **tokendesk: object):
        cfg = ctx.templates.require(template).new_configuration(name)
        cfg.client_id = oauth.client_id
        for key in ("AuthorizationCode", "TokenByAuthorizationCode", "TokenByRefreshToken"):
            base = oauth.authorization_endpoint if key == "AuthorizationCode" else oauth.token_endpoint
            cfg.set_endpoint(key, base)
        if cfg.revocation_url:
            cfg.set_endpoint("TokenRevocation", oauth.revocation_endpoint)
        for key, value in tokendesk.items():
            cfg.config.setdefault("Tokendesk", {})[key] = value
        return ctx.configurations.add(cfg, oauth.client_secret)

    return factory


def fast(ctx) -> TokenService:
    return TokenService(ctx, backoff=(0.05, 0.05))


def test_microsoft_sends_scope_and_stores_rotated_refresh_tokens(ctx, oauth, provider_config, sign_in):
    cfg = provider_config(MICROSOFT, "Exchange")
    state = sign_in(cfg.name)
    # RefreshTokenLifetimeDays 90 in the template: Tokendesk knows when the refresh token dies
    assert utcnow() + timedelta(days=89) < state.refresh_token_expires_at < utcnow() + timedelta(days=91)
    first = ctx.secrets.get_for(cfg.id, REFRESH_TOKEN)
    fast(ctx).refresh(cfg.name)
    refresh = [r for r in oauth.requests("/token") if r["grant_type"] == "refresh_token"][-1]["params"]
    assert "offline_access" in refresh["scope"].split()  # the template's TokenByRefreshToken sends scope
    assert ctx.secrets.get_for(cfg.id, REFRESH_TOKEN) != first


def test_microsoft_redirect_mismatch_error_codes(ctx, oauth, provider_config, sign_in):
    cfg = provider_config(MICROSOFT, "Exchange")
    oauth.fault("token", "error", status=400, grant_type="authorization_code", body={
        "error": "invalid_request",
        "error_description": "AADSTS50011: The redirect URI 'http://127.0.0.1:8765/oauth2/callback' specified in "
                             "the request does not match the redirect URIs configured for the application "
                             "'00000000-0000-0000-0000-000000000000'.",
        "error_codes": [50011],
        "timestamp": "2024-05-02 09:12:44Z",
        "trace_id": "b1c0c7c4-0000-0000-0000-000000000000",
        "correlation_id": "9a1b0d4e-0000-0000-0000-000000000000",
        "error_uri": "https://login.microsoftonline.com/error?code=50011",
    })
    with pytest.raises(ProviderError) as info:
        sign_in(cfg.name)
    assert "redirect URI (http://127.0.0.1:8765/oauth2/callback) is not registered" in info.value.hint
    state = ctx.store.get_state(cfg.id)
    assert state.error_code == "50011"
    assert state.error_text.startswith("invalid_request (error code 50011): AADSTS50011: The redirect URI")


def test_microsoft_refresh_token_expired_by_inactivity(ctx, oauth, provider_config, sign_in):
    cfg = provider_config(MICROSOFT, "Exchange")
    sign_in(cfg.name)
    oauth.fault("token", "error", status=400, grant_type="refresh_token", body={
        "error": "invalid_grant",
        "error_description": "AADSTS700082: The refresh token has expired due to inactivity. The token was issued "
                             "on 2024-01-01T00:00:00Z and was inactive for 90.00:00:00.",
        "error_codes": [700082],
    })
    with pytest.raises(ReauthorizationNeeded) as info:
        fast(ctx).refresh(cfg.name)
    assert "expired or was revoked" in info.value.hint
    state = ctx.store.get_state(cfg.id)
    assert state.reauthorization_needed and state.error_code == "700082"


def test_microsoft_without_offline_access_gets_no_refresh_token(ctx, oauth, provider_config, sign_in):
    cfg = provider_config(MICROSOFT, "Exchange")
    cfg.scope = "https://outlook.office.com/IMAP.AccessAsUser.All"  # offline_access forgotten
    ctx.configurations.update(cfg)
    oauth.fault("token", "omit", fields=["refresh_token"], grant_type="authorization_code")
    state = sign_in(cfg.name)
    assert state.has_access_token and not state.has_refresh_token
    assert any("offline_access" in note for note in warnings_for(cfg, state))
    ctx.store.update_state(cfg.id, token_expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(ReauthorizationNeeded) as info:
        fast(ctx).access_token(cfg.name)
    assert "offline_access" in info.value.hint


def test_google_refresh_keeps_the_refresh_token_and_its_fixed_lifetime(ctx, oauth, provider_config, sign_in):
    cfg = provider_config(GOOGLE, "Gmail", RefreshTokenLifetimeDays=7)  # an app in "Testing" status
    state = sign_in(cfg.name)
    refresh_expiry = state.refresh_token_expires_at
    assert utcnow() + timedelta(days=6) < refresh_expiry < utcnow() + timedelta(days=8)
    query = oauth.requests("/authorize")[-1]["params"]
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    oauth.configure(refresh_rotation="omit")  # Google: the refresh answer has no refresh_token
    refresh = ctx.secrets.get_for(cfg.id, REFRESH_TOKEN)
    new_state = fast(ctx).refresh(cfg.name)
    assert ctx.secrets.get_for(cfg.id, REFRESH_TOKEN) == refresh
    assert new_state.refresh_token_expires_at == refresh_expiry  # not rolling: Google does not extend it


def test_google_revoked_refresh_token(ctx, oauth, provider_config, sign_in):
    cfg = provider_config(GOOGLE, "Gmail")
    sign_in(cfg.name)
    oauth.fault("token", "error", status=400, grant_type="refresh_token",
                body={"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    with pytest.raises(ReauthorizationNeeded):
        fast(ctx).refresh(cfg.name)
    assert ctx.store.get_state(cfg.id).error_text == "invalid_grant: Token has been expired or revoked."


def test_google_revocation_endpoint(ctx, oauth, provider_config, sign_in):
    cfg = provider_config(GOOGLE, "Gmail")
    sign_in(cfg.name)
    access = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    fast(ctx).revoke(cfg.name)
    assert oauth.introspect(access)["active"] is False
    assert oauth.requests("/revoke")[0]["params"]["token_type_hint"] == "refresh_token"


def test_google_refuses_the_embedded_browser(qtbot, ctx, oauth, provider_config):
    from desktop.ui.dialogs.login_dialog import LoginDialog

    cfg = provider_config(GOOGLE, "Gmail", Browser="embedded")
    oauth.fault("authorize", "page", status=403, html=(
        "<html><head><title>Error 403: disallowed_useragent</title></head><body>"
        "<h1>Access blocked: Tokendesk\u2019s request does not comply with Google\u2019s policies</h1>"
        "<p>Error 403: disallowed_useragent</p></body></html>"))
    dialog = LoginDialog(TokenService(ctx), cfg.name)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(dialog.panel_visible, timeout=45000)
    assert "system browser" in dialog.panel.text()
    assert ctx.store.get_state(cfg.id).error_message == "disallowed_useragent"
