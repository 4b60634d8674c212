"""The keyboard path through the main window: Tab goes top to bottom as the window reads - the filter box,
the bars' buttons (a notification, the secrets bar), the tab bar, the token table, the details pane - and the
table, not the tab bar, has the focus at start. The table itself keeps Tab out (``TokenTableView``: the arrow
keys move between rows), so Tab never changes the selected configuration."""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from desktop.qtns import Qt

if TYPE_CHECKING:
    from desktop.ui.main_window import MainWindow


def _takes_tab(widget: QWidget) -> bool:
    return bool(widget.focusPolicy() & Qt.FocusPolicy.TabFocus)


def focus_chain(window: MainWindow) -> list[QWidget]:
    """The widgets Tab visits, in order (those hidden at the moment are skipped by Qt when Tab is pressed)."""
    chain: list[QWidget] = [window.search]
    for i in range(window.bars_layout.count()):
        bar = window.bars_layout.itemAt(i).widget()
        if bar is not None:
            chain += [w for w in bar.findChildren(QWidget) if _takes_tab(w)]
    return [*chain, window.tabs.tabBar(), window.table, window.details]


def order_focus(window: MainWindow) -> None:
    """Set the Tab order (after the features added their bars) and put the focus in the token table."""
    # the tab widget hands its focus on to its tab bar (a focus proxy): as a stop of its own, where Qt put it
    # in the chain, Tab would jump from the details back to the tab bar and never reach the filter box. The
    # tab bar stays a stop (the arrow keys switch tabs there; Ctrl+Tab works from anywhere in the tabs).
    window.tabs.setFocusProxy(None)
    window.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    window.tabs.tabBar().setFocusPolicy(Qt.FocusPolicy.TabFocus)
    chain = focus_chain(window)
    for first, second in pairwise(chain):
        QWidget.setTabOrder(first, second)
    # the details pane draws no focus of its own: a frame in the highlight colour says Tab is there (the arrow
    # and page keys scroll it)
    if not window.details.objectName():
        window.details.setObjectName("detailsPane")
    name = window.details.objectName()
    window.details.focus_frame = (f"QScrollArea#{name} {{ border: 1px solid palette(mid); }}"
                                  f"QScrollArea#{name}:focus {{ border: 2px solid palette(highlight); }}")
    window.table.setFocus(Qt.FocusReason.OtherFocusReason)
