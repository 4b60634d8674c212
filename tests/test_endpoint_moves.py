"""Secrets never follow a changed endpoint (issue 10, finding 2): ConfigurationService.update that moves an
endpoint to another origin forgets the stored tokens and the stored client secret (unless the caller keeps it),
in the same transaction as the configuration. The pure comparison: tests/test_origins.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN

A = "https://idp-a.example"
B = "https://idp-b.example"


@pytest.fixture
def generic(make_config):
    """A Generic OAuth2 configuration at host A with a client secret."""

    def make(name: str = "Billing SSO", secret: str | None = "client-secret-A", host: str = A, **more: str):
        return make_config(name, template="Generic OAuth2", secret=secret,
                           AuthorizationCode=f"{host}/authorize", TokenByAuthorizationCode=f"{host}/token",
                           TokenByRefreshToken=f"{host}/token", **more)

    return make


def with_tokens(ctx, cfg, refresh: str = "refresh-token-from-A", access: str = "access-token-from-A"):
    now = datetime.now(UTC).replace(microsecond=0)
    with ctx.store.transaction():
        ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, access)
        ctx.secrets.set_for(cfg.id, REFRESH_TOKEN, refresh)
        ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True, last_requested_at=now,
                               token_expires_at=now + timedelta(hours=1),
                               refresh_token_expires_at=now + timedelta(days=90),
                               token_info={"account": "admin@example.com"}, error_message="old_error")
    return ctx.store.get_state(cfg.id)


def secret_kinds(ctx, config_id: int) -> set[str]:
    rows = ctx.store.conn.execute("SELECT field FROM config_secret WHERE config_id = ?", (config_id,))
    return {r[0] for r in rows}


def moved(ctx, cfg, host: str = B, keys=("TokenByAuthorizationCode", "TokenByRefreshToken")):
    changed = ctx.store.get_by_id(cfg.id)
    for key in keys:
        changed.set_endpoint(key, f"{host}/oauth2/token")
    return changed


# ---- an origin change forgets tokens and the client secret
def test_moving_the_token_endpoint_forgets_the_tokens_and_the_client_secret(ctx, generic):
    cfg = generic()
    with_tokens(ctx, cfg)
    saved = ctx.configurations.update(moved(ctx, cfg))
    assert saved.token_url == f"{B}/oauth2/token"
    state = ctx.store.get_state(cfg.id)
    assert (state.has_access_token, state.has_refresh_token) == (False, False)
    assert (state.token_expires_at, state.refresh_token_expires_at, state.token_info) == (None, None, {})
    assert state.error_message is None and state.reauthorization_needed is False
    assert secret_kinds(ctx, cfg.id) == set()  # no refresh token, no access token, no client secret
    assert saved.has_client_secret is False
    assert ctx.store.get("Billing SSO").has_client_secret is False


def test_the_client_secret_is_kept_only_when_the_caller_says_so(ctx, generic):
    cfg = generic()
    with_tokens(ctx, cfg)
    saved = ctx.configurations.update(moved(ctx, cfg), keep_client_secret=True)
    assert secret_kinds(ctx, cfg.id) == {CLIENT_SECRET}  # the tokens are forgotten all the same
    assert ctx.configurations.client_secret(saved) == "client-secret-A"
    assert ctx.store.get("Billing SSO").has_client_secret is True


def test_a_new_client_secret_given_with_the_move_is_stored(ctx, generic):
    cfg = generic()
    with_tokens(ctx, cfg)
    saved = ctx.configurations.update(moved(ctx, cfg), "client-secret-B")
    assert secret_kinds(ctx, cfg.id) == {CLIENT_SECRET}
    assert ctx.configurations.client_secret(saved) == "client-secret-B"
    assert ctx.store.get_state(cfg.id).has_refresh_token is False


@pytest.mark.parametrize("key", ["AuthorizationCode", "TokenRevocation"])
def test_each_endpoint_that_receives_something_counts(ctx, generic, key):
    cfg = generic(TokenRevocation=f"{A}/revoke")
    with_tokens(ctx, cfg)
    ctx.configurations.update(moved(ctx, cfg, keys=(key,)))
    assert secret_kinds(ctx, cfg.id) == set()


def test_a_revocation_endpoint_added_on_a_new_host_counts_one_on_a_known_host_does_not(ctx, generic):
    cfg = generic()
    with_tokens(ctx, cfg)
    same_host = ctx.store.get_by_id(cfg.id)
    same_host.set_endpoint("TokenRevocation", f"{A}/revoke")
    ctx.configurations.update(same_host)
    assert secret_kinds(ctx, cfg.id) == {CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN}
    other = ctx.store.get_by_id(cfg.id)
    other.set_endpoint("TokenRevocation", "https://revoke.elsewhere.example/revoke")
    ctx.configurations.update(other)
    assert secret_kinds(ctx, cfg.id) == set()


def test_an_emptied_refresh_endpoint_falls_back_to_the_token_endpoint_at_another_host(ctx, generic):
    cfg = generic()
    with_tokens(ctx, cfg)
    changed = ctx.store.get_by_id(cfg.id)
    changed.set_endpoint("TokenByRefreshToken", f"{B}/token")
    ctx.configurations.update(changed)
    assert secret_kinds(ctx, cfg.id) == set()


@pytest.mark.parametrize("url", [
    f"{A}/v2/oauth2/token?tenant=x",      # another path on the same origin
    "HTTPS://IDP-A.EXAMPLE/token",        # case
    "https://idp-a.example:443/token",    # the default port written out
    "https://idp-a.example./token",       # a trailing dot
])
def test_no_origin_change_changes_nothing_but_the_configuration(ctx, generic, url):
    cfg = generic()
    before = with_tokens(ctx, cfg)
    changed = ctx.store.get_by_id(cfg.id)
    changed.set_endpoint("TokenByRefreshToken", url)
    changed.scope = "openid offline_access"
    saved = ctx.configurations.update(changed)
    assert saved.refresh_url == url and saved.scope == "openid offline_access"
    assert secret_kinds(ctx, cfg.id) == {CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN}
    assert ctx.store.get_state(cfg.id) == before
    assert ctx.store.get("Billing SSO").has_client_secret is True


def test_the_forgotten_state_is_what_forget_token_leaves(ctx, generic):
    from desktop.oauth.tokens import TokenService

    edited, forgotten = generic("Edited"), generic("Forgotten")
    with_tokens(ctx, edited)
    with_tokens(ctx, forgotten)
    ctx.configurations.update(moved(ctx, edited))
    TokenService(ctx).forget("Forgotten")
    left = ctx.store.get_state(edited.id)
    expected = ctx.store.get_state(forgotten.id)
    same = {"config_id": 0, "last_requested_at": None}  # seeded a moment apart
    assert left.__dict__ | same == expected.__dict__ | same
    assert left.last_requested_at is not None  # kept, as forget keeps it: "it was revoked or forgotten"


def test_a_failure_in_the_same_transaction_changes_nothing(ctx, generic, monkeypatch):
    cfg = generic()
    before_state = with_tokens(ctx, cfg)
    before_rows = ctx.store.conn.execute("SELECT * FROM config_secret ORDER BY 1, 2").fetchall()

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ctx.store, "update_state", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        ctx.configurations.update(moved(ctx, cfg))
    monkeypatch.undo()
    assert ctx.store.get("Billing SSO").token_url == f"{A}/token"
    assert ctx.store.get_state(cfg.id) == before_state
    assert ctx.store.conn.execute("SELECT * FROM config_secret ORDER BY 1, 2").fetchall() == before_rows


def test_a_refresh_running_meanwhile_makes_the_move_wait_then_refuse_plainly(ctx, generic, monkeypatch):
    """A refresh holds the token's lock while it talks to the old host; the move must not slip in between
    (the refresh would store tokens from the old host after the forget)."""
    from desktop import services
    from desktop.oauth.locks import token_lock

    cfg = generic()
    before = with_tokens(ctx, cfg)
    monkeypatch.setattr(services, "MOVE_LOCK_TIMEOUT", 0.3)
    held, release = threading.Event(), threading.Event()

    def refresh_in_progress():
        with token_lock(ctx.store.store_id, cfg.id, 5):
            held.set()
            release.wait(5)

    worker = threading.Thread(target=refresh_in_progress)
    worker.start()
    try:
        held.wait(5)
        with pytest.raises(services.TokenBusy) as info:
            ctx.configurations.update(moved(ctx, cfg))
    finally:
        release.set()
        worker.join()
    assert str(info.value) == ("the token of 'Billing SSO' is being renewed right now, so its endpoints cannot "
                               "move to another host yet; nothing was changed. Try again in a moment.")
    assert ctx.store.get("Billing SSO").token_url == f"{A}/token"
    assert ctx.store.get_state(cfg.id) == before
    ctx.configurations.update(moved(ctx, cfg))  # free again
    assert secret_kinds(ctx, cfg.id) == set()


def test_endpoint_moves_of_the_service_compares_with_the_stored_configuration(ctx, generic):
    cfg = generic()
    changed = moved(ctx, cfg)
    assert [str(m) for m in ctx.configurations.endpoint_moves(changed)] == [
        f"token endpoint: {A} \u2192 {B}", f"token refresh endpoint: {A} \u2192 {B}"]
    assert ctx.configurations.endpoint_moves(ctx.store.get_by_id(cfg.id)) == []
