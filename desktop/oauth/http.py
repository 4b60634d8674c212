"""HTTP to the provider through authlib's httpx client, with the network time-out setting.

Imported only when a request is needed (``tokendesk token`` with a valid stored token never
imports authlib or httpx). The proxy of each request is chosen by ``desktop.oauth.proxy`` (loopback never
through one; otherwise the environment and NO_PROXY). Answers come back as ``HttpAnswer`` (status + JSON
object or None); connection problems and time-outs raise ``NetworkError`` with a plain hint. Bodies are never
logged: a token endpoint's answer can contain tokens even when it is malformed.
"""

from __future__ import annotations

import base64
import json
import logging
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

import authlib.deprecate  # noqa: F401 - installs authlib's own "always" filter first, so ours below wins
import httpx

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 package and warns when it falls back to httpx (which is what we ship)
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth2Client

from desktop import __version__
from desktop.oauth import proxy
from desktop.oauth.errors import NetworkError, timeout_hint, unreachable_hint

logger = logging.getLogger(__name__)

USER_AGENT = f"Tokendesk/{__version__}"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    payload: dict[str, Any] | None
    content_type: str
    reason: str = ""

    @property
    def is_json_object(self) -> bool:
        return self.payload is not None


class ConnectFailed(NetworkError):
    """The request never reached the server (safe to retry, even for a code exchange)."""


class TimedOut(NetworkError):
    pass


class ConnectionLost(NetworkError):
    pass


def host_of(url: str) -> str:
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url


def _client(url: str, timeout: float, client_id: str | None = None, client_secret: str | None = None,
            auth_method: str | None = None) -> OAuth2Client:
    """A client for requests to ``url`` only: the proxy (or none: loopback, NO_PROXY) is chosen for it by
    ``desktop.oauth.proxy``; redirects are not followed, so it never talks to another host."""
    try:
        chosen = proxy.transport(url)
    except proxy.ProxyProblem as exc:
        raise ConnectFailed(f"{exc}.", "Correct the proxy variable (or name the host in NO_PROXY) and try again.",
                            error="proxy", description=str(exc)) from None
    return OAuth2Client(
        client_id=client_id,
        client_secret=client_secret,
        revocation_endpoint_auth_method=auth_method,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=False,
        transport=chosen,
    )


#: a token endpoint's answer is a few KB; anything longer than this is not read (and not an answer)
MAX_ANSWER_BYTES = 1024 * 1024


def _answer(response: httpx.Response, content: bytes | None = None) -> HttpAnswer:
    """Status and JSON object (None for anything else: not JSON, not an object, nested too deeply, too long)."""
    content_type = response.headers.get("content-type", "")
    body = response.content if content is None else content
    payload: dict[str, Any] | None = None
    if len(body) <= MAX_ANSWER_BYTES:
        try:
            data = json.loads(body or b"null")
            if isinstance(data, dict):
                payload = data
        except (ValueError, UnicodeDecodeError, RecursionError):
            payload = None
    return HttpAnswer(response.status_code, payload, content_type, response.reason_phrase or "")


def _read_bounded(response: httpx.Response) -> bytes:
    """The body, up to MAX_ANSWER_BYTES + 1 bytes (enough to know it is too long)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            break
    return b"".join(chunks)


def _network_error(exc: httpx.HTTPError, url: str, timeout: float) -> NetworkError:
    host = host_of(url)
    if isinstance(exc, httpx.ConnectTimeout):
        return ConnectFailed(f"{host} did not accept the connection within {timeout:g} s.", timeout_hint(host, timeout),
                             error="timeout", description=f"connection to {host} timed out")
    if isinstance(exc, httpx.TimeoutException):
        return TimedOut(f"{host} did not answer within {timeout:g} s.", timeout_hint(host, timeout),
                        error="timeout", description=f"no answer from {host} within {timeout:g} s")
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc).split("]")[-1].strip() or exc.__class__.__name__
        return ConnectFailed(f"Could not connect to {host} ({reason}).", unreachable_hint(host),
                             error="unreachable", description=f"could not connect to {host}: {reason}")
    reason = exc.__class__.__name__
    return ConnectionLost(f"The connection to {host} failed ({reason}).", unreachable_hint(host),
                          error="unreachable", description=f"connection to {host} failed: {reason}")


def basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 2.3.1: both parts form-urlencoded, joined by ':', base64 - the Authorization header value."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def post_form(url: str, params: dict[str, str], *, timeout: float,
              basic: tuple[str, str] | None = None) -> HttpAnswer:
    """POST ``params`` form-encoded. The body carries the client credentials (Znuny style), unless
    ``basic`` (client id, secret) asks for HTTP Basic (``client_secret_basic``)."""
    logger.debug("POST %s (%s%s)", url, ", ".join(sorted(params)), "; HTTP Basic" if basic else "")
    headers = {"Authorization": basic_authorization(*basic)} if basic else None
    with _client(url, timeout) as client:
        try:
            with client.stream("POST", url, data=params, headers=headers, withhold_token=True) as response:
                answer = _answer(response, _read_bounded(response))
        except httpx.HTTPError as exc:
            raise _network_error(exc, url, timeout) from None
    logger.debug("POST %s -> HTTP %d", url, answer.status)
    return answer


def revoke(url: str, token: str, token_type_hint: str, *, client_id: str, client_secret: str | None,
           timeout: float, basic: bool = False) -> HttpAnswer:
    """RFC 7009 revocation through authlib (client credentials in the body or as HTTP Basic, or client_id only)."""
    headers = None
    if basic and client_secret:
        # authlib's client_secret_basic does not form-encode id and secret (RFC 6749 2.3.1): our own header
        headers = {"Authorization": basic_authorization(client_id, client_secret)}
        client_secret = None
    method = "client_secret_post" if client_secret else "none"
    with _client(url, timeout, client_id, client_secret or None, method) as client:
        try:
            response = client.revoke_token(url, token=token, token_type_hint=token_type_hint, headers=headers)
        except httpx.HTTPError as exc:
            raise _network_error(exc, url, timeout) from None
    return _answer(response)


def get_json(url: str, *, bearer: str, timeout: float) -> HttpAnswer:
    """GET ``url`` with ``Authorization: Bearer`` (an OpenID Connect userinfo endpoint); the answer read up to
    MAX_ANSWER_BYTES, no redirect followed. The token is never logged."""
    logger.debug("GET %s (bearer token)", url)
    with _client(url, timeout) as client:
        try:
            with client.stream("GET", url, headers={"Authorization": f"Bearer {bearer}"},
                               withhold_token=True) as response:
                answer = _answer(response, _read_bounded(response))
        except httpx.HTTPError as exc:
            raise _network_error(exc, url, timeout) from None
    logger.debug("GET %s -> HTTP %d", url, answer.status)
    return answer
