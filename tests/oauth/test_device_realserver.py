"""Device authorization grant (RFC 8628, issue 12) against npm oidc-provider with the device flow on
(tests/servers/device_server.mjs); the person's side is driven over HTTP as a browser would (tests/servers/device.py):
approve, deny, let the code expire, slow_down. The CLI runs as a real ``tokendesk`` process without a display."""

# ruff: noqa: F811 - the fixtures imported from tests.servers.device are the tests' arguments
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

import pytest

from desktop.models.config import DEVICE_AUTHORIZATION, TOKEN_BY_AUTHORIZATION_CODE, TOKEN_BY_REFRESH_TOKEN
from desktop.oauth.errors import ProviderError
from desktop.oauth.grant_drivers.device import DeviceSignInEnded
from desktop.oauth.tokens import TokenService
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN
from tests.servers.device import DeviceBrowser, device_browser, device_server  # noqa: F401

pytestmark = pytest.mark.realserver


def _config(ctx, server, client_id: str = "device-app", name: str = "Device mailbox"):
    cfg = ctx.templates.require("Generic OAuth2").new_configuration(name)
    cfg.client_id = client_id
    cfg.scope = "openid offline_access mail"
    cfg.set_endpoint(TOKEN_BY_AUTHORIZATION_CODE, server.token_endpoint)
    cfg.set_endpoint(TOKEN_BY_REFRESH_TOKEN, server.token_endpoint)
    cfg.set_endpoint("AuthorizationCode", server.issuer + "/auth")
    cfg.config["Requests"][DEVICE_AUTHORIZATION] = {"Request": {
        "URL": server.device_endpoint, "Parameters": {},
        "AutofilledParametersMapping": {"client_id": "ClientID", "scope": "Scope"}}}
    from desktop.services import ConfigurationService

    return ConfigurationService(ctx).add(cfg, client_secret=None)


def _in_background(fn):
    box: dict = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_approved_at_the_verification_page_stores_a_token_that_refreshes(ctx, device_server, device_browser):
    cfg = _config(ctx, device_server)
    service = TokenService(ctx)
    auth = service.start_device_authorization(cfg.name)
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", auth.user_code)
    assert auth.verification_uri == device_server.issuer + "/device"
    assert auth.verification_uri_complete.endswith("user_code=" + auth.user_code)
    assert "device_code" not in repr(auth) and auth.device_code not in repr(auth)
    assert service.poll_device(auth) is None  # authorization_pending: not a failure
    assert ctx.store.get_state(cfg.id).error_message is None
    auth.interval = 5.5  # polled again sooner than 5 s, the server answers slow_down (tested below)
    thread, box = _in_background(lambda: service.wait_for_device(auth))
    page = device_browser.approve(auth.verification_uri, auth.user_code)
    assert "Sign-in Success" in page
    thread.join(30)
    assert "error" not in box, box.get("error")
    state = box["result"]
    assert state.has_access_token and state.has_refresh_token
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    old_refresh = ctx.secrets.get_for(cfg.id, REFRESH_TOKEN)
    refreshed = service.refresh(cfg.name)  # then refresh as usual, at the token endpoint
    assert refreshed.last_refreshed_at is not None
    assert ctx.secrets.get_for(cfg.id, REFRESH_TOKEN) != old_refresh  # oidc-provider rotates refresh tokens


def test_denied_at_the_verification_page_ends_the_sign_in_and_says_so(ctx, device_server, device_browser):
    cfg = _config(ctx, device_server)
    service = TokenService(ctx)
    auth = service.start_device_authorization(cfg.name)
    device_browser.deny(auth.verification_uri, auth.user_code)
    with pytest.raises(DeviceSignInEnded) as caught:
        service.poll_device(auth)
    assert str(caught.value) == "The sign-in was refused at the provider's page (access denied); nothing was stored."
    assert "allow access" in caught.value.hint
    state = ctx.store.get_state(cfg.id)
    assert state.error_message == "access_denied" and not state.has_access_token


def test_a_code_left_alone_expires(ctx, device_server):
    cfg = _config(ctx, device_server, client_id="device-short")  # its device codes live 3 s
    service = TokenService(ctx)
    auth = service.start_device_authorization(cfg.name)
    time.sleep(4)
    with pytest.raises(DeviceSignInEnded) as caught:
        service.poll_device(auth)
    assert caught.value.error == "expired_token"
    assert str(caught.value) == "The code expired before the sign-in was finished; nothing was stored."
    assert ctx.store.get_state(cfg.id).error_message == "expired_token"


