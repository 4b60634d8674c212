"""Token answers are checked before anything is stored (desktop/oauth/mapping.py ``token_response_problem``).

An answer with an unusable lifetime (1e12 s, NaN, infinity, 0 or below, not a number), a token type other than
Bearer, no access token, or tokens that are not text is refused: exit 5, the provider's answer explained, the
stored token kept, the error on the row in Znuny's form. ``--format json`` reports the token type the provider
gave. Property tests: any answer either stores a usable token or is refused with a TokenError, quickly.
"""

from __future__ import annotations

import json
import math
import time
from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.cli import main
from desktop.cli.common import EXIT_NETWORK
from desktop.models.config import AUTHORIZATION_CODE, TOKEN_BY_AUTHORIZATION_CODE, TOKEN_BY_REFRESH_TOKEN
from desktop.models.status import token_status
from desktop.models.token import utcnow
from desktop.oauth import http
from desktop.oauth.errors import ProviderError, TokenError
from desktop.oauth.mapping import (
    DEFAULT_TOKEN_MAPPING,
    MAX_REFRESH_TOKEN_LIFETIME,
    MAX_TOKEN_LIFETIME,
    map_response,
    token_response_problem,
)
from desktop.oauth.tokens import TokenService
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN
from tests.support.window import window_features

OLD_ACCESS = "old-access-token-1234"
OLD_REFRESH = "old-refresh-token-5678"


@pytest.fixture
def stored(ctx, make_config):
    """A configuration with a stored, still valid token and a refresh token."""
    cfg = make_config("Provider", template="Generic OAuth2", **{
        AUTHORIZATION_CODE: "https://idp.example.org/auth",
        TOKEN_BY_AUTHORIZATION_CODE: "https://idp.example.org/token",
        TOKEN_BY_REFRESH_TOKEN: "https://idp.example.org/token"})
    reset(ctx, cfg)
    return cfg


def reset(ctx, cfg) -> None:
    with ctx.store.transaction():
        ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, OLD_ACCESS)
        ctx.secrets.set_for(cfg.id, REFRESH_TOKEN, OLD_REFRESH)
        ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True,
                               token_expires_at=utcnow() + timedelta(minutes=30), reauthorization_needed=False,
                               error_message=None, error_description=None, error_code=None,
                               token_info={"token_type": "Bearer", "account": "old@example.org"})


@pytest.fixture
def answer(monkeypatch):
    """answer(payload[, status]): what the token endpoint says next (a dict, or raw JSON text)."""

    def set_answer(payload, status: int = 200) -> None:
        body = payload if isinstance(payload, str) else json.dumps(payload)

        def post_form(url, params, *, timeout, basic=None):
            return http._answer(httpx.Response(status, content=body.encode(), headers={
                "Content-Type": "application/json"}))

        monkeypatch.setattr(http, "post_form", post_form)

    return set_answer


GOOD = {"access_token": "new-access-token-9999", "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": "new-refresh-token-0000"}

