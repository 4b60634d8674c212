"""Send a web-service invoker's request with a fresh token and describe the answer.

The result shows status, response headers, body (JSON pretty-printed) and time; the token
is redacted everywhere it is shown, including the request headers and anything the
service echoes back. TLS is verified always (system CAs, or the invoker's CA file);
redirects are not followed (they are shown), so the token never travels to another host. The proxy is
chosen as for token requests (``desktop.oauth.proxy``): never one for this machine, else the environment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from desktop.usage.connection import tls_context
from desktop.usage.invokers import WebInvoker, apply_token, body_content_type, pretty_body
from desktop.usage.redact import Redactor
from desktop.usage.tokens import TokenUnavailable

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 200_000
USER_AGENT = "Tokendesk"


@dataclass
class InvokeResult:
    invoker: str
    ok: bool  # a response with status < 400 arrived
    summary: str
    method: str
    url: str
    status: int | None = None
    reason: str = ""
    elapsed_seconds: float = 0.0
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    content_type: str = ""
    hint: str = ""
    token_problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["request_headers"] = [list(h) for h in self.request_headers]
        data["response_headers"] = [list(h) for h in self.response_headers]
        return data

    def table_text(self) -> str:
        """One line for the "Last call" column: "200 OK", "failed"."""
        return f"{self.status} {self.reason}".strip() if self.status is not None else "failed"

    def text(self) -> str:
        """The whole exchange as text (already redacted)."""
        lines = [f"> {self.method} {self.url}"]
        lines += [f"> {k}: {v}" for k, v in self.request_headers]
        if self.status is not None:
            lines.append(f"< {self.status} {self.reason}  ({self.elapsed_seconds * 1000:.0f} ms)")
            lines += [f"< {k}: {v}" for k, v in self.response_headers]
            if self.body:
                lines += ["", self.body]
        else:
            lines.append(f"! {self.summary}")
        return "\n".join(lines)


def invoke(
    invoker: WebInvoker,
    token: Callable[[], str],
    *,
    timeout: float = 20.0,
    transport: httpx.BaseTransport | None = None,
) -> InvokeResult:
    """Send the request; never raises for what the network or the service does."""
    redactor = Redactor()
    started = time.monotonic()

    def result(ok: bool, summary: str, **extra: Any) -> InvokeResult:
        return InvokeResult(invoker=invoker.name, ok=ok, summary=redactor.redact(summary), method=invoker.method,
                            url=invoker.url, elapsed_seconds=round(time.monotonic() - started, 3), **extra)

    try:
        access_token = token()
    except TokenUnavailable as exc:
        hint = ("Request a new token for this configuration, then invoke again." if exc.kind == "reauth"
                else "Check the network connection and the provider.")
        return result(False, str(exc), hint=hint, token_problem=exc.kind)
    redactor.add_token(access_token)
    headers = apply_token(invoker.headers, access_token)
    content_type = body_content_type(invoker.body, headers)
    if content_type:
        headers.append(("Content-Type", content_type))
    shown_request = [(k, redactor.redact(v)) for k, v in headers]
    try:
        verify: Any = tls_context(invoker.ca_file) if invoker.url.lower().startswith("https:") else True
    except (OSError, ValueError) as exc:
        return result(False, f"The CA file {invoker.ca_file} cannot be used: {exc}", request_headers=shown_request,
                      hint="Give a PEM file with the service's CA certificate.")
    client_args: dict[str, Any] = {"timeout": httpx.Timeout(timeout), "follow_redirects": False,
                                   "headers": {"User-Agent": USER_AGENT}}
    if transport is None:
        from desktop.oauth import proxy  # the token requests' rule: loopback direct, else environment and NO_PROXY

        try:
            transport = proxy.transport(invoker.url, verify=verify)
        except proxy.ProxyProblem as exc:
            return result(False, str(exc), request_headers=shown_request,
                          hint="Correct the proxy variable (or name the host in NO_PROXY) and invoke again.")
    client_args["transport"] = transport
    started = time.monotonic()
    try:
        with httpx.Client(**client_args) as client:
            response = client.request(invoker.method, invoker.url, headers=headers,
                                      content=invoker.body.encode("utf-8") if invoker.body else None)
            raw = response.read()
    except httpx.TimeoutException:
        return result(False, f"No answer from {_host(invoker.url)} within {timeout:g} seconds.",
                      request_headers=shown_request,
                      hint="Check the URL and the network; the time-out is the network.timeout_seconds setting.")
    except httpx.ConnectError as exc:
        text = redactor.redact(str(exc))
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            hint = ("If the service uses a certificate from its own CA, set the CA file on the invoker. "
                    "Tokendesk never turns verification off.")
            return result(False, f"The certificate of {_host(invoker.url)} is not trusted: {text}",
                          request_headers=shown_request, hint=hint)
        return result(False, f"Cannot connect to {_host(invoker.url)}: {text}", request_headers=shown_request,
                      hint="Check the URL, that the service runs, and the network.")
    except httpx.HTTPError as exc:
        return result(False, f"The request failed: {redactor.redact(str(exc)) or type(exc).__name__}",
                      request_headers=shown_request, hint="Check the URL and the service.")
    elapsed = round(time.monotonic() - started, 3)
    ctype = response.headers.get("content-type", "")
    text = raw.decode(response.encoding or "utf-8", "replace") if raw else ""
    if len(text) > MAX_BODY_CHARS:
        text = text[:MAX_BODY_CHARS] + f"\n... ({len(raw)} bytes in all; the rest is not shown)"
    body = redactor.redact(pretty_body(text, ctype))
    response_headers = [(k, redactor.redact(v)) for k, v in response.headers.multi_items()]
    ok = response.status_code < 400
    summary = f"{response.status_code} {response.reason_phrase} in {elapsed * 1000:.0f} ms"
    hint = ""
    if response.status_code == 401:
        hint = ("The service did not accept the token: check that the configuration's scope covers this API and "
                "that the header is right (usually Authorization: Bearer <OTRS_OAUTH2_TOKEN>).")
    elif response.status_code == 403:
        hint = "The token was accepted but lacks permission for this request (scope or the account's rights)."
    elif 300 <= response.status_code < 400:
        hint = f"The service redirects to {response.headers.get('location', '?')}; use that URL (redirects are not " \
               "followed, so the token is not sent elsewhere)."
    res = result(ok, summary, status=response.status_code, reason=response.reason_phrase,
                 request_headers=shown_request, response_headers=response_headers, body=body, content_type=ctype,
                 hint=hint)
    res.elapsed_seconds = elapsed
    return res


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except Exception:
        return url
