"""The notify feature itself (``notify.py`` installs it): one wall-clock timer for the next due event,
notifications, tray, bar, click-through.

Wiring (``install(app)``):

* ``NotifyController`` (``notify_controller.py``) keeps the pure ``desktop.notify.scheduler.Scheduler``
  up to date (``hub.configurations_changed`` reloads all, ``hub.token_changed`` one configuration) and
  arms one timer for the next instant anything becomes due. No polling: the timer fires only then.
  At a due automatic refresh it emits ``hub.refresh_due(config_id)`` (the oauth feature refreshes);
  at warnings and expiries it announces.
* The timer runs on the wall clock (``notify_timer.py``: a Linux ``timerfd`` on ``CLOCK_REALTIME``
  that fires at the right wall time after a suspend and reports clock sets; elsewhere a ``QTimer``
  that checks for jumps); a jump re-plans.
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

import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel

from desktop import APP_NAME
from desktop.models.status import format_when
from desktop.notify.attention import ACTION_LABELS, Announcement, AttentionItem
from desktop.notify.events import refresh_token_works
from desktop.notify.scheduler import automatic_refresh_text
from desktop.ui.features.host import FeatureHost
from desktop.ui.features.notify_controller import Clock, NotifyController, utc_now
from desktop.ui.features.notify_timer import WallClockTimer
from desktop.ui.notification_bar import NotificationBar

logger = logging.getLogger(__name__)

STRATEGY_TRAY = "tray"
STRATEGY_DBUS = "dbus"
STRATEGY_WINDOW = "window"
STRATEGY_TEXT = {
    STRATEGY_TRAY: "notifications appear as tray messages and in the bar below the toolbar",
    STRATEGY_DBUS: "no system tray: notifications appear as desktop notifications and in the bar below the toolbar",
    STRATEGY_WINDOW: "no system tray and no notification service: notifications appear only in the bar "
    "below the toolbar",
}

#: the controller and the timer live in their own modules; these names stay importable from here
__all__ = ["NotifyController", "NotifyFeature", "WallClockTimer"]


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
        places: tuple[int, int] = (-1, -1),
    ) -> None:
        """``places``: where the bar and the Automatic refresh section go (-1: after the others), kept by
        ``notify.install`` when the feature is built after the first paint."""
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
        self.strategy = STRATEGY_TRAY if tray_now else STRATEGY_WINDOW
        #: the real start-up asks the session bus after the first paint, on the task runner: a notification
        #: service started on demand by D-Bus may take a while (up to the 3 s time-out) to answer
        probe_later = not tray_now and dbus_factory is not None and start and app.defer_start
        if not tray_now and dbus_factory is not None and not probe_later:
            try:
                self._use_dbus(dbus_factory())
            except Exception as exc:  # NotificationsUnavailable, or anything odd on the bus
                logger.info("desktop notifications unavailable: %s", exc)
        logger.info("notification strategy: %s", self.strategy)

        # the bar, always
        self.bar = NotificationBar()
        self.bar.setToolTip(STRATEGY_TEXT[self.strategy].capitalize() + ".")
        self.bar.open_requested.connect(self.open_configuration)
        self.window.add_bar(self.bar, places[0])

        self.controller = NotifyController(self.ctx, self.hub, clock=clock, timer=timer, parent=self)
        self.controller.attention_changed.connect(self.on_attention_changed)
        self.controller.announced.connect(self.deliver)
        self.controller.retry_planned.connect(self.on_retry_planned)
        # another process's or another desktop's change (db_watcher: the files, or a team store's NOTIFY): the window
        # has just read the rows again (its slot runs first), the plan follows them - the tray and the bar warn
        self.window.db_watcher.changed.connect(lambda: self.controller.follow(
            self.window.configurations_with_state(), int(self.window.settings()["refresh.lead_time_seconds"])))
        # a team store back after an outage: refreshes asked for meanwhile failed before they ran - ask again
        # (the watcher's ``changed`` follows: the window reads again and the plan follows)
        self.window.db_watcher.reachable.connect(self.controller.scheduler.forget_asked_refreshes)

        # the details pane: when the selected token is refreshed next
        self.refresh_info = QLabel()
        self.refresh_info.setObjectName("automaticRefresh")
        self.refresh_info.setWordWrap(True)
        self.refresh_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_box = self.window.add_details_section("Automatic refresh", self.refresh_info, places[1])
        self.window.selection_changed.connect(self.update_refresh_info)
        self.controller.planned.connect(self.update_refresh_info)
        self.controller.retry_planned.connect(self.update_refresh_info)
        self.hub.token_changed.connect(self.update_refresh_info)
        self.window.close_to_tray = self.close_to_tray
        qapp = QGuiApplication.instance()
        if isinstance(qapp, QGuiApplication):
            qapp.applicationStateChanged.connect(lambda _state: self.controller.check_clock())
            qapp.aboutToQuit.connect(self.shutdown)
        if not probe_later:
            self.window.show_status(f"{APP_NAME}: {STRATEGY_TEXT[self.strategy]}.", 8000)
        if start:
            if app.defer_start:
                # the real start-up: plan over every configuration after the window's first paint, from
                # the rows the window has just read (not a second read of the whole store), in slices:
                # thousands of configurations must not freeze the window; with the bus asked first, so
                # that what needs attention at start-up goes out the way it will later
                def plan() -> None:
                    self.controller.reload_in_slices(self.window.configurations_with_state())

                app.after_first_paint(lambda: self._probe_dbus(dbus_factory, then=plan) if probe_later else plan())
            else:
                self.controller.reload()

    def _probe_dbus(self, factory: Callable[[], Any], then: Callable[[], None]) -> None:
        def answered(dbus: Any) -> None:
            if self._check_tray():  # a tray appeared meanwhile: it wins, as at a start with a tray
                dbus.close()
            else:
                self._use_dbus(dbus)
            done()

        def unavailable(exc: BaseException) -> None:
            logger.info("desktop notifications unavailable: %s", exc)
            done()

        def done() -> None:
            logger.info("notification strategy: %s", self.strategy)
            self.bar.setToolTip(STRATEGY_TEXT[self.strategy].capitalize() + ".")
            self.window.show_status(f"{APP_NAME}: {STRATEGY_TEXT[self.strategy]}.", 8000)
            then()

        self.app.tasks.run(factory, on_done=answered, on_error=unavailable,
                           busy_text="Looking for the desktop's notification service ...")

    def _use_dbus(self, dbus: Any) -> None:
        self.dbus = dbus
        self.strategy = STRATEGY_DBUS
        self.dbus.on_action = self._dbus_action.emit  # from the listener thread: queued
        self.dbus.on_closed = lambda nid, _reason: self._dbus_targets.pop(nid, None)
        self._dbus_action.connect(self._on_dbus_action, Qt.ConnectionType.QueuedConnection)

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
        due = [cfg.id for cfg, state in self.ctx.store.list_with_state()
               if cfg.is_valid and cfg.id is not None and refresh_token_works(cfg, state, now)]
        self.hub.refresh(due)  # announced together, as the plan's: the oauth feature reads their rows at once
        count = len(due)
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

