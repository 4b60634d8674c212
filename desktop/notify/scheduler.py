"""The scheduler: from all configurations and "now", what to do now and when to look again.

The scheduler keeps the due events of every configuration (``load`` computes all of them,
``update``/``remove`` one configuration when it changes) and ``plan(now)`` says:

* ``refresh_due`` - configurations whose automatic refresh is due (each due time asked once
  per run; after a restart a still-due refresh is asked again, which is what one wants);
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
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from desktop.models.config import TokenConfiguration
from desktop.models.token import TokenState
from desktop.notify.attention import Announcement, AttentionItem, announcement_for, attention_list, summary_announcement
from desktop.notify.events import DueEvent, EventKind, configuration_events
from desktop.notify.log import AnnouncementLog, Key, MemoryLog

logger = logging.getLogger(__name__)

#: events due within this much of "now" count as due (timers may fire a little early)
DEFAULT_TOLERANCE = timedelta(seconds=1)

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
    ) -> None:
        self.log: AnnouncementLog = log if log is not None else MemoryLog()
        self.summary_threshold = summary_threshold
        self.tolerance = tolerance
        self.refresh_lead_seconds = refresh_lead_seconds
        self._events: dict[int, list[DueEvent]] = {}
        self._refresh_asked: set[Key] = set()
        self._announced: set[Key] | None = None  # the log's content, read once
        self._started = False

    # ---- the event table
    def load(self, pairs: Pairs, now: datetime) -> None:
        """Recompute every configuration's events (start-up, configurations changed, clock changed)."""
        self._events = {}
        for cfg, state in pairs:
            if cfg.id is not None:
                self._events[cfg.id] = self._compute(cfg, state, now)

    def update(self, cfg: TokenConfiguration, state: TokenState | None, now: datetime) -> datetime | None:
        """Recompute one configuration's events; returns its next change (or ``now`` if one is due now)."""
        if cfg.id is None:
            return None
        events = self._compute(cfg, state, now)
        self._events[cfg.id] = events
        at = now + self.tolerance
        if any(e.active(at) for e in events):
            return now
        return _next_change(events, at)

    def remove(self, config_id: int) -> None:
        self._events.pop(config_id, None)

    def events(self) -> list[DueEvent]:
        return [e for events in self._events.values() for e in events]

    def _compute(self, cfg: TokenConfiguration, state: TokenState | None, now: datetime) -> list[DueEvent]:
        return configuration_events(cfg, state, now, refresh_lead_seconds=self.refresh_lead_seconds)

    def next_wake(self, now: datetime) -> datetime | None:
        return _next_change(self.events(), now + self.tolerance)

    # ---- planning
    def plan(self, pairs: Pairs | None, now: datetime, *, refresh_lead_seconds: int | None = None) -> Plan:
        if refresh_lead_seconds is not None:
            self.refresh_lead_seconds = refresh_lead_seconds
        if pairs is not None:
            self.load(pairs, now)
        at = now + self.tolerance
        events = self.events()
        active = [e for e in events if e.active(at)]
        notes = [e for e in active if e.kind.is_notification]
        plan = Plan(now=now, next_wake=_next_change(events, at), attention=attention_list(notes, now))
        plan.due_now = sum(
            1 for e in events if abs((e.due_at - now).total_seconds()) <= self.tolerance.total_seconds()
            or (e.until is not None and abs((e.until - now).total_seconds()) <= self.tolerance.total_seconds())
        )

        if self._announced is None:
            # first look after start: forget announcements of situations that are over
            pruned = self.log.prune({e.key for e in notes})
            if pruned:
                logger.debug("forgot %d announcements of events that are over", pruned)
            self._announced = self.log.announced(e.key for e in notes)

        # automatic refreshes: once per due time per run
        for event in active:
            if event.kind is EventKind.REFRESH_DUE and event.key not in self._refresh_asked:
                self._refresh_asked.add(event.key)
                plan.refresh_due.append(event)
        # forget asked refreshes whose due time moved (the refresh worked, or the token changed)
        self._refresh_asked &= {e.key for e in events if e.kind is EventKind.REFRESH_DUE}

        # notifications: each event once, ever
        fresh = [e for e in notes if e.key not in self._announced]
        if fresh:
            items = attention_list(fresh, now)
            if len(items) > self.summary_threshold:
                plan.announcements.append(summary_announcement(items))
            else:
                plan.announcements.extend(announcement_for(i) for i in items)
            keys = [e.key for e in fresh]
            self.log.record(keys, now)
            self._announced.update(keys)
            plan.newly_announced = len(fresh)
        return plan


def _next_change(events: Iterable[DueEvent], after: datetime) -> datetime | None:
    best: datetime | None = None
    for e in events:
        if e.due_at > after and (best is None or e.due_at < best):
            best = e.due_at
        if e.until is not None and e.until > after and (best is None or e.until < best):
            best = e.until
    return best
