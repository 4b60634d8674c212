"""Field validation shared by the add/edit dialog, the CLI and YAML import.

Every check returns plain-language messages naming the field, so the dialog can show them
while typing and import can report them per record.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from desktop.models.config import (  # ENDPOINT_LABELS: importable from here as before
    ENDPOINT_LABELS,
    TOKEN_REVOCATION,
    VALIDITY_LABELS,
    TokenConfiguration,
)
from desktop.models.grants import auth_flow_problem

MAX_NAME_LENGTH = 200
_WHITESPACE = re.compile(r"\s")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def is_loopback_host(host: str | None) -> bool:
    """This machine for certain: a literal loopback address (127.0.0.0/8, ::1) or the name ``localhost``.

    ``*.localhost`` does not count (RFC 6761 wants it loopback, but here it is resolved through DNS and
    /etc/hosts like any other name, so it may point anywhere), nor ``localhost.``, IPv4-mapped ``::ffff:127.x``
    or shorthand ``127.1``: plain http and the proxy exemption are for what cannot leave this machine."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback


def check_url(value: str, *, required: bool = True) -> str | None:
    """None when fine, else why not. https is required unless the host is loopback."""
    value = (value or "").strip()
    if not value:
        return "is required" if required else None
    if _WHITESPACE.search(value):
        return "must not contain spaces"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port  # raises on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "must start with https://"
    if not host:
        return "has no host name"
    if parts.scheme == "http" and not is_loopback_host(host):
        return "must use https (http is allowed only for this machine: localhost, 127.0.0.1, ::1)"
    return None


def check_name(name: str, existing_names: set[str] | None = None, own_name: str | None = None) -> str | None:
    name = name or ""
    if not name.strip():
        return "is required"
    if name != name.strip():
        return "must not start or end with spaces"
    if len(name) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):  # C0/DEL/C1 controls, line breaks
        return "must not contain control characters"
    if existing_names is not None:
        taken = {n.casefold() for n in existing_names}
        if own_name is not None:
            taken.discard(own_name.casefold())
        if name.casefold() in taken:
            return f"'{name}' is already used by another configuration"
    return None


def validate_configuration(
    cfg: TokenConfiguration,
    *,
    existing_names: set[str] | None = None,
    own_name: str | None = None,
    has_client_secret: bool | None = None,
) -> list[FieldError]:
    """All problems with ``cfg`` (empty list: it can be saved).

    ``has_client_secret`` None skips the secret check (import may leave it for later).
    """
    errors: list[FieldError] = []
    if (msg := check_name(cfg.name, existing_names, own_name)) is not None:
        errors.append(FieldError("Name", msg))
    if not cfg.template_name.strip():
        errors.append(FieldError("Template", "is required"))
    if not cfg.client_id.strip():
        errors.append(FieldError("Client ID", "is required"))
    if has_client_secret is False:
        errors.append(FieldError("Client secret", "is required"))
    if cfg.valid_id not in VALIDITY_LABELS:
        errors.append(
            FieldError(
                "Validity", f"must be one of 1 (valid), 2 (invalid), 3 (invalid-temporarily), not {cfg.valid_id!r}"
            )
        )
    for key, url in cfg.endpoints_in_use().items():
        if (msg := check_url(url)) is not None:
            errors.append(FieldError(ENDPOINT_LABELS[key], msg))
        elif "TENANT-ID" in url:
            errors.append(
                FieldError(
                    ENDPOINT_LABELS[key],
                    "still contains the placeholder TENANT-ID: put your tenant's "
                    "ID or domain there (client credentials do not work with 'common')",
                )
            )
    if cfg.revocation_url and (msg := check_url(cfg.revocation_url, required=False)) is not None:
        errors.append(FieldError(ENDPOINT_LABELS[TOKEN_REVOCATION], msg))
    if cfg.redirect_url_override and (msg := check_url(cfg.redirect_url_override, required=False)) is not None:
        errors.append(FieldError("Redirect URI", msg))
    if cfg.client_secret_expires_text and cfg.client_secret_expires is None:
        errors.append(FieldError("Client secret expires", "must be a date written year-month-day, such as "
                                 f"2027-05-31, not {cfg.client_secret_expires_text!r}; leave it empty when unknown"))
    if (problem := auth_flow_problem(cfg)) is not None:
        errors.append(FieldError("AuthFlow", problem))
    return errors
