"""A real OAuth2/OIDC server on loopback for tests: oauth2-mock-server (npm), made strict.

Use it from a test module or a conftest::

    from tests.servers.oauth import oauth, oauth_server  # noqa: F401  (pytest fixtures)

    @pytest.mark.realserver
    def test_something(oauth):            # function scope: server state reset before the test
        token = oauth.issue(user="alice@example.test")["access_token"]
        assert oauth.introspect(token)["active"] is True

``oauth_server`` is the session fixture (one Node process per test run); ``oauth`` is the same
object, reset (options, faults, codes, tokens, counters) before each test that asks for it.

The first use runs ``npm ci`` in tests/servers (into tests/servers/node_modules, git-ignored) when
the packages are missing; that needs the npm registry once. The fixture skips only when ``node``
is not installed; any other problem fails the test with the reason.

What the server checks (see tests/servers/oauth_server.mjs for all of it): registered clients and
their secrets, single-use codes bound to client and redirect_uri, the PKCE S256 verifier, refresh
tokens that are known/not revoked/not expired (rotated by default), RFC 7009 revocation, RFC 7662
introspection (active:false for unknown, revoked and expired tokens), a configurable access-token
lifetime, and scripted faults through ``fault()``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SERVERS_DIR = Path(__file__).resolve().parent
SCRIPT = SERVERS_DIR / "oauth_server.mjs"
NODE_MODULES = SERVERS_DIR / "node_modules"

#: confidential client registered by default
CLIENT_ID = "tokendesk-test"
CLIENT_SECRET = "tokendesk-test-secret"
#: public client (no secret; PKCE only)
PUBLIC_CLIENT_ID = "tokendesk-public"
#: the user every authorization is granted for (unless login_hint or default_user says otherwise)
DEFAULT_USER = "tokendesk-user@example.test"

START_TIMEOUT = 30.0
NPM_TIMEOUT = 300.0


class OAuthServerError(RuntimeError):
    pass


def node_executable() -> str | None:
    return shutil.which("node")


#: oauth2-mock-server 8.x (and its jose 6) need this Node.js or newer
MIN_NODE = (20, 19)


def node_version(node: str) -> tuple[int, ...]:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        return tuple(int(part) for part in out.lstrip("v").split(".")[:3])
    except ValueError:
        return ()


def ensure_node_modules() -> None:
    """``npm ci`` (or ``npm install`` without a lock file) once, guarded by a lock across processes."""
    marker = NODE_MODULES / "oauth2-mock-server" / "package.json"
    if marker.exists() and (NODE_MODULES / "express" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise OAuthServerError("npm is not installed: install nodejs and npm (Debian: apt-get install nodejs npm)")
    lock_path = Path(tempfile.gettempdir()) / "tokendesk-npm-install.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return
        command = [npm, "ci" if (SERVERS_DIR / "package-lock.json").exists() else "install", "--no-audit", "--no-fund"]
        try:
            proc = subprocess.run(command, cwd=SERVERS_DIR, capture_output=True, text=True, timeout=NPM_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise OAuthServerError(f"{command} in {SERVERS_DIR} did not finish in {NPM_TIMEOUT:.0f} s") from None
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise OAuthServerError(f"'{' '.join(command)}' in {SERVERS_DIR} failed (exit {proc.returncode}):\n{tail}")


class OAuthTestServer:
    """Handle on a running oauth_server.mjs process."""

    client_id = CLIENT_ID
    client_secret = CLIENT_SECRET
    public_client_id = PUBLIC_CLIENT_ID
    default_user = DEFAULT_USER

    def __init__(self, proc: subprocess.Popen[bytes], issuer: str, port: int, log_path: Path) -> None:
        self.proc = proc
        self.issuer = issuer
        self.port = port
        self.log_path = log_path

    # ---- addresses
    def url(self, path: str = "") -> str:
        """Absolute URL of ``path`` on this server (``url("/token")``)."""
        if path and not path.startswith("/"):
            path = "/" + path
        return self.issuer + path

    @property
    def discovery_url(self) -> str:
        return self.url("/.well-known/openid-configuration")

    @property
    def authorization_endpoint(self) -> str:
        return self.url("/authorize")

    @property
    def token_endpoint(self) -> str:
        return self.url("/token")

    @property
    def revocation_endpoint(self) -> str:
        return self.url("/revoke")

    @property
    def introspection_endpoint(self) -> str:
        return self.url("/introspect")

    # ---- plumbing
    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                 timeout: float = 10.0) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url(path), data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _json(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self._request(method, path, body, {"Content-Type": "application/json"})
        try:
            result = json.loads(data or b"null")
        except json.JSONDecodeError:
            raise OAuthServerError(f"{method} {path}: HTTP {status}, not JSON: {data[:200]!r}") from None
        if status >= 400:
            raise OAuthServerError(f"{method} {path}: HTTP {status}: {result}")
        return result

    # ---- control
    def control(self, action: str, **fields: Any) -> dict[str, Any]:
        """POST /__control {"action": action, **fields}; raises OAuthServerError when refused."""
        return self._json("POST", "/__control", {"action": action, **fields})

    def reset(self) -> None:
        """Back to the defaults: options, faults, codes, tokens, counters, request log."""
        self.control("reset")

    def configure(self, **options: Any) -> dict[str, Any]:
        """Options: access_token_ttl, refresh_token_ttl, send_refresh_token_expires_in,
        refresh_rotation ("rotate" | "same" | "omit"), login_page, default_user, iss_parameter (RFC 9207 ``iss`` on
        authorization responses, announced in discovery), strict_clients, clients
        ({client_id: {"secret": str | None, "redirect_uris": [...]}}), identity (who signed in: "username" -
        preferred_username in the tokens; "sub" - only an opaque sub in the ID token, the e-mail from /userinfo;
        "none" - no ID token)."""
        return self.control("configure", **options)["options"]

    def fault(self, endpoint: str, kind: str, **fields: Any) -> None:
        """Script the next answer(s) of ``endpoint`` ("token", "authorize", "revoke", "introspect", "userinfo").

        kinds: ``error`` (status, body), ``status`` (status, text), ``hang`` (seconds), ``malformed``,
        ``close``, ``omit`` (fields=[...]), ``merge`` (fields={...}); authorize: ``error`` (params={...}),
        ``page`` (status, html). ``times`` (default 1), ``grant_type`` limits a token fault to one grant.
        """
        self.control("fault", endpoint=endpoint, kind=kind, **fields)

    def issue(self, **fields: Any) -> dict[str, Any]:
        """Mint a token pair without a flow: fields client_id, user, scope, ttl."""
        return self._json("POST", "/__control", {"action": "issue", **fields})

    def revoke_token(self, token: str) -> None:
        self.control("revoke", token=token)

    def expire_token(self, token: str) -> None:
        self.control("expire", token=token)

    def state(self) -> dict[str, Any]:
        return self._json("GET", "/__state")

    @property
    def counters(self) -> dict[str, int]:
        return self.state()["counters"]

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Requests the server saw (method, path, params, grant_type), oldest first."""
        items = self.state()["requests"]
        return [r for r in items if path is None or r["path"] == path]

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 introspection as Dovecot does it (POST form ``token=``)."""
        body = urllib.parse.urlencode({"token": token}).encode()
        status, data = self._request("POST", "/introspect", body, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise OAuthServerError(f"introspection answered HTTP {status}")
        return json.loads(data)

    def discovery(self) -> dict[str, Any]:
        return self._json("GET", "/.well-known/openid-configuration")

    # ---- life cycle
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def start_server(log_dir: Path, port: int = 0, node: str | None = None) -> OAuthTestServer:
    """Start oauth_server.mjs on 127.0.0.1 (``port`` 0: any free port) and wait for discovery."""
    node = node or node_executable()
    if node is None:
        raise OAuthServerError("node is not installed")
    version = node_version(node)
    if version and version[:2] < MIN_NODE:
        raise OAuthServerError(
            f"Node.js {'.'.join(map(str, version))} is too old: oauth2-mock-server 8 needs "
            f"{MIN_NODE[0]}.{MIN_NODE[1]} or newer (Debian 12's nodejs is 18; use NodeSource's nodejs 20)")
    ensure_node_modules()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "oauth_server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [node, str(SCRIPT), "--port", str(port), "--host", "127.0.0.1"],
        cwd=SERVERS_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
        env={**os.environ, "NODE_ENV": "test"},
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    line = b""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or proc.poll() is not None:
                break
            if sel.select(timeout=min(remaining, 0.5)):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
    try:
        info = json.loads(line.decode().strip().splitlines()[0])
    except (ValueError, IndexError):
        with contextlib.suppress(Exception):
            proc.kill()
        text = log_path.read_text(errors="replace")[-2000:]
        raise OAuthServerError(f"oauth_server.mjs did not start within {START_TIMEOUT:.0f} s:\n{text}") from None
    server = OAuthTestServer(proc, info["issuer"], int(info["port"]), log_path)
    while True:  # wait for the discovery document
        try:
            if server.discovery().get("issuer") == server.issuer:
                return server
        except (OSError, OAuthServerError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise OAuthServerError(f"the discovery document at {server.discovery_url} did not answer in time")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def oauth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OAuthTestServer]:
    """One strict OAuth2 server for the whole session (state shared; use ``oauth`` for a clean one)."""
    if node_executable() is None:
        pytest.skip("node is not installed (Debian: apt-get install nodejs npm); the OAuth2 test server needs it")
    try:
        server = start_server(tmp_path_factory.mktemp("oauth-server"))
    except OAuthServerError as exc:
        pytest.fail(f"the OAuth2 test server could not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def oauth(oauth_server: OAuthTestServer) -> OAuthTestServer:
    """The session's server, reset to its defaults before the test."""
    if not oauth_server.alive():
        pytest.fail(f"the OAuth2 test server died:\n{oauth_server.log()[-2000:]}", pytrace=False)
    oauth_server.reset()
    return oauth_server
