"""``tokendesk edit NAME``: change the options given; an endpoint moved to another host forgets the stored tokens
and, without --send-client-secret-to-new-hosts, the stored client secret (issue 10, finding 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN

A = "https://idp-a.example"
B = "https://idp-b.example"



@pytest.fixture
def billing(ctx, make_config):
    cfg = make_config("Billing SSO", template="Generic OAuth2", secret="client-secret-A",
                      AuthorizationCode=f"{A}/authorize", TokenByAuthorizationCode=f"{A}/token",
                      TokenByRefreshToken=f"{A}/token")
    now = datetime.now(UTC).replace(microsecond=0)
    with ctx.store.transaction():
        ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, "access-from-A")
        ctx.secrets.set_for(cfg.id, REFRESH_TOKEN, "refresh-from-A")
        ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True, last_requested_at=now,
                               token_expires_at=now + timedelta(hours=1))
    return cfg


def kinds(ctx, config_id: int) -> set[str]:
    return {r[0] for r in ctx.store.conn.execute("SELECT field FROM config_secret WHERE config_id = ?",
                                                 (config_id,))}


def test_edit_that_moves_the_token_endpoint_forgets_tokens_and_secret(run, ctx, billing):
    code, out, err = run("edit", "Billing SSO", "--token-url", f"{B}/token", "--refresh-url", f"{B}/token")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "Saved 'Billing SSO'.",
        f"Token and token refresh endpoints move from {A} to {B}: the stored tokens were forgotten; request a new "
        "token with: tokendesk authorize 'Billing SSO'",
        "The stored client secret was removed: it is not sent to a new host without "
        "--send-client-secret-to-new-hosts. Give it again with --client-secret-file.",
    ]
    assert kinds(ctx, billing.id) == set()
    assert ctx.store.get("Billing SSO").token_url == f"{B}/token"
    assert ctx.store.get("Billing SSO").has_client_secret is False


def test_edit_keeps_the_secret_for_the_new_host_only_with_the_option(run, ctx, billing):
    code, out, err = run("edit", "Billing SSO", "--token-url", f"{B}/token", "--refresh-url", f"{B}/token",
                         "--send-client-secret-to-new-hosts")
    assert code == 0, err
    assert out.splitlines()[-1] == f"The stored client secret is kept and will be sent to {B}."
    assert kinds(ctx, billing.id) == {CLIENT_SECRET}


def test_edit_with_a_new_secret_stores_it(run, ctx, billing, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("client-secret-B\n")
    code, out, err = run("edit", "Billing SSO", "--token-url", f"{B}/token", "--refresh-url", f"{B}/token",
                         "--client-secret-file", str(secret))
    assert code == 0, err
    assert out.splitlines()[-1] == "The new client secret is stored."
    assert ctx.secrets.get_for(billing.id, CLIENT_SECRET) == "client-secret-B"
    assert kinds(ctx, billing.id) == {CLIENT_SECRET}


def test_edit_without_a_move_keeps_everything(run, ctx, billing):
    code, out, err = run("edit", "Billing SSO", "--scope", "openid offline_access",
                         "--refresh-url", "HTTPS://IDP-A.EXAMPLE:443/v2/token")
    assert (code, out, err) == (0, "Saved 'Billing SSO'.\n", "")
    assert kinds(ctx, billing.id) == {CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN}
    assert ctx.store.get("Billing SSO").scope == "openid offline_access"


def test_edit_refuses_invalid_values_and_changes_nothing(run, ctx, billing):
    code, out, err = run("edit", "Billing SSO", "--token-url", "http://idp-b.example/token")
    assert code == 2 and out == ""
    assert "Token endpoint: must use https" in err
    assert kinds(ctx, billing.id) == {CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN}
    assert ctx.store.get("Billing SSO").token_url == f"{A}/token"


def test_edit_of_an_unknown_name_exits_3(run):
    code, _out, err = run("edit", "Nope", "--scope", "x")
    assert code == 3 and "Nope" in err
