"""SASL initial responses for OAuth2 bearer tokens (XOAUTH2 and RFC 7628 OAUTHBEARER)."""

from __future__ import annotations

import base64


def xoauth2_string(login: str, token: str) -> str:
    """``user=<login>^Aauth=Bearer <token>^A^A`` (unencoded)."""
    return f"user={login}\x01auth=Bearer {token}\x01\x01"


def xoauth2_base64(login: str, token: str) -> str:
    return base64.b64encode(xoauth2_string(login, token).encode("utf-8")).decode("ascii")


def oauthbearer_string(login: str, token: str, host: str, port: int) -> str:
    """RFC 7628: ``n,a=<login>,^Ahost=<h>^Aport=<p>^Aauth=Bearer <token>^A^A``."""
    safe_login = login.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={safe_login},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"


def oauthbearer_base64(login: str, token: str, host: str, port: int) -> str:
    return base64.b64encode(oauthbearer_string(login, token, host, port).encode("utf-8")).decode("ascii")
