"""Token state: the non-secret facts about a configuration's token.

The access and refresh tokens themselves are secrets (see ``desktop.store.secrets``); the
database holds only whether they exist, their expiries, the last error and timestamps.
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from desktop.models.record import Record


def utcnow() -> datetime:
    return datetime.now(UTC)


class TokenState(Record):
    config_id: int
    has_access_token: bool
    has_refresh_token: bool
    token_expires_at: datetime | None
    refresh_token_expires_at: datetime | None
    error_message: str | None
    error_description: str | None
    error_code: str | None
    last_requested_at: datetime | None
    last_refreshed_at: datetime | None
    last_used_at: datetime | None
    #: the program that last asked for the token (its executable, e.g. /usr/bin/msmtp; '' when unknown)
    last_used_by: str
    #: set by invalid_grant: automatic refresh stops until the admin requests a new token
    reauthorization_needed: bool
    #: what the token is for, for display (desktop.oauth.claims.token_info: account, granted scope, audience)
    token_info: dict[str, str]

    _fields = _compared = (
        "config_id", "has_access_token", "has_refresh_token", "token_expires_at", "refresh_token_expires_at",
        "error_message", "error_description", "error_code", "last_requested_at", "last_refreshed_at", "last_used_at",
        "last_used_by", "reauthorization_needed", "token_info",
    )

    def __init__(self, config_id: int, has_access_token: bool = False, has_refresh_token: bool = False,
                 token_expires_at: datetime | None = None, refresh_token_expires_at: datetime | None = None,
                 error_message: str | None = None, error_description: str | None = None,
                 error_code: str | None = None, last_requested_at: datetime | None = None,
                 last_refreshed_at: datetime | None = None, last_used_at: datetime | None = None,
                 last_used_by: str = "", reauthorization_needed: bool = False,
                 token_info: dict[str, str] | None = None) -> None:
        self.config_id = config_id
        self.has_access_token = has_access_token
        self.has_refresh_token = has_refresh_token
        self.token_expires_at = token_expires_at
        self.refresh_token_expires_at = refresh_token_expires_at
        self.error_message = error_message
        self.error_description = error_description
        self.error_code = error_code
        self.last_requested_at = last_requested_at
        self.last_refreshed_at = last_refreshed_at
        self.last_used_at = last_used_at
        self.last_used_by = last_used_by
        self.reauthorization_needed = reauthorization_needed
        self.token_info = {} if token_info is None else token_info

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
