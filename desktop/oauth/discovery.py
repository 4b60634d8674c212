"""OpenID Connect / RFC 8414 discovery: read an issuer's ``.well-known`` document.

The document is taken only from the address asked (no redirects) and only when its ``issuer`` is the issuer
asked for (OpenID Connect Discovery 4.3, RFC 8414 3.3); its issuer and RFC 9207 promise are kept on the
configuration (``DiscoveredEndpoints.record_on``) for the sign-in check in ``desktop.oauth.flow``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from desktop.models.validation import check_url

if TYPE_CHECKING:
    from desktop.models.config import TokenConfiguration


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
    #: ``authorization_response_iss_parameter_supported`` (RFC 9207): every sign-in answer carries ``iss``
    iss_parameter_supported: bool = False
    #: ``userinfo_endpoint`` (OpenID Connect): who signed in, when the tokens do not say
    userinfo_endpoint: str = ""
    #: ``device_authorization_endpoint`` (RFC 8628 4): the device grant can be used
    device_authorization_endpoint: str = ""

    def record_on(self, cfg: TokenConfiguration) -> None:
        """Keep what the sign-in check needs on the configuration (``Config.Tokendesk.Issuer`` and
        ``IssParameterSupported``): an answer's ``iss`` must be this issuer, and must be there if announced; and
        ``UserinfoURL``, asked who signed in when the tokens do not say. An announced device authorization endpoint
        becomes ``Requests.DeviceAuthorization`` in Znuny's shape (its URL; client_id and scope autofilled, and
        client_secret when the configuration sends one to the token endpoint), keeping parameters already there."""
        cfg.issuer = self.issuer
        cfg.iss_parameter_supported = self.iss_parameter_supported
        cfg.userinfo_url = self.userinfo_endpoint
        if self.device_authorization_endpoint:
            from desktop.models.config import DEVICE_AUTHORIZATION, TOKEN_BY_AUTHORIZATION_CODE

            cfg.set_endpoint(DEVICE_AUTHORIZATION, self.device_authorization_endpoint)
            request = cfg.config["Requests"][DEVICE_AUTHORIZATION]["Request"]
            request.setdefault("Parameters", {})
            if not isinstance(request.get("AutofilledParametersMapping"), dict):
                autofill = {"client_id": "ClientID", "scope": "Scope"}
                if "ClientSecret" in cfg.autofilled_parameters(TOKEN_BY_AUTHORIZATION_CODE).values():
                    autofill["client_secret"] = "ClientSecret"
                request["AutofilledParametersMapping"] = autofill

    def preferred_client_authentication(self) -> str | None:
        """``client_secret_basic`` when the provider announces it but not ``client_secret_post``; ``client_secret_post``
        when it announces that; None when it says nothing (keep what the configuration has)."""
        methods = set(self.token_auth_methods)
        if "client_secret_post" in methods:
            return "client_secret_post"
        if "client_secret_basic" in methods:
            return "client_secret_basic"
        return None


def discovery_urls(issuer: str) -> list[tuple[str, str]]:
    """Where to look, and the issuer each document must name: the OIDC document, then the RFC 8414 one; or the
    ``.well-known`` address the admin gave (its issuer derived from it: OIDC Discovery 4, RFC 8414 3)."""
    issuer = issuer.strip()
    if "/.well-known/" in issuer:
        url = issuer
        parts = urlsplit(url)
        before, _, after = parts.path.partition("/.well-known/")
        root = f"{parts.scheme}://{parts.netloc}"
        if after.startswith("openid-configuration"):
            return [(url, root + before)]
        _, _, suffix = after.partition("/")  # RFC 8414: /.well-known/oauth-authorization-server/<issuer path>
        return [(url, root + before + ("/" + suffix if suffix else ""))]
    base = issuer.rstrip("/")
    parts = urlsplit(base)
    root = f"{parts.scheme}://{parts.netloc}"
    return [(f"{base}/.well-known/openid-configuration", base),
            (f"{root}/.well-known/oauth-authorization-server{parts.path}", base)]


def _same_issuer(found: str, asked: str) -> bool:
    """The document's issuer is the one asked for (a trailing slash the admin typed or left out is not another
    issuer; everything else must be identical, scheme and host included)."""
    return found.rstrip("/") == asked.rstrip("/")


def _issuer_problem(url: str, found: object, asked: str) -> str | None:
    if not isinstance(found, str) or not found.strip():
        return f"{url} names no issuer, so it cannot be checked; it was not used."
    if _same_issuer(found, asked):
        return None
    text = (f"{url} is the document of the issuer {found}, not of {asked} (OpenID Connect Discovery and RFC 8414 "
            "require them to be the same), so it was not used.")
    if "{tenantid}" in found.lower():
        return text + (" Microsoft's multi-tenant address names no single issuer: use "
                       "https://login.microsoftonline.com/<your tenant ID>/v2.0 as the issuer.")
    return text + " Enter exactly the issuer URL the provider documents."


def discover(issuer: str, timeout: float = 20.0) -> DiscoveredEndpoints:
    """Fetch and check the discovery document (network I/O: call it off the GUI thread).

    No redirect is followed (a moved document is reported with its new address), the proxy rule of token
    requests applies (``desktop.oauth.proxy``), and the document must name the issuer asked for."""
    problem = check_url(issuer)
    if problem:
        raise DiscoveryError(f"The issuer URL {problem}.")
    import httpx

    from desktop.oauth import proxy

    last_error = ""
    for url, asked in discovery_urls(issuer):
        try:
            with httpx.Client(transport=proxy.transport(url), timeout=timeout, follow_redirects=False) as client:
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
        if response.is_redirect:
            location = response.headers.get("location", "")
            raise DiscoveryError(
                f"{url} answered with a redirect (HTTP {response.status_code}) to {location or 'nowhere'}. Tokendesk "
                "does not follow redirects when reading a discovery document: if that is the provider's real "
                "address, enter its issuer instead.")
        if response.status_code != 200:
            raise DiscoveryError(f"{url} answered HTTP {response.status_code}.")
        try:
            doc = response.json()
        except (ValueError, RecursionError):
            raise DiscoveryError(f"{url} did not return JSON.") from None
        if not isinstance(doc, dict):
            raise DiscoveryError(f"{url} did not return a JSON object.")
        mismatch = _issuer_problem(url, doc.get("issuer"), asked)
        if mismatch:
            raise DiscoveryError(mismatch)
        auth = str(doc.get("authorization_endpoint") or "")
        token = str(doc.get("token_endpoint") or "")
        if not auth or not token:
            raise DiscoveryError(f"{url} has no authorization_endpoint or token_endpoint.")
        return DiscoveredEndpoints(
            issuer=str(doc["issuer"]),
            authorization_endpoint=auth,
            token_endpoint=token,
            revocation_endpoint=str(doc.get("revocation_endpoint") or ""),
            scopes_supported=_texts(doc.get("scopes_supported")),
            code_challenge_methods=_texts(doc.get("code_challenge_methods_supported")),
            token_auth_methods=_texts(doc.get("token_endpoint_auth_methods_supported")),
            iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported") is True,
            userinfo_endpoint=_text(doc.get("userinfo_endpoint")),
            device_authorization_endpoint=_text(doc.get("device_authorization_endpoint")),
        )
    raise DiscoveryError(f"No discovery document found: {last_error}. Is the issuer URL right?")


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(s) for s in value) if isinstance(value, list) else ()
