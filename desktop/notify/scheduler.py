"""The scheduler: from all configurations and "now", what to do now and when to look again.

The scheduler keeps the due events of every configuration (``load`` computes all of them,
``update``/``remove`` one configuration when it changes) and ``plan(now)`` says:

* ``refresh_due`` - configurations whose automatic refresh is due (each due time asked once
  per run; after a restart a still-due refresh is asked again, which is what one wants). An
  automatic refresh that failed on the network (``refresh_failed``) is asked again after a
  growing pause (``REFRESH_RETRY_BACKOFF``) until it succeeds, the token changes or the refresh
  token dies - still one timer, armed for the retry;
* ``announcements`` - tray messages / desktop notifications to show now: events that became
  true and were never announced (the log remembers across restarts). More than
  ``summary_threshold`` at once (typically after a restart or a long sleep) become one summary;
* ``attention`` - everything that needs attention now (the bar and the tray menu);
* ``next_wake`` - the next instant at which anything becomes due or stops being true; the GUI
  arms one timer for it. ``None``: nothing will ever be due without a change.

No polling: between changes (configurations, tokens, clock jumps, wake from sleep) the GUI calls
``plan`` only when ``next_wake`` is reached. ``plan(pairs, now)`` with a list of pairs reloads
everything first (tests, start-up).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from desktop.models.config import TokenConfiguration
from desktop.models.grants import keeps_refresh_token
from desktop.models.status import format_when
from desktop.models.token import TokenState
from desktop.notify.attention import (
    Announcement,
    AttentionItem,
    announcement_for,
    attention_events,
    attention_item,
    summary_announcement,
)
from desktop.notify.events import DueEvent, EventKind, configuration_events
from desktop.notify.log import AnnouncementLog, Key, MemoryLog

logger = logging.getLogger(__name__)

#: events due within this much of "now" count as due (timers may fire a little early)
DEFAULT_TOLERANCE = timedelta(seconds=1)
#: automatic refreshes are asked for up to this much after their due time, together with every other
#: refresh due by then: one wake-up per minute at most instead of one per token. Late, not early: the
#: oauth feature skips a token that is not yet inside its lead time. Capped at half the lead time.
DEFAULT_REFRESH_SLACK = timedelta(seconds=60)

#: pauses before asking again for an automatic refresh that failed on the network (the last repeats)
REFRESH_RETRY_BACKOFF: tuple[timedelta, ...] = tuple(
    timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30)
)
#: the reason of the extra REFRESH_DUE event that retries a failed automatic refresh
REASON_RETRY = "retry"

Pairs = Iterable[tuple[TokenConfiguration, TokenState | None]]


@dataclass
class Plan:
    now: datetime
    refresh_due: list[DueEvent] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    attention: list[AttentionItem] = field(default_factory=list)
    next_wake: datetime | None = None
    #: how many events this plan announced for the first time (a summary counts all it covers)
    newly_announced: int = 0
    #: the events that were due at this instant (became true or stopped being true)
    due_now: int = 0


class Scheduler:
    def __init__(
        self,
        log: AnnouncementLog | None = None,
        *,
        summary_threshold: int = 2,
        tolerance: timedelta = DEFAULT_TOLERANCE,
        refresh_lead_seconds: int = 300,
        refresh_slack: timedelta = DEFAULT_REFRESH_SLACK,
    ) -> None:
        self.log: AnnouncementLog = log if log is not None else MemoryLog()
        self.refresh_slack = refresh_slack
        self.summary_threshold = summary_threshold
        self.tolerance = tolerance
        self.refresh_lead_seconds = refresh_lead_seconds
        self._events: dict[int, list[DueEvent]] = {}
        #: refreshes already asked for, per configuration (dropped when its events are recomputed without them)
        self._refresh_asked: dict[int, set[Key]] = {}
        self._announced: set[Key] | None = None  # the log's content, read once
        #: attention entries by event key, made when the event first needs attention (stable between plans)
        self._items: dict[Key, AttentionItem] = {}
        #: automatic refreshes that failed on the network: configuration -> (failures so far, next attempt)
        self._retries: dict[int, tuple[int, datetime]] = {}

    # ---- the event table
    def load(self, pairs: Pairs, now: datetime) -> None:
        """Recompute every configuration's events (start-up, configurations changed, clock changed)."""
        self._events = {}
        for cfg, state in pairs:
            if cfg.id is not None:
                self._events[cfg.id] = self._compute(cfg, state, now)
        self._refresh_asked = {cid: keys for cid, keys in self._refresh_asked.items() if cid in self._events}
        self._retries = {cid: retry for cid, retry in self._retries.items() if cid in self._events}
        for cid in self._refresh_asked:
            self._forget_moved_refreshes(cid)

    def update(self, cfg: TokenConfiguration, state: TokenState | None, now: datetime) -> datetime | None:
        """Recompute one configuration's events; returns its next change (or ``now`` if one is due now)."""
        if cfg.id is None:
            return None
        events = self._compute(cfg, state, now)
        self._events[cfg.id] = events
        self._forget_moved_refreshes(cfg.id)
        at = now + self.tolerance
        if any(e.active(at) for e in events):
            return now
        return _next_change(events, at, self.coalesce_window())

    def forget_asked_refreshes(self) -> None:
        """Refreshes asked for may not have run (a team store that could not be reached meanwhile): the next plan
        asks again for those still due (one running now is not started twice: the oauth feature's busy set)."""
        self._refresh_asked.clear()

    def remove(self, config_id: int) -> None:
        self._events.pop(config_id, None)
        self._refresh_asked.pop(config_id, None)
        self._retries.pop(config_id, None)

    def refresh_failed(self, cfg: TokenConfiguration, state: TokenState | None, now: datetime) -> datetime | None:
        """An automatic refresh of ``cfg`` failed on the network: ask again after a growing pause.

        Returns when the next attempt is due (None: nothing left to retry, e.g. the refresh token
        died meanwhile). The retry is forgotten as soon as the state shows no error (a refresh or a
        sign-in worked) or no automatic refresh is due any more."""
        if cfg.id is None:
            return None
        failures = self._retries.get(cfg.id, (0, now))[0]
        at = now + REFRESH_RETRY_BACKOFF[min(failures, len(REFRESH_RETRY_BACKOFF) - 1)]
        self._retries[cfg.id] = (failures + 1, at)
        self.update(cfg, state, now)
        retry = self._retries.get(cfg.id)
        return retry[1] if retry is not None else None

    def retry_at(self, config_id: int) -> datetime | None:
        """When the failed automatic refresh of this configuration is tried again (None: not waiting)."""
        retry = self._retries.get(config_id)
        return retry[1] if retry is not None else None

    def _asked(self, event: DueEvent) -> set[Key]:
        return self._refresh_asked.get(event.config_id, set())

    def _forget_moved_refreshes(self, config_id: int) -> None:
        """A refresh asked for a due time that is no longer in the table (the token changed) is done."""
        asked = self._refresh_asked.get(config_id)
        if asked:
            asked &= {e.key for e in self._events.get(config_id, ()) if e.kind is EventKind.REFRESH_DUE}

    def events(self) -> list[DueEvent]:
        return [e for events in self._events.values() for e in events]

    def events_of(self, config_id: int) -> list[DueEvent]:
        return list(self._events.get(config_id, ()))

    def _compute(self, cfg: TokenConfiguration, state: TokenState | None, now: datetime) -> list[DueEvent]:
        events = configuration_events(cfg, state, now, refresh_lead_seconds=self.refresh_lead_seconds)
        retry = self._retries.get(cfg.id) if cfg.id is not None else None
        if retry is not None:
            at = retry[1]
            # the refresh that failed: due before the retry and still wanted until after it
            failed = [e for e in events if e.kind is EventKind.REFRESH_DUE and e.due_at <= at
                      and (e.until is None or at < e.until)]
            if not failed or state is None or not state.has_error or state.reauthorization_needed:
                del self._retries[cfg.id]  # it worked, the token changed, or only a sign-in helps now
            else:
                events.append(replace(failed[0], due_at=at, reason=REASON_RETRY))
        return events

    def coalesce_window(self) -> timedelta:
        """How long after its due time an automatic refresh may wait for others to be asked together."""
        # never more than half the refresh lead time, so a coalesced refresh still comes before expiry
        return min(self.refresh_slack, timedelta(seconds=self.refresh_lead_seconds / 2))

    def next_wake(self, now: datetime) -> datetime | None:
        return _next_change(self.events(), now + self.tolerance, self.coalesce_window())

    # ---- planning
    def plan(self, pairs: Pairs | None, now: datetime, *, refresh_lead_seconds: int | None = None) -> Plan:
        if refresh_lead_seconds is not None:
            self.refresh_lead_seconds = refresh_lead_seconds
        if pairs is not None:
            self.load(pairs, now)
        at = now + self.tolerance
        window = self.coalesce_window()
        since = now - self.tolerance
        # one pass over the table: what is true now, what changes next, what changed at this instant
        active: list[DueEvent] = []
        next_wake: datetime | None = None
        due_now = 0
        for events in self._events.values():
            for e in events:
                due, until = e.due_at, e.until
                if due > at:
                    wake = due + window if e.kind is EventKind.REFRESH_DUE else due
                    if next_wake is None or wake < next_wake:
                        next_wake = wake
                else:
                    if due >= since or (e.kind is EventKind.REFRESH_DUE and e.key not in self._asked(e)):
                        due_now += 1
                    if until is None or until > at:
                        active.append(e)
                if until is not None:
                    if until > at:
                        if next_wake is None or until < next_wake:
                            next_wake = until
                    elif until >= since:
                        due_now += 1
        notes = [e for e in active if e.kind.is_notification]
        items = {e.key: self._items.get(e.key) or attention_item(e, now) for e in attention_events(notes)}
        self._items = items
        plan = Plan(now=now, next_wake=next_wake, attention=list(items.values()), due_now=due_now)

        if self._announced is None:
            # first look after start: forget announcements of situations that are over
            pruned = self.log.prune({e.key for e in notes})
            if pruned:
                logger.debug("forgot %d announcements of events that are over", pruned)
            self._announced = self.log.announced(e.key for e in notes)

        # automatic refreshes: once per due time per run
        for event in active:
            if event.kind is EventKind.REFRESH_DUE:
                asked = self._refresh_asked.setdefault(event.config_id, set())
                if event.key not in asked:
                    asked.add(event.key)
                    plan.refresh_due.append(event)

        # notifications: each event once, ever
        fresh = [e for e in notes if e.key not in self._announced]
        if fresh:
            fresh_items = [attention_item(e, now) for e in attention_events(fresh)]
            if len(fresh_items) > self.summary_threshold:
                # the title counts what the bar lists (plan.attention), not only the new: one count (issue 16)
                plan.announcements.append(summary_announcement(fresh_items, total=len(plan.attention)))
            else:
                plan.announcements.extend(announcement_for(i) for i in fresh_items)
            keys = [e.key for e in fresh]
            self.log.record(keys, now)
            self._announced.update(keys)
            plan.newly_announced = len(fresh)
        return plan


