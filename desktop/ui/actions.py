"""The main window's menus, toolbar and table context menu, and its actions by id.

``MainWindow`` owns one ``WindowActions`` and offers it to the features as ``add_action``, ``action``,
``menu``, ``add_menu_separator`` and ``add_toolbar_separator``. Whether an action is enabled is
declared once, as a predicate over the selected rows (``enabled_when``), and evaluated here
whenever the window's selection, a selected row or the tab changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QSizePolicy, QToolBar, QWidget

from desktop.models.token_table_model import SelectedRow
from desktop.qtns import TOOL_BUTTON_TEXT_ONLY
from desktop.ui.enums import MainAction, MainMenu

#: a predicate over the selected rows: is the action enabled?
EnabledWhen = Callable[[Sequence[SelectedRow]], bool]

MENU_TITLES = {MainMenu.FILE: "&File", MainMenu.TOKEN: "&Token", MainMenu.VIEW: "&View", MainMenu.HELP: "&Help"}


class WindowActions:
    def __init__(self, window: QMainWindow, search: QWidget) -> None:
        self._window = window
        self._actions: dict[MainAction, QAction] = {}
        self._menus = {menu_id: window.menuBar().addMenu(title) for menu_id, title in MENU_TITLES.items()}
        #: the table's context menu, in the order added
        self.context_actions: list[QAction] = []
        self._enabled_when: list[tuple[QAction, EnabledWhen]] = []
        #: the toolbar's actions and separators in order; True: a Token menu action, in the toolbar on the Tokens
        #: tab only (another tab has its own buttons: one "Add" there, not one for each of two things)
        self._toolbar_entries: list[tuple[QAction, bool]] = []
        self._toolbar_for_tokens = True
        self.toolbar = QToolBar("Main toolbar")
        self.toolbar.setObjectName("mainToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setProperty("toolButtonStyle", TOOL_BUTTON_TEXT_ONLY)  # an int, not Qt's enum: desktop/qtns.py
        window.addToolBar(self.toolbar)  # at the top
        # the search box sits at the right end of the toolbar; actions are inserted before the spacer
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._spacer = self.toolbar.addWidget(spacer)
        self.toolbar.addWidget(search)

    def add(
        self,
        action_id: MainAction,
        text: str,
        slot: Callable[[], Any],
        shortcut: QKeySequence | QKeySequence.StandardKey | None,
        tip: str,
        *,
        menu: MainMenu | None,
        before: MainAction | None,
        toolbar: bool,
        context_menu: bool,
        enabled_when: EnabledWhen | None,
        shortcut_anywhere: bool,
    ) -> QAction:
        action = QAction(self._window)  # QAction(text, parent) would build QIcon's Python type (~2 ms): an overload
        action.setText(text)
        action.setObjectName(f"action_{action_id.value}")
        if shortcut is not None:
            # setShortcuts: setShortcut's overload check builds Qt's namespace (desktop/qtns.py), and so does
            # QKeySequence(a QKeySequence)
            action.setShortcuts([shortcut if isinstance(shortcut, QKeySequence) else QKeySequence(shortcut)])
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self._actions[action_id] = action
        if menu is not None:
            target, anchor = self._menus[menu], self._anchor(menu, before)
            if anchor is not None:
                target.insertAction(anchor, action)
            else:
                target.addAction(action)
        if toolbar:
            self._toolbar_entries.append((action, menu is MainMenu.TOKEN))
            self._fill_toolbar(self._toolbar_for_tokens, force=True)
        if context_menu:
            self.context_actions.append(action)
        if enabled_when is not None:
            self._enabled_when.append((action, enabled_when))
        if shortcut_anywhere:
            self._window.addAction(action)  # shortcuts work wherever the focus is in the window
        return action

    def _anchor(self, menu: MainMenu, before: MainAction | None) -> QAction | None:
        anchor = self._actions.get(before) if before is not None else None
        return anchor if anchor is not None and anchor in self._menus[menu].actions() else None

    def get(self, action_id: MainAction) -> QAction:
        return self._actions[action_id]

    def find(self, action_id: MainAction | None) -> QAction | None:
        return self._actions.get(action_id) if action_id is not None else None

    def menu(self, menu_id: MainMenu) -> QMenu:
        return self._menus[menu_id]

    def add_menu_separator(self, menu: MainMenu, before: MainAction | None) -> None:
        anchor = self._anchor(menu, before)
        if anchor is not None:
            self._menus[menu].insertSeparator(anchor)
        else:
            self._menus[menu].addSeparator()

    def add_toolbar_separator(self) -> None:
        separator = QAction(self._window)
        separator.setSeparator(True)
        self._toolbar_entries.append((separator, False))
        self._fill_toolbar(self._toolbar_for_tokens, force=True)

    def _fill_toolbar(self, for_tokens: bool, *, force: bool = False) -> None:
        """The toolbar for the Tokens tab (every entry) or another tab (no Token menu action), separators only
        between buttons."""
        if for_tokens == self._toolbar_for_tokens and not force:
            return
        self._toolbar_for_tokens = for_tokens
        for action, _token in self._toolbar_entries:
            self.toolbar.removeAction(action)
        shown: list[QAction] = []
        for action, token in self._toolbar_entries:
            if token and not for_tokens:
                continue
            if action.isSeparator() and (not shown or shown[-1].isSeparator()):
                continue
            shown.append(action)
        while shown and shown[-1].isSeparator():
            shown.pop()
        self.toolbar.insertActions(self._spacer, shown)

    def update_enabled(self, rows: Sequence[SelectedRow], on_tokens: bool, only: QAction | None = None) -> None:
        # token actions act on the token table's selection: only while that tab is shown, so a
        # shortcut (Del, F2, F5) on another tab never touches a configuration the admin cannot see
        if only is None:
            self._fill_toolbar(on_tokens)
        for action, predicate in self._enabled_when:
            if only is None or action is only:
                action.setEnabled(on_tokens and predicate(rows))
