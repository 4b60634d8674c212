"""What needs attention now: one entry per configuration, in plain words, with the fix.

The bar in the window and the tray menu list these; tray messages and desktop notifications
use the same title and text, so the admin reads the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from desktop.models.status import format_local, format_when
from desktop.notify.events import ACTION_EDIT, ACTION_REFRESH, SEVERITY, DueEvent, EventKind

ACTION_LABELS = {ACTION_REFRESH: "Refresh", "request": "Request new token", ACTION_EDIT: "Edit"}


@dataclass(frozen=True)
class AttentionItem:
    config_id: int
    name: str
    kind: EventKind
    title: str
    message: str
    #: "refresh" or "request"
    action: str
    due_at: datetime
    #: "never_requested", "no_refresh_token", "rejected" or ""
    reason: str = ""
    #: the message without the closing "what to do" sentence (the bar has a button for that)
    summary: str = ""

    @property
    def status_kind(self) -> str:
        """The status icon that fits (``desktop.ui.icons.status_icon`` names)."""
        if self.reason == "never_requested":
            return "none"
        if self.reason == "rejected":
            return "reauth"
        if self.kind in (EventKind.TOKEN_EXPIRING, EventKind.REFRESH_EXPIRING, EventKind.CLIENT_SECRET_EXPIRING):
            return "expiring"
        return "expired"

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.action, "Open")

    @property
    def severity(self) -> int:
        return SEVERITY[self.kind]


def _when(dt: datetime | None, now: datetime, verb: str, relative: bool = True) -> str:
    if dt is None:
        return verb
    if not relative:
        return f"{verb} on {format_local(dt)}"
    return f"{verb} on {format_when(dt, now)}"


def describe(event: DueEvent, now: datetime, relative: bool = True) -> tuple[str, str, str]:
    """(title, what happened, what to do next) for one event; ``relative`` adds "(in 3 days)"."""
    name = event.name
    kind = event.kind
    if event.reason == "never_requested":
        title, text = "No token yet", f"No token has been requested for '{name}' yet."
    elif kind is EventKind.REFRESH_EXPIRED and event.reason == "rejected":
        title, text = "Sign-in needed", f"The provider rejected the refresh token of '{name}'."
    elif kind is EventKind.REFRESH_EXPIRED and event.reason == "no_refresh_token":
        title = "No refresh token"
        text = f"'{name}' has no refresh token, so its access token cannot be renewed automatically."
    elif kind is EventKind.REFRESH_EXPIRED:
        title = "Refresh token expired"
        text = f"The refresh token of '{name}' {_when(event.expires_at, now, 'expired', relative)}."
    elif kind is EventKind.REFRESH_EXPIRING:
        title = "Refresh token expires soon"
        text = f"The refresh token of '{name}' {_when(event.expires_at, now, 'expires', relative)}."
    elif kind is EventKind.TOKEN_EXPIRED and event.expires_at is None:
        title, text = "Token missing", f"'{name}' has no valid access token."
    elif kind is EventKind.TOKEN_EXPIRED:
        title = "Token expired"
        text = f"The access token of '{name}' {_when(event.expires_at, now, 'expired', relative)}."
    elif kind is EventKind.TOKEN_EXPIRING:
        title = "Token expires soon"
        text = f"The access token of '{name}' {_when(event.expires_at, now, 'expires', relative)}."
    elif kind in (EventKind.CLIENT_SECRET_EXPIRING, EventKind.CLIENT_SECRET_EXPIRED):
        title, text = client_secret_words(event, now, relative)
    else:
        title, text = "Refresh due", f"The access token of '{name}' is due for a refresh."
    if event.action == ACTION_EDIT:
        step = ("Make a new client secret at the provider (Entra: App registrations > Certificates & secrets), "
                "then enter it and its expiry date with Edit.")
    elif event.action == ACTION_REFRESH:
        step = "Refresh it now."
    elif event.reason == "never_requested":
        step = "Request a new token to sign in for the first time."
    else:
        step = "Request a new token (sign in again)."
    return title, text, step


def client_secret_words(event: DueEvent, now: datetime, relative: bool = True) -> tuple[str, str]:
    """(title, text) of a client-secret event: "expires on 2027-05-31 (in 7 days)", "expires today", "expired on"."""
    name = event.name
    expires = event.expires_at or event.due_at
    day = expires.date().isoformat()
    if event.kind is EventKind.CLIENT_SECRET_EXPIRING:
        left = (expires.date() - now.astimezone(expires.tzinfo).date()).days  # calendar days, as the day is given
        when = f"{day} ({'tomorrow' if left == 1 else f'in {left} days'})" if relative else day
        return "Client secret expires soon", f"The client secret of '{name}' expires on {when}."
    if now.astimezone(expires.tzinfo) < expires + timedelta(days=1):
        return "Client secret expires today", f"The client secret of '{name}' expires today ({day})."
    return "Client secret expired", f"The client secret of '{name}' expired on {day}: the provider refuses it."


def attention_item(event: DueEvent, now: datetime) -> AttentionItem:
    """The entry for ``event``: ``message`` as of ``now`` (relative times, for a notification shown now),
    ``summary`` with absolute times only, so it stays true while the entry is listed."""
    title, text, step = describe(event, now)
    summary = describe(event, now, relative=False)[1]
    return AttentionItem(event.config_id, event.name, event.kind, title, f"{text} {step}", event.action,
                         event.due_at, event.reason, summary=summary)


def most_urgent_per_configuration(events: Iterable[DueEvent]) -> list[DueEvent]:
    """Keep the most severe notification event of each configuration (earliest due on a tie)."""
    best: dict[int, DueEvent] = {}
    for event in events:
        if not event.kind.is_notification:
            continue
        current = best.get(event.config_id)
        if current is None or (SEVERITY[event.kind], -event.due_at.timestamp()) > (
            SEVERITY[current.kind], -current.due_at.timestamp()
        ):
            best[event.config_id] = event
    return list(best.values())


def attention_events(active_events: Iterable[DueEvent]) -> list[DueEvent]:
    """The events the bar and the tray menu list: one per configuration, most urgent first, then by name."""
    chosen = most_urgent_per_configuration(active_events)
    chosen.sort(key=lambda e: (-SEVERITY[e.kind], e.name.casefold()))
    return chosen


def attention_list(active_events: Iterable[DueEvent], now: datetime) -> list[AttentionItem]:
    """The entries for the bar and the tray menu: most urgent first, then by name."""
    return [attention_item(e, now) for e in attention_events(active_events)]


@dataclass(frozen=True)
class Announcement:
    """One tray message / desktop notification. ``name`` and ``action`` say what a click opens."""

    title: str
    message: str
    name: str
    action: str
    #: how many configurations it speaks for (more than one: a summary)
    count: int = 1


def announcement_for(item: AttentionItem) -> Announcement:
    return Announcement(item.title, item.message, item.name, item.action)


def summary_announcement(items: list[AttentionItem], shown_names: int = 3, total: int | None = None) -> Announcement:
    """One message for many new ``items``: 'N tokens need attention' + the first names; a click opens the first.

    ``total``: how many need attention now (the bar's and the tray menu's count, the plan's attention list), which
    the title says so that message and bar never disagree; the text names the new ones and counts the others."""
    first = items[0]
    count = max(total or 0, len(items))
    parts = [f"{i.name}: {i.title.lower()}" for i in items[:shown_names]]
    more = len(items) - shown_names
    body = "; ".join(parts) + (f"; and {more} more" if more > 0 else "") + "."
    if count > len(items):
        body += f" ({count - len(items)} known before.)"
    return Announcement(f"{count} tokens need attention", body, first.name, first.action, count=count)
