"""The RFC 8628 test server (``device_server.mjs``: npm oidc-provider with the device flow on) and a browser-like
client for the person's side: open the verification page, type the user code, confirm or abort, sign in and
consent - each an HTTP request as a browser sends it (cookies kept, the pages' hidden form fields read).

    from tests.servers.device import device_server, device_browser  # noqa: F401  (pytest fixtures)
"""

from __future__ import annotations

import json
import re
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.servers.oauth import OAuthServerError, ensure_node_modules, node_executable

SERVERS_DIR = Path(__file__).resolve().parent
SCRIPT = SERVERS_DIR / "device_server.mjs"
START_TIMEOUT = 20.0


@dataclass
class DeviceServer:
    proc: subprocess.Popen[bytes]
    issuer: str

    @property
    def device_endpoint(self) -> str:
        return self.issuer + "/device/auth"

    @property
    def token_endpoint(self) -> str:
        return self.issuer + "/token"

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"


def _start() -> DeviceServer:
    node = node_executable()
    if node is None:
        raise OAuthServerError("node is not installed: install nodejs (Debian: apt-get install nodejs npm)")
    ensure_node_modules()
    if not (SERVERS_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        # node_modules from before oidc-provider was added: install what package-lock.json lists
        npm = shutil.which("npm")
        if npm is None or subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SERVERS_DIR, capture_output=True,
                                         timeout=600).returncode != 0:
            raise OAuthServerError("npm oidc-provider is missing: run 'npm ci' in tests/servers (scripts/setup.sh)")
    proc = subprocess.Popen([node, str(SCRIPT), "--port", "0"], cwd=SERVERS_DIR, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    if not selector.select(START_TIMEOUT):
        proc.kill()
        raise OAuthServerError("device_server.mjs did not start in time")
    line = proc.stdout.readline()
    try:
        info = json.loads(line)
    except json.JSONDecodeError:
        proc.kill()
        raise OAuthServerError(f"device_server.mjs said {line[:200]!r}") from None
    return DeviceServer(proc, info["issuer"])


@pytest.fixture(scope="session")
def device_server() -> Iterator[DeviceServer]:
    server = _start()
    try:
        yield server
    finally:
        server.proc.terminate()
        try:
            server.proc.wait(5)
        except subprocess.TimeoutExpired:
            server.proc.kill()


_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def _forms(html: str) -> list[tuple[dict[str, str], dict[str, str]]]:
    """(form attributes, hidden/preset input values) of each form on a page."""
    found = []
    for form in _FORM.findall(html):
        head = form[: form.index(">") + 1]
        attrs = {k.lower(): unescape(v) for k, v in _ATTR.findall(head)}
        fields = {}
        for tag in re.findall(r"<input\b[^>]*>", form, re.I):
            a = {k.lower(): unescape(v) for k, v in _ATTR.findall(tag)}
            if "name" in a:
                fields[a["name"]] = a.get("value", "")
        found.append((attrs, fields))
    return found


class DeviceBrowser:
    """The person at the verification address, on another device."""

    def __init__(self, login: str = "alice@example.org") -> None:
        self.login = login
        self.client = httpx.Client(follow_redirects=True, timeout=10.0, trust_env=False)
        self.pages: list[str] = []

    def close(self) -> None:
        self.client.close()

    def _submit(self, page: httpx.Response, extra: dict[str, str], form_index: int = 0) -> httpx.Response:
        attrs, fields = _forms(page.text)[form_index]
        action = urljoin(str(page.url), attrs.get("action") or str(page.url))
        answer = self.client.post(action, data={**fields, **extra})
        self.pages.append(answer.text)
        return answer

    def enter_code(self, verification_uri: str, user_code: str) -> httpx.Response:
        """GET the verification page, type the code, submit: the confirmation page."""
        page = self.client.get(verification_uri)
        page.raise_for_status()
        return self._submit(page, {"user_code": user_code})

    def approve(self, verification_uri: str, user_code: str) -> str:
        """Type the code, Continue, sign in, consent: the final page's text."""
        page = self.enter_code(verification_uri, user_code)
        page = self._submit(page, {})  # Continue (the confirm form without abort)
        for _ in range(4):
            forms = _forms(page.text)
            if not forms:
                break
            prompt = forms[0][1].get("prompt")
            if prompt == "login":
                page = self._submit(page, {"login": self.login, "password": "any"})
            elif prompt == "consent":
                page = self._submit(page, {})
            else:
                break
        return page.text

    def deny(self, verification_uri: str, user_code: str) -> str:
        """Type the code, then Abort at the confirmation: the final page's text."""
        page = self.enter_code(verification_uri, user_code)
        return self._submit(page, {"abort": "yes"}).text


@pytest.fixture
def device_browser() -> Iterator[DeviceBrowser]:
    browser = DeviceBrowser()
    yield browser
    browser.close()


def wait_until(predicate, timeout: float = 10.0) -> None:  # noqa: ANN001 - a test helper
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
