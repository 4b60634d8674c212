"""The notify feature's controller: keeps the scheduler current and arms one timer for the next due instant.

``NotifyController`` keeps the pure ``desktop.notify.scheduler.Scheduler`` up to date
(``hub.configurations_changed`` reloads all, ``hub.token_changed`` one configuration,
``hub.refresh_failed`` plans a retry) and arms one wall-clock timer (``notify_timer``) for the next
instant anything becomes due. No polling: the timer fires only then. At a due automatic refresh it
emits ``hub.refresh_due(config_id)`` (the oauth feature refreshes); warnings and expiries it hands to
``announced`` (the feature delivers them). Qt-side, but no widgets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop.notify.attention import AttentionItem
from desktop.notify.log import SqliteLog
from desktop.notify.scheduler import Plan, Scheduler
from desktop.ui.features.notify_timer import WallClockTimer, make_timer

logger = logging.getLogger(__name__)

#: configurations planned per event-loop pass at start-up (about 30 ms each on this machine)
LOAD_SLICE = 500

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class NotifyController(QObject):
    """Keeps the scheduler current and acts on its plans; Qt-side, but no widgets."""

    attention_changed = Signal(list)
    announced = Signal(object)
    planned = Signal(object)
    #: a failed automatic refresh will be tried again: (configuration name, when)
    retry_planned = Signal(str, object)

    def __init__(self, ctx: Any, hub: Any, *, clock: Clock = utc_now, timer: WallClockTimer | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.hub = hub
        self.clock = clock
        # on a team store each member's desktop announces for itself (the alerts, once per team, are not scoped)
        store = ctx.store
        self.scheduler = Scheduler(SqliteLog(store, scope=store.member if getattr(store, "is_team", False) else ""))
        self.timer = timer if timer is not None else make_timer(self)
        self.timer.fired.connect(self.on_timer_fired)
        self.timer.clock_changed.connect(self.on_clock_changed)
        self.attention: list[AttentionItem] = []
        self.wakeups = 0
        self.plans = 0
        self._planning = False
        self._again = False
        #: start-up load in slices: the configurations still to compute, and those updated meanwhile
        self._pending: list[tuple[Any, Any]] | None = None
        self._pending_at = 0
        self._updated_meanwhile: set[int] = set()
        self._load_now: datetime | None = None
        #: what each configuration was planned from (``_row_key``): ``follow`` re-plans only the rows that differ
        self._known: dict[int, tuple[Any, ...]] = {}
        hub.configurations_changed.connect(self.reload)
        hub.token_changed.connect(self.on_token_changed)
        hub.refresh_failed.connect(self.on_refresh_failed)

    # ---- inputs
    @Slot()
    def reload(self, pairs: list[tuple[Any, Any]] | None = None) -> None:
        """Recompute everything from the store (start-up, configurations changed, clock changed);
        ``pairs``: configurations with state read a moment ago (the window's, at start-up)."""
        self._pending = None  # a load in slices that is still running is replaced by this one
        self.scheduler.refresh_lead_seconds = int(self.ctx.store.get_setting("refresh.lead_time_seconds"))
        if pairs is None:
            pairs = self.ctx.store.list_with_state()
        self.scheduler.load(pairs, self.clock())
        self._known = {cfg.id: _row_key(cfg, state) for cfg, state in pairs if cfg.id is not None}
        self.run_plan()

    def follow(self, pairs: list[tuple[Any, Any]], lead_seconds: int) -> None:
        """The window read the rows again after another process's or desktop's change: plan again only the
        configurations that changed, were added or went (10,000 rows are not recomputed for one change); all of them
        when the refresh lead time changed or a start-up load is still running."""
        if self._pending is not None or lead_seconds != self.scheduler.refresh_lead_seconds:
            self.reload(pairs)
            return
        now = self.clock()
        fresh: dict[int, tuple[Any, ...]] = {}
        for cfg, state in pairs:
            if cfg.id is None:
                continue
            key = fresh[cfg.id] = _row_key(cfg, state)
            if self._known.get(cfg.id) != key:
                self.scheduler.update(cfg, state, now)
        for gone in self._known.keys() - fresh.keys():
            self.scheduler.remove(gone)
        self._known = fresh
        self.run_plan()

    def reload_in_slices(self, pairs: list[tuple[Any, Any]], size: int = LOAD_SLICE) -> None:
        """Like ``reload(pairs)``, but ``size`` configurations per event-loop pass, so the window stays
        responsive while thousands are planned (start-up). A configuration that changes meanwhile keeps its
        fresh events; the plan runs once everything is loaded."""
        self.scheduler.refresh_lead_seconds = int(self.ctx.store.get_setting("refresh.lead_time_seconds"))
        self._load_now = self.clock()
        self.scheduler.load([], self._load_now)
        self._pending, self._pending_at, self._updated_meanwhile = list(pairs), 0, set()
        self._known = {cfg.id: _row_key(cfg, state) for cfg, state in pairs if cfg.id is not None}
        self._slice_size = max(1, size)
        self._load_slice()

    @Slot()
    def _load_slice(self) -> None:
        pending = self._pending
        if pending is None or self._load_now is None:
            return
        end = min(len(pending), self._pending_at + self._slice_size)
        for cfg, state in pending[self._pending_at:end]:
            if cfg.id is not None and cfg.id not in self._updated_meanwhile:
                self.scheduler.update(cfg, state, self._load_now)
        self._pending_at = end
        if end < len(pending):
            QTimer.singleShot(0, self._load_slice)
            return
        self._pending = None
        self.run_plan()

    @property
    def loading(self) -> bool:
        return self._pending is not None

    @Slot(int)
    def on_token_changed(self, config_id: int) -> None:
        if self._pending is not None:
            self._updated_meanwhile.add(config_id)  # the slices must not put older events back
        self._known.pop(config_id, None)  # planned from the store's row now: the next ``follow`` plans it again
        cfg = self.ctx.store.get_by_id(config_id)
        now = self.clock()
        had_attention = any(i.config_id == config_id for i in self.attention)
        if cfg is None:
            self.scheduler.remove(config_id)
            change = None
        else:
            change = self.scheduler.update(cfg, self.ctx.store.get_state(config_id), now)
        if self._planning:  # inside a plan (an inline refresh): that plan runs again and re-arms
            self._again = True
        elif had_attention or (change is not None and change <= now):
            self.run_plan()
        else:
            self._arm(self.scheduler.next_wake(now), now)

    @Slot(int)
    def on_refresh_failed(self, config_id: int) -> None:
        """An automatic refresh failed on the network: the scheduler plans the next attempt."""
        cfg = self.ctx.store.get_by_id(config_id)
        if cfg is None:
            return
        now = self.clock()
        at = self.scheduler.refresh_failed(cfg, self.ctx.store.get_state(config_id), now)
        if at is not None:
            logger.info("automatic refresh of '%s' failed on the network; next attempt %s", cfg.name, at.isoformat())
            self.retry_planned.emit(cfg.name, at)
        if not self._planning:
            self._arm(self.scheduler.next_wake(now), now)

    @Slot()
    def on_timer_fired(self) -> None:
        self.wakeups += 1
        self.run_plan()

    @Slot()
    def on_clock_changed(self) -> None:
        self.reload()

    @Slot()
    def check_clock(self) -> None:
        """Called when the application becomes active (and after a wake): re-plan if the clock jumped."""
        self.timer.check_clock()

    # ---- planning
    def run_plan(self) -> Plan | None:
        if self._pending is not None:  # loading in slices: a plan over part of the table would announce
            return None                # (and forget) the wrong things; the last slice plans
        if self._planning:  # a slot of ours ran inside a plan (an inline refresh): plan again after
            self._again = True
            return None
        self._planning = True
        plan: Plan | None = None
        try:
            while True:
                self._again = False
                plan = self._plan_once()
                if not self._again:
                    break
        finally:
            self._planning = False
        return plan

    def _plan_once(self) -> Plan:
        now = self.clock()
        lead = int(self.ctx.store.get_setting("refresh.lead_time_seconds"))
        if lead != self.scheduler.refresh_lead_seconds:  # the admin changed it in the settings dialog
            self.scheduler.refresh_lead_seconds = lead
            self.scheduler.load(self.ctx.store.list_with_state(), now)
        plan = self.scheduler.plan(None, now)
        self.plans += 1
        if plan.attention != self.attention:
            self.attention = plan.attention
            self.attention_changed.emit(list(plan.attention))
        for note in plan.announcements:
            self.announced.emit(note)
        for event in plan.refresh_due:
            logger.info("automatic refresh due for configuration %s", event.config_id)
        self.hub.refresh([event.config_id for event in plan.refresh_due])
        self._arm(plan.next_wake, now)
        self.planned.emit(plan)
        return plan

    def _arm(self, at: datetime | None, now: datetime) -> None:
        if at is None:
            self.timer.disarm()
        else:
            self.timer.arm(at, now)


def _row_key(cfg: Any, state: Any) -> tuple[Any, ...]:
    """What a configuration's events depend on, cheap to compare: every save of the row or of its client secret
    counts its revisions up; the token state compared whole."""
    return (cfg.name, cfg.revision, cfg.secret_revision, cfg.valid_id, state)

