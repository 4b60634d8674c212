"""The OAuth2 test server itself is strict where the suite relies on it (plain HTTP, no Tokendesk code)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.servers.oauth import CLIENT_ID, CLIENT_SECRET, DEFAULT_USER, OAuthServerError, OAuthTestServer

pytestmark = pytest.mark.realserver

REDIRECT = "http://127.0.0.1:9/callback"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnop"


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def authorize(server: OAuthTestServer, **params: str) -> dict[str, str]:
    query = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", "state": "st-1",
             "scope": "openid offline_access", "code_challenge": challenge(VERIFIER), "code_challenge_method": "S256"}
    query.update(params)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(server.url("/authorize?" + urllib.parse.urlencode(query)), timeout=10)
    except urllib.error.HTTPError as exc:
        location = exc.headers.get("Location")
        if not location:
            raise
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    raise AssertionError("no redirect")


def post_token(server: OAuthTestServer, **form: str) -> tuple[int, dict]:
    data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(server.token_endpoint, data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def exchange(server: OAuthTestServer, code: str, verifier: str = VERIFIER, **extra: str) -> tuple[int, dict]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "code_verifier": verifier}
    form.update(extra)
    return post_token(server, **form)


def test_discovery_names_every_endpoint(oauth: OAuthTestServer) -> None:
    doc = oauth.discovery()
    assert doc["issuer"] == oauth.issuer and oauth.issuer.startswith("http://127.0.0.1:")
    assert doc["token_endpoint"] == oauth.token_endpoint
    assert doc["revocation_endpoint"] == oauth.revocation_endpoint
    assert "S256" in doc["code_challenge_methods_supported"]


def test_code_is_single_use_and_tokens_introspect(oauth: OAuthTestServer) -> None:
    params = authorize(oauth)
    assert params["state"] == "st-1"
    status, body = exchange(oauth, params["code"])
    assert status == 200, body
    assert body["expires_in"] == 3600 and body["refresh_token"]
    info = oauth.introspect(body["access_token"])
    assert info["active"] is True and info["username"] == DEFAULT_USER and info["client_id"] == CLIENT_ID
    status, again = exchange(oauth, params["code"])
    assert (status, again["error"]) == (400, "invalid_grant")
    assert oauth.introspect("not-a-token") == {"active": False}


def test_pkce_verifier_is_checked(oauth: OAuthTestServer) -> None:
    params = authorize(oauth)
    status, body = exchange(oauth, params["code"], verifier="w" * 50)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert "code_verifier" in body["error_description"]
    params = authorize(oauth)
    status, body = post_token(oauth, grant_type="authorization_code", code=params["code"], redirect_uri=REDIRECT,
                              client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert (status, body["error"]) == (400, "invalid_grant")


def test_wrong_secret_and_unknown_client_are_invalid_client(oauth: OAuthTestServer) -> None:
    params = authorize(oauth)
    status, body = exchange(oauth, params["code"], client_secret="wrong")
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = post_token(oauth, grant_type="client_credentials", client_id="nobody", client_secret="x")
    assert (status, body["error"]) == (401, "invalid_client")


def test_refresh_rotates_and_old_token_dies(oauth: OAuthTestServer) -> None:
    pair = oauth.issue()
    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    status, body = post_token(oauth, refresh_token=pair["refresh_token"], **form)
    assert status == 200 and body["refresh_token"] != pair["refresh_token"]
    status, again = post_token(oauth, refresh_token=pair["refresh_token"], **form)
    assert (status, again["error"]) == (400, "invalid_grant")
    oauth.configure(refresh_rotation="omit")
    status, google_like = post_token(oauth, refresh_token=body["refresh_token"], **form)
    assert status == 200 and "refresh_token" not in google_like


def test_revocation_kills_the_grant(oauth: OAuthTestServer) -> None:
    pair = oauth.issue()
    data = urllib.parse.urlencode({"token": pair["refresh_token"], "client_id": CLIENT_ID,
                                   "client_secret": CLIENT_SECRET}).encode()
    with urllib.request.urlopen(urllib.request.Request(oauth.revocation_endpoint, data=data), timeout=10) as resp:
        assert resp.status == 200
    assert oauth.introspect(pair["access_token"]) == {"active": False}
    assert oauth.introspect(pair["refresh_token"]) == {"active": False}


def test_access_token_lifetime_and_expiry(oauth: OAuthTestServer) -> None:
    # The server counts whole seconds (exp = floor(issued) + ttl), so a 1-second token can be dead by the
    # next line when it is issued just before a second boundary; 3 s leaves room on a slow machine.
    oauth.configure(access_token_ttl=3)
    issued = time.monotonic()
    pair = oauth.issue()
    assert oauth.introspect(pair["access_token"])["active"] is True
    time.sleep(max(0.0, 3.1 - (time.monotonic() - issued)))
    assert oauth.introspect(pair["access_token"]) == {"active": False}


def test_scripted_faults(oauth: OAuthTestServer) -> None:
    pair = oauth.issue()
    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "refresh_token": pair["refresh_token"]}
    oauth.fault("token", "error", status=500, body={"error": "server_error"})
    assert post_token(oauth, **form) == (500, {"error": "server_error"})
    oauth.fault("token", "omit", fields=["expires_in"])
    status, body = post_token(oauth, **form)
    assert status == 200 and "expires_in" not in body
    counters = oauth.counters
    assert counters["refresh_token"] == 2
    with pytest.raises(OAuthServerError):
        oauth.configure(no_such_option=1)
