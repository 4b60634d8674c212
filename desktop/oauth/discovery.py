"""OpenID Connect / RFC 8414 discovery: read an issuer's ``.well-known`` document."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from desktop.models.validation import check_url


class DiscoveryError(RuntimeError):
    pass


@dataclass(frozen=True)
class DiscoveredEndpoints:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str = ""
    scopes_supported: tuple[str, ...] = ()
    code_challenge_methods: tuple[str, ...] = ()
    #: ``token_endpoint_auth_methods_supported`` (empty: not announced; RFC 8414 default client_secret_basic)
    token_auth_methods: tuple[str, ...] = ()

    def preferred_client_authentication(self) -> str | None:
        """``client_secret_basic`` when the provider announces it but not ``client_secret_post``; ``client_secret_post``
        when it announces that; None when it says nothing (keep what the configuration has)."""
        methods = set(self.token_auth_methods)
        if "client_secret_post" in methods:
            return "client_secret_post"
        if "client_secret_basic" in methods:
            return "client_secret_basic"
        return None


def discovery_urls(issuer: str) -> list[str]:
    """Where to look: the OIDC document, then the RFC 8414 one."""
    issuer = issuer.strip()
    if "/.well-known/" in issuer:
        return [issuer]
    base = issuer.rstrip("/")
    parts = urlsplit(base)
    urls = [f"{base}/.well-known/openid-configuration"]
    path = parts.path
    root = f"{parts.scheme}://{parts.netloc}"
    urls.append(f"{root}/.well-known/oauth-authorization-server{path}")
    return urls


def discover(issuer: str, timeout: float = 20.0) -> DiscoveredEndpoints:
    """Fetch and check the discovery document (network I/O: call it off the GUI thread)."""
    problem = check_url(issuer)
    if problem:
        raise DiscoveryError(f"The issuer URL {problem}.")
    import httpx

    from desktop.oauth import proxy

    last_error = ""
    for url in discovery_urls(issuer):
        try:
            with httpx.Client(transport=proxy.transport(url), timeout=timeout, follow_redirects=True) as client:
                response = client.get(url, headers={"Accept": "application/json"})
        except proxy.ProxyProblem as exc:
            raise DiscoveryError(f"{exc}. Correct the proxy variable or name the host in NO_PROXY.") from None
        except httpx.TimeoutException:
            raise DiscoveryError(f"{urlsplit(url).netloc} did not answer within {timeout:.0f} s.") from None
        except httpx.HTTPError as exc:
            raise DiscoveryError(
                f"Could not reach {urlsplit(url).netloc} ({exc.__class__.__name__}). "
                "Check the issuer URL and the network."
            ) from None
        if response.status_code == 404:
            last_error = f"{url} was not found (404)"
            continue
        if response.status_code != 200:
            raise DiscoveryError(f"{url} answered HTTP {response.status_code}.")
        try:
            doc = response.json()
        except ValueError:
            raise DiscoveryError(f"{url} did not return JSON.") from None
        if not isinstance(doc, dict):
            raise DiscoveryError(f"{url} did not return a JSON object.")
        auth = str(doc.get("authorization_endpoint") or "")
        token = str(doc.get("token_endpoint") or "")
        if not auth or not token:
            raise DiscoveryError(f"{url} has no authorization_endpoint or token_endpoint.")
        return DiscoveredEndpoints(
            issuer=str(doc.get("issuer") or issuer),
            authorization_endpoint=auth,
            token_endpoint=token,
            revocation_endpoint=str(doc.get("revocation_endpoint") or ""),
            scopes_supported=tuple(str(s) for s in doc.get("scopes_supported") or ()),
            code_challenge_methods=tuple(str(s) for s in doc.get("code_challenge_methods_supported") or ()),
            token_auth_methods=tuple(str(s) for s in doc.get("token_endpoint_auth_methods_supported") or ()),
        )
    raise DiscoveryError(f"No discovery document found: {last_error}. Is the issuer URL right?")
