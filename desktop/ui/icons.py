"""Icons for the widgets: the application icon and the status icons (``desktop/models/icons.py``,
where the table model finds them too)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.models.icons import icon, status_icon

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

__all__ = ["app_icon", "icon", "status_icon"]


def app_icon(attention: bool = False) -> QIcon:
    return icon("tokendesk-attention" if attention else "tokendesk")
