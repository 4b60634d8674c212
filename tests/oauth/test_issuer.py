"""Mix-up defence and discovery (RFC 9207, RFC 8414 3.3, OpenID Connect Discovery 4.3).

Discovery follows no redirects and takes a document only when its ``issuer`` is the issuer asked for; it keeps
the issuer and whether the provider puts ``iss`` on its authorization responses on the configuration
(``Config.Tokendesk.Issuer`` / ``IssParameterSupported``). A sign-in answer whose ``iss`` is another issuer - or
that lacks ``iss`` where the provider promised it - is refused before the code is used, and nothing is stored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import PySide6.QtWebEngineWidgets  # noqa: F401 - QtWebEngine before the QApplication exists
import pytest

from desktop.models.status import token_status
from desktop.models.token import utcnow
from desktop.oauth.discovery import DiscoveryError, discover
from desktop.oauth.errors import IssuerMismatch, ProviderError, StateMismatch
from desktop.oauth.flow import AuthorizationRequest, parse_callback
from desktop.oauth.tokens import TokenService
from desktop.store.secrets import ACCESS_TOKEN
from tests.oauth.conftest import follow_to_redirect, screenshot_path
from tests.support.window import window_features

ISSUER = "https://idp.example.org/realms/main"


def request_for(cfg, state: str = "s-123") -> AuthorizationRequest:
    return AuthorizationRequest(config_id=cfg.id, config_name=cfg.name, url="", redirect_uri="http://127.0.0.1/cb",
                                state=state, code_verifier=None)


def callback(**params: str) -> str:
    return "http://127.0.0.1/cb?" + urlencode({"state": "s-123", **params})


def with_param(url: str, name: str, value: str | None) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    if value is not None:
        query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
def oidc_config(ctx, make_config):
    made = []

    def factory(issuer: str | None = ISSUER, supported: bool = False):
        made.append(1)
        cfg = make_config(f"OIDC {len(made)}", template="Generic OpenID Connect", **{
            "AuthorizationCode": f"{ISSUER}/auth", "TokenByAuthorizationCode": f"{ISSUER}/token",
            "TokenByRefreshToken": f"{ISSUER}/token"})
        cfg.issuer = issuer or ""
        cfg.iss_parameter_supported = supported
        return ctx.configurations.update(cfg)

    return factory


# ---- RFC 9207 on the authorization response
def test_the_right_iss_is_taken_and_another_is_refused(ctx, oidc_config):
    cfg = oidc_config(supported=True)
    assert parse_callback(cfg, request_for(cfg), callback(code="c1", iss=ISSUER)).code == "c1"
    request = request_for(cfg)
    with pytest.raises(IssuerMismatch) as info:
        parse_callback(cfg, request, callback(code="c2", iss="https://attacker.example"))
    assert isinstance(info.value, StateMismatch) and request.used  # single use: the code is not tried later
    assert "https://attacker.example" in str(info.value) and ISSUER in str(info.value)
    assert "nothing was stored" in str(info.value) and "Discover" in info.value.hint


def test_an_error_answer_from_another_issuer_is_refused_as_a_mix_up(ctx, oidc_config):
    cfg = oidc_config(supported=True)
    with pytest.raises(IssuerMismatch):
        parse_callback(cfg, request_for(cfg), callback(error="access_denied", iss="https://attacker.example"))
    with pytest.raises(ProviderError) as info:  # from the right issuer it is the provider's own error
        parse_callback(cfg, request_for(cfg), callback(error="access_denied", iss=ISSUER))
    assert not isinstance(info.value, IssuerMismatch)


def test_a_missing_iss_is_refused_only_where_the_provider_promised_it(ctx, oidc_config):
    promised = oidc_config(supported=True)
    with pytest.raises(IssuerMismatch) as info:
        parse_callback(promised, request_for(promised), callback(code="c"))
    assert "without the iss parameter" in str(info.value)
    silent = oidc_config(supported=False)
    assert parse_callback(silent, request_for(silent), callback(code="c")).code == "c"
    # iss present where discovery said nothing about it: still compared (RFC 9207 2.4)
    with pytest.raises(IssuerMismatch):
        parse_callback(silent, request_for(silent), callback(code="c", iss="https://other.example"))
    unknown = oidc_config(issuer=None)  # no issuer known (no discovery): nothing to compare with
    assert parse_callback(unknown, request_for(unknown), callback(code="c", iss="https://any.example")).code == "c"


def test_a_refused_mix_up_stores_nothing_and_shows_on_the_row(ctx, oidc_config):
    cfg = oidc_config(supported=True)
    service = TokenService(ctx)
    request = service.begin_authorization(cfg.name, redirect_uri="http://127.0.0.1:8765/cb")
    url = f"http://127.0.0.1:8765/cb?code=c&state={request.state}&iss=https%3A%2F%2Fattacker.example"
    with pytest.raises(IssuerMismatch):
        service.complete_authorization(request, url)
    state = ctx.store.get_state(cfg.id)
    assert not state.has_access_token and ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) is None
    assert state.error_message == "issuer_mismatch"
    assert token_status(state, utcnow()).text.startswith("last request failed: issuer_mismatch: ")


# ---- discovery
class _Docs(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict | None, dict]] = {}
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append(self.path)
        status, doc, headers = self.routes.get(self.path, (404, None, {}))
        body = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def docs(monkeypatch) -> Iterator[tuple[str, dict, list]]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    handler = type("Handler", (_Docs,), {"routes": {}, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.routes, handler.seen
    server.shutdown()
    server.server_close()


def document(issuer: str, **extra) -> dict:
    return {"issuer": issuer, "authorization_endpoint": f"{issuer}/auth", "token_endpoint": f"{issuer}/token",
            **extra}


def test_discovery_follows_no_redirect(docs):
    base, routes, seen = docs
    moved = f"{base}/b/.well-known/openid-configuration"
    routes["/a/.well-known/openid-configuration"] = (302, None, {"Location": moved})
    routes["/b/.well-known/openid-configuration"] = (200, document(f"{base}/b"), {})
    with pytest.raises(DiscoveryError) as info:
        discover(f"{base}/a", 5)
    assert "redirect" in str(info.value) and f"{base}/b/.well-known/openid-configuration" in str(info.value)
    assert "/b/.well-known/openid-configuration" not in seen


def test_discovery_requires_the_document_to_name_the_issuer_asked_for(docs):
    base, routes, _seen = docs
    routes["/a/.well-known/openid-configuration"] = (200, document("https://attacker.example"), {})
    with pytest.raises(DiscoveryError) as info:
        discover(f"{base}/a", 5)
    assert "https://attacker.example" in str(info.value) and f"{base}/a" in str(info.value)
    routes["/c/.well-known/openid-configuration"] = (200, {**document(f"{base}/c"), "issuer": None}, {})
    with pytest.raises(DiscoveryError) as info:
        discover(f"{base}/c", 5)
    assert "no issuer" in str(info.value)
    ms = "https://login.microsoftonline.com/{tenantid}/v2.0"
    routes["/common/v2.0/.well-known/openid-configuration"] = (200, document(ms), {})
    with pytest.raises(DiscoveryError) as info:
        discover(f"{base}/common/v2.0", 5)
    assert "tenant ID" in str(info.value)


def test_discovery_keeps_the_issuer_and_the_iss_promise(docs, ctx, make_config):
    base, routes, _seen = docs
    routes["/r/.well-known/openid-configuration"] = (
        200, document(f"{base}/r", authorization_response_iss_parameter_supported=True), {})
    found = discover(f"{base}/r/", 5)  # a trailing slash typed by the admin is not a different issuer
    assert found.issuer == f"{base}/r" and found.iss_parameter_supported is True
    found = discover(f"{base}/r/.well-known/openid-configuration", 5)  # the document's own address
    assert found.issuer == f"{base}/r"
    cfg = ctx.templates.require("Generic OpenID Connect").new_configuration("Keycloak")
    found.record_on(cfg)
    assert cfg.config["Tokendesk"]["Issuer"] == f"{base}/r" and cfg.config["Tokendesk"]["IssParameterSupported"] == 1
    assert cfg.issuer == f"{base}/r" and cfg.iss_parameter_supported
    routes["/q/.well-known/openid-configuration"] = (200, document(f"{base}/q"), {})
    discover(f"{base}/q", 5).record_on(cfg)
    assert cfg.issuer == f"{base}/q" and not cfg.iss_parameter_supported
    assert "IssParameterSupported" not in cfg.config["Tokendesk"]


def test_the_window_keeps_what_discovery_found_with_the_configuration(docs, ctx, qapp, qtbot):
    from desktop.app import Application
    from desktop.ui.tasks import InlineTaskRunner

    base, routes, _seen = docs
    routes["/r/.well-known/openid-configuration"] = (
        200, document(f"{base}/r", authorization_response_iss_parameter_supported=True), {})
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    try:
        template = ctx.templates.require("Generic OpenID Connect")
        dialog = app.features["configurations"].make_token_dialog(template.new_configuration(""), template)
        dialog.issuer_edit.setText(f"{base}/r")
        dialog._on_discover()
        assert dialog.endpoint_edits["TokenByAuthorizationCode"].text() == f"{base}/r/token"
        collected = dialog._collect()
        assert collected.issuer == f"{base}/r" and collected.iss_parameter_supported
    finally:
        app.window.hide()
        app.window.deleteLater()


# ---- the real server with RFC 9207 switched on
@pytest.mark.realserver
def test_real_server_iss_is_checked_after_discovery(ctx, oauth, server_config):
    oauth.configure(iss_parameter=True)
    found = discover(oauth.issuer, 5)
    assert found.iss_parameter_supported and found.issuer == oauth.issuer
    cfg = server_config(template="Generic OpenID Connect")
    found.record_on(cfg)
    cfg = ctx.configurations.update(cfg)
    service = TokenService(ctx)

    request = service.begin_authorization(cfg.name)
    answer = follow_to_redirect(request.url)
    assert dict(parse_qsl(urlsplit(answer).query))["iss"] == oauth.issuer
    assert service.complete_authorization(request, answer).has_access_token

    for forged in (with_param(answer, "iss", "https://attacker.example"), with_param(answer, "iss", None)):
        request = service.begin_authorization(cfg.name)
        answer = follow_to_redirect(request.url)
        forged = with_param(forged, "state", request.state)
        forged = with_param(forged, "code", dict(parse_qsl(urlsplit(answer).query))["code"])
        with pytest.raises(IssuerMismatch):
            service.complete_authorization(request, forged)
    assert oauth.counters["authorization_code"] == 1  # the refused codes never reached the token endpoint


@pytest.mark.realserver
def test_real_server_the_login_window_refuses_an_answer_from_another_issuer(ctx, oauth, server_config, qtbot):
    """The configuration was discovered at https://idp.example.org; the answer comes from the test server (which
    puts its own iss on it): the embedded login says so, and the code is never sent."""
    from desktop.ui.dialogs.login_dialog import LoginDialog

    oauth.configure(iss_parameter=True, login_page=True)
    cfg = server_config("Support mailbox", template="Generic OpenID Connect")
    cfg.issuer, cfg.iss_parameter_supported = "https://idp.example.org", True
    cfg = ctx.configurations.update(cfg)
    dialog = LoginDialog(TokenService(ctx), cfg.name)
    qtbot.addWidget(dialog)
    dialog.resize(760, 560)
    dialog.show()
    qtbot.waitUntil(lambda: dialog._page is not None and "Sign in" in dialog._page.title(), timeout=45000)
    dialog._page.runJavaScript("document.getElementById('signin').click()")
    qtbot.waitUntil(lambda: dialog.panel_visible(), timeout=45000)
    text = dialog.panel.text()
    assert "Sign-in refused" in text
    assert f"came from the issuer {oauth.issuer}, not from https://idp.example.org" in text
    assert "mix-up" in text and "Nothing was stored" in dialog.status.text()
    dialog.grab().save(str(screenshot_path("login_dialog_issuer_mismatch.png")))
    assert oauth.counters["authorization_code"] == 0
    state = ctx.store.get_state(cfg.id)
    assert not state.has_access_token and state.error_message == "issuer_mismatch"
