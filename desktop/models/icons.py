"""Icons from resources/icons, cached: the status icon per token state (the table model, the tray,
the notification bar) and the application icon (``desktop/ui/icons.py`` offers them to the widgets)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from desktop.paths import resource

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

#: status kind value ('valid', 'expiring', ...) -> icon name
_STATUS_ICONS = {
    "valid": "status-valid",
    "no_expiry": "status-valid",
    "expiring": "status-expiring",
    "expired": "status-expired",
    "failed": "status-failed",
    "reauth": "status-reauth",
    "none": "status-none",
}


@cache
def icon(name: str) -> QIcon:
    from PySide6.QtGui import QIcon  # its Python type costs ~2 ms; the first icon is drawn after the first paint

    path = resource("icons", f"{name}.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


def status_icon(kind_value: str) -> QIcon:
    """Icon for a TokenStatus/RefreshStatus value ('valid', 'expiring', 'expired', ...)."""
    return icon(_STATUS_ICONS.get(kind_value, "status-none"))
