"""The scheduler: from all configurations and "now", what to do now and when to look again.

``Scheduler.plan(pairs, now)`` is pure apart from the announcement log it is given and the
set of refreshes it already asked for. It returns a ``Plan``:

* ``refresh_due`` - configurations whose automatic refresh is due (each due time asked once
  per run; after a restart a still-due refresh is asked again, which is what one wants);
* ``announcements`` - tray messages / desktop notifications to show now: events that became
  true and were never announced (the log remembers across restarts). More than
  ``summary_threshold`` at once (typically after a restart or a long sleep) become one summary;
* ``attention`` - everything that needs attention now (the bar and the tray menu);
* ``next_wake`` - the next instant at which anything becomes due or stops being true; the GUI
  arms one timer for it. ``None``: nothing will ever be due without a change.

No polling: between changes (configurations, tokens, clock jumps, wake from sleep) the GUI calls
``plan`` only when ``next_wake`` is reached.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from desktop.models.config import TokenConfiguration
from desktop.models.token import TokenState
from desktop.notify.attention import (
    Announcement,
    AttentionItem,
    announcement_for,
    attention_list,
    summary_announcement,
)
from desktop.notify.events import DueEvent, EventKind, all_events, next_change
from desktop.notify.log import AnnouncementLog, Key, MemoryLog

logger = logging.getLogger(__name__)

#: events due within this much of "now" count as due (timers may fire a little early)
DEFAULT_TOLERANCE = timedelta(seconds=1)


@dataclass
class Plan:
    now: datetime
    refresh_due: list[DueEvent] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    attention: list[AttentionItem] = field(default_factory=list)
    next_wake: datetime | None = None
    #: how many events this plan announced for the first time (a summary counts all it covers)
    newly_announced: int = 0


class Scheduler:
    def __init__(
        self,
        log: AnnouncementLog | None = None,
        *,
        summary_threshold: int = 2,
        tolerance: timedelta = DEFAULT_TOLERANCE,
    ) -> None:
        self.log: AnnouncementLog = log if log is not None else MemoryLog()
        self.summary_threshold = summary_threshold
        self.tolerance = tolerance
        self._refresh_asked: set[Key] = set()
        self._started = False

    def plan(
        self,
        pairs: Iterable[tuple[TokenConfiguration, TokenState | None]],
        now: datetime,
        *,
        refresh_lead_seconds: int = 300,
    ) -> Plan:
        at = now + self.tolerance
        events = all_events(pairs, now, refresh_lead_seconds=refresh_lead_seconds)
        active = [e for e in events if e.active(at)]
        notes = [e for e in active if e.kind.is_notification]
        plan = Plan(now=now, next_wake=next_change(events, at), attention=attention_list(notes, now))

        if not self._started:
            # first look after start: forget announcements of situations that are over
            self._started = True
            pruned = self.log.prune({e.key for e in notes})
            if pruned:
                logger.debug("forgot %d announcements of events that are over", pruned)

        # automatic refreshes: once per due time per run
        for event in active:
            if event.kind is EventKind.REFRESH_DUE and event.key not in self._refresh_asked:
                self._refresh_asked.add(event.key)
                plan.refresh_due.append(event)
        # forget asked refreshes whose due time moved (the refresh worked, or the token changed)
        self._refresh_asked &= {e.key for e in events if e.kind is EventKind.REFRESH_DUE}

        # notifications: each event once, ever
        seen = self.log.announced(e.key for e in notes)
        fresh = [e for e in notes if e.key not in seen]
        if fresh:
            items = attention_list(fresh, now)
            if len(items) > self.summary_threshold:
                plan.announcements.append(summary_announcement(items))
            else:
                plan.announcements.extend(announcement_for(i) for i in items)
            self.log.record((e.key for e in fresh), now)
            plan.newly_announced = len(fresh)
        return plan
