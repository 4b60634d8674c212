"""TokenService against the real (strict) OAuth2 server: exchange, refresh, rotation, revoke, errors."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from desktop.models.token import utcnow
from desktop.oauth.errors import NetworkError, ProviderError, ReauthorizationNeeded, StateMismatch
from desktop.oauth.tokens import TokenService
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN
from tests.oauth.conftest import follow_to_redirect

pytestmark = pytest.mark.realserver


def fast(ctx, **kwargs) -> TokenService:
    return TokenService(ctx, backoff=(0.05, 0.05), **kwargs)


def secret(ctx, cfg, kind):
    return ctx.secrets.get_for(cfg.id, kind)


def test_sign_in_stores_tokens_and_expiry(ctx, oauth, server_config, sign_in):
    oauth.configure(access_token_ttl=900)
    cfg = server_config()
    before = utcnow()
    state = sign_in(cfg.name)
    assert state.has_access_token and state.has_refresh_token and not state.has_error
    assert before + timedelta(seconds=890) <= state.token_expires_at <= utcnow() + timedelta(seconds=900)
    assert state.last_requested_at is not None
    token = secret(ctx, cfg, ACCESS_TOKEN)
    info = oauth.introspect(token)
    assert info["active"] is True and info["client_id"] == oauth.client_id
    # the server saw PKCE and the secret in the body (Znuny's AutofilledParametersMapping)
    exchange = [r for r in oauth.requests("/token") if r["grant_type"] == "authorization_code"][-1]
    assert len(exchange["params"]["code_verifier"]) >= 43
    assert exchange["params"]["client_secret"] == oauth.client_secret
    authorize = oauth.requests("/authorize")[-1]["params"]
    assert authorize["code_challenge_method"] == "S256" and authorize["state"]
    assert "client_secret" not in authorize
    # the stored row holds no token (secrets live in the secret store only)
    row = ctx.store.conn.execute("SELECT * FROM token_state WHERE config_id = ?", (cfg.id,)).fetchone()
    assert token not in " ".join(str(v) for v in tuple(row))


def test_wrong_pkce_verifier_is_refused_by_the_server(ctx, oauth, server_config):
    cfg = server_config()
    service = fast(ctx)
    request = service.begin_authorization(cfg.name)
    callback = follow_to_redirect(request.url)
    request.code_verifier = "x" * 64  # not the one the challenge was made from
    with pytest.raises(ProviderError) as info:
        service.complete_authorization(request, callback)
    assert info.value.error == "invalid_grant"
    assert "code_verifier" in (info.value.description or "")
    assert "authorization code was refused" in info.value.hint
    state = ctx.store.get_state(cfg.id)
    assert not state.has_access_token and state.error_message == "invalid_grant"


def test_pkce_off_sends_no_challenge(ctx, oauth, server_config, sign_in):
    cfg = server_config(pkce=False)
    assert sign_in(cfg.name).has_access_token
    assert "code_challenge" not in oauth.requests("/authorize")[-1]["params"]


def test_public_client_without_secret(ctx, oauth, server_config, sign_in):
    cfg = server_config(client_id=oauth.public_client_id, secret="")
    assert sign_in(cfg.name).has_access_token
    exchange = oauth.requests("/token")[-1]["params"]
    assert "client_secret" not in exchange


def test_wrong_state_is_refused_and_nothing_stored(ctx, oauth, server_config):
    cfg = server_config()
    service = fast(ctx)
    request = service.begin_authorization(cfg.name)
    callback = follow_to_redirect(request.url).replace(f"state={request.state}", "state=forged")
    before = ctx.store.get_state(cfg.id)
    with pytest.raises(StateMismatch):
        service.complete_authorization(request, callback)
    assert ctx.store.get_state(cfg.id) == before
    assert oauth.counters["authorization_code"] == 0
    # and the request is single use: a replay of a good redirect after success is refused too
    request2 = service.begin_authorization(cfg.name)
    good = follow_to_redirect(request2.url)
    service.complete_authorization(request2, good)
    with pytest.raises(StateMismatch):
        service.complete_authorization(request2, good)


def test_error_on_the_redirect_is_stored_with_hint(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    old_token = secret(ctx, cfg, ACCESS_TOKEN)
    oauth.fault("authorize", "error", params={"error": "access_denied", "error_description": "The user said no"})
    with pytest.raises(ProviderError) as info:
        sign_in(cfg.name)
    assert "cancelled or consent was refused" in info.value.hint
    state = ctx.store.get_state(cfg.id)
    assert state.error_text == "access_denied: The user said no"
    assert secret(ctx, cfg, ACCESS_TOKEN) == old_token  # the previous token is untouched


def test_refresh_rotates_and_stores_the_new_refresh_token(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    old_access, old_refresh = secret(ctx, cfg, ACCESS_TOKEN), secret(ctx, cfg, REFRESH_TOKEN)
    state = fast(ctx).refresh(cfg.name)
    new_refresh = secret(ctx, cfg, REFRESH_TOKEN)
    assert new_refresh != old_refresh and secret(ctx, cfg, ACCESS_TOKEN) != old_access
    assert state.last_refreshed_at is not None
    assert oauth.introspect(old_refresh)["active"] is False  # the server killed the old one
    fast(ctx).refresh(cfg.name)  # works again with the stored rotated token
    assert oauth.counters["refresh_token"] == 2


def test_refresh_without_refresh_token_in_answer_keeps_the_old_one(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    oauth.configure(refresh_rotation="omit")  # Google: no refresh_token on refresh
    old_refresh = secret(ctx, cfg, REFRESH_TOKEN)
    state = fast(ctx).refresh(cfg.name)
    assert state.has_refresh_token and secret(ctx, cfg, REFRESH_TOKEN) == old_refresh


def test_invalid_grant_sets_reauthorization_and_stops_retrying(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    oauth.revoke_token(secret(ctx, cfg, REFRESH_TOKEN))
    with pytest.raises(ReauthorizationNeeded) as info:
        fast(ctx).refresh(cfg.name)
    assert "Request a new token" in info.value.hint
    state = ctx.store.get_state(cfg.id)
    assert state.reauthorization_needed and state.error_message == "invalid_grant"
    requests = oauth.counters["refresh_token"]
    with pytest.raises(ReauthorizationNeeded):
        fast(ctx).refresh(cfg.name)
    assert oauth.counters["refresh_token"] == requests  # no further request
    state = sign_in(cfg.name)  # a new sign-in clears it
    assert not state.reauthorization_needed and not state.has_error


def test_token_endpoint_400_is_stored_in_znuny_form(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    oauth.fault("token", "error", status=400, body={"error": "invalid_client", "error_description": "bad secret"})
    with pytest.raises(ProviderError) as info:
        fast(ctx).refresh(cfg.name)
    assert "client ID or client secret" in info.value.hint
    assert ctx.store.get_state(cfg.id).error_text == "invalid_client: bad secret"
    assert oauth.counters["refresh_token"] == 1  # 4xx is not retried


def test_token_endpoint_500_is_retried_then_reported(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    oauth.fault("token", "status", status=500, text="<h1>Internal Server Error</h1>", times=3)
    with pytest.raises(NetworkError) as info:
        fast(ctx).refresh(cfg.name)
    assert "HTTP 500" in str(info.value)
    assert oauth.counters["refresh_token"] == 3
    assert ctx.store.get_state(cfg.id).error_message == "server_error"


def test_token_endpoint_500_once_recovers_by_retry(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    oauth.fault("token", "error", status=503, body={"error": "temporarily_unavailable"})
    state = fast(ctx).refresh(cfg.name)
    assert not state.has_error and oauth.counters["refresh_token"] == 2


def test_hanging_server_times_out(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    ctx.store.set_setting("network.timeout_seconds", 1)
    oauth.fault("token", "hang", seconds=4, times=2)
    with pytest.raises(NetworkError) as info:
        fast(ctx, max_attempts=2).refresh(cfg.name)
    assert "did not answer within 1 s" in str(info.value)
    assert "network.timeout_seconds" in info.value.hint
    assert ctx.store.get_state(cfg.id).error_message == "timeout"


def test_unreachable_endpoint(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    cfg.set_endpoint("TokenByRefreshToken", "http://127.0.0.1:9/token")  # discard port: nobody listens
    # written straight to the store: an edit through the service moves the endpoint to another origin and so
    # forgets the tokens (tests/test_endpoint_moves.py); here the refresh must try that port
    ctx.store.update(cfg)
    with pytest.raises(NetworkError) as info:
        fast(ctx).refresh(cfg.name)
    assert "Could not reach 127.0.0.1:9" in info.value.hint
    assert ctx.store.get_state(cfg.id).error_message == "unreachable"


def test_malformed_json(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    old = secret(ctx, cfg, ACCESS_TOKEN)
    oauth.fault("token", "malformed")
    with pytest.raises(ProviderError) as info:
        fast(ctx).refresh(cfg.name)
    assert "not JSON" in str(info.value) or "did not answer with JSON" in str(info.value)
    assert secret(ctx, cfg, ACCESS_TOKEN) == old
    assert ctx.store.get_state(cfg.id).error_message == "invalid_response"


def test_missing_expires_in_gives_unknown_expiry(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    oauth.fault("token", "omit", fields=["expires_in"])
    state = fast(ctx).refresh(cfg.name)
    assert state.has_access_token and state.token_expires_at is None and not state.has_error
    assert fast(ctx).access_token(cfg.name) == secret(ctx, cfg, ACCESS_TOKEN)


def test_access_token_refreshes_inside_the_lead_time(ctx, oauth, server_config, sign_in):
    oauth.configure(access_token_ttl=120)
    cfg = server_config()
    sign_in(cfg.name)
    first = secret(ctx, cfg, ACCESS_TOKEN)
    ctx.store.set_setting("refresh.lead_time_seconds", 60)
    assert fast(ctx).access_token(cfg.name) == first  # 120 s left, lead 60 s: no refresh
    assert oauth.counters["refresh_token"] == 0
    ctx.store.set_setting("refresh.lead_time_seconds", 300)
    assert fast(ctx).access_token(cfg.name) == first  # inside the lead time, but not yet half its life old
    assert oauth.counters["refresh_token"] == 0
    later = fast(ctx, clock=lambda: utcnow() + timedelta(seconds=61))  # past half of its 120 s
    second = later.access_token(cfg.name)
    assert second != first and oauth.introspect(second)["active"] is True
    assert oauth.counters["refresh_token"] == 1
    assert ctx.store.get_state(cfg.id).last_used_at is not None


def test_still_valid_token_is_handed_out_when_the_refresh_fails(ctx, oauth, server_config, sign_in):
    oauth.configure(access_token_ttl=120)
    cfg = server_config()
    sign_in(cfg.name)
    ctx.store.set_setting("refresh.lead_time_seconds", 300)
    oauth.fault("token", "error", status=500, body={"error": "server_error"}, times=3)
    later = fast(ctx, clock=lambda: utcnow() + timedelta(seconds=61))  # due: past half of its 120 s
    assert later.access_token(cfg.name) == secret(ctx, cfg, ACCESS_TOKEN)
    assert ctx.store.get_state(cfg.id).error_message == "server_error"


def test_expired_token_without_refresh_token_needs_reauthorization(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    ctx.secrets.delete_for(cfg.id, REFRESH_TOKEN)
    ctx.store.update_state(cfg.id, has_refresh_token=False, token_expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(ReauthorizationNeeded) as info:
        fast(ctx).access_token(cfg.name)
    assert "offline_access" in info.value.hint


def test_revoke_then_forget(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    access, refresh = secret(ctx, cfg, ACCESS_TOKEN), secret(ctx, cfg, REFRESH_TOKEN)
    fast(ctx).revoke(cfg.name)
    assert oauth.introspect(access)["active"] is False and oauth.introspect(refresh)["active"] is False
    state = ctx.store.get_state(cfg.id)
    assert not state.has_access_token and not state.has_refresh_token
    assert secret(ctx, cfg, ACCESS_TOKEN) is None and secret(ctx, cfg, REFRESH_TOKEN) is None
    assert oauth.counters["revoke"] == 2


def test_revoke_without_endpoint_says_forget(ctx, oauth, server_config, sign_in):
    cfg = server_config(revocation=False)
    sign_in(cfg.name)
    with pytest.raises(Exception) as info:
        fast(ctx).revoke(cfg.name)
    assert "Forget token" in info.value.hint
    assert ctx.store.get_state(cfg.id).has_access_token
    fast(ctx).forget(cfg.name)
    assert not ctx.store.get_state(cfg.id).has_access_token


def test_client_credentials(ctx, oauth):
    cfg = ctx.templates.require("Microsoft Exchange Online (client credentials)").new_configuration("App only")
    cfg.client_id = oauth.client_id
    cfg.set_endpoint("TokenByClientCredentials", oauth.token_endpoint)
    ctx.configurations.add(cfg, oauth.client_secret)
    token = fast(ctx).access_token("App only")
    assert oauth.introspect(token)["active"] is True
    assert fast(ctx).access_token("App only") == token  # still valid: no new request
    assert oauth.counters["client_credentials"] == 1
    params = oauth.requests("/token")[-1]["params"]
    assert params["scope"] == "https://outlook.office.com/.default"


def test_client_credentials_with_http_basic(ctx, oauth):
    from desktop.models.config import CLIENT_AUTH_BASIC

    basic_only_server(oauth)
    cfg = ctx.templates.require("Microsoft Exchange Online (client credentials)").new_configuration("App basic")
    cfg.client_id = BASIC_CLIENT
    cfg.client_authentication = CLIENT_AUTH_BASIC
    cfg.set_endpoint("TokenByClientCredentials", oauth.token_endpoint)
    ctx.configurations.add(cfg, BASIC_SECRET)
    token = fast(ctx).access_token("App basic")
    assert oauth.introspect(token)["active"] is True
    request = oauth.requests("/token")[-1]
    assert request["authorization"] == "Basic" and request["grant_type"] == "client_credentials"
    assert "client_secret" not in request["params"]


def test_two_threads_refresh_once(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    oauth.fault("token", "hang", seconds=0.5, grant_type="refresh_token")  # keep the first refresh busy
    ctx.store.update_state(cfg.id, token_expires_at=utcnow() - timedelta(seconds=1))
    results: list[str] = []
    errors: list[BaseException] = []

    def worker():
        try:
            results.append(fast(ctx).access_token(cfg.name))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    assert len(set(results)) == 1 and len(results) == 4
    assert oauth.counters["refresh_token"] == 1


BASIC_CLIENT = "tokendesk-basic"
BASIC_SECRET = "s3cr+t/with:colon&more"  # needs RFC 6749 form-encoding inside the Basic header


def basic_only_server(oauth) -> None:
    oauth.configure(clients={
        oauth.client_id: {"secret": oauth.client_secret},
        BASIC_CLIENT: {"secret": BASIC_SECRET, "auth_method": "client_secret_basic"},
    })


def test_client_secret_basic_for_sign_in_refresh_and_revoke(ctx, oauth, server_config):
    """A provider that accepts the client secret only as HTTP Basic (RFC 6749 2.3.1)."""
    from desktop.models.config import CLIENT_AUTH_BASIC

    basic_only_server(oauth)
    cfg = server_config("Basic provider", client_id=BASIC_CLIENT, secret=BASIC_SECRET,
                        ClientAuthentication=CLIENT_AUTH_BASIC)
    service = fast(ctx)
    request = service.begin_authorization(cfg.name)
    state = service.complete_authorization(request, follow_to_redirect(request.url))
    assert state.has_access_token and not state.has_error
    exchange = [r for r in oauth.requests("/token") if r["grant_type"] == "authorization_code"][-1]
    assert exchange["authorization"] == "Basic"
    assert "client_secret" not in exchange["params"] and "client_id" not in exchange["params"]
    old = secret(ctx, cfg, ACCESS_TOKEN)
    service.refresh(cfg.name)
    assert secret(ctx, cfg, ACCESS_TOKEN) != old
    refresh = [r for r in oauth.requests("/token") if r["grant_type"] == "refresh_token"][-1]
    assert refresh["authorization"] == "Basic" and "client_secret" not in refresh["params"]
    refresh_token = secret(ctx, cfg, REFRESH_TOKEN)
    service.revoke(cfg.name)
    assert oauth.requests("/revoke")[-1]["authorization"] == "Basic"
    assert oauth.introspect(refresh_token) == {"active": False}


def test_secret_in_the_body_where_basic_is_required_fails_with_a_plain_hint(ctx, oauth, server_config):
    basic_only_server(oauth)
    cfg = server_config("Body provider", client_id=BASIC_CLIENT, secret=BASIC_SECRET)  # Znuny's default: body
    service = fast(ctx)
    request = service.begin_authorization(cfg.name)
    with pytest.raises(ProviderError) as info:
        service.complete_authorization(request, follow_to_redirect(request.url))
    assert info.value.error == "invalid_client"
    assert "must use client_secret_basic" in (info.value.description or "")
    assert "HTTP Basic" in info.value.hint


def test_a_refresh_is_in_the_log_file_and_its_tokens_are_not(log_home, ctx, oauth, server_config, sign_in):
    from desktop import logfile
    from desktop.store.secrets import CLIENT_SECRET

    path = logfile.enable(log_home)
    cfg = server_config("Logged provider")
    sign_in(cfg.name)
    fast(ctx).refresh(cfg.name)
    text = path.read_text()
    assert "'Logged provider': refreshing (refresh token " in text
    for kind in (ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET):
        value = ctx.secrets.get_for(cfg.id, kind)
        assert value and value not in text


def test_the_token_state_says_who_signed_in_and_what_was_granted(ctx, oauth, server_config, sign_in):
    from tests.oauth.conftest import SCOPE

    cfg = server_config("Claims provider")
    state = sign_in(cfg.name)
    assert state.token_info["account"] == "tokendesk-user@example.test"
    assert state.token_info["granted_scope"] == SCOPE
    assert state.token_info["token_type"].lower() == "bearer"
    token = secret(ctx, cfg, ACCESS_TOKEN)
    assert token not in str(state.token_info)  # facts about the token, never the token
    oauth.configure(refresh_rotation="omit")
    oauth.fault("token", "omit", fields=["scope"])  # a refresh answer without scope keeps what was granted
    refreshed = fast(ctx).refresh(cfg.name)
    assert refreshed.token_info["granted_scope"] == SCOPE
    fast(ctx).forget(cfg.name)
    assert ctx.store.get_state(cfg.id).token_info == {}


def test_a_narrower_grant_than_asked_is_noted(ctx, oauth, server_config, sign_in):
    from desktop.oauth.tokens import warnings_for

    cfg = server_config("Narrow grant")
    cfg.scope = "openid offline_access mail.read"
    ctx.configurations.update(cfg)
    oauth.fault("token", "merge", fields={"scope": "openid offline_access"}, grant_type="authorization_code")
    state = sign_in(cfg.name)
    assert state.token_info["granted_scope"] == "openid offline_access"
    notes = warnings_for(ctx.store.get(cfg.name), state)
    assert [n for n in notes if "granted less" in n] == [
        "The provider granted less than was asked: mail.read is missing (at the consent screen the permission "
        "may have been unticked). Request a new token and allow everything asked for."]


def test_a_5_minute_token_is_not_refreshed_on_every_call(ctx, oauth, server_config, sign_in):
    """Keycloak's default: 5-minute access tokens, with Tokendesk's default 5-minute lead time."""
    oauth.configure(access_token_ttl=300)
    cfg = server_config()
    sign_in(cfg.name)
    first = secret(ctx, cfg, ACCESS_TOKEN)
    for _ in range(5):
        assert fast(ctx).access_token(cfg.name) == first
    assert oauth.counters["refresh_token"] == 0
    assert fast(ctx, clock=lambda: utcnow() + timedelta(seconds=155)).access_token(cfg.name) != first
    assert oauth.counters["refresh_token"] == 1


def test_a_keyring_that_refuses_every_write_changes_nothing_for_refresh(ctx, oauth, server_config, sign_in):
    """The keyring holds only the vault's key: once the vault exists, a refresh (with rotation) writes nothing
    there, so a locked or broken keyring cannot lose the rotated refresh token."""
    import keyring

    from tests.support.memory_keyring import LockedKeyring

    cfg = server_config()
    sign_in(cfg.name)
    keyring.set_keyring(LockedKeyring(dict(keyring.get_keyring().passwords)))  # the fixture puts it back
    for _ in range(3):
        old_refresh = secret(ctx, cfg, REFRESH_TOKEN)
        fast(ctx).refresh(cfg.name)
        assert secret(ctx, cfg, REFRESH_TOKEN) != old_refresh  # rotated and stored
        assert oauth.introspect(old_refresh)["active"] is False
    assert oauth.counters["refresh_token"] == 3
    assert not ctx.store.get_state(cfg.id).has_error


def test_rotation_and_state_commit_together(ctx, oauth, server_config, sign_in, monkeypatch):
    """A failure while storing a refresh answer leaves the previous tokens *and* state, not a mix."""
    cfg = server_config()
    sign_in(cfg.name)
    before = (secret(ctx, cfg, ACCESS_TOKEN), secret(ctx, cfg, REFRESH_TOKEN), ctx.store.get_state(cfg.id))
    real_update = ctx.store.update_state

    def fail_on_success(config_id, **changes):
        if "last_refreshed_at" in changes:
            raise RuntimeError("disk full (simulated) while storing the refresh answer")
        return real_update(config_id, **changes)

    with monkeypatch.context() as patch, pytest.raises(RuntimeError, match="disk full"):
        patch.setattr(ctx.store, "update_state", fail_on_success)
        fast(ctx).refresh(cfg.name)
    assert (secret(ctx, cfg, ACCESS_TOKEN), secret(ctx, cfg, REFRESH_TOKEN), ctx.store.get_state(cfg.id)) == before
