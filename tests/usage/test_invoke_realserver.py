"""Web-service invokers against a real HTTP(S) service that checks every bearer token by introspection."""

from __future__ import annotations

import json

import pytest

from desktop.usage.invoke import invoke
from desktop.usage.invokers import PLACEHOLDER, WebInvoker
from desktop.usage.repository import UsageRepository
from desktop.usage.service import UsageService
from tests.servers.dovecot import MAIL_USER

pytestmark = pytest.mark.realserver


def add_invoker(ctx, cfg, url: str, *, name: str = "Ticket API", **changes) -> WebInvoker:
    return UsageRepository(ctx.store).add_invoker(WebInvoker(name=name, url=url, config_id=cfg.id, **changes))


def test_get_shows_status_headers_pretty_json_and_time_with_the_token_redacted(ctx, provider, http_api):
    cfg, pair = provider()
    token = pair["access_token"]
    add_invoker(ctx, cfg, http_api.url("/api/tickets"))
    result = UsageService(ctx).invoke("Ticket API")
    assert result.ok and result.status == 200 and result.reason == "OK"
    assert result.elapsed_seconds > 0
    assert result.summary.startswith("200 OK in ")
    # the service saw the real token (it knew the user) ...
    assert http_api.requests == [("GET", "/api/tickets", MAIL_USER)]
    # ... and echoed it back, but nothing shown contains it
    body = json.loads(result.body)
    assert body["user"] == MAIL_USER and body["authorization_seen"] == "Bearer <redacted access token>"
    assert result.body.startswith('{\n  "user"')  # pretty-printed
    assert ("Authorization", "Bearer <redacted access token>") in result.request_headers
    assert ("content-type", "application/json") in result.response_headers
    shown = result.text() + json.dumps(result.to_dict())
    assert token not in shown and token[-16:] not in shown


def test_post_with_a_json_body(ctx, provider, http_api):
    cfg, _ = provider()
    add_invoker(ctx, cfg, http_api.url("/api/tickets"), method="POST", body='{"title": "New ticket", "queue": 3}',
                headers=[("Authorization", f"Bearer {PLACEHOLDER}"), ("X-Request-Source", "tokendesk")])
    result = UsageService(ctx).invoke("Ticket API")
    assert result.status == 201 and result.ok
    assert json.loads(result.body)["created"] == {"title": "New ticket", "queue": 3}
    assert ("Content-Type", "application/json") in result.request_headers
    assert ("location", "/api/tickets/1003") in result.response_headers


def test_text_bodies_are_shown_as_they_are(ctx, provider, http_api):
    cfg, _ = provider()
    add_invoker(ctx, cfg, http_api.url("/api/plain"))
    result = UsageService(ctx).invoke("Ticket API")
    assert result.body == f"hello {MAIL_USER}\n"


def test_a_revoked_token_gets_401_and_a_hint(ctx, provider, http_api, oauth):
    cfg, pair = provider()
    oauth.revoke_token(pair["access_token"])
    add_invoker(ctx, cfg, http_api.url("/api/tickets"))
    result = UsageService(ctx).invoke("Ticket API")
    assert not result.ok and result.status == 401
    assert ("www-authenticate", 'Bearer error="invalid_token"') in result.response_headers
    assert "did not accept the token" in result.hint
    assert json.loads(result.body)["error"] == "invalid_token"


def test_a_token_in_a_custom_header_is_sent_there(ctx, provider, http_api):
    cfg, _ = provider()
    # the service wants "Authorization: Bearer"; a custom header alone is not enough for it
    add_invoker(ctx, cfg, http_api.url("/api/tickets"), headers=[("X-Api-Token", PLACEHOLDER)])
    result = UsageService(ctx).invoke("Ticket API")
    assert result.status == 401
    assert ("X-Api-Token", "<redacted access token>") in result.request_headers


def test_redirects_are_shown_not_followed(ctx, provider, http_api):
    cfg, _ = provider()
    add_invoker(ctx, cfg, http_api.url("/api/redirect"))
    result = UsageService(ctx).invoke("Ticket API")
    assert result.status == 302 and result.ok
    assert "http://127.0.0.2:9/elsewhere" in result.hint
    assert len(http_api.requests) == 1


def test_https_with_the_ca_file(ctx, provider, https_api):
    cfg, pair = provider()
    add_invoker(ctx, cfg, https_api.url("/api/tickets"), ca_file=str(https_api.ca_file))
    result = UsageService(ctx).invoke("Ticket API")
    assert result.status == 200, result.summary
    assert pair["access_token"] not in result.text()


def test_https_without_the_ca_file_is_refused_and_the_token_never_sent(ctx, provider, https_api):
    cfg, _ = provider()
    add_invoker(ctx, cfg, https_api.url("/api/tickets"))
    result = UsageService(ctx).invoke("Ticket API")
    assert not result.ok and result.status is None
    assert "is not trusted" in result.summary and "CA file" in result.hint
    assert https_api.requests == []


def test_the_stored_token_is_refreshed_when_it_expired(ctx, provider, http_api, oauth):
    cfg, pair = provider(expires_in=-5)
    oauth.expire_token(pair["access_token"])
    add_invoker(ctx, cfg, http_api.url("/api/tickets"))
    result = UsageService(ctx).invoke("Ticket API")
    assert result.status == 200
    assert pair["access_token"] not in result.text()


def test_no_token_no_request(ctx, provider, http_api, oauth):
    cfg, pair = provider(expires_in=-5)
    oauth.revoke_token(pair["refresh_token"])
    add_invoker(ctx, cfg, http_api.url("/api/tickets"))
    result = UsageService(ctx).invoke("Ticket API")
    assert not result.ok and result.token_problem == "reauth"
    assert "Request a new token" in result.hint
    assert http_api.requests == []


def test_timeouts_come_from_the_setting(ctx, provider):
    """A service that accepts the connection but never answers: the invoker gives up after the time-out."""
    import socket
    import time

    cfg, _ = provider()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        inv = WebInvoker(name="Silent", url=f"http://127.0.0.1:{listener.getsockname()[1]}/x", config_name=cfg.name)
        started = time.monotonic()
        result = invoke(inv, lambda: "tok-123456", timeout=1)
        assert time.monotonic() - started < 5
        assert not result.ok and "within 1 seconds" in result.summary
    finally:
        listener.close()


def test_a_service_echoing_the_token_wrapped_encoded_and_cut_short_shows_none_of_it(ctx, provider, http_api):
    from tests.usage.test_redact import leaks

    cfg, pair = provider()
    token = pair["access_token"]
    add_invoker(ctx, cfg, http_api.url("/api/echo-forms"), name="Echo")
    result = UsageService(ctx).invoke("Echo")
    assert result.ok and result.status == 200
    assert http_api.requests == [("GET", "/api/echo-forms", MAIL_USER)]  # the service had the real token
    assert ("x-token-start", "<redacted access token>") in result.response_headers
    assert result.body.startswith("Your token, base64:\r\n<redacted access token>\r\n<redacted access token>")
    assert "cut short: <redacted access token>..." in result.body
    shown = result.text() + json.dumps(result.to_dict())
    assert leaks(shown, token) == []
    assert leaks(json.loads(json.dumps(result.to_dict()))["body"], token) == []
