"""Due events of one token configuration: pure functions of (configuration, token state, now).

An event is something that becomes true at a known instant and stays true for a window:

* ``TOKEN_EXPIRING`` - "expires within N" (``NotifyBeforeTokenExpiry``, lead time
  ``NotificationLeadTimeMinutes``), due at expiry minus the lead time, until the expiry.
* ``TOKEN_EXPIRED`` - Znuny's ``NotifyOnExpiredToken``, due at the expiry, no end.
* ``REFRESH_EXPIRING`` - "expires within N" for the refresh token (``NotifyBeforeRefreshTokenExpiry``).
* ``REFRESH_EXPIRED`` - Znuny's ``NotifyOnExpiredRefreshToken``; also when the provider rejected
  the refresh token (``invalid_grant``, re-authorization needed) or none is stored.
* ``REFRESH_DUE`` - automatic refresh: token expiry minus the ``refresh.lead_time_seconds``
  setting, but never before half the token's lifetime (``TokenState.refresh_due_at``); only
  while a refresh token exists, works and re-authorization is not needed; for the
  client-credentials flow (no refresh token: the client secret gets a new token) once a token
  has been requested.
  Not a notification: the GUI emits ``hub.refresh_due`` for it.
* ``CLIENT_SECRET_EXPIRING`` - the client secret (``Config.Tokendesk.ClientSecretExpires``, a day) expires
  in 30, 7 or 1 days: three events, each due at the local midnight that starts that day and true until the
  next one is due, so each is announced once and only the latest is listed.
* ``CLIENT_SECRET_EXPIRED`` - the day itself ("expires today"), and every day after ("expired on").

Znuny's rules: only valid configurations (``ValidID`` 1) produce events; a configuration whose
token was never requested counts as expired (token and refresh token) but produces an event
only where that notification type is switched on.

Every event has a stable identity ``(config_id, kind, due_at)`` so the announcement log can say
"already shown" across restarts. When there is no timestamp to anchor an event on (never
requested, no refresh token, refresh token rejected), the anchor is the last request for a
token or, failing that, the configuration's creation time: both change only when the admin
does something, so the event is announced once per situation.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from desktop.models.config import TokenConfiguration
from desktop.models.grants import keeps_refresh_token
from desktop.models.token import TokenState

ACTION_REFRESH = "refresh"
ACTION_REQUEST = "request"
#: a new client secret (and its expiry day) is entered in Edit
ACTION_EDIT = "edit"

#: days ahead of a client secret's expiry at which a warning is due (then the day itself)
CLIENT_SECRET_WARNING_DAYS: tuple[int, ...] = (30, 7, 1)

#: the epoch, used as anchor when a configuration carries no creation time at all
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class EventKind(enum.Enum):
    TOKEN_EXPIRING = "token_expiring"
    TOKEN_EXPIRED = "token_expired"
    REFRESH_EXPIRING = "refresh_token_expiring"
    REFRESH_EXPIRED = "refresh_token_expired"
    REFRESH_DUE = "refresh_due"
    CLIENT_SECRET_EXPIRING = "client_secret_expiring"
    CLIENT_SECRET_EXPIRED = "client_secret_expired"

    @property
    def is_notification(self) -> bool:
        return self is not EventKind.REFRESH_DUE


#: most urgent first; the attention list shows one entry per configuration, the most urgent
SEVERITY: dict[EventKind, int] = {
    EventKind.REFRESH_EXPIRED: 6,
    EventKind.CLIENT_SECRET_EXPIRED: 5,
    EventKind.TOKEN_EXPIRED: 4,
    EventKind.CLIENT_SECRET_EXPIRING: 3,
    EventKind.REFRESH_EXPIRING: 2,
    EventKind.TOKEN_EXPIRING: 1,
    EventKind.REFRESH_DUE: 0,
}


@dataclass(frozen=True)
class DueEvent:
    config_id: int
    name: str
    kind: EventKind
    due_at: datetime
    #: the event stops being true at this instant (None: until something changes)
    until: datetime | None = None
    #: the expiry the event is about (token or refresh token), when one is known
    expires_at: datetime | None = None
    #: why, for the message: "never_requested", "no_refresh_token", "rejected" or ""
    reason: str = ""
    #: what fixes it: "refresh" (a refresh token works) or "request" (sign in again)
    action: str = ACTION_REQUEST
    #: identity for the announcement log: ``(config_id, kind, due_at as ISO text)``; computed once
    key: tuple[int, str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.config_id, self.kind.value, iso(self.due_at)))

    def active(self, now: datetime) -> bool:
        return self.due_at <= now and (self.until is None or now < self.until)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def created_at(cfg: TokenConfiguration) -> datetime:
    """The configuration's creation time (Znuny's ``YYYY-MM-DD HH:MM:SS``, UTC), else the epoch."""
    text = cfg.create_time
    if text:
        try:
            return _utc(datetime.fromisoformat(str(text).replace(" ", "T"))) or _EPOCH
        except ValueError:
            pass
    return _EPOCH


def anchor_time(cfg: TokenConfiguration, state: TokenState) -> datetime:
    """A stable instant for events that have no expiry to hang on (see the module docstring)."""
    return _utc(state.last_requested_at) or created_at(cfg)


# ---- refresh-token lifetime

#: the refresh-token lifetimes an admin can pick when the provider does not send one
#: (``Config.Tokendesk.RefreshTokenLifetimeDays``; rolling = renewed by every refresh)
REFRESH_TOKEN_LIFETIME_CHOICES: tuple[tuple[int | None, bool, str], ...] = (
    (None, False, "Unlimited or unknown (Google, published app)"),
    (7, False, "7 days from sign-in (Google app in \"Testing\" status)"),
    (90, True, "90 days, renewed by every refresh (Microsoft)"),
)
GOOGLE_TESTING_LIFETIME_DAYS = 7


def refresh_token_expiry(cfg: TokenConfiguration, state: TokenState) -> datetime | None:
    """When the refresh token dies: the provider's word, else the configured lifetime.

    The provider's ``refresh_token_expires_in`` (stored as ``refresh_token_expires_at``) wins.
    Otherwise ``Config.Tokendesk.RefreshTokenLifetimeDays`` counts from the last refresh when the
    lifetime is rolling (Microsoft: every refresh issues a new 90-day token), else from the
    sign-in that issued it (Google "Testing" apps: 7 days after consent). None when unknown.
    """
    if not state.has_refresh_token:
        return None
    stored = _utc(state.refresh_token_expires_at)
    if stored is not None:
        return stored
    days = cfg.refresh_token_lifetime_days
    if not days:
        return None
    requested = _utc(state.last_requested_at)
    refreshed = _utc(state.last_refreshed_at)
    if cfg.refresh_token_lifetime_rolling:
        candidates = [t for t in (requested, refreshed) if t is not None]
        base = max(candidates) if candidates else None
    else:
        base = requested
    return None if base is None else base + timedelta(days=days)


def refresh_token_works(cfg: TokenConfiguration, state: TokenState, now: datetime) -> bool:
    """A refresh could succeed: a refresh token is stored, not rejected and not known to be expired."""
    if not state.has_refresh_token or state.reauthorization_needed:
        return False
    expiry = refresh_token_expiry(cfg, state)
    return expiry is None or expiry > now


# ---- events of one configuration


def configuration_events(
    cfg: TokenConfiguration,
    state: TokenState | None,
    now: datetime,
    *,
    refresh_lead_seconds: int = 300,
) -> list[DueEvent]:
    """Every event of ``cfg`` that is true now or will become true later (none of the past)."""
    if cfg.id is None or not cfg.is_valid:
        return []
    state = state or TokenState(config_id=cfg.id)
    cid, name = cfg.id, cfg.name
    events: list[DueEvent] = []
    anchor = anchor_time(cfg, state)
    never = state.never_requested()
    asks_again = not keeps_refresh_token(cfg)  # renewed by asking again, no refresh token
    rt_expiry = refresh_token_expiry(cfg, state)
    lead = timedelta(minutes=cfg.notification_lead_time_minutes)
    token_exp = _utc(state.token_expires_at)

    def fix_at(moment: datetime) -> str:
        """What will fix it at ``moment``: a refresh while the refresh token still works, else a sign-in."""
        usable = state.has_refresh_token and not state.reauthorization_needed
        return ACTION_REFRESH if usable and (rt_expiry is None or rt_expiry > moment) else ACTION_REQUEST

    def add(event: DueEvent) -> None:
        if event.until is None or event.until > now:  # still true now, or later
            events.append(event)

    # ---- access token
    if not state.has_access_token:
        if cfg.notify_on_expired_token:
            add(DueEvent(cid, name, EventKind.TOKEN_EXPIRED, anchor, reason="never_requested" if never else "",
                         action=fix_at(max(anchor, now))))
    elif token_exp is not None:
        if cfg.notify_before_token_expiry and lead:
            add(DueEvent(cid, name, EventKind.TOKEN_EXPIRING, token_exp - lead, until=token_exp,
                         expires_at=token_exp, action=fix_at(token_exp - lead)))
        if cfg.notify_on_expired_token:
            add(DueEvent(cid, name, EventKind.TOKEN_EXPIRED, token_exp, expires_at=token_exp, action=fix_at(token_exp)))

    # ---- refresh token (client credentials have none: a new token needs only the client secret)
    if not asks_again:
        rolling = cfg.refresh_token_lifetime_rolling and state.refresh_token_expires_at is None
        if state.reauthorization_needed:
            if cfg.notify_on_expired_refresh_token:
                add(DueEvent(cid, name, EventKind.REFRESH_EXPIRED, anchor, reason="rejected"))
        elif not state.has_refresh_token:
            if cfg.notify_on_expired_refresh_token:
                reason = "never_requested" if never else "no_refresh_token"
                add(DueEvent(cid, name, EventKind.REFRESH_EXPIRED, anchor, reason=reason))
        elif rt_expiry is not None:
            if cfg.notify_before_refresh_token_expiry and lead:
                # a rolling lifetime is renewed by a refresh; a fixed one only by signing in again
                add(DueEvent(cid, name, EventKind.REFRESH_EXPIRING, rt_expiry - lead, until=rt_expiry,
                             expires_at=rt_expiry, action=fix_at(rt_expiry - lead) if rolling else ACTION_REQUEST))
            if cfg.notify_on_expired_refresh_token:
                add(DueEvent(cid, name, EventKind.REFRESH_EXPIRED, rt_expiry, expires_at=rt_expiry))

    events.extend(client_secret_events(cfg, now))

    # ---- automatic refresh
    lead_refresh = timedelta(seconds=max(0, refresh_lead_seconds))
    if asks_again:
        # a new token needs only the client secret: renew ahead of expiry once the admin asked for one
        if state.has_access_token and token_exp is not None and not state.reauthorization_needed:
            add(DueEvent(cid, name, EventKind.REFRESH_DUE, _utc(state.refresh_due_at(lead_refresh)) or token_exp,
                         expires_at=token_exp, action=ACTION_REFRESH))
    elif state.has_refresh_token and not state.reauthorization_needed and not (rt_expiry and rt_expiry <= now):
        if not state.has_access_token:
            due: datetime | None = anchor
        elif token_exp is not None:
            due = _utc(state.refresh_due_at(lead_refresh))
        else:
            due = None  # no expiry given: nothing to refresh ahead of
        if due is not None and (rt_expiry is None or due < rt_expiry):
            add(DueEvent(cid, name, EventKind.REFRESH_DUE, due, until=rt_expiry, expires_at=token_exp,
                         action=ACTION_REFRESH))
    return events


def day_start(day: date, tz: tzinfo | None = None) -> datetime:
    """The instant a calendar day begins: local midnight (``tz`` None: this machine's time zone)."""
    naive = datetime.combine(day, time())
    return naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()


def client_secret_events(cfg: TokenConfiguration, now: datetime, tz: tzinfo | None = None) -> list[DueEvent]:
    """The client secret's warnings: 30, 7 and 1 days ahead, then the day itself (see the module docstring).

    Each warning is true from its day's start until the next one is due; the day's event has no end. Events of
    the past (a warning whose successor is due already) are left out by the caller's ``until`` test."""
    day = cfg.client_secret_expires
    if cfg.id is None or day is None:
        return []
    expires = day_start(day, tz)
    starts = [day_start(day - timedelta(days=n), tz) for n in CLIENT_SECRET_WARNING_DAYS] + [expires]
    events = [
        DueEvent(cfg.id, cfg.name, EventKind.CLIENT_SECRET_EXPIRING, start, until=starts[i + 1], expires_at=expires,
                 reason=f"client_secret_{days}d", action=ACTION_EDIT)
        for i, (days, start) in enumerate(zip(CLIENT_SECRET_WARNING_DAYS, starts, strict=False))
    ]
    events.append(DueEvent(cfg.id, cfg.name, EventKind.CLIENT_SECRET_EXPIRED, expires, expires_at=expires,
                           reason="client_secret", action=ACTION_EDIT))
    return [e for e in events if e.until is None or e.until > now]


def all_events(
    pairs: Iterable[tuple[TokenConfiguration, TokenState | None]],
    now: datetime,
    *,
    refresh_lead_seconds: int = 300,
) -> list[DueEvent]:
    events: list[DueEvent] = []
    for cfg, state in pairs:
        events.extend(configuration_events(cfg, state, now, refresh_lead_seconds=refresh_lead_seconds))
    return events


def next_change(events: Iterable[DueEvent], now: datetime) -> datetime | None:
    """The next instant after ``now`` at which an event becomes due or stops being true."""
    future = [t for e in events for t in (e.due_at, e.until) if t is not None and t > now]
    return min(future) if future else None