UNUSABLE = [
    pytest.param({"expires_in": 1e12}, "expires_in is 1000000000000 seconds; Tokendesk accepts at most 365 days",
                 id="expires_in-1e12"),
    pytest.param('{"access_token": "new-access-token-9999", "token_type": "Bearer", "expires_in": NaN}',
                 "expires_in is NaN, not a number of seconds", id="expires_in-NaN-literal"),
    pytest.param({"expires_in": "NaN"}, "expires_in is 'NaN', not a number of seconds", id="expires_in-NaN-text"),
    pytest.param({"expires_in": "Infinity"}, "expires_in is 'Infinity', not a number of seconds", id="expires_in-inf"),
    pytest.param('{"access_token": "new-access-token-9999", "token_type": "Bearer", "expires_in": 1e400}',
                 "expires_in is Infinity, not a number of seconds", id="expires_in-1e400"),
    pytest.param({"expires_in": 10 ** 400}, "expires_in is 1000000000", id="expires_in-huge-int"),
    pytest.param({"expires_in": 0}, "expires_in is 0: the token would have expired on arrival", id="expires_in-0"),
    pytest.param({"expires_in": -60}, "expires_in is -60: the token would have expired on arrival",
                 id="expires_in-negative"),
    pytest.param({"expires_in": "soon"}, "expires_in is 'soon', not a number of seconds", id="expires_in-text"),
    pytest.param({"expires_in": [3600]}, "expires_in is a list, not a number of seconds", id="expires_in-list"),
    pytest.param({"expires_in": True}, "expires_in is true, not a number of seconds", id="expires_in-bool"),
    pytest.param({"refresh_token_expires_in": 1e12},
                 "refresh_token_expires_in is 1000000000000 seconds; Tokendesk accepts at most 3650 days",
                 id="refresh-expiry-1e12"),
    pytest.param({"refresh_token_expires_in": -1}, "refresh_token_expires_in is -1", id="refresh-expiry-negative"),
    pytest.param({"token_type": "mac"}, "token_type is 'mac'; Tokendesk can use only Bearer tokens", id="mac"),
    pytest.param({"token_type": "DPoP"}, "token_type is 'DPoP'; Tokendesk can use only Bearer tokens", id="dpop"),
    pytest.param({"token_type": 7}, "token_type is 7; Tokendesk can use only Bearer tokens", id="type-number"),
    pytest.param({"access_token": None}, "it has no access_token", id="access-null"),
    pytest.param({"access_token": ""}, "it has no access_token", id="access-empty"),
    pytest.param({"access_token": {"value": "x"}}, "access_token is an object, not text", id="access-object"),
    pytest.param({"access_token": ["a", "b"]}, "access_token is a list, not text", id="access-list"),
    pytest.param({"access_token": 12345}, "access_token is a number, not text", id="access-number"),
    pytest.param({"access_token": "abc\r\nX-Injected: 1"},
                 "access_token has characters a bearer token cannot have", id="access-crlf"),
    pytest.param({"access_token": "t\u00f6ken"}, "access_token has characters a bearer token cannot have",
                 id="access-non-ascii"),
    pytest.param({"access_token": "a" * 70000}, "access_token is 70000 characters long; Tokendesk accepts at most",
                 id="access-too-long"),
    pytest.param({"refresh_token": {"x": 1}}, "refresh_token is an object, not text", id="refresh-object"),
    pytest.param({"refresh_token": "r\x00r"}, "refresh_token has characters a refresh token cannot have",
                 id="refresh-nul"),
]


@pytest.mark.parametrize(("change", "problem"), UNUSABLE)
def test_an_unusable_answer_is_refused_and_the_stored_token_kept(ctx, stored, answer, change, problem):
    answer(change if isinstance(change, str) else {k: v for k, v in {**GOOD, **change}.items() if v is not None
                                                   or k != "access_token"})
    before = ctx.store.get_state(stored.id)
    with pytest.raises(ProviderError) as info:
        TokenService(ctx).refresh(stored.name)
    assert problem in str(info.value), str(info.value)
    assert str(info.value).startswith("idp.example.org's answer cannot be used: ")
    assert "Nothing was stored" in info.value.hint and "token endpoint" in info.value.hint
    assert ctx.secrets.get_for(stored.id, ACCESS_TOKEN) == OLD_ACCESS
    assert ctx.secrets.get_for(stored.id, REFRESH_TOKEN) == OLD_REFRESH
    state = ctx.store.get_state(stored.id)
    assert state.token_expires_at == before.token_expires_at and state.token_info == before.token_info
    assert state.error_message == "invalid_response" and problem in state.error_description
    row = token_status(state, utcnow()).text
    assert row.startswith("last request failed: invalid_response: ") and problem in row
    assert "new-access-token" not in state.error_description and "new-refresh" not in state.error_description


@pytest.mark.parametrize("change", [
    {"token_type": "bearer"}, {"token_type": "BEARER"}, {"token_type": None}, {"expires_in": "3599"},
    {"expires_in": 365 * 24 * 3600}, {"expires_in": 59.5}, {"expires_in": None}, {"refresh_token_expires_in": 7776000},
])
def test_usable_answers_are_stored(ctx, stored, answer, change):
    payload = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    answer(payload)
    state = TokenService(ctx).refresh(stored.name)
    assert ctx.secrets.get_for(stored.id, ACCESS_TOKEN) == GOOD["access_token"] and not state.has_error
    if "expires_in" in payload:
        assert state.token_expires_at - utcnow() <= MAX_TOKEN_LIFETIME
    assert state.token_info.get("token_type") == payload.get("token_type")


