"""Files dropped on the main window go to one handler (the backup feature's import): ``DropTarget`` is a mixin of
``MainWindow`` that passes drag-enter, drag-move and drop events to ``drop_handler``.

An event filter on the window would do the same, but it sends every event the window gets through Python
(hundreds before the first paint) and makes PySide6 build a Python type for each kind of event it might be:
~3 ms of the start-up for a drag that may never come.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class DropTarget:
    #: ``(event, dropped)`` -> True when it takes the drag (it accepts the event itself); set by a feature
    drop_handler: Callable[[Any, bool], bool] | None = None

    def _offer(self, event: Any, dropped: bool) -> bool:
        return self.drop_handler is not None and self.drop_handler(event, dropped)

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if not self._offer(event, False):
            super().dragEnterEvent(event)  # type: ignore[misc]

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if not self._offer(event, False):
            super().dragMoveEvent(event)  # type: ignore[misc]

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if not self._offer(event, True):
            super().dropEvent(event)  # type: ignore[misc]
