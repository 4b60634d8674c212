"""Notify feature: one wall-clock timer for the next due event, notifications, tray, bar, click-through.

Wiring (``install(app)``):

* ``NotifyController`` keeps the pure ``desktop.notify.scheduler.Scheduler`` up to date
  (``hub.configurations_changed`` reloads all, ``hub.token_changed`` one configuration) and arms
  one timer for the next instant anything becomes due. No polling: the timer fires only then.
  At a due automatic refresh it emits ``hub.refresh_due(config_id)`` (the oauth feature refreshes);
  at warnings and expiries it announces.
* The timer runs on the wall clock. On Linux it is a ``timerfd`` on ``CLOCK_REALTIME`` with an
  absolute expiry, so it fires at the right wall time after a suspend, and
  ``TFD_TIMER_CANCEL_ON_SET`` tells us when the clock is set (NTP step, admin, time zone change
  does not matter: everything is UTC). Elsewhere a precise ``QTimer`` checks wall clock against
  the monotonic clock when it fires and when the application becomes active, and re-plans on a
  jump.
* Notification strategy, chosen at start-up (../shared/STYLE.md 6): tray messages when a system tray
  exists, else desktop notifications over D-Bus when a notification service answers, else only
  the bar. The bar below the toolbar is always there. The status bar says which one is in use.
  One exception: on X11 a tray that appears after Tokendesk (autostart before the panel) is
  taken up - the icon is created anyway (Qt embeds it when a tray shows up) and the next
  notification, close or tray question switches to the tray once, saying so.
* A button that names an action does it: a bar entry's button, a tray message (its click), a tray menu
  entry, a desktop notification's action (and its click) emit ``hub.open_configuration(name,
  "refresh"|"request")``; the window comes up, selects the row and runs the action (the sign-in dialog
  opens, the refresh runs with its progress). A summary of several tokens only opens the window.
* With a tray, closing the window keeps Tokendesk running (the first time a tray message says
  so; setting ``ui.close_to_tray_hint_shown``): ``window.close_to_tray`` is set here.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel

from desktop import APP_NAME
from desktop.models.status import format_when
from desktop.notify.attention import ACTION_LABELS, Announcement, AttentionItem
from desktop.notify.events import refresh_token_works
from desktop.notify.log import SqliteLog
from desktop.notify.scheduler import Plan, Scheduler, automatic_refresh_text
from desktop.ui.features.host import FeatureHost
from desktop.ui.notification_bar import NotificationBar

logger = logging.getLogger(__name__)

#: configurations planned per event-loop pass at start-up (about 30 ms each on this machine)
LOAD_SLICE = 500

STRATEGY_TRAY = "tray"
STRATEGY_DBUS = "dbus"
STRATEGY_WINDOW = "window"
STRATEGY_TEXT = {
    STRATEGY_TRAY: "notifications appear as tray messages and in the bar below the toolbar",
    STRATEGY_DBUS: "no system tray: notifications appear as desktop notifications and in the bar below the toolbar",
    STRATEGY_WINDOW: "no system tray and no notification service: notifications appear only in the bar "
    "below the toolbar",
}

#: a wall-clock/monotonic disagreement above this is a clock jump or a sleep
DRIFT_LIMIT = timedelta(seconds=2)
#: QTimer intervals are 32-bit milliseconds; a later due time is approached in steps this long
MAX_QTIMER_MS = 2**31 - 1

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---- timers ----------------------------------------------------------------------------------


class WallClockTimer(QObject):
    """Fires once at a wall-clock instant; ``clock_changed`` when the wall clock jumped."""

    fired = Signal()
    clock_changed = Signal()
    kind = "abstract"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.armed_at: datetime | None = None

    def arm(self, at: datetime, now: datetime) -> None:
        raise NotImplementedError

    def disarm(self) -> None:
        raise NotImplementedError

    def check_clock(self) -> bool:
        """True (and ``clock_changed`` emitted) when the wall clock jumped since arming."""
        return False


class QtWallClockTimer(WallClockTimer):
    """A precise single-shot ``QTimer`` (monotonic) that notices wall-clock jumps when it fires."""

    kind = "qtimer"

    def __init__(self, parent: QObject | None = None, *, wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._wall = wall
        self._mono = mono
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_timeout)
        self._ref: tuple[float, float] = (wall(), mono())

    def arm(self, at: datetime, now: datetime) -> None:
        self.armed_at = at
        self._ref = (self._wall(), self._mono())
        msecs = max(0, int((at - now).total_seconds() * 1000) + 1)
        self._timer.start(min(msecs, MAX_QTIMER_MS))

    def disarm(self) -> None:
        self.armed_at = None
        self._timer.stop()
        self._ref = (self._wall(), self._mono())

    def _drift(self) -> float:
        wall0, mono0 = self._ref
        return (self._wall() - wall0) - (self._mono() - mono0)

    def check_clock(self) -> bool:
        if abs(self._drift()) > DRIFT_LIMIT.total_seconds():
            logger.info("wall clock moved %.0f s against the monotonic clock: re-planning", self._drift())
            self._ref = (self._wall(), self._mono())
            self.clock_changed.emit()
            return True
        return False

    @Slot()
    def _on_timeout(self) -> None:
        if not self.check_clock():
            self.fired.emit()


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_CLOCK_REALTIME = 0
_TFD_TIMER_ABSTIME = 1
_TFD_TIMER_CANCEL_ON_SET = 2
#: when nothing is due, stay armed this far ahead so that clock changes are still reported
_IDLE_HORIZON = timedelta(days=365)


class TimerfdWallClockTimer(WallClockTimer):
    """Linux ``timerfd`` on ``CLOCK_REALTIME``: fires at the wall time, survives suspend, reports clock sets."""

    kind = "timerfd"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._libc = ctypes.CDLL(None, use_errno=True)
        fd = self._libc.timerfd_create(_CLOCK_REALTIME, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._fd = fd
        self._notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_readable)
        self.destroyed.connect(lambda *_: os.close(fd))
        self._settime(datetime.now(UTC) + _IDLE_HORIZON)

    def _settime(self, at: datetime) -> None:
        ts = at.timestamp()
        sec = int(ts)
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(sec, int((ts - sec) * 1e9)))
        if self._libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME | _TFD_TIMER_CANCEL_ON_SET,
                                      ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def arm(self, at: datetime, now: datetime) -> None:
        self.armed_at = at
        self._settime(at)  # a time in the past expires at once

    def disarm(self) -> None:
        self.armed_at = None
        self._settime(datetime.now(UTC) + _IDLE_HORIZON)

    @Slot()
    def _on_readable(self, *_args: Any) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.ECANCELED:
                logger.info("the system clock was set: re-planning")
                self.armed_at = None
                self.clock_changed.emit()
                return
            raise
        self.fired.emit()


def make_timer(parent: QObject | None = None) -> WallClockTimer:
    if sys.platform.startswith("linux"):
        try:
            return TimerfdWallClockTimer(parent)
        except (OSError, AttributeError) as exc:
            logger.info("no timerfd (%s): using a QTimer with clock checks", exc)
    return QtWallClockTimer(parent)


# ---- the controller --------------------------------------------------------------------------


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
        self.scheduler = Scheduler(SqliteLog(ctx.store))
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
        self.scheduler.load(self.ctx.store.list_with_state() if pairs is None else pairs, self.clock())
        self.run_plan()

    def reload_in_slices(self, pairs: list[tuple[Any, Any]], size: int = LOAD_SLICE) -> None:
        """Like ``reload(pairs)``, but ``size`` configurations per event-loop pass, so the window stays
        responsive while thousands are planned (start-up). A configuration that changes meanwhile keeps its
        fresh events; the plan runs once everything is loaded."""
        self.scheduler.refresh_lead_seconds = int(self.ctx.store.get_setting("refresh.lead_time_seconds"))
        self._load_now = self.clock()
        self.scheduler.load([], self._load_now)
        self._pending, self._pending_at, self._updated_meanwhile = list(pairs), 0, set()
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
            self.hub.refresh_due.emit(event.config_id)
        self._arm(plan.next_wake, now)
        self.planned.emit(plan)
        return plan

    def _arm(self, at: datetime | None, now: datetime) -> None:
        if at is None:
            self.timer.disarm()
        else:
            self.timer.arm(at, now)


# ---- the feature -----------------------------------------------------------------------------


def _dbus_notifications() -> Any:
    from desktop.notify.desktop_notifications import DesktopNotifications

    return DesktopNotifications.open(app_name=APP_NAME)


def _tray_may_appear() -> bool:
    """X11: Qt watches for a tray manager and embeds an icon shown earlier once one appears."""
    return QGuiApplication.platformName() == "xcb"


class NotifyFeature(QObject):
    """What ``install`` returns (``app.features["notify"]``): tray, bar, strategy, controller."""

    _dbus_action = Signal(int, str)

    def __init__(
        self,
        app: FeatureHost,
        *,
        tray_probe: Callable[[], bool] | None = None,
        tray_may_appear: Callable[[], bool] | None = None,
        dbus_factory: Callable[[], Any] | None = _dbus_notifications,
        clock: Clock = utc_now,
        timer: WallClockTimer | None = None,
        start: bool = True,
    ) -> None:
        super().__init__(app.window)
        self.app = app
        self.hub = app.hub
        self.window = app.window
        self.ctx = app.ctx
        self.tray: Any = None
        self.dbus: Any = None
        self._dbus_targets: dict[int, tuple[str, str]] = {}
        #: the last announcements and how they went out (diagnostics, tests)
        self.delivered: deque[tuple[str, Announcement]] = deque(maxlen=50)

        # strategy, at start-up
        from desktop.ui import tray as tray_module

        self._tray_probe = tray_probe or tray_module.tray_available
        tray_now = self._tray_probe()
        if tray_now or (tray_may_appear or _tray_may_appear)():
            # without a tray yet (X11), the icon waits: Qt embeds it as soon as a tray appears
            self.tray = tray_module.TrayIcon(self)
            self.tray.open_window_requested.connect(self.open_window)
            self.tray.open_requested.connect(self.open_configuration)
            self.tray.refresh_all_requested.connect(self.refresh_all)
            self.tray.quit_requested.connect(self.quit)
            self.tray.show()
        if tray_now:
            self.strategy = STRATEGY_TRAY
        else:
            self.strategy = STRATEGY_WINDOW
            if dbus_factory is not None:
                try:
                    self.dbus = dbus_factory()
                except Exception as exc:  # NotificationsUnavailable, or anything odd on the bus
                    logger.info("desktop notifications unavailable: %s", exc)
                else:
                    self.strategy = STRATEGY_DBUS
                    self.dbus.on_action = self._dbus_action.emit  # from the listener thread: queued
                    self.dbus.on_closed = lambda nid, _reason: self._dbus_targets.pop(nid, None)
                    self._dbus_action.connect(self._on_dbus_action, Qt.ConnectionType.QueuedConnection)
        logger.info("notification strategy: %s", self.strategy)

        # the bar, always
        self.bar = NotificationBar()
        self.bar.setToolTip(STRATEGY_TEXT[self.strategy].capitalize() + ".")
        self.bar.open_requested.connect(self.open_configuration)
        self.window.add_bar(self.bar)

        self.controller = NotifyController(self.ctx, self.hub, clock=clock, timer=timer, parent=self)
        self.controller.attention_changed.connect(self.on_attention_changed)
        self.controller.announced.connect(self.deliver)
        self.controller.retry_planned.connect(self.on_retry_planned)

        # the details pane: when the selected token is refreshed next
        self.refresh_info = QLabel()
        self.refresh_info.setObjectName("automaticRefresh")
        self.refresh_info.setWordWrap(True)
        self.refresh_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_box = self.window.add_details_section("Automatic refresh", self.refresh_info)
        self.window.selection_changed.connect(self.update_refresh_info)
        self.controller.planned.connect(self.update_refresh_info)
        self.controller.retry_planned.connect(self.update_refresh_info)
        self.hub.token_changed.connect(self.update_refresh_info)
        self.window.close_to_tray = self.close_to_tray
        qapp = QGuiApplication.instance()
        if isinstance(qapp, QGuiApplication):
            qapp.applicationStateChanged.connect(lambda _state: self.controller.check_clock())
            qapp.aboutToQuit.connect(self.shutdown)
        self.window.show_status(f"{APP_NAME}: {STRATEGY_TEXT[self.strategy]}.", 8000)
        if start:
            if app.defer_start:
                # the real start-up: plan over every configuration after the window's first paint, from
                # the rows the window has just read (not a second read of the whole store), in slices:
                # thousands of configurations must not freeze the window
                app.after_first_paint(lambda: self.controller.reload_in_slices(self.window.configurations_with_state()))
            else:
                self.controller.reload()

    # ---- the lead's Application asks
    def tray_available(self) -> bool:
        return self._check_tray()

    def _check_tray(self) -> bool:
        """True when notifications go to the tray; switches to it once if a tray appeared since start-up."""
        if self.strategy == STRATEGY_TRAY:
            return True
        if self.tray is None or not self._tray_probe():
            return False
        self.strategy = STRATEGY_TRAY
        logger.info("a system tray appeared: notification strategy now %s", self.strategy)
        qapp = QGuiApplication.instance()
        if isinstance(qapp, QGuiApplication):
            qapp.setQuitOnLastWindowClosed(False)  # as at a start with a tray: the window may hide, dialogs close
        self.bar.setToolTip(STRATEGY_TEXT[self.strategy].capitalize() + ".")
        self.window.show_status(f"A system tray appeared: {STRATEGY_TEXT[self.strategy]}.", 8000)
        return True

    def strategy_text(self) -> str:
        return STRATEGY_TEXT[self.strategy]

    # ---- outputs
    @Slot(list)
    def on_attention_changed(self, items: list[AttentionItem]) -> None:
        self.bar.set_items(items)
        if self.tray is not None:
            self.tray.set_attention(items)

    @Slot()
    def update_refresh_info(self, *_args: object) -> None:
        current = self.window.selection().current  # the row as the table read it: no store query
        if current is None or current.config.id is None:
            self.refresh_info.setText("")
            return
        cfg, scheduler = current.config, self.controller.scheduler
        self.refresh_info.setText(automatic_refresh_text(
            cfg, current.state, scheduler.events_of(cfg.id), scheduler.retry_at(cfg.id), self.controller.clock()))

    @Slot(str, object)
    def on_retry_planned(self, name: str, at: datetime) -> None:
        when = format_when(at, utc_now())
        self.window.show_status(f"Refresh of \u201c{name}\u201d failed: provider not reachable. Next try {when}.",
                                15000)

    @Slot(object)
    def deliver(self, note: Announcement) -> None:
        tray = self._check_tray()
        self.delivered.append((self.strategy, note))
        if tray:
            self.tray.show_message(note)
        elif self.dbus is not None:
            # one token: its action is the button and the click; a summary of several only opens the window
            action = note.action if note.count == 1 else ""
            label = ACTION_LABELS.get(action, "")
            actions = {"default": label, action: label} if label else {"default": "Open"}
            try:
                nid = self.dbus.notify(note.title, note.message, actions)
            except Exception as exc:  # the daemon went away: the bar still shows it
                logger.warning("desktop notification failed: %s", exc.__class__.__name__)
                return
            self._dbus_targets[nid] = (note.name, action)
        # STRATEGY_WINDOW: the bar is the notification

    # ---- click-through
    @Slot(str, str)
    def open_configuration(self, name: str, action: str) -> None:
        if not name:
            self.open_window()
            return
        self.hub.open_configuration.emit(name, action)

    @Slot()
    def open_window(self) -> None:
        show = getattr(self.window, "show_normal_and_raise", None)
        if show is not None:
            show()
        else:
            self.window.show()

    @Slot(int, str)
    def _on_dbus_action(self, nid: int, key: str) -> None:
        target = self._dbus_targets.get(nid)
        if target is None:
            return
        name, action = target
        self.open_configuration(name, action if key == "default" else key)

    @Slot()
    def refresh_all(self) -> None:
        """Ask the oauth feature to refresh every valid token whose refresh token works."""
        now = utc_now()
        count = 0
        for cfg, state in self.ctx.store.list_with_state():
            if cfg.is_valid and cfg.id is not None and refresh_token_works(cfg, state, now):
                self.hub.refresh_due.emit(cfg.id)
                count += 1
        text = f"Refreshing {count} token{'s' if count != 1 else ''} ..." if count else (
            "No token can be refreshed: none has a working refresh token. Use Request new token."
        )
        self.window.show_status(text, 8000)
        if self._check_tray() and not self.window.isVisible():
            self.tray.show_message(Announcement(APP_NAME, text, "", ""), 5000)

    @Slot()
    def quit(self) -> None:
        quit_window = getattr(self.window, "quit", None)
        if quit_window is not None:
            quit_window()
        else:
            QGuiApplication.quit()

    # ---- close to tray
    def close_to_tray(self) -> bool:
        """The window asks on close: True keeps the app running in the tray (first time: say so)."""
        if not self._check_tray():
            return False
        store = self.ctx.store
        if not store.get_setting("ui.close_to_tray_hint_shown"):
            self.tray.show_message(Announcement(
                f"{APP_NAME} is still running",
                "It keeps refreshing tokens and warns you before they expire. Click the tray icon to open it; "
                "use Quit in its menu to leave.",
                "", "",
            ), 10000)
            try:
                store.set_setting("ui.close_to_tray_hint_shown", True)
            except Exception as exc:  # a read-only database must not keep the window open
                logger.warning("cannot remember the tray hint: %s", exc.__class__.__name__)
        return True

    @Slot()
    def shutdown(self) -> None:
        if self.dbus is not None:
            self.dbus.close()
            self.dbus = None
        if self.tray is not None:
            self.tray.hide()


def install(app: FeatureHost) -> NotifyFeature:
    return NotifyFeature(app)
