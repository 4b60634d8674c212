"""What an alert is: the due events of ``desktop/notify/events.py`` (and failed refreshes) grouped in alert kinds,
each with its plain words, as the tray says them. Pure: no Qt, no I/O, no secret.

Alert kinds (the ``alerts.<kind>.command`` / ``alerts.<kind>.mail_to`` settings):

* ``client_secret`` - the client secret expires in 30, 7 or 1 days, or on the day (and after);
* ``refresh_token`` - the refresh token expires soon, expired, was rejected, or none is stored (a sign-in needed);
* ``refresh_failed`` - the last refresh failed (the token state keeps the provider's error);
* ``token`` - the access token expires soon or expired (where the configuration notifies of it).

Every alert has a stable identity: the event's ``(config_id, kind, due_at)``; a failed refresh is anchored on the
last success and the error's words, so the same failure is one alert however often it is retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from desktop.models.config import TokenConfiguration
from desktop.models.settings import ALERT_KINDS
from desktop.models.token import TokenState
from desktop.notify.attention import describe
from desktop.notify.events import ACTION_REFRESH, DueEvent, EventKind, anchor_time, configuration_events, iso

KIND_CLIENT_SECRET = "client_secret"
KIND_REFRESH_TOKEN = "refresh_token"
KIND_REFRESH_FAILED = "refresh_failed"
KIND_TOKEN = "token"
KINDS: tuple[str, ...] = tuple(kind for kind, _what in ALERT_KINDS)
KIND_WORDS: dict[str, str] = dict(ALERT_KINDS)

_KIND_OF_EVENT = {
    EventKind.CLIENT_SECRET_EXPIRING: KIND_CLIENT_SECRET,
    EventKind.CLIENT_SECRET_EXPIRED: KIND_CLIENT_SECRET,
    EventKind.REFRESH_EXPIRING: KIND_REFRESH_TOKEN,
    EventKind.REFRESH_EXPIRED: KIND_REFRESH_TOKEN,
    EventKind.TOKEN_EXPIRING: KIND_TOKEN,
    EventKind.TOKEN_EXPIRED: KIND_TOKEN,
}
EVENT_REFRESH_FAILED = "refresh_failed"


@dataclass(frozen=True)
class Alert:
    kind: str
    #: the event: an ``EventKind`` value or ``refresh_failed``
    event: str
    config_id: int
    name: str
    #: "warning" or "critical"
    severity: str
    title: str
    #: what happened and what to do, in plain words (absolute times: the text stays true)
    message: str
    #: the identity's instant (or anchor text) - with config_id and event, the notification log's key
    due: str
    due_at: datetime
    expires_at: datetime | None = None
    #: what fixes it: "refresh", "request" (sign in again) or "edit" (a new client secret)
    action: str = ""

    @property
    def id(self) -> str:
        """A short stable identity for mail subjects and hooks (no secret in it)."""
        return hashlib.sha256(f"{self.config_id}|{self.event}|{self.due}".encode()).hexdigest()[:16]

    def log_key(self, channel: str) -> tuple[int, str, str]:
        return (self.config_id, f"alert:{channel}:{self.event}", self.due)


def _severity(event: DueEvent) -> str:
    if event.kind in (EventKind.TOKEN_EXPIRED, EventKind.REFRESH_EXPIRED, EventKind.CLIENT_SECRET_EXPIRED):
        return "critical"
    if event.kind is EventKind.CLIENT_SECRET_EXPIRING and event.reason == "client_secret_1d":
        return "critical"
    return "warning"


def alert_for_event(event: DueEvent, now: datetime) -> Alert | None:
    kind = _KIND_OF_EVENT.get(event.kind)
    if kind is None:
        return None
    title, text, step = describe(event, now, relative=False)
    return Alert(kind, event.kind.value, event.config_id, event.name, _severity(event), title, f"{text} {step}",
                 iso(event.due_at), event.due_at, event.expires_at, event.action)


def refresh_failed_alert(cfg: TokenConfiguration, state: TokenState, now: datetime) -> Alert | None:
    """The last refresh failed (and a sign-in is not what is needed: that is a ``refresh_token`` alert)."""
    if cfg.id is None or not cfg.is_valid or not state.has_error or state.reauthorization_needed:
        return None
    if state.never_requested():
        return None
    anchor = anchor_time(cfg, state)
    last_ok = max((t for t in (state.last_requested_at, state.last_refreshed_at) if t is not None), default=anchor)
    fingerprint = hashlib.sha256(state.error_text.encode()).hexdigest()[:12]
    working = state.has_access_token and (state.token_expires_at is None or state.token_expires_at > now)
    text = f"The last refresh of '{cfg.name}' failed: {state.error_text}."
    text += (" The access token still works for now; Tokendesk tries again." if working else
             " No working access token is left: programs that use it fail until a refresh works.")
    return Alert(KIND_REFRESH_FAILED, EVENT_REFRESH_FAILED, cfg.id, cfg.name, "warning" if working else "critical",
                 "Refresh failed", text + " Check the network and the provider, then Refresh.",
                 f"{iso(last_ok)} {fingerprint}", last_ok, state.token_expires_at, ACTION_REFRESH)


def due_alerts(pairs: Iterable[tuple[TokenConfiguration, TokenState | None]], now: datetime, *,
               refresh_lead_seconds: int = 300) -> list[Alert]:
    """Every alert that is true now, over all configurations (valid ones only: Znuny's rule)."""
    alerts: list[Alert] = []
    for cfg, state in pairs:
        state = state or TokenState(config_id=cfg.id or 0)
        for event in configuration_events(cfg, state, now, refresh_lead_seconds=refresh_lead_seconds):
            if event.kind.is_notification and event.active(now):
                alert = alert_for_event(event, now)
                if alert is not None:
                    alerts.append(alert)
        failed = refresh_failed_alert(cfg, state, now)
        if failed is not None:
            alerts.append(failed)
    return alerts
