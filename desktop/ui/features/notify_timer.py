"""The notify feature's wall-clock timer: fires once at a wall-clock instant and says when the clock jumped.

On Linux it is a ``timerfd`` on ``CLOCK_REALTIME`` with an absolute expiry, so it fires at the right
wall time after a suspend, and ``TFD_TIMER_CANCEL_ON_SET`` tells us when the clock is set (NTP step,
admin; a time zone change does not matter: everything is UTC). Elsewhere a precise ``QTimer`` checks
the wall clock against the monotonic clock when it fires and when the application becomes active
(``check_clock``), and reports a jump. ``make_timer`` picks one; ``notify_controller`` arms it.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, Qt, QTimer, Signal, Slot

logger = logging.getLogger(__name__)

#: a wall-clock/monotonic disagreement above this is a clock jump or a sleep
DRIFT_LIMIT = timedelta(seconds=2)
#: QTimer intervals are 32-bit milliseconds; a later due time is approached in steps this long
MAX_QTIMER_MS = 2**31 - 1


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