def test_the_command_line_exits_5_and_explains(ctx, stored, answer, capsys):
    answer({**GOOD, "expires_in": 1e12})
    code = main(["refresh", stored.name], context_factory=lambda: ctx)
    err = capsys.readouterr().err
    assert code == EXIT_NETWORK
    assert "idp.example.org's answer cannot be used: expires_in is 1000000000000 seconds" in err
    assert "Nothing was stored" in err
    ctx.store.update_state(stored.id, token_expires_at=utcnow() - timedelta(seconds=1))
    answer({**GOOD, "token_type": "mac"})
    code = main(["token", stored.name], context_factory=lambda: ctx)
    out, err = capsys.readouterr()
    assert code == EXIT_NETWORK and out == "" and "token_type is 'mac'" in err


def test_json_reports_the_token_type_the_provider_gave(ctx, stored, answer, capsys):
    answer({**GOOD, "token_type": "bearer"})
    TokenService(ctx).refresh(stored.name)
    assert main(["token", stored.name, "--format", "json"], context_factory=lambda: ctx) == 0
    assert json.loads(capsys.readouterr().out)["token_type"] == "bearer"
    answer({k: v for k, v in GOOD.items() if k != "token_type"})  # not stated: Bearer, the only kind accepted
    TokenService(ctx).refresh(stored.name)
    assert main(["token", stored.name, "--format", "json"], context_factory=lambda: ctx) == 0
    assert json.loads(capsys.readouterr().out)["token_type"] == "Bearer"


def test_the_window_reports_the_stored_token_type_too(ctx, stored):
    from desktop import agent
    from desktop.cli.via_window import format_token

    ctx.store.update_state(stored.id, token_info={"token_type": "bearer"})
    reply = agent.TokenAgent(ctx, program_for=lambda pid: "")({"op": "token", "name": stored.name}, 1)
    assert reply["ok"] and reply["token_type"] == "bearer"
    out = format_token("json", stored.name, OLD_ACCESS, expires_at=reply["expires_at"], account=reply["account"],
                       scope=reply["scope"], user=None, token_type=reply["token_type"])
    assert json.loads(out)["token_type"] == "bearer"


# ---- properties: any answer is stored usable or refused with the project's error, quickly
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
    | st.sampled_from(["3600", "NaN", "-1", "1e999", " 60 ", "Bearer", "bearer", "mac", "a\nb", "\u00e9"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["access_token", "token_type", "expires_in", "refresh_token", "refresh_token_expires_in", "scope",
          "id_token", "error", "error_description", "error_codes"]
payloads = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_values, max_size=8)
likely_payloads = st.fixed_dictionaries(
    {"access_token": st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=30)},
    optional={"token_type": json_values | st.sampled_from(["Bearer", "bearer"]), "expires_in": json_values,
              "refresh_token": json_values, "refresh_token_expires_in": json_values})


@settings(max_examples=600, deadline=None)
@given(st.one_of(payloads, likely_payloads))
def test_mapping_any_answer_gives_a_usable_token_or_a_reason(payload):
    now = utcnow()
    started = time.monotonic()
    mapped = map_response(DEFAULT_TOKEN_MAPPING, payload, DEFAULT_TOKEN_MAPPING)
    problem = token_response_problem(mapped, payload)
    assert time.monotonic() - started < 0.5
    if problem is not None:
        assert isinstance(problem, str) and problem and len(problem) < 300
        return
    assert isinstance(mapped.token, str) and mapped.token.isascii() and mapped.token.isprintable()
    assert " " not in mapped.token
    token_type = payload.get("token_type")
    assert token_type is None or str(token_type).lower() == "bearer"
    for target, limit in (("TokenExpirationDate", MAX_TOKEN_LIFETIME),
                          ("RefreshTokenExpirationDate", MAX_REFRESH_TOKEN_LIFETIME)):
        when = mapped.expires_at(target, now)
        assert when is None or now < when <= now + limit
        if when is not None:
            assert math.isfinite(mapped.get(target))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(payloads, likely_payloads), status=st.sampled_from([200, 200, 200, 400, 401, 500]))
def test_refresh_with_any_answer_stores_a_usable_token_or_refuses_and_keeps_the_old(ctx, stored, answer, payload,
                                                                                    status):
    reset(ctx, stored)
    try:
        body = json.dumps(payload)
    except ValueError:  # NaN and infinity: Python writes them, as some servers do
        body = json.dumps(payload, allow_nan=True)
    answer(body, status)
    started = time.monotonic()
    try:
        state = TokenService(ctx, max_attempts=1).refresh(stored.name)
    except TokenError as exc:
        assert str(exc) and ctx.store.get_state(stored.id).has_error
        assert ctx.secrets.get_for(stored.id, ACCESS_TOKEN) == OLD_ACCESS
        assert ctx.secrets.get_for(stored.id, REFRESH_TOKEN) == OLD_REFRESH
    else:
        assert status == 200 and not state.has_error
        token = ctx.secrets.get_for(stored.id, ACCESS_TOKEN)
        assert token == payload["access_token"].strip()
        assert state.token_expires_at is None or utcnow() < state.token_expires_at <= utcnow() + MAX_TOKEN_LIFETIME
    assert time.monotonic() - started < 2.0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.sampled_from([b"[" * 100000, b'{"a":' * 50000, b"1e999999", b"\xff\xfe{}"]))
