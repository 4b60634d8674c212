"""Which proxy a request goes through: the one rule for token requests, discovery and web calls.

* **Loopback never goes through a proxy**: a literal loopback address (127.0.0.0/8, ::1) or ``localhost``
  (``desktop.models.validation.is_loopback_host``). A token request to a provider on this machine carries the
  client secret and the refresh token; a proxy must not see them, whatever the environment says.
* Everything else follows the environment, as curl reads it: ``https_proxy`` / ``HTTPS_PROXY`` for https://,
  ``http_proxy`` / ``HTTP_PROXY`` for http://, else ``all_proxy`` / ``ALL_PROXY``; lower case first; a proxy
  without a scheme is ``http://``. ``no_proxy`` / ``NO_PROXY`` (comma-separated) exempts ``*`` (everything), host
  names with their subdomains (a leading ``.`` or ``*.`` is optional), IP addresses and CIDR ranges, each
  optionally with ``:port``.
* httpx's own reading of the environment (``trust_env``'s proxies) is not used: every client gets the transport
  ``transport(url)`` chose for its one URL (redirects are never followed, so a client talks to one host).
  ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` are still honoured.

Stdlib only at import (``tokendesk doctor`` reads it); httpx is imported by ``transport()``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from desktop.models.validation import is_loopback_host

if TYPE_CHECKING:
    import httpx

LOOPBACK_WORDS = "loopback (127.0.0.0/8, ::1, localhost) never goes through a proxy"


class ProxyProblem(ValueError):
    """The proxy the environment names cannot be used (a malformed URL, an unsupported scheme)."""


@dataclass(frozen=True)
class ProxyChoice:
    """``url`` None: direct. ``source``: the variable it came from, ``NO_PROXY``, ``loopback`` or '' (none set)."""

    url: str | None
    source: str

    @property
    def shown(self) -> str:
        """The proxy for display: a password in it becomes ***."""
        return masked(self.url) if self.url else "direct"


def _env(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    for key in (name.lower(), name.upper()):
        value = (environ.get(key) or "").strip()
        if value:
            return key.upper(), value
    return None


def _proxy_setting(scheme: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, proxy URL) for a scheme, or None."""
    found = _env(environ, f"{scheme}_proxy") or _env(environ, "all_proxy")
    if found is None:
        return None
    source, value = found
    return source, value if "://" in value else f"http://{value}"


def _split_entry(entry: str) -> tuple[str, int | None]:
    """A NO_PROXY entry as (host, port or None); IPv6 in brackets or bare."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else None
    return entry, None


def _no_proxy_match(host: str, port: int, no_proxy: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        if not raw.strip():
            continue
        if raw.strip() == "*":
            return True
        name, entry_port = _split_entry(raw)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.removeprefix("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def choose(url: str, environ: Mapping[str, str] | None = None) -> ProxyChoice:
    """The proxy for ``url`` (see the module docstring)."""
    environ = os.environ if environ is None else environ
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return ProxyChoice(None, "")  # the request itself will fail on this URL, with its own message
    if is_loopback_host(host):
        return ProxyChoice(None, "loopback")
    setting = _proxy_setting(parts.scheme.lower() or "https", environ)
    if setting is None:
        return ProxyChoice(None, "")
    no_proxy = _env(environ, "no_proxy")
    if no_proxy and _no_proxy_match(host, port, no_proxy[1]):
        return ProxyChoice(None, "NO_PROXY")
    source, proxy = setting
    return ProxyChoice(proxy, source)


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    return choose(url, environ).url


def masked(proxy: str) -> str:
    """``http://user:***@host:port`` (the password never shown)."""
    try:
        parts = urlsplit(proxy)
        if parts.password is None:
            return proxy
        netloc = f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return "(a proxy address that is not a valid URL)"


def transport(url: str, *, verify: Any = True) -> httpx.HTTPTransport:
    """The httpx transport for a client that talks to ``url``: through the chosen proxy, or direct.
    ProxyProblem when the environment names a proxy httpx cannot use."""
    import httpx

    choice = choose(url)
    try:
        return httpx.HTTPTransport(verify=verify, trust_env=True, proxy=choice.url)
    except (ValueError, ImportError, httpx.InvalidURL) as exc:
        shown = choice.shown
        raise ProxyProblem(f"The proxy {shown} ({choice.source}) cannot be used: {exc.__class__.__name__}: "
                           f"{str(exc).replace(choice.url or '', shown)}") from None


def describe(environ: Mapping[str, str] | None = None) -> str:
    """One line for ``tokendesk doctor``: the proxy in effect for https, NO_PROXY, and the loopback rule."""
    environ = os.environ if environ is None else environ
    setting = _proxy_setting("https", environ)
    if setting is None:
        text = "https: direct (no HTTPS_PROXY or ALL_PROXY set)"
    else:
        text = f"https: through {masked(setting[1])} ({setting[0]})"
    no_proxy = _env(environ, "no_proxy")
    if no_proxy and setting is not None:
        text += f"; NO_PROXY: {no_proxy[1]}"
    return f"{text}; {LOOPBACK_WORDS}"
