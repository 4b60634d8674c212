"""Token state: the non-secret facts about a configuration's token.

The access and refresh tokens themselves are secrets (see ``desktop.store.secrets``); the
database holds only whether they exist, their expiries, the last error and timestamps.
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TokenState:
    config_id: int
    has_access_token: bool = False
    has_refresh_token: bool = False
    token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    error_message: str | None = None
    error_description: str | None = None
    error_code: str | None = None
    last_requested_at: datetime | None = None
    last_refreshed_at: datetime | None = None
    last_used_at: datetime | None = None
    #: the program that last asked for the token (its executable, e.g. /usr/bin/msmtp; '' when unknown)
    last_used_by: str = ""
    #: set by invalid_grant: automatic refresh stops until the admin requests a new token
    reauthorization_needed: bool = False
    #: what the token is for, for display (desktop.oauth.claims.token_info: account, granted scope, audience)
    token_info: dict[str, str] = field(default_factory=dict)

    @property
    def account(self) -> str:
        """Who signed in for the stored token, as its claims (or the provider's userinfo) say; else the ID token's
        subject ('' when nothing says, or no token is stored)."""
        if not self.has_access_token:
            return ""
        return str(self.token_info.get("account") or self.token_info.get("subject") or "")

    @property
    def has_error(self) -> bool:
        return bool(self.error_message or self.error_code or self.error_description)

    @property
    def error_text(self) -> str:
        """Znuny's form: ``<error> (error code <codes>): <description>``."""
        return format_error_text(self.error_message, self.error_code, self.error_description)

    def never_requested(self) -> bool:
        return not self.has_access_token and self.last_requested_at is None and not self.has_error

    @property
    def issued_at(self) -> datetime | None:
        """When the stored access token was obtained (the later of the last request and the last refresh)."""
        times = [t for t in (self.last_requested_at, self.last_refreshed_at) if t is not None]
        return max(times) if times else None

    def refresh_due_at(self, lead: timedelta) -> datetime | None:
        """When the access token should be renewed: its expiry minus ``lead``, but never earlier than half its
        lifetime after it was issued (5-minute tokens with a 5-minute lead time would otherwise be renewed -
        and their refresh token rotated - on every use). None when no expiry is known."""
        expires = self.token_expires_at
        if expires is None:
            return None
        due = expires - lead
        issued = self.issued_at
        if issued is not None and issued < expires:
            due = max(due, issued + (expires - issued) / 2)
        return due

    def token_expired(self, now: datetime) -> bool:
        if not self.has_access_token:
            return True
        return self.token_expires_at is not None and self.token_expires_at <= now

    def refresh_token_expired(self, now: datetime) -> bool:
        if not self.has_refresh_token:
            return True
        return self.refresh_token_expires_at is not None and self.refresh_token_expires_at <= now


def format_error_text(message: str | None, code: str | None, description: str | None) -> str:
    text = message or "error"
    if code:
        text += f" (error code {code})"
    if description:
        text += f": {description}"
    return text