def test_any_body_from_a_token_endpoint_is_read_without_an_exception(body):
    result = http._answer(httpx.Response(200, content=body))
    assert result.payload is None or isinstance(result.payload, dict)


# ---- the real server
@pytest.mark.realserver
@pytest.mark.parametrize(("fault", "problem"), [
    ({"kind": "merge", "fields": {"expires_in": 1e12}}, "expires_in is 1000000000000 seconds"),
    ({"kind": "merge", "fields": {"expires_in": "NaN"}}, "expires_in is 'NaN', not a number of seconds"),
    ({"kind": "merge", "fields": {"expires_in": 0}}, "expires_in is 0"),
    ({"kind": "merge", "fields": {"expires_in": -3600}}, "expires_in is -3600"),
    ({"kind": "merge", "fields": {"token_type": "mac"}}, "token_type is 'mac'"),
    ({"kind": "omit", "fields": ["access_token"]}, "it has no access_token"),
])
def test_real_server_unusable_refresh_answers(ctx, oauth, server_config, sign_in, capsys, fault, problem):
    cfg = server_config()
    sign_in(cfg.name)
    old = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    before = ctx.store.get_state(cfg.id)
    oauth.fault("token", fault.pop("kind"), grant_type="refresh_token", **fault)
    code = main(["refresh", cfg.name], context_factory=lambda: ctx)
    err = capsys.readouterr().err
    assert code == EXIT_NETWORK and problem in err and "Nothing was stored" in err
    assert oauth.counters["refresh_token"] == 1
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) == old
    state = ctx.store.get_state(cfg.id)
    assert state.token_expires_at == before.token_expires_at
    assert problem in token_status(state, utcnow()).text
    assert oauth.introspect(old)["active"] is True  # the kept token still works at the provider


@pytest.mark.realserver
def test_real_server_unusable_exchange_answer_stores_nothing(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    oauth.fault("token", "merge", grant_type="authorization_code", fields={"expires_in": 10 ** 12})
    with pytest.raises(ProviderError) as info:
        sign_in(cfg.name)
    assert "expires_in is 1000000000000 seconds" in str(info.value)
    state = ctx.store.get_state(cfg.id)
    assert not state.has_access_token and ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) is None
    assert state.error_message == "invalid_response"


@pytest.mark.realserver
def test_real_server_json_token_type(ctx, oauth, server_config, sign_in, capsys):
    cfg = server_config()
    oauth.fault("token", "merge", grant_type="authorization_code", fields={"token_type": "bearer"})
    sign_in(cfg.name)
    assert main(["token", cfg.name, "--format", "json"], context_factory=lambda: ctx) == 0
    assert json.loads(capsys.readouterr().out)["token_type"] == "bearer"


def test_the_window_row_shows_the_refused_answer(ctx, stored, answer, qapp, qtbot):
    from PySide6.QtCore import QItemSelectionModel

    from desktop.app import Application
    from desktop.models.token_table_model import COL_TOKEN
    from desktop.ui.tasks import InlineTaskRunner
    from tests.oauth.conftest import screenshot_path

    answer({**GOOD, "expires_in": 1e12})
    with pytest.raises(ProviderError):
        TokenService(ctx).refresh(stored.name)
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    try:
        window = app.window
        window.resize(1100, 560)
        window.show()
        row = window.model.row_of(stored.name)
        text = window.model.data(window.model.index(row, COL_TOKEN))
        assert text.startswith("last request failed: invalid_response: expires_in is 1000000000000 seconds")
        window.table.selectionModel().select(window.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select
                                             | QItemSelectionModel.SelectionFlag.Rows)
        qtbot.wait(100)
        window.grab().save(str(screenshot_path("main_window_unusable_token_answer.png")))
        assert ctx.secrets.get_for(stored.id, ACCESS_TOKEN) == OLD_ACCESS
    finally:
        window.hide()
        window.deleteLater()
