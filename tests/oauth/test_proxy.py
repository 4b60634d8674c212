"""Proxies: one rule for token requests, discovery and web calls (desktop/oauth/proxy.py).

Loopback (127.0.0.0/8, ::1, localhost) never goes through a proxy - a token request to a provider on this
machine carries the client secret and the refresh token; everything else follows the environment
(HTTPS_PROXY / HTTP_PROXY / ALL_PROXY) and NO_PROXY; ``tokendesk doctor`` says what is in effect.
The proxy in these tests is real: a recording HTTP proxy on loopback (tests/servers/proxy.py).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from desktop.models.config import AUTHORIZATION_CODE, TOKEN_BY_AUTHORIZATION_CODE, TOKEN_BY_REFRESH_TOKEN
from desktop.models.token import utcnow
from desktop.oauth.errors import NetworkError
from desktop.oauth.tokens import TokenService
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN
from tests.oauth.conftest import follow_to_redirect
from tests.servers.proxy import RecordingProxy

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                   "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def clean_env(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def proxy(clean_env) -> Iterator[RecordingProxy]:
    """A recording proxy named in every proxy variable (upper and lower case), NO_PROXY unset."""
    with RecordingProxy() as running:
        for name in PROXY_VARIABLES:
            if "no_proxy" not in name.lower():
                clean_env.setenv(name, running.url)
        yield running


class _Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"authorization": self.headers.get("Authorization", "")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_api() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# ---- the rule
@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/token", "http://127.3.2.1/x", "http://[::1]:9/token",
                                 "https://localhost/token", "http://LOCALHOST:1/"])
def test_loopback_never_goes_through_a_proxy(clean_env, url):
    from desktop.oauth.proxy import choose

    clean_env.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    clean_env.setenv("HTTP_PROXY", "http://proxy.example:3128")
    clean_env.setenv("ALL_PROXY", "http://proxy.example:3128")
    choice = choose(url)
    assert choice.url is None and choice.source == "loopback"


def test_the_environment_and_no_proxy_decide_everything_else(clean_env):
    from desktop.oauth.proxy import choose, proxy_for

    assert proxy_for("https://login.example.com/token") is None  # nothing set: direct
    clean_env.setenv("ALL_PROXY", "socks5://all.example:1080")
    assert choose("https://login.example.com/token").source == "ALL_PROXY"
    clean_env.setenv("HTTPS_PROXY", "proxy.example:3128")  # no scheme: http://, as curl reads it
    choice = choose("https://login.example.com/token")
    assert choice.url == "http://proxy.example:3128" and choice.source == "HTTPS_PROXY"
    clean_env.setenv("https_proxy", "http://lower.example:8080")  # lower case wins, as in curl and urllib
    assert proxy_for("https://login.example.com/token") == "http://lower.example:8080"
    assert proxy_for("http://intranet.example.com/") == "socks5://all.example:1080"  # no HTTP_PROXY: ALL_PROXY
    clean_env.setenv("NO_PROXY", "example.org, .corp.example ,10.0.0.0/8,[2001:db8::1],api.example.net:8443")
    assert proxy_for("https://example.org/token") is None
    assert proxy_for("https://login.example.org/token") is None  # a name covers its subdomains
    assert proxy_for("https://notexample.org/token") is not None
    assert proxy_for("https://corp.example/token") is None and proxy_for("https://a.b.corp.example/") is None
    assert proxy_for("https://10.1.2.3/token") is None and proxy_for("https://11.0.0.1/token") is not None
    assert proxy_for("https://[2001:db8::1]:8443/token") is None
    assert proxy_for("https://api.example.net:8443/x") is None and proxy_for("https://api.example.net/x") is not None
    assert choose("https://example.org/token").source == "NO_PROXY"
    clean_env.setenv("no_proxy", "*")
    assert proxy_for("https://anything.example/token") is None


def test_a_token_request_to_the_outside_goes_through_the_proxy_and_no_proxy_sends_it_direct(ctx, make_config,
                                                                                              proxy, clean_env):
    """A provider elsewhere is reached through the proxy (CONNECT: the secret stays inside TLS); NO_PROXY
    naming it sends it direct (here that fails: .test names do not resolve), and nothing reaches the proxy."""
    cfg = make_config("Outside", template="Generic OAuth2", **{
        AUTHORIZATION_CODE: "https://idp.example.test/auth",
        TOKEN_BY_AUTHORIZATION_CODE: "https://idp.example.test/token",
        TOKEN_BY_REFRESH_TOKEN: "https://idp.example.test/token"})
    ctx.secrets.set_for(cfg.id, REFRESH_TOKEN, "refresh-outside-1234")
    ctx.store.update_state(cfg.id, has_refresh_token=True)
    ctx.store.set_setting("network.timeout_seconds", 5)
    service = TokenService(ctx, max_attempts=1)
    with pytest.raises(NetworkError):
        service.refresh(cfg.name)  # the recording proxy cannot reach idp.example.test: 502
    assert proxy.targets() == ["CONNECT idp.example.test:443"]
    clean_env.setenv("NO_PROXY", "example.test")
    with pytest.raises(NetworkError):
        service.refresh(cfg.name)
    assert proxy.targets() == ["CONNECT idp.example.test:443"]


def test_an_unusable_proxy_is_named_without_its_password(ctx, make_config, clean_env):
    from desktop.usage.invoke import invoke
    from desktop.usage.invokers import WebInvoker

    clean_env.setenv("HTTPS_PROXY", "ftp://bob:hunter2@proxy.example:21")
    cfg = make_config("Outside", template="Generic OAuth2", **{
        AUTHORIZATION_CODE: "https://idp.example.test/auth", TOKEN_BY_AUTHORIZATION_CODE: "https://idp.example.test/t",
        TOKEN_BY_REFRESH_TOKEN: "https://idp.example.test/t"})
    ctx.secrets.set_for(cfg.id, REFRESH_TOKEN, "refresh-outside-1234")
    ctx.store.update_state(cfg.id, has_refresh_token=True)
    with pytest.raises(NetworkError) as info:
        TokenService(ctx, max_attempts=1).refresh(cfg.name)
    assert "The proxy ftp://bob:***@proxy.example:21 (HTTPS_PROXY) cannot be used" in str(info.value)
    assert "NO_PROXY" in info.value.hint and "hunter2" not in str(info.value) + info.value.hint
    assert "hunter2" not in (ctx.store.get_state(cfg.id).error_description or "")
    result = invoke(WebInvoker(name="Outside API", url="https://api.example.test/v1"), lambda: "t", timeout=5)
    assert not result.ok and "ftp://bob:***@proxy.example:21" in result.summary and "hunter2" not in result.text()


def test_a_web_call_to_this_machine_never_goes_through_the_proxy(proxy, local_api):
    from desktop.usage.invoke import invoke
    from desktop.usage.invokers import WebInvoker

    result = invoke(WebInvoker(name="Local API", url=f"{local_api}/api"), lambda: "web-token-5678", timeout=5)
    assert result.ok and result.status == 200, result.summary
    assert proxy.seen == [], f"the proxy carried {proxy.seen}"


def test_a_web_call_to_the_outside_goes_through_the_proxy(proxy):
    from desktop.usage.invoke import invoke
    from desktop.usage.invokers import WebInvoker

    result = invoke(WebInvoker(name="Outside API", url="https://api.example.test/v1"), lambda: "web-token", timeout=5)
    assert not result.ok
    assert proxy.targets() == ["CONNECT api.example.test:443"]


def test_doctor_names_the_proxy_in_effect_without_its_password(ctx, clean_env):
    from desktop.cli.system_commands import doctor_report

    line = next(c for c in doctor_report(ctx) if c["check"] == "proxy")
    assert line["ok"] and line["detail"].startswith("https: direct (no HTTPS_PROXY or ALL_PROXY set)")
    assert "loopback (127.0.0.0/8, ::1, localhost) never goes through a proxy" in line["detail"]
    clean_env.setenv("HTTPS_PROXY", "http://alice:pa55word@proxy.example:3128")
    clean_env.setenv("NO_PROXY", "intranet.example")
    detail = next(c for c in doctor_report(ctx) if c["check"] == "proxy")["detail"]
    assert detail.startswith("https: through http://alice:***@proxy.example:3128 (HTTPS_PROXY)")
    assert "NO_PROXY: intranet.example" in detail and "pa55word" not in detail


# ---- the real server on loopback, with every proxy variable set
@pytest.mark.realserver
def test_token_requests_to_a_provider_on_this_machine_never_go_through_the_proxy(ctx, oauth, server_config, proxy,
                                                                                  monkeypatch):
    from desktop.oauth.discovery import discover

    cfg = server_config()
    service = TokenService(ctx)
    request = service.begin_authorization(cfg.name)
    with monkeypatch.context() as browser_env:  # the browser's part (urllib here) is not Tokendesk's to decide
        for name in PROXY_VARIABLES:
            browser_env.delenv(name, raising=False)
        callback = follow_to_redirect(request.url)
    state = service.complete_authorization(request, callback)  # code exchange
    assert state.has_access_token
    ctx.store.update_state(cfg.id, token_expires_at=utcnow() - timedelta(seconds=5))
    TokenService(ctx).access_token(cfg.name)  # refresh
    assert oauth.counters["refresh_token"] == 1
    assert discover(oauth.issuer, 5).token_endpoint == oauth.token_endpoint
    TokenService(ctx).revoke(cfg.name)
    assert oauth.counters["revoke"] >= 1
    leaked = [e for e in proxy.seen if oauth.client_secret in e["body"] or "refresh_token" in e["body"]]
    assert proxy.seen == [], f"through the proxy: {proxy.targets()}; with the secret or refresh token: {len(leaked)}"
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) is None