def test_polling_too_fast_gets_slow_down_and_the_interval_grows(ctx, device_server):
    cfg = _config(ctx, device_server)
    service = TokenService(ctx)
    auth = service.start_device_authorization(cfg.name)
    first = auth.interval
    assert service.poll_device(auth) is None
    assert service.poll_device(auth) is None  # at once: oidc-provider answers slow_down
    assert auth.slow_downs >= 1
    assert auth.interval == first + 5 * auth.slow_downs
    assert ctx.store.get_state(cfg.id).error_message is None


def test_cli_device_prints_address_and_code_then_stores_the_token(ctx, device_server, tmp_path, shared_keyring):
    cfg = _config(ctx, device_server)
    env = dict(os.environ, **shared_keyring[1])
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen([sys.executable, "-m", "desktop", "authorize", cfg.name, "--device"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    lines = []
    while not any("enter the code" in line for line in lines):
        line = proc.stderr.readline()
        assert line, "".join(lines)
        lines.append(line)
    text = "".join(lines)
    uri = re.search(r"open (http\S+)", text).group(1)
    code = re.search(r"enter the code: (\S+)", text).group(1)
    browser = DeviceBrowser()
    try:
        browser.approve(uri, code)
    finally:
        browser.close()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"Token stored for '{cfg.name}'" in out
    assert "sys.modules" not in err
    assert ctx.store.get_state(cfg.id).has_refresh_token


def test_cli_device_denied_exits_4_and_no_qt(ctx, device_server, shared_keyring):
    cfg = _config(ctx, device_server)
    env = dict(os.environ, **shared_keyring[1])
    env.pop("DISPLAY", None)
    code = (f"import sys, runpy; sys.argv=['tokendesk','authorize',{cfg.name!r},'--device']\n"
            "try:\n    runpy.run_module('desktop', run_name='__main__')\n"
            "finally:\n"
            "    print('QT' if any(m.startswith('PySide6') for m in sys.modules) else 'NOQT', file=sys.stderr)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    lines = []
    while not any("enter the code" in line for line in lines):
        line = proc.stderr.readline()
        assert line, "".join(lines)
        lines.append(line)
    text = "".join(lines)
    browser = DeviceBrowser()
    try:
        browser.deny(re.search(r"open (http\S+)", text).group(1), re.search(r"enter the code: (\S+)", text).group(1))
    finally:
        browser.close()
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert "access denied" in err and "NOQT" in err


def test_device_authorization_refused_for_an_unknown_client_exits_5(ctx, device_server, capsys):
    from desktop.cli import main

    cfg = _config(ctx, device_server, client_id="nobody")
    with pytest.raises(ProviderError):
        TokenService(ctx).start_device_authorization(cfg.name)
    assert main(["authorize", cfg.name, "--device"], context_factory=lambda: ctx) == 5
    err = capsys.readouterr().err
    assert "The provider refused the device authorization: client authentication failed" in err
    assert "Check both in Edit" in err  # the invalid_client hint


def test_discovery_fills_the_device_block_from_device_authorization_endpoint(ctx, device_server, device_browser):
    from desktop.oauth.discovery import discover

    cfg = ctx.templates.require("Generic OpenID Connect").new_configuration("Discovered")
    cfg.client_id = "device-app"
    cfg.scope = "openid offline_access"
    found = discover(device_server.issuer, timeout=10)
    assert found.device_authorization_endpoint == device_server.device_endpoint
    for key in ("AuthorizationCode", TOKEN_BY_AUTHORIZATION_CODE, TOKEN_BY_REFRESH_TOKEN):
        cfg.set_endpoint(key, found.token_endpoint if key != "AuthorizationCode" else found.authorization_endpoint)
    found.record_on(cfg)
    assert cfg.request(DEVICE_AUTHORIZATION)["Request"] == {
        "URL": device_server.device_endpoint, "Parameters": {},
        # as the template's token request: the secret goes along when the configuration has one (this one has none)
        "AutofilledParametersMapping": {"client_id": "ClientID", "scope": "Scope", "client_secret": "ClientSecret"}}
    from desktop.services import ConfigurationService

    cfg = ConfigurationService(ctx).add(cfg, client_secret=None)
    service = TokenService(ctx)
    auth = service.start_device_authorization(cfg.name)
    device_browser.approve(auth.verification_uri, auth.user_code)
    assert service.poll_device(auth).has_access_token
