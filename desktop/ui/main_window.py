"""The main window, a shell: token table with search, details pane, message bars, tabs, menus, toolbar.

Each capability is a feature (desktop/ui/features/*) that installs itself through the extension API: ``add_action``
(under a ``MainAction`` id, enabled by a predicate over the selected rows), ``action``, ``menu`` (by ``MainMenu``
id), ``add_bar``, ``add_details_section``, ``add_tab``, ``show_tab``, ``set_tab_filter``, ``selection``,
``drop_handler``, and the signals ``selection_changed`` (the rows the table read), ``row_activated``,
``tab_changed`` and ``reloaded``. Features never touch the window's private parts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSettings, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QGroupBox,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QSplitter,
    QStackedLayout,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME
from desktop.models.config import TokenConfiguration
from desktop.models.token import TokenState
from desktop.models.token_table_model import Selection, TokenTableModel
from desktop.models.tones import tone_color
from desktop.qtns import ALIGN_CENTER, WIDGET_SHORTCUT, Qt
from desktop.ui.actions import EnabledWhen, WindowActions
from desktop.ui.db_watcher import DatabaseWatcher
from desktop.ui.details_pane import DetailsPane
from desktop.ui.drops import DropTarget
from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.icons import app_icon
from desktop.ui.row_loading import follow_store
from desktop.ui.tab_filter import TabFilter
from desktop.ui.token_table import TokenTableView
from desktop.ui.window_layout import apply_default_layout

if TYPE_CHECKING:
    from PySide6.QtGui import QCloseEvent

    from desktop.services import Context
    from desktop.ui.hub import Hub
    from desktop.ui.tasks import TaskRunner

logger = logging.getLogger(__name__)


class MainWindow(DropTarget, QMainWindow):  # DropTarget: drop_handler (ui/drops.py)
    #: the token table's selection, or a selected row, changed (selecting, a token change, a reload,
    #: another tab shown): a ``Selection`` - the rows as the table read them, so nobody asks the store again
    selection_changed = Signal(object)
    #: a row was activated (double-click, Enter)
    row_activated = Signal()
    #: another tab is shown (its index)
    tab_changed = Signal(int)
    #: the table was read again from the store (a change here, or one another process made)
    reloaded = Signal()
    #: emitted once, after the window painted for the first time (Application.after_first_paint)
    first_painted = Signal()

    def __init__(self, ctx: Context, hub: Hub, tasks: TaskRunner, parent: QWidget | None = None,
                 first_read: Callable[[MainWindow], None] | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.hub = hub
        self.tasks = tasks
        self._painted = False
        self._selection = Selection()
        self._selected_names: list[str] = []
        self._settings: dict[str, Any] = {}
        #: set by the notify feature: returns True when closing should hide to the tray instead of quitting
        self.close_to_tray: Callable[[], bool] | None = None
        self._quitting = False
        self.setWindowTitle(APP_NAME)
        self.model = TokenTableModel(self)
        self._build_ui()
        self._build_actions()
        self._connect()
        self._restore_state()
        self.db_watcher = DatabaseWatcher(ctx.store, self)  # reload when another process (the CLI) wrote
        self.db_watcher.changed.connect(lambda: follow_store(self))  # only what another desktop changed
        (first_read or MainWindow.reload)(self)  # Application: a large store's rows after the first paint
        self._update_secret_bar()
        self.db_watcher.watch()

    # ---- layout
    def _build_ui(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(6)
        self.bars_layout = QVBoxLayout()
        self.bars_layout.setSpacing(4)
        outer.addLayout(self.bars_layout)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        outer.addWidget(self.tabs, 1)

        self.splitter = QSplitter()  # horizontal (QSplitter(Qt.Orientation) would build Qt: desktop/qtns.py)
        table_host = QWidget()
        self.table_stack = QStackedLayout(table_host)
        self.table = TokenTableView(self.model)
        self.empty_label = QLabel()
        self.empty_label.setProperty("alignment", ALIGN_CENTER)
        self.empty_label.setWordWrap(True)
        self.empty_label.setMargin(30)
        font = self.empty_label.font()
        font.setPointSize(11)
        self.empty_label.setFont(font)
        self._colour_empty_label()
        self.table_stack.addWidget(self.table)
        self.table_stack.addWidget(self.empty_label)
        self.splitter.addWidget(table_host)
        self.details = DetailsPane()
        self.details_title, self.details_text = self.details.title, self.details.text
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.tabs.addTab(self.splitter, "&Tokens")
        self.setCentralWidget(central)

        self.tab_filter = TabFilter(self.tabs, self.model.set_filter)  # the filter box follows the tab shown
        self.search = self.tab_filter.search

        status = self.statusBar()
        self.busy_label = QLabel()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.hide()
        self.count_label = QLabel()
        self.secrets_label = QLabel()
        status.addWidget(self.busy_bar)
        status.addWidget(self.busy_label)
        status.addPermanentWidget(self.count_label)
        status.addPermanentWidget(self.secrets_label)
        apply_default_layout(self)  # columns that fit, a window wide enough for them (ui.ini may override)

    def _build_actions(self) -> None:
        self._registry = WindowActions(self, self.search)
        self.toolbar = self._registry.toolbar
        for action_id, text, slot, shortcut, tip, menu in (
            (MainAction.QUIT, "&Quit", self.quit, QKeySequence.StandardKey.Quit, "Quit Tokendesk", MainMenu.FILE),
            (MainAction.FIND, "&Filter", self.focus_search, QKeySequence.StandardKey.Find, "Focus the filter box",
             MainMenu.VIEW),
            (MainAction.RELOAD, "Re&load", lambda: self.reload(), QKeySequence("Ctrl+Shift+R"),
             "Reload the table from the database", MainMenu.VIEW),
        ):
            self.add_action(action_id, text, slot, shortcut, tip, menu=menu, toolbar=False, context_menu=False)
        self.columns_menu = self.menu(MainMenu.VIEW).addMenu("&Columns")
        self.columns_menu.aboutToShow.connect(lambda: self.table.column_menu(self.columns_menu))

    def _connect(self) -> None:
        self.model.rows_changed.connect(self._update_empty_state)
        self.table.model_reset.connect(self._restore_selection)
        self.table.doubleClicked.connect(lambda _i: self.row_activated.emit())
        for key in ("Return", "Enter"):  # owned by the table; in it only
            QShortcut(key, self.table, activated=self.row_activated.emit).setProperty("context", WIDGET_SHORTCUT)
        self.table.customContextMenuRequested.connect(self._on_context_menu)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.hub.configurations_changed.connect(self.reload)
        self.hub.token_changed.connect(self.refresh_configuration)
        self.hub.open_configuration.connect(self.open_configuration)
        self.hub.secrets_changed.connect(self._update_secret_bar)
        self.tasks.busy_changed.connect(self._on_busy_changed)
        # a new theme: the details sections write their colours into rich text, so they are drawn again (a signal,
        # not a changeEvent override: that made PySide6 build a type for every kind of event before the first paint)
        QApplication.instance().paletteChanged.connect(self._on_selection_changed)  # type: ignore[union-attr]
        QApplication.instance().paletteChanged.connect(self._colour_empty_label)  # type: ignore[union-attr]
        self.tick_timer = QTimer(self)
        self.tick_timer.setInterval(60_000)  # relative times ("in 12 min") while the window is visible
        self.tick_timer.timeout.connect(lambda: self.model.tick())

    # ---- persistence of window geometry and column widths
    def ui_settings(self) -> QSettings:
        from desktop.paths import data_dir

        return QSettings(str(data_dir() / "ui.ini"), QSettings.Format.IniFormat)

    def _restore_state(self) -> None:
        s = self.ui_settings()
        for value, restore in ((s.value("window/geometry"), self.restoreGeometry),
                               (s.value("window/splitter"), self.splitter.restoreState)):
            if isinstance(value, QByteArray):
                restore(value)
        self.table.restore_state(s)

    def save_state(self) -> None:
        s = self.ui_settings()
        s.setValue("window/geometry", self.saveGeometry())
        self.table.save_state(s)
        s.setValue("window/splitter", self.splitter.saveState())
        s.sync()

    # ---- data
    @Slot()
    def reload(self, rows: list[tuple[TokenConfiguration, TokenState]] | None = None) -> None:
        self._selected_names = [c.name for c in self.selected_configurations()]
        self._settings = self.ctx.store.settings()
        self.model.token_lead = timedelta(seconds=int(self._settings["refresh.lead_time_seconds"]))
        self.model.set_rows(self.ctx.store.list_with_state() if rows is None else rows)  # selection: on the reset
        self.db_watcher.seen()
        self.reloaded.emit()

    def settings(self) -> dict[str, Any]:
        """The settings as read with the table (read again on every reload): for drawing, not for changing."""
        return self._settings

    def configurations_with_state(self) -> list[tuple[TokenConfiguration, TokenState]]:
        """What the table loaded (features read it instead of asking the store for all rows again)."""
        return self.model.pairs()

    @Slot(int)
    def refresh_configuration(self, config_id: int) -> None:
        cfg = self.ctx.store.get_by_id(config_id)
        if cfg is None:
            self.reload()
            return
        self.model.update_row(cfg, self.ctx.store.get_state(config_id))
        self._on_selection_changed()

    @Slot()
    def _restore_selection(self) -> None:
        self.table.select_names(self._selected_names)
        self._on_selection_changed()

    def _colour_empty_label(self, *_args: object) -> None:  # a palette, not a style sheet: no style sheet engine
        palette = self.empty_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, tone_color("label"))
        self.empty_label.setPalette(palette)

    @Slot()
    def _update_empty_state(self) -> None:
        total = self.model.total_count()
        shown = self.model.rowCount()
        if total == 0:
            self.empty_label.setText(
                "No token configurations yet.\n\nPress Add (Ctrl+N) and pick a provider template: Google Mail, "
                "Microsoft Exchange Online or a generic OAuth2/OpenID Connect provider."
            )
        elif shown == 0:
            self.empty_label.setText(
                f"No configuration matches “{self.model.filter_text}”.\n\nClear the filter (Esc) to see all {total}."
            )
        self.table_stack.setCurrentWidget(self.table if shown else self.empty_label)
        noun = "configuration" if total == 1 else "configurations"
        self.count_label.setText(f"{shown} of {total} {noun}" if shown != total else f"{total} {noun}")

    def secrets_summary(self) -> str:
        """Where the secrets are and why, in one or two lines (Settings, About)."""
        text = self.ctx.secrets.description
        vault = getattr(self.ctx, "vault", None)
        reason = vault.info().reason if vault is not None else ""
        return f"{text[:1].upper()}{text[1:]}." + (f" Why: {reason}." if reason else "")

    @Slot()
    def _update_secret_bar(self) -> None:
        self.set_secrets_label(f"Secrets: {self.ctx.secrets.description}")

    def set_secrets_label(self, text: str, tip: str | None = None) -> None:
        """The status bar's "Secrets:" label (features/vault.py adds the reason and the bar)."""
        self.secrets_label.setText(text)
        if tip is not None:
            self.secrets_label.setToolTip(tip)

    # ---- selection and details
    def selection(self) -> Selection:
        """The selected rows as the table read them, and the current one (what the details pane shows)."""
        return self._selection

    def selected_configurations(self) -> list[TokenConfiguration]:
        return self.table.selected_configurations()

    def current_configuration(self) -> TokenConfiguration | None:
        current = self._selection.current
        return current.config if current is not None else None

    def select_configuration(self, name: str) -> bool:
        row = self.model.row_of(name)
        self.tabs.setCurrentWidget(self.splitter)  # first: the filter box shows the token table's filter then
        if row < 0 and self.model.filter_text:
            self.search.clear()
            row = self.model.row_of(name)
        if row < 0:
            return False
        self.table.select_row(row)
        return True

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        self._on_selection_changed()
        self.tab_changed.emit(index)

    @Slot()
    def _on_selection_changed(self, *_args: object) -> None:
        self._selection = self.table.read_selection()
        self._registry.update_enabled(self._selection.rows, self.tabs.currentWidget() is self.splitter)
        self.details.show_row(self._selection.current, self.model.now, self.model.token_lead)
        self.selection_changed.emit(self._selection)

    # ---- extension API for features
    def add_action(self, action_id: MainAction, text: str, slot: Callable[[], Any],
                   shortcut: QKeySequence | QKeySequence.StandardKey | None = None, tip: str = "", *,
                   menu: MainMenu | None = MainMenu.TOKEN, before: MainAction | None = None, toolbar: bool = True,
                   context_menu: bool = True, enabled_when: EnabledWhen | None = None,
                   shortcut_anywhere: bool = True) -> QAction:
        """Make the action ``action_id`` (object name ``action_<id>``) and put it in ``menu`` (at the end, or
        before the action ``before`` when that is in it), the toolbar (before the search box) and the table's
        context menu. ``enabled_when`` is evaluated by the window over the selected rows whenever they or
        the tab change (off on other tabs)."""
        action = self._registry.add(action_id, text, slot, shortcut, tip, menu=menu, before=before, toolbar=toolbar,
                                    context_menu=context_menu, enabled_when=enabled_when,
                                    shortcut_anywhere=shortcut_anywhere)
        if enabled_when is not None:
            self._registry.update_enabled(self._selection.rows, self.tabs.currentWidget() is self.splitter, action)
        return action

    def action(self, action_id: MainAction) -> QAction:
        """The action registered under ``action_id`` (KeyError when no installed feature made it)."""
        return self._registry.get(action_id)

    def menu(self, menu_id: MainMenu) -> QMenu:
        return self._registry.menu(menu_id)

    def add_menu_separator(self, menu_id: MainMenu, before: MainAction | None = None) -> None:
        """A separator at the end of the menu, or before the action ``before`` when that is in it."""
        self._registry.add_menu_separator(menu_id, before)

    def add_toolbar_separator(self) -> None:
        self._registry.add_toolbar_separator()

    def add_bar(self, widget: QWidget, at: int = -1) -> None:  # at: a bars_layout.count() kept earlier
        self.bars_layout.insertWidget(at, widget)

    def add_details_section(self, title: str, widget: QWidget, at: int = -1) -> QGroupBox:
        return self.details.add_section(title, widget, shown=self._selection.current is not None, at=at)

    def add_tab(self, widget: QWidget, title: str) -> int:
        return self.tabs.addTab(widget, title)

    def show_tab(self, index: int) -> None:
        self.tabs.setCurrentIndex(index)

    def set_tab_filter(self, index: int, placeholder: str, apply: Callable[[str], None]) -> None:
        """The filter box on tab ``index``: its placeholder and what a typed text does (ui/tab_filter.py)."""
        self.tab_filter.add(index, placeholder, apply)

    def show_status(self, text: str, msecs: int = 5000) -> None:
        self.statusBar().showMessage(text, msecs)

    @Slot(str, str)
    def open_configuration(self, name: str, action: str = "") -> None:
        """Bring the window up with ``name`` selected and run the named ``action`` on it (the buttons of the
        notification bar, tray and desktop notifications); while a dialog is open, say how to run it instead."""
        self.show_normal_and_raise()
        if not self.select_configuration(name):
            self.show_status(f"'{name}' no longer exists.")
            return
        target = self._registry.find(MainAction.named(action))
        if target is not None and target.isEnabled() and QApplication.activeModalWidget() is None:
            target.trigger()
        elif target is not None and target.isEnabled():
            shortcut = target.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            label = target.text().replace("&", "").rstrip(". ")
            self.show_status(f"'{name}' selected: close the open dialog, then press {shortcut or 'the button'} to "
                             f"{label.lower()}.", 15000)
        else:
            self.table.setFocus()

    def show_normal_and_raise(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    # ---- slots for the base actions
    @Slot()
    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        if event.key() == Qt.Key.Key_Escape and self.search.text():
            self.search.clear()
            self.table.setFocus()
            return
        super().keyPressEvent(event)

    @Slot(object)
    def _on_context_menu(self, pos) -> None:  # type: ignore[no-untyped-def]
        menu = QMenu(self)  # the actions added with context_menu=True (Edit, Delete, the token actions, ...)
        for action in self._registry.context_actions:
            menu.addAction(action)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    @Slot(str)
    def _on_busy_changed(self, text: str) -> None:
        if text:  # an older temporary message would be drawn over the progress (QStatusBar shares the room)
            self.statusBar().clearMessage()
        self.busy_label.setText(text)
        self.busy_bar.setVisible(bool(text))

    # ---- show, hide, close
    def paintEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()
            QTimer.singleShot(0, lambda: self.setWindowIcon(app_icon()))  # the SVG: ~4 ms before the X11 map

    def showEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        self.model.tick()
        self.tick_timer.start()
        super().showEvent(event)

    def hideEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        self.tick_timer.stop()
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_state()
        if not self._quitting and self.close_to_tray is not None and self.close_to_tray():
            event.ignore()
            self.hide()
            return
        event.accept()
        QApplication.instance().quit()

    @Slot()
    def quit(self) -> None:
        self._quitting = True
        self.save_state()
        self.close()
        QApplication.instance().quit()
