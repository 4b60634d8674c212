"""Where a configuration sends its secrets: the origins of its endpoints, and which of them a change moves.

An origin is scheme, host and port (RFC 6454), normalised the way the HTTP client will connect:
scheme and host in lower case, a default port (80 for http, 443 for https) left out, a trailing
dot dropped, an IPv6 address in its short form, a non-ASCII host in its IDNA (punycode) form, as
httpx encodes it. So ``https://IDP.example:443/token`` and ``https://idp.example/oauth2/token``
share an origin, ``https://bücher.example`` and ``https://xn--bcher-kva.example`` too; anything
that cannot be read is compared as written (any difference then counts as a move).

``endpoint_moves(stored, changed)`` lists the endpoints whose origin a change of a stored
configuration moves: an endpoint that now points at another origin, or one that is set for the
first time at an origin the stored configuration never used (a revocation endpoint on a new
host would receive the refresh token). The token refresh endpoint counts as the token endpoint
when it is empty (as ``desktop.oauth.flow.endpoint_for`` uses it). The discovery (issuer) URL is
listed too when it moved as well - it sends nothing, so it alone is no move. An empty list: the
secrets go nowhere new. The services forget the stored tokens and the stored client secret
(unless the admin says otherwise) when the list is not empty.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from desktop.models.config import (
    AUTHORIZATION_CODE,
    TOKEN_BY_AUTHORIZATION_CODE,
    TOKEN_BY_CLIENT_CREDENTIALS,
    TOKEN_BY_REFRESH_TOKEN,
    TOKEN_REVOCATION,
    TokenConfiguration,
)

#: the endpoints that receive something from Tokendesk (the browser goes to the authorization endpoint)
ENDPOINT_KEYS = (
    AUTHORIZATION_CODE,
    TOKEN_BY_AUTHORIZATION_CODE,
    TOKEN_BY_REFRESH_TOKEN,
    TOKEN_BY_CLIENT_CREDENTIALS,
    TOKEN_REVOCATION,
)
#: ``EndpointMove.key`` of the discovery (issuer) URL, Config.Tokendesk.DiscoveryURL
DISCOVERY = "DiscoveryURL"

#: short names in sentences ("token and token refresh endpoints move from ...")
_SHORT = {
    AUTHORIZATION_CODE: "authorization",
    TOKEN_BY_AUTHORIZATION_CODE: "token",
    TOKEN_BY_REFRESH_TOKEN: "token refresh",
    TOKEN_BY_CLIENT_CREDENTIALS: "client-credentials token",
    TOKEN_REVOCATION: "revocation",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class EndpointMove:
    """One endpoint (or the issuer) whose origin changes."""

    key: str  # a Requests key (AuthorizationCode, ...) or DISCOVERY
    old_origin: str  # '' when the endpoint was not set before (a host the configuration never used)
    new_origin: str

    @property
    def label(self) -> str:
        if self.key == DISCOVERY:
            return "issuer (discovery URL)"
        return f"{_SHORT.get(self.key, self.key)} endpoint"

    def __str__(self) -> str:
        if not self.old_origin:
            return f"{self.label} set to {self.new_origin} (a new host)"
        return f"{self.label}: {self.old_origin} \u2192 {self.new_origin}"


@functools.lru_cache(maxsize=8192)  # an import of 10,000 records repeats a few endpoints
def origin(url: str | None) -> str:
    """The normalised ``scheme://host[:port]`` of ``url`` ('' when empty; the stripped text when unreadable)."""
    text = (url or "").strip()
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname  # lower case, IPv6 brackets removed
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    if not scheme or not host:
        return text
    host = _host(host)
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _host(host: str) -> str:
    host = host.rstrip(".") or host
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    else:
        zone = "%" + host.split("%", 1)[1] if "%" in host else ""
        return f"[{address.compressed}{zone}]" if address.version == 6 else address.compressed
    if host.isascii():
        return host.lower()
    try:  # as httpx encodes it (IDNA 2008)
        import idna

        return str(idna.encode(host.lower()).decode("ascii"))
    except Exception:  # noqa: BLE001 - no idna package, or a name it refuses (httpx refuses it too)
        pass
    try:
        return host.lower().encode("idna").decode("ascii")  # the standard library's IDNA 2003
    except UnicodeError:
        return host.lower()


def effective_endpoints(cfg: TokenConfiguration) -> dict[str, str]:
    """Each endpoint's URL as it is used; the refresh endpoint falls back to the token endpoint."""
    urls = {key: cfg.endpoint(key).strip() for key in ENDPOINT_KEYS}
    if not urls[TOKEN_BY_REFRESH_TOKEN]:
        urls[TOKEN_BY_REFRESH_TOKEN] = urls[TOKEN_BY_AUTHORIZATION_CODE]
    return urls


def endpoint_moves(stored: TokenConfiguration, changed: TokenConfiguration) -> list[EndpointMove]:
    """The endpoints whose origin ``changed`` moves away from ``stored`` (empty: nothing goes to a new host)."""
    before = {key: origin(url) for key, url in effective_endpoints(stored).items()}
    after = {key: origin(url) for key, url in effective_endpoints(changed).items()}
    known = {o for o in before.values() if o}
    if not known:
        return []  # no endpoint was ever set: nothing was obtained from anywhere
    moves: list[EndpointMove] = []
    for key in ENDPOINT_KEYS:
        old, new = before[key], after[key]
        if not new or new == old:
            continue  # removed or unchanged: sends nothing anywhere new
        if old or new not in known:
            moves.append(EndpointMove(key, old, new))
    if moves:
        old_issuer, new_issuer = origin(stored.discovery_url), origin(changed.discovery_url)
        if old_issuer and new_issuer and old_issuer != new_issuer:
            moves.append(EndpointMove(DISCOVERY, old_issuer, new_issuer))
    return moves


def describe_moves(moves: list[EndpointMove]) -> str:
    """One phrase: "token and token refresh endpoints move from https://a to https://b; ..." ('' for none)."""
    groups: dict[tuple[str, str], list[EndpointMove]] = {}
    for move in moves:
        groups.setdefault((move.old_origin, move.new_origin), []).append(move)
    phrases: list[str] = []
    for (old, new), group in groups.items():
        endpoints = [_SHORT.get(m.key, m.key) for m in group if m.key != DISCOVERY]
        if endpoints:
            names = endpoints[0] if len(endpoints) == 1 else ", ".join(endpoints[:-1]) + " and " + endpoints[-1]
            many = len(endpoints) > 1
            subject = f"{names} endpoint{'s' if many else ''}"
            verb = "move" if many else "moves"
            phrases.append(f"{subject} {verb} from {old} to {new}" if old else
                           f"{subject} {'are' if many else 'is'} set to {new} (a new host)")
        if any(m.key == DISCOVERY for m in group):
            phrases.append(f"the issuer (discovery URL) moves from {old} to {new}")
    return "; ".join(phrases)


def new_origins(moves: list[EndpointMove]) -> list[str]:
    """The hosts the moves lead to, each once, in order."""
    return list(dict.fromkeys(m.new_origin for m in moves if m.key != DISCOVERY))
