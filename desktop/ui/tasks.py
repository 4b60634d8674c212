"""Run blocking work off the GUI thread and deliver the result back by signal.

``TaskRunner.run(fn, *args, on_done=..., on_error=..., busy_text=...)`` runs ``fn`` on a
``QThreadPool`` and calls ``on_done(result)`` or ``on_error(exc)`` on the GUI thread.
``busy_changed(str)`` tells the window what is in progress ('' when idle) so it can show a
progress indicator. ``InlineTaskRunner`` runs synchronously for tests (Picard's
FakeThreadPool idea).

A task can be cancelled: ``run`` returns a ``TaskHandle``; with ``cancellable=True`` the function gets
``cancelled=handle.is_cancelled`` (a callable) and is expected to stop soon after it turns true (a device-code poll
checks it between its waits). ``handle.cancel()`` asks for that, takes the task's busy text away at once and drops the
result: neither ``on_done`` nor ``on_error`` is called for a cancelled task, only ``on_cancelled`` when given.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

logger = logging.getLogger(__name__)


class _Relay(QObject):
    """Lives on the GUI thread; its slots (methods, so queued across threads) call back there."""

    done = Signal(object)
    failed = Signal(object)

    def __init__(self, on_done: Callable[[Any], None], on_failed: Callable[[BaseException], None]) -> None:
        super().__init__()
        self._on_done = on_done
        self._on_failed = on_failed
        self.done.connect(self.deliver_done)
        self.failed.connect(self.deliver_failed)

    @Slot(object)
    def deliver_done(self, result: Any) -> None:
        self._on_done(result)

    @Slot(object)
    def deliver_failed(self, exc: BaseException) -> None:
        self._on_failed(exc)


class _Job(QRunnable):
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.args = args
        self.relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn(*self.args)
        except BaseException as exc:  # delivered to on_error on the GUI thread
            self._deliver(self.relay.failed, exc)
        else:
            self._deliver(self.relay.done, result)

    @staticmethod
    def _deliver(signal: Any, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the receiver is gone: the application quit while this task ran
            logger.info("a background task finished after the window closed; its result is dropped")


class TaskHandle:
    """A running (or queued) task: ``cancel()`` asks it to stop; ``is_cancelled()`` is what the task polls."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._on_cancel: Callable[[], None] | None = None
        self.finished = False

    def is_cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        if self._event.is_set() or self.finished:
            return
        self._event.set()
        if self._on_cancel is not None:
            self._on_cancel()


def _plain(exc: BaseException) -> BaseException:
    """A damaged database file as the words that say what to do (``desktop.store.database.StoreDamaged``)."""
    from desktop.store.database import damage_from

    return damage_from(exc) or exc


class TaskRunner(QObject):
    busy_changed = Signal(str)
    #: a task met a damaged database (the app shows what to do, once); on_error gets the same exception
    damaged = Signal(object)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self._busy: list[str] = []
        self._relays: set[_Relay] = set()

    @property
    def busy_text(self) -> str:
        return self._busy[-1] if self._busy else ""

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        busy_text: str = "Working ...",
        cancellable: bool = False,
        on_cancelled: Callable[[], None] | None = None,
    ) -> TaskHandle:
        self._busy.append(busy_text)
        self.busy_changed.emit(self.busy_text)
        relay: _Relay
        handle = TaskHandle()
        state = {"busy": True}

        def not_busy() -> None:
            if state["busy"]:
                state["busy"] = False
                if busy_text in self._busy:
                    self._busy.remove(busy_text)
                self.busy_changed.emit(self.busy_text)

        def finish() -> None:
            handle.finished = True
            self._relays.discard(relay)
            not_busy()

        def cancelled() -> None:
            not_busy()
            if on_cancelled is not None:
                on_cancelled()

        def done(result: Any) -> None:
            finish()
            if handle.is_cancelled():
                return
            if on_done is not None:
                on_done(result)

        def failed(exc: BaseException) -> None:
            finish()
            if handle.is_cancelled():
                return
            exc = self._report(exc)
            if on_error is not None:
                on_error(exc)
            else:
                logger.error("background task failed: %s", exc.__class__.__name__)

        handle._on_cancel = cancelled
        relay = _Relay(done, failed)
        self._relays.add(relay)
        job_fn = (lambda *a: fn(*a, cancelled=handle.is_cancelled)) if cancellable else fn
        self.pool.start(_Job(job_fn, args, relay))
        return handle

    def _report(self, exc: BaseException) -> BaseException:
        plain = _plain(exc)
        if plain is not exc:
            self.damaged.emit(plain)
        return plain

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)

    def drop_pending(self) -> int:
        """Forget tasks that have not started (at quit: a queue of refreshes must not hold the exit)."""
        waiting = max(0, len(self._relays) - self.pool.activeThreadCount())
        self.pool.clear()
        return waiting


class InlineTaskRunner(TaskRunner):
    """Runs tasks synchronously on the calling thread (tests)."""

    def run(self, fn, *args, on_done=None, on_error=None, busy_text="Working ...",  # type: ignore[override]
            cancellable=False, on_cancelled=None):
        handle = TaskHandle()
        self.busy_changed.emit(busy_text)
        try:
            result = fn(*args, cancelled=handle.is_cancelled) if cancellable else fn(*args)
        except Exception as exc:
            self.busy_changed.emit("")
            if on_error is not None:
                on_error(self._report(exc))
            else:
                raise
            return handle
        self.busy_changed.emit("")
        handle.finished = True
        if on_done is not None:
            on_done(result)
        return handle
