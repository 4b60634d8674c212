"""What the table shows about a token: status kinds, plain text and relative times.

Pure functions of a ``TokenState`` and "now", so the table model, the CLI and the
notification scheduler all say the same thing.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import NamedTuple

from desktop.models.token import TokenState


class TokenStatus(enum.Enum):
    NONE = "none"  # no token requested yet
    VALID = "valid"
    EXPIRING = "expiring"  # valid, but inside the warning lead time
    EXPIRED = "expired"
    FAILED = "failed"  # last request failed
    REAUTH = "reauth"  # invalid_grant: interactive re-authorization needed


class RefreshStatus(enum.Enum):
    NONE = "none"
    VALID = "valid"
    NO_EXPIRY = "no_expiry"
    EXPIRING = "expiring"
    EXPIRED = "expired"


class StatusText(NamedTuple):  # NamedTuple: ~7x quicker to build than a dataclass at start-up
    kind: enum.Enum
    text: str
    #: sort key: seconds until expiry (None sorts last) so the table sorts by urgency
    sort_key: float


def format_local(dt: datetime) -> str:
    """A timestamp in the machine's local time, minutes precision."""
    return dt.astimezone().strftime("%Y-%m-%d %H:%M")


def relative_time(dt: datetime, now: datetime) -> str:
    """``in 12 min``, ``3 h ago``, ``in 2 days``, ``just now``."""
    delta = (dt - now).total_seconds()
    future = delta >= 0
    seconds = abs(delta)
    if seconds < 45:
        return "just now" if not future else "in a few seconds"
    if seconds < 90 * 60:
        amount = f"{max(1, round(seconds / 60))} min"
    elif seconds < 36 * 3600:
        amount = f"{round(seconds / 3600)} h"
    elif seconds < 60 * 86400:
        days = round(seconds / 86400)
        amount = f"{days} day" + ("s" if days != 1 else "")
    else:
        months = round(seconds / (30 * 86400))
        amount = f"{months} months"
    return f"in {amount}" if future else f"{amount} ago"


def format_when(dt: datetime, now: datetime) -> str:
    """``2026-11-27 18:47 (in 48 min)``: local time plus how far from now."""
    return f"{format_local(dt)} ({relative_time(dt, now)})"


def last_used_text(at: datetime | None, by: str, now: datetime) -> str:
    """``2026-11-27 14:02 (3 min ago) by /usr/bin/msmtp`` - when the token was last handed out and to which
    program (``by`` '' when unknown); ``never`` when it was not. The details pane and ``tokendesk show``."""
    if at is None:
        return "never"
    return f"{format_when(at, now)} by {by}" if by else format_when(at, now)


_FAR = float(10**12)


def token_status(state: TokenState | None, now: datetime, lead: timedelta = timedelta(0)) -> StatusText:
    if state is None or state.never_requested():
        return StatusText(TokenStatus.NONE, "no token requested yet", _FAR)
    if state.reauthorization_needed:
        return StatusText(TokenStatus.REAUTH, f"re-authorization needed: {state.error_text}", -_FAR)
    if state.has_error:
        # also when a token is still stored but the last refresh failed: the failure is the news
        return StatusText(TokenStatus.FAILED, f"last request failed: {state.error_text}", -_FAR / 2)
    if not state.has_access_token:
        return StatusText(TokenStatus.NONE, "no token stored", _FAR)
    exp = state.token_expires_at
    if exp is None:
        return StatusText(TokenStatus.VALID, "valid (no expiry given)", _FAR / 2)
    return _expiry_status(TokenStatus, exp, now, lead)


def refresh_status(state: TokenState | None, now: datetime, lead: timedelta = timedelta(0)) -> StatusText:
    if state is None or not state.has_refresh_token:
        return StatusText(RefreshStatus.NONE, "none", _FAR)
    exp = state.refresh_token_expires_at
    if exp is None:
        return StatusText(RefreshStatus.NO_EXPIRY, "valid (no expiry known)", _FAR / 2)
    return _expiry_status(RefreshStatus, exp, now, lead)


def _expiry_status(kinds: type[TokenStatus] | type[RefreshStatus], exp: datetime, now: datetime,
                   lead: timedelta) -> StatusText:
    """Expired, expiring (inside ``lead``) or valid, by the expiry ``exp``; ``kinds`` is the status enum."""
    left = (exp - now).total_seconds()
    if left <= 0:
        return StatusText(kinds.EXPIRED, f"expired on {format_when(exp, now)}", left)
    kind = kinds.EXPIRING if lead and left <= lead.total_seconds() else kinds.VALID
    return StatusText(kind, f"valid until {format_when(exp, now)}", left)
