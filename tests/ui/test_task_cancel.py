"""The task runner can cancel a running task (issue 12): the task sees it, the busy text goes, no result arrives."""

from __future__ import annotations

import threading
import time

from desktop.ui.tasks import TaskRunner


def test_a_running_task_is_cancelled(qtbot):
    runner = TaskRunner()
    started, stopped = threading.Event(), threading.Event()
    seen: list[str] = []
    busy: list[str] = []
    runner.busy_changed.connect(busy.append)

    def poll_forever(name: str, *, cancelled) -> str:
        started.set()
        deadline = time.monotonic() + 10
        while not cancelled() and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped.set()
        return f"{name} finished"

    handle = runner.run(poll_forever, "device", on_done=seen.append, on_error=lambda e: seen.append(repr(e)),
                        busy_text="Waiting for the sign-in ...", cancellable=True,
                        on_cancelled=lambda: seen.append("cancelled"))
    assert started.wait(5)
    assert runner.busy_text == "Waiting for the sign-in ..."
    handle.cancel()
    assert runner.busy_text == ""  # at once, before the task has noticed
    assert stopped.wait(2)  # the task saw it and stopped (well before its 10 s)
    assert runner.wait(5000)
    qtbot.wait(50)  # the relay's queued signal
    assert seen == ["cancelled"]  # no on_done with the result of a cancelled task
    assert busy[-1] == ""


def test_a_task_that_finished_cannot_be_cancelled(qtbot):
    runner = TaskRunner()
    seen: list[str] = []
    handle = runner.run(lambda *, cancelled: "done", on_done=seen.append, cancellable=True,
                        on_cancelled=lambda: seen.append("cancelled"))
    qtbot.waitUntil(lambda: seen == ["done"], timeout=5000)
    handle.cancel()
    assert seen == ["done"] and not handle.is_cancelled()
