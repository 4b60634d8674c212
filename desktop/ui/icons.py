"""Icons from resources/icons, cached; status icons per token state."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from desktop.paths import resource


@cache
def icon(name: str) -> QIcon:
    path = resource("icons", f"{name}.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


def app_icon(attention: bool = False) -> QIcon:
    return icon("tokendesk-attention" if attention else "tokendesk")


def status_icon(kind_value: str) -> QIcon:
    """Icon for a TokenStatus/RefreshStatus value ('valid', 'expiring', 'expired', ...)."""
    mapping = {
        "valid": "status-valid",
        "no_expiry": "status-valid",
        "expiring": "status-expiring",
        "expired": "status-expired",
        "failed": "status-failed",
        "reauth": "status-reauth",
        "none": "status-none",
    }
    return icon(mapping.get(kind_value, "status-none"))
