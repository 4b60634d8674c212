"""What a token is for, in words an admin can check: account, granted scope, audience (pure).

When a mailbox refuses a token, the usual causes are a token for another account, a scope
the user did not grant, or a token for another resource (Microsoft: a Graph token used for
IMAP). The token response's ``scope`` field and, where the access token or the ID token is a
JWT (Microsoft, many OIDC providers), a few of its claims answer that. The claims are read
for display only - nothing here checks a signature, and nothing here decides anything.
The token itself and its signature are never kept; Google's opaque tokens simply yield less.

``token_info(payload)`` returns a small mapping of plain strings, stored with the token state:

* ``account`` - ``upn`` / ``preferred_username`` / ``email`` / ``unique_name`` (access token
  first, then the ID token; after a sign-in without them, the provider's userinfo answer:
  ``desktop.oauth.userinfo``);
* ``subject`` - the ID token's ``sub`` (shown as who signed in when nothing names the account);
* ``granted_scope`` - the response's ``scope`` (what the provider granted, RFC 6749 5.1);
* ``token_scope`` - the access token's ``scp`` or ``roles`` (Microsoft);
* ``audience`` - the access token's ``aud`` (the resource it is for);
* ``token_type`` - ``Bearer`` as a rule.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

ACCOUNT_CLAIMS = ("upn", "preferred_username", "email", "unique_name")
MAX_VALUE = 500  # a claim longer than this is cut (the details pane shows it, nothing else)


def jwt_claims(token: str | None) -> dict[str, Any]:
    """The payload of a JWS compact token, or {} for anything else (opaque tokens, garbage)."""
    if not token or token.count(".") != 2:
        return {}
    part = token.split(".")[1]
    try:
        data = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    text = "" if value is None else str(value).strip()
    return text[:MAX_VALUE]


def token_info(payload: Mapping[str, Any], access_token: str | None = None) -> dict[str, str]:
    """The displayable facts of a token response (see the module docstring); empty values left out."""
    access = jwt_claims(access_token)
    identity = jwt_claims(payload.get("id_token") if isinstance(payload.get("id_token"), str) else None)
    info: dict[str, str] = {}
    for claims in (access, identity):
        if "account" not in info and account_claim(claims):
            info["account"] = account_claim(claims)
    info["subject"] = _text(identity.get("sub"))
    info["granted_scope"] = _text(payload.get("scope"))
    info["token_scope"] = _text(access.get("scp") or access.get("roles"))
    info["audience"] = _text(access.get("aud"))
    info["token_type"] = _text(payload.get("token_type"))
    return {key: value for key, value in info.items() if value}


def account_claim(claims: Mapping[str, Any]) -> str:
    """The first claim that names the account (``ACCOUNT_CLAIMS``), '' when none does."""
    for name in ACCOUNT_CLAIMS:
        value = _text(claims.get(name))
        if value:
            return value
    return ""


def account_mismatch(info: Mapping[str, str], login: str) -> str:
    """A plain sentence when the token was issued to another account than ``login`` ('' otherwise)."""
    account = info.get("account", "")
    if not account or not login or account.casefold() == login.strip().casefold():
        return ""
    return (f"The token was issued to {account}, but this account logs in as {login}: unless {account} may "
            f"open that mailbox (a shared mailbox), sign in as {login} (Request new token) or change the login.")


#: scopes providers grant without echoing them (OIDC basics, Microsoft's offline_access)
_UNECHOED = frozenset({"openid", "offline_access", "email", "profile"})


def missing_scopes(requested: str, granted: str) -> list[str]:
    """Requested scopes the provider did not grant (Google's consent screen lets users untick some).

    Empty when the provider said nothing about the grant. Scopes that providers grant without naming
    them in the answer (openid, offline_access, email, profile) never count as missing; Microsoft
    answers ``https://outlook.office.com/IMAP.AccessAsUser.All`` for a request of that same string, and
    a bare ``IMAP.AccessAsUser.All`` also matches its resource-qualified form."""
    if not granted.strip():
        return []
    have = {s.casefold() for s in granted.split()}
    short = {s.rsplit("/", 1)[-1] for s in have if "/" in s}
    missing = []
    for scope in requested.split():
        key = scope.casefold()
        if key in _UNECHOED or key in have or ("/" not in key and key in short):
            continue
        missing.append(scope)
    return missing
