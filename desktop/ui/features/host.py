"""What a feature may use of the application: the ``FeatureHost`` protocol.

Every feature module has ``install(host: FeatureHost)``; ``desktop.app.Application`` is the host.
Typing features against this protocol (not the ``Application`` class) keeps them from reaching for
anything else of the composition root, and from importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from desktop.services import Context
    from desktop.ui.hub import Hub
    from desktop.ui.main_window import MainWindow
    from desktop.ui.tasks import TaskRunner


class FeatureHost(Protocol):
    #: the QApplication
    qapp: QApplication
    #: store, vault secrets, templates, delete guards
    ctx: Context
    #: the app-wide signals (desktop/ui/hub.py)
    hub: Hub
    #: the background task runner (desktop/ui/tasks.py)
    tasks: TaskRunner
    #: the shell; features use its extension API (add_action, action, menu, add_bar, add_details_section,
    #: add_tab, selection, selection_changed, ...), never its private parts
    window: MainWindow
    #: True in the real start-up: expensive work waits for ``after_first_paint``
    defer_start: bool
    #: started hidden in the tray (``tokendesk --minimized``)
    minimized: bool
    #: the installed features by module name ("notify", "oauth", ...): what their ``install`` returned
    features: dict[str, object]

    def after_first_paint(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread once the window has painted for the first time."""
        ...
