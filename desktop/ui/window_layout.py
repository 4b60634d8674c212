"""The window's first size and the token table's column widths, before ui.ini remembers the admin's own.

Everything fits on a 1400x900 display without sideways scrolling: each column is as wide as a typical value in
the table's font (a status "valid until 2026-11-30 18:33 (in 48 min)", a template name, an e-mail address) -
measured on a few fixed texts, never on the rows, so start-up costs the same with 10 or 10,000 configurations -
and the window starts wide enough for them beside the details pane, within the screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QFontMetrics, QGuiApplication

from desktop.models.token_table_model import (
    COL_ACCOUNT,
    COL_NAME,
    COL_REFRESH,
    COL_TEMPLATE,
    COL_TOKEN,
    COL_VALIDITY,
)

if TYPE_CHECKING:
    from desktop.ui.main_window import MainWindow

#: (column, a typical value, room for what the cell draws besides the text: status icon, padding, sort arrow)
TYPICAL = ((COL_NAME, "Helpdesk shared mailbox", 14), (COL_TEMPLATE, "Generic OpenID Connect", 14),
           (COL_TOKEN, "valid until 2026-11-30 18:33 (in 48 min)", 30),
           (COL_REFRESH, "valid until 2026-11-30 18:33 (in 48 min)", 30), (COL_VALIDITY, "Validity", 24),
           (COL_ACCOUNT, "helpdesk@contoso.com", 14))
#: the details pane beside the table, and the window's margins, splitter handle and frames
DETAILS_WIDTH = 270
CHROME_WIDTH = 20
#: the height the window starts with (less on a smaller screen)
HEIGHT = 800


def column_widths(metrics: QFontMetrics) -> dict[int, int]:
    return {col: metrics.horizontalAdvance(text) + room for col, text, room in TYPICAL}


def default_size(widths: dict[int, int], available: QRect) -> QSize:
    """Wide enough for every column and the details pane, and never beyond the screen's free area."""
    width = sum(widths.values()) + DETAILS_WIDTH + CHROME_WIDTH
    return QSize(min(width, available.width() - 12), min(HEIGHT, available.height() - 40))


def apply_default_layout(window: MainWindow, available: QRect | None = None) -> None:
    """Column widths, window size and the split between table and details (ui.ini overrides each later)."""
    widths = column_widths(QFontMetrics(window.table.font()))
    for col, width in widths.items():
        window.table.setColumnWidth(col, width)
    if available is None:
        screen = window.screen() or QGuiApplication.primaryScreen()
        available = screen.availableGeometry() if screen is not None else QRect(0, 0, 1400, 900)
    size = default_size(widths, available)
    window.resize(size)
    window.splitter.setSizes([size.width() - DETAILS_WIDTH, DETAILS_WIDTH])