def _next_change(events: Iterable[DueEvent], after: datetime, slack: timedelta = timedelta(0)) -> datetime | None:
    """The earliest instant after ``after`` at which something is due or ends (a refresh: its due time + slack)."""
    best: datetime | None = None
    for e in events:
        if e.due_at > after:
            wake = e.due_at + slack if e.kind is EventKind.REFRESH_DUE else e.due_at
            if best is None or wake < best:
                best = wake
        if e.until is not None and e.until > after and (best is None or e.until < best):
            best = e.until
    return best


def automatic_refresh_text(cfg: TokenConfiguration, state: TokenState | None, events: Iterable[DueEvent],
                           retry_at: datetime | None, now: datetime) -> str:
    """What the details pane says about the automatic refresh of one configuration (plain words)."""
    if not cfg.is_valid:
        return "off: the configuration is not valid"
    state = state or TokenState(config_id=cfg.id or 0)
    if retry_at is not None:
        return f"the last attempt failed; next attempt {format_when(retry_at, now)}"
    if state.reauthorization_needed:
        return "stopped: the provider wants a new sign-in (Request new token)"
    due = sorted(e.due_at for e in events if e.kind is EventKind.REFRESH_DUE)
    upcoming = [t for t in due if t > now]
    if due and not upcoming:
        return "due now"
    if upcoming:
        return f"next {format_when(upcoming[0], now)}"
    if not keeps_refresh_token(cfg):
        return "after the first token is requested" if not state.has_access_token else \
            "not needed: the provider gave no expiry"
    if not state.has_refresh_token:
        return "not possible: no refresh token is stored (Request new token)"
    if state.has_access_token and state.token_expires_at is None:
        return "not needed: the provider gave no expiry"
    return "not possible: the refresh token has expired (Request new token)"
