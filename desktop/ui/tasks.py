"""Run blocking work off the GUI thread and deliver the result back by signal.

``TaskRunner.run(fn, *args, on_done=..., on_error=..., busy_text=...)`` runs ``fn`` on a
``QThreadPool`` and calls ``on_done(result)`` or ``on_error(exc)`` on the GUI thread.
``busy_changed(str)`` tells the window what is in progress ('' when idle) so it can show a
progress indicator. ``InlineTaskRunner`` runs synchronously for tests (Picard's
FakeThreadPool idea).
"""

from __future__ import annotations

import logging
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
    ) -> None:
        self._busy.append(busy_text)
        self.busy_changed.emit(self.busy_text)
        relay: _Relay

        def finish() -> None:
            self._relays.discard(relay)
            if busy_text in self._busy:
                self._busy.remove(busy_text)
            self.busy_changed.emit(self.busy_text)

        def done(result: Any) -> None:
            finish()
            if on_done is not None:
                on_done(result)

        def failed(exc: BaseException) -> None:
            finish()
            exc = self._report(exc)
            if on_error is not None:
                on_error(exc)
            else:
                logger.error("background task failed: %s", exc.__class__.__name__)

        relay = _Relay(done, failed)
        self._relays.add(relay)
        self.pool.start(_Job(fn, args, relay))

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

    def run(self, fn, *args, on_done=None, on_error=None, busy_text="Working ..."):  # type: ignore[override]
        self.busy_changed.emit(busy_text)
        try:
            result = fn(*args)
        except Exception as exc:
            self.busy_changed.emit("")
            if on_error is not None:
                on_error(self._report(exc))
            else:
                raise
            return
        self.busy_changed.emit("")
        if on_done is not None:
            on_done(result)
