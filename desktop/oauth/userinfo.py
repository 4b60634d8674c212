"""Who signed in, asked of the provider's OpenID Connect userinfo endpoint (OIDC Core 5.3).

Asked once after a sign-in whose tokens name no account (no ``upn``, ``preferred_username``, ``email``:
generic OpenID Connect providers that put only ``sub`` into their ID token, or the e-mail address only into
userinfo), with the new access token, on the sign-in's worker thread. The answer is read for display only;
a ``sub`` other than the ID token's makes it unusable (OIDC Core 5.3.2). Nothing here fails a sign-in: every
problem is a logged line (never the token) and an empty answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from desktop.oauth.claims import account_claim

logger = logging.getLogger(__name__)

#: the userinfo request never holds the sign-in up longer than this (seconds)
MAX_TIMEOUT = 10.0


@dataclass(frozen=True)
class SignedIn:
    #: the named account (e-mail address, user name), '' when userinfo names none
    account: str = ""
    #: userinfo's ``sub``
    subject: str = ""


def ask_userinfo(url: str, access_token: str, *, subject: str = "", timeout: float = MAX_TIMEOUT) -> SignedIn:
    """The account userinfo names (see the module docstring); ``SignedIn()`` on any problem. ``subject``: the ID
    token's ``sub`` ('' when there was none), which userinfo's must equal."""
    from desktop.oauth.errors import TokenError
    from desktop.oauth.flow import check_endpoint

    try:
        check_endpoint(url, "Userinfo endpoint")
        from desktop.oauth.http import get_json

        answer = get_json(url, bearer=access_token, timeout=min(timeout, MAX_TIMEOUT))
    except TokenError as exc:
        logger.warning("userinfo endpoint not asked or not reached: %s", exc)
        return SignedIn()
    if answer.status != 200 or answer.payload is None:
        logger.warning("userinfo endpoint answered HTTP %d%s", answer.status,
                       "" if answer.payload is not None else " without a JSON object")
        return SignedIn()
    found = str(answer.payload.get("sub") or "").strip()
    if subject and found != subject:
        logger.warning("userinfo answer is about another subject than the ID token: not used")
        return SignedIn()
    return SignedIn(account_claim(answer.payload), found)
