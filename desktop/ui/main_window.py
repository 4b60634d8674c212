"""The main window: token table with search, details pane, message bars, tabs, actions.

Features (desktop/ui/features/*) add their own actions, bars, details sections and tabs
through the small API at the end of this class (``add_action``, ``add_bar``,
``add_details_section``, ``add_tab``, ...), so this file does not grow with every capability.
"""

from __future__ import annotations

import html
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QFileSystemWatcher,
    QItemSelectionModel,
    QSettings,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedLayout,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME, __version__
from desktop.models.config import TokenConfiguration
from desktop.models.status import format_when, last_used_text
from desktop.models.token import TokenState
from desktop.models.token_table_model import (
    COL_ACCOUNT,
    COL_NAME,
    COL_REFRESH,
    COL_TEMPLATE,
    COL_TOKEN,
    COL_VALIDITY,
    TokenTableModel,
)
from desktop.models.tones import style, tone
from desktop.models.validation import ENDPOINT_LABELS
from desktop.ui.icons import app_icon
from desktop.ui.widgets import rich_text_label

if TYPE_CHECKING:
    from desktop.services import Context
    from desktop.ui.hub import Hub
    from desktop.ui.tasks import TaskRunner

logger = logging.getLogger(__name__)


def _breakable(text: str) -> str:
    """HTML-escape and let long URLs and scopes wrap after '/', '.' and '&'."""
    escaped = html.escape(text)
    for ch in ("/", "&amp;", "."):
        escaped = escaped.replace(ch, ch + "\u200b")
    return escaped


class MainWindow(QMainWindow):
    selection_changed = Signal()
    #: emitted once, after the window painted for the first time (Application.after_first_paint)
    first_painted = Signal()

    def __init__(self, ctx: Context, hub: Hub, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.hub = hub
        self.tasks = tasks
        self.named_actions: dict[str, QAction] = {}
        self._painted = False
        self._context_actions: list[QAction] = []
        self._selection_dependent: list[tuple[QAction, Callable[[list[TokenConfiguration]], bool]]] = []
        #: set by the notify feature: returns True when closing should hide to the tray instead of quitting
        self.close_to_tray: Callable[[], bool] | None = None
        self._quitting = False
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.model = TokenTableModel(self)
        self._build_ui()
        self._build_actions()
        self._connect()
        self._restore_state()
        self.reload()
        self._update_secret_bar()
        self._watch_database()

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

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        table_host = QWidget()
        self.table_stack = QStackedLayout(table_host)
        self.table = QTableView()
        self.table.setObjectName("tokenTable")
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in (
            (COL_NAME, 180),
            (COL_TEMPLATE, 175),
            (COL_TOKEN, 280),
            (COL_REFRESH, 250),
            (COL_VALIDITY, 90),
            (COL_ACCOUNT, 200),
        ):
            self.table.setColumnWidth(col, width)
        # right-click on the header: choose the columns (kept with the header state in ui.ini)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._on_header_menu)
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet(style("label", " font-size:11pt; padding:30px;"))
        self.table_stack.addWidget(self.table)
        self.table_stack.addWidget(self.empty_label)
        self.splitter.addWidget(table_host)

        self.details_scroll = QScrollArea()
        self.details_scroll.setWidgetResizable(True)
        self.details_scroll.setMinimumWidth(260)
        details = QWidget()
        self.details_layout = QVBoxLayout(details)
        self.details_title = QLabel()
        self.details_title.setStyleSheet("font-size:12pt; font-weight:600;")
        self.details_title.setWordWrap(True)
        self.details_layout.addWidget(self.details_title)
        self.details_text = rich_text_label("detailsText")
        self.details_layout.addWidget(self.details_text)
        self._details_sections: list[QWidget] = []
        self.details_layout.addStretch(1)
        self.details_scroll.setWidget(details)
        self.splitter.addWidget(self.details_scroll)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.tabs.addTab(self.splitter, "&Tokens")
        self.setCentralWidget(central)

        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Filter by name, template, status ... (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(260)
        self.search.setMaximumWidth(380)

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
        self.resize(1180, 640)

    def _build_actions(self) -> None:
        self.menus: dict[str, QMenu] = {}
        for title in ("&File", "&Token", "&View", "&Help"):
            self.menus[title] = self.menuBar().addMenu(title)
        self.toolbar = QToolBar("Main toolbar")
        self.toolbar.setObjectName("mainToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        # the search box sits at the right end of the toolbar; actions are inserted before the spacer
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._toolbar_spacer = self.toolbar.addWidget(spacer)
        self.toolbar.addWidget(self.search)

        self.add_action_ = self._make(
            "add",
            "&Add ...",
            QKeySequence.StandardKey.New,
            self.on_add,
            "Add a token configuration from a provider template (Ctrl+N)",
        )
        self.add_action(self.add_action_, menu="&Token", context_menu=False)
        self.edit_action = self._make(
            "edit",
            "&Edit ...",
            QKeySequence("F2"),
            self.on_edit,
            "Edit the selected configuration (F2, Enter or double-click)",
        )
        self.add_action(self.edit_action, menu="&Token", enabled_when=lambda s: len(s) == 1)
        self.delete_action = self._make(
            "delete",
            "&Delete ...",
            QKeySequence.StandardKey.Delete,
            self.on_delete,
            "Delete the selected configurations with their tokens and secrets (Del)",
        )
        self.add_action(self.delete_action, menu="&Token", enabled_when=lambda s: len(s) >= 1)
        self.menus["&Token"].addSeparator()
        self.toolbar.insertSeparator(self._toolbar_spacer)

        settings = self._make(
            "settings",
            "&Settings ...",
            QKeySequence("Ctrl+,"),
            self.on_settings,
            "Redirect URI, POP3 split hosts, refresh lead time, network time-out",
        )
        self.menus["&File"].addAction(settings)
        self.menus["&File"].addSeparator()
        quit_action = self._make("quit", "&Quit", QKeySequence.StandardKey.Quit, self.quit, "Quit Tokendesk")
        self.menus["&File"].addAction(quit_action)
        self._file_tail = self.menus["&File"].insertSeparator(settings)

        find = self._make("find", "&Filter", QKeySequence.StandardKey.Find, self.focus_search, "Focus the filter box")
        self.menus["&View"].addAction(find)
        reload_view = self._make(
            "reload", "Re&load", QKeySequence("Ctrl+Shift+R"), self.reload, "Reload the table from the database"
        )
        self.menus["&View"].addAction(reload_view)
        self.columns_menu = self.menus["&View"].addMenu("&Columns")
        self.columns_menu.aboutToShow.connect(lambda: self.column_menu(self.columns_menu))
        open_log = self._make("open_log", "Open &Log Folder", None, self.on_open_log_folder,
                              "Show the folder of Tokendesk's log file (what happened while nobody watched)")
        self.menus["&Help"].addAction(open_log)
        about = self._make("about", "&About Tokendesk", None, self.on_about, "")
        self.menus["&Help"].addAction(about)
        for action in (settings, quit_action, find, reload_view):
            self.addAction(action)

    def _make(self, name: str, text: str, shortcut, slot, tip: str) -> QAction:  # type: ignore[no-untyped-def]
        action = QAction(text, self)
        action.setObjectName(f"action_{name}")
        if shortcut is not None:
            action.setShortcut(shortcut)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.named_actions[name] = action
        return action

    def _connect(self) -> None:
        self.search.textChanged.connect(self.model.set_filter)
        self.model.rows_changed.connect(self._update_empty_state)
        self.model.modelReset.connect(self._restore_selection)
        self.table.doubleClicked.connect(lambda _i: self.edit_action.trigger())
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            QShortcut(
                QKeySequence(key),
                self.table,
                activated=self.edit_action.trigger,
                context=Qt.ShortcutContext.WidgetShortcut,
            )
        self.table.customContextMenuRequested.connect(self._on_context_menu)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.tabs.currentChanged.connect(lambda _i: self._on_selection_changed())
        self.hub.configurations_changed.connect(self.reload)
        self.hub.token_changed.connect(self.refresh_configuration)
        self.hub.open_configuration.connect(self.open_configuration)
        self.hub.secrets_changed.connect(self._update_secret_bar)
        self.tasks.busy_changed.connect(self._on_busy_changed)
        self.tick_timer = QTimer(self)
        self.tick_timer.setInterval(60_000)  # relative times ("in 12 min") while the window is visible
        self.tick_timer.timeout.connect(lambda: self.model.tick())

    # ---- persistence of window geometry and column widths
    def ui_settings(self) -> QSettings:
        from desktop.paths import data_dir

        return QSettings(str(data_dir() / "ui.ini"), QSettings.Format.IniFormat)

    def _restore_state(self) -> None:
        s = self.ui_settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        header = s.value("table/header")
        if isinstance(header, QByteArray):
            self.table.horizontalHeader().restoreState(header)
        splitter = s.value("window/splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)

    def save_state(self) -> None:
        s = self.ui_settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("table/header", self.table.horizontalHeader().saveState())
        s.setValue("window/splitter", self.splitter.saveState())
        s.sync()

    # ---- data
    @Slot()
    def reload(self) -> None:
        self._remember_selection()
        from datetime import timedelta

        self.model.token_lead = timedelta(seconds=int(self.ctx.store.get_setting("refresh.lead_time_seconds")))
        self.model.set_rows(self.ctx.store.list_with_state())
        self._last_data_version = self.ctx.store.data_version()
        self._update_details()

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
        self._update_details()
        self.selection_changed.emit()

    def _watch_database(self) -> None:
        """Reload when another process (the CLI) changes the database; event-driven, no polling."""
        self._watcher = QFileSystemWatcher(self)
        path = self.ctx.store.path
        if path is None:
            return
        for candidate in (path, path.with_name(path.name + "-wal")):
            if candidate.exists():
                self._watcher.addPath(str(candidate))
        self._watcher.fileChanged.connect(self._on_db_file_changed)
        self._db_debounce = QTimer(self)
        self._db_debounce.setSingleShot(True)
        self._db_debounce.setInterval(300)
        self._db_debounce.timeout.connect(self._check_external_change)

    @Slot(str)
    def _on_db_file_changed(self, _path: str) -> None:
        self._db_debounce.start()

    @Slot()
    def _check_external_change(self) -> None:
        version = self.ctx.store.data_version()
        if version != getattr(self, "_last_data_version", None):
            self.reload()

    def _remember_selection(self) -> None:
        self._selected_names = [c.name for c in self.selected_configurations()]
        current = self.current_configuration()
        self._current_name = current.name if current else None

    @Slot()
    def _restore_selection(self) -> None:
        names = getattr(self, "_selected_names", [])
        sel = self.table.selectionModel()
        first = True
        for name in names:
            row = self.model.row_of(name)
            if row < 0:
                continue
            flags = QItemSelectionModel.SelectionFlag.Rows | (
                QItemSelectionModel.SelectionFlag.ClearAndSelect if first else QItemSelectionModel.SelectionFlag.Select
            )
            sel.select(self.model.index(row, 0), flags)
            if first:
                sel.setCurrentIndex(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
            first = False
        self._on_selection_changed()

    @Slot()
    def _update_empty_state(self) -> None:
        total = self.model.total_count()
        shown = self.model.rowCount()
        if total == 0:
            self.empty_label.setText(
                "No token configurations yet.\n\nPress Add (Ctrl+N) and pick a provider template: Google Mail, "
                "Microsoft Exchange Online or a generic OAuth2/OpenID Connect provider."
            )
            self.table_stack.setCurrentWidget(self.empty_label)
        elif shown == 0:
            self.empty_label.setText(
                f"No configuration matches “{self.search.text()}”.\n\nClear the filter (Esc) to see all {total}."
            )
            self.table_stack.setCurrentWidget(self.empty_label)
        else:
            self.table_stack.setCurrentWidget(self.table)
        noun = "configuration" if total == 1 else "configurations"
        self.count_label.setText(f"{shown} of {total} {noun}" if shown != total else f"{total} {noun}")

    def _secrets_summary(self) -> str:
        """Where the secrets are and why, in one or two lines (Settings, About)."""
        text = self.ctx.secrets.description
        vault = getattr(self.ctx, "vault", None)
        reason = vault.info().reason if vault is not None else ""
        return f"{text[:1].upper()}{text[1:]}." + (f" Why: {reason}." if reason else "")

    def _update_secret_bar(self) -> None:
        """The status bar's "Secrets:" label (features/vault.py adds the reason and the bar)."""
        self.secrets_label.setText(f"Secrets: {self.ctx.secrets.description}")

    # ---- selection and details
    def selected_configurations(self) -> list[TokenConfiguration]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [c for c in (self.model.config_at(r) for r in rows) if c is not None]

    def current_configuration(self) -> TokenConfiguration | None:
        selected = self.selected_configurations()
        if len(selected) == 1:
            return selected[0]
        index = self.table.currentIndex()
        if selected and index.isValid():
            cfg = self.model.config_at(index.row())
            if cfg is not None and cfg in selected:
                return cfg
        return selected[0] if selected else None

    def select_configuration(self, name: str) -> bool:
        row = self.model.row_of(name)
        if row < 0 and self.model.filter_text:
            self.search.clear()
            row = self.model.row_of(name)
        if row < 0:
            return False
        self.tabs.setCurrentWidget(self.splitter)
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.scrollTo(index)
        return True

    @Slot()
    def _on_selection_changed(self, *_args: object) -> None:
        selected = self.selected_configurations()
        # token actions act on the token table's selection: only while that tab is shown, so a
        # shortcut (Del, F2, F5) on another tab never touches a configuration the admin cannot see
        on_tokens = self.tabs.currentWidget() is self.splitter
        for action, predicate in self._selection_dependent:
            action.setEnabled(on_tokens and predicate(selected))
        self._update_details()
        self.selection_changed.emit()

    def _update_details(self) -> None:
        cfg = self.current_configuration()
        if cfg is None or cfg.id is None:
            self.details_title.setText("No configuration selected")
            self.details_text.setText("Select a configuration to see its details.")
            for section in self._details_sections:
                section.setVisible(False)
            return
        for section in self._details_sections:
            section.setVisible(True)
        now = self.model.now
        self.details_title.setText(cfg.name)
        row_index = self.model.row_of_id(cfg.id)
        row = self.model.row_at(row_index) if row_index >= 0 else None
        # the table row already holds the state (reloaded on every change): no query per selection
        state = row.state if row is not None else self.ctx.store.get_state(cfg.id)
        items: list[tuple[str, str]] = []
        if row is not None:
            items.append(("Token", row.status(COL_TOKEN, now, self.model.token_lead).text))
            items.append(("Refresh token", row.status(COL_REFRESH, now, self.model.token_lead).text))
        for label, dt in (
            ("Last requested", state.last_requested_at),
            ("Last refreshed", state.last_refreshed_at),
        ):
            items.append((label, format_when(dt, now) if dt else "never"))
        # when and to which program the token was last handed out ("... by /usr/bin/msmtp", desktop.agent)
        items.append(("Last used", last_used_text(state.last_used_at, state.last_used_by, now)))
        items += [
            ("Template", cfg.template_name),
            ("Validity", cfg.validity_label),
            ("Client ID", cfg.client_id or "-"),
            (
                "Client secret",
                "stored" if cfg.has_client_secret else "missing: Edit to add it if the provider needs one",
            ),
            ("Scope", cfg.scope or "-"),
        ]
        items += [(ENDPOINT_LABELS[k], url or "-") for k, url in cfg.endpoints_in_use().items()]
        self.details_text.setText(
            "".join(
                f"<p style='margin:0 0 6px 0'><span style='color:{tone('label')}'>{html.escape(label)}</span><br>"
                f"{_breakable(value)}</p>"
                for label, value in items
            )
        )

    # ---- extension API for features
    def add_action(
        self,
        action: QAction,
        menu: str | None = "&Token",
        toolbar: bool = True,
        context_menu: bool = True,
        enabled_when: Callable[[list[TokenConfiguration]], bool] | None = None,
        name: str | None = None,
    ) -> QAction:
        """Put an action in a menu, the toolbar (before the search box) and the table's context menu."""
        if action.parent() is None:
            action.setParent(self)
        if menu:
            self.menu(menu).addAction(action)
        if toolbar:
            self.toolbar.insertAction(self._toolbar_spacer, action)
        if context_menu:
            self._context_actions.append(action)
        if enabled_when is not None:
            self._selection_dependent.append((action, enabled_when))
            action.setEnabled(
                self.tabs.currentWidget() is self.splitter and enabled_when(self.selected_configurations())
            )
        if name:
            self.named_actions[name] = action
        self.addAction(action)  # shortcuts work wherever the focus is in the window
        return action

    def add_toolbar_separator(self) -> None:
        self.toolbar.insertSeparator(self._toolbar_spacer)

    def menu(self, title: str) -> QMenu:
        if title not in self.menus:
            help_menu = self.menus["&Help"].menuAction()
            menu = QMenu(title, self)
            self.menuBar().insertMenu(help_menu, menu)
            self.menus[title] = menu
        return self.menus[title]

    def add_bar(self, widget: QWidget) -> None:
        self.bars_layout.addWidget(widget)

    def add_details_section(self, title: str, widget: QWidget) -> QGroupBox:
        box = QGroupBox(title)
        layout = QVBoxLayout(box)
        layout.addWidget(widget)
        self.details_layout.insertWidget(self.details_layout.count() - 1, box)
        self._details_sections.append(box)
        box.setVisible(self.current_configuration() is not None)
        return box

    def add_tab(self, widget: QWidget, title: str) -> int:
        return self.tabs.addTab(widget, title)

    def show_status(self, text: str, msecs: int = 5000) -> None:
        self.statusBar().showMessage(text, msecs)

    @Slot(str, str)
    def open_configuration(self, name: str, action: str = "") -> None:
        """Bring the window up with ``name`` selected and the action ready (tray/bar click-through)."""
        self.show_normal_and_raise()
        if not self.select_configuration(name):
            self.show_status(f"'{name}' no longer exists.")
            return
        target = self.named_actions.get(action) if action else None
        if target is not None and target.isEnabled():
            button = self.toolbar.widgetForAction(target)
            if button is not None:
                button.setFocus(Qt.FocusReason.OtherFocusReason)
            shortcut = target.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            label = target.text().replace("&", "").rstrip(". ")
            self.show_status(f"'{name}' selected: press {shortcut or 'the button'} to {label.lower()}.", 15000)
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

    @Slot()
    def on_add(self, template_name: str | None = None) -> None:
        from desktop.ui.dialogs.template_picker import TemplatePicker

        catalog = self.ctx.templates
        template = catalog.get(template_name) if template_name else None
        if template is None:
            picker = TemplatePicker(catalog, self)
            if picker.exec() != TemplatePicker.DialogCode.Accepted:
                return
            template = picker.selected_template()
            if template is None:
                return
        dialog = self.make_token_dialog(template.new_configuration(""), template)
        if dialog.exec() == dialog.DialogCode.Accepted and dialog.saved is not None:
            self.hub.configurations_changed.emit()
            self.select_configuration(dialog.saved.name)
            self.show_status(f"Added '{dialog.saved.name}'. Next: request a token for it.")

    def make_token_dialog(self, cfg: TokenConfiguration, template=None):  # type: ignore[no-untyped-def]
        from desktop.models.settings import redirect_uri
        from desktop.ui.dialogs.token_dialog import TokenDialog

        service = self.ctx.configurations
        if cfg.id is None:

            def save(c: TokenConfiguration, secret: str | None) -> TokenConfiguration:
                return service.add(c, secret)
        else:

            def save(c: TokenConfiguration, secret: str | None, keep_client_secret: bool = False
                     ) -> TokenConfiguration:
                # endpoints at another host: the dialog asked; the service forgets tokens (and the secret unless kept).
                # Saved only over the version the dialog edits (dialog.original): else ChangedMeanwhile, no lost update
                return service.update(c, secret, keep_client_secret=keep_client_secret, expected=dialog.original)

        if template is None:
            template = self.ctx.templates.get(cfg.template_name)
        dialog = TokenDialog(
            cfg,
            template=template,
            existing_names=set(self.ctx.store.names()),
            client_secret_stored=cfg.has_client_secret,
            save_fn=save,
            redirect_uri=redirect_uri(self.ctx.settings),
            parent=self,
        )
        dialog.discover_fn = lambda issuer: self._discover(dialog, issuer)
        return dialog

    def _discover(self, dialog, issuer: str) -> None:  # type: ignore[no-untyped-def]
        from desktop.oauth.discovery import DiscoveryError, discover

        timeout = float(self.ctx.store.get_setting("network.timeout_seconds"))

        def failed(exc: BaseException) -> None:
            dialog.discovery_failed(
                str(exc) if isinstance(exc, DiscoveryError) else f"Discovery failed: {exc.__class__.__name__}"
            )

        def found(endpoints) -> None:  # type: ignore[no-untyped-def]
            endpoints.record_on(dialog.config)  # issuer and RFC 9207 promise, saved with the configuration
            dialog.apply_discovery(endpoints)

        self.tasks.run(
            discover,
            issuer,
            timeout,
            on_done=found,
            on_error=failed,
            busy_text=f"Reading the discovery document of {issuer} ...",
        )

    @Slot()
    def on_edit(self) -> None:
        cfg = self.current_configuration()
        if cfg is None:
            return
        fresh = self.ctx.store.find(cfg.name) or cfg
        dialog = self.make_token_dialog(fresh)
        if dialog.exec() == dialog.DialogCode.Accepted and dialog.saved is not None:
            self.hub.configurations_changed.emit()
            self.select_configuration(dialog.saved.name)
            moved = ""
            if dialog.moves:
                moved = (" Its endpoints moved to another host: the stored tokens were forgotten; request a new token."
                         if dialog.saved.has_client_secret or not fresh.has_client_secret else
                         " Its endpoints moved to another host: the stored tokens were forgotten and the client secret "
                         "removed; add the new host's secret with Edit, then request a new token.")
            self.show_status(f"Saved '{dialog.saved.name}'.{moved}")

    @Slot()
    def on_delete(self) -> None:
        selected = self.selected_configurations()
        if not selected:
            return
        names = ", ".join(f"'{c.name}'" for c in selected[:5]) + (
            f" and {len(selected) - 5} more" if len(selected) > 5 else ""
        )
        answer = QMessageBox.question(
            self,
            "Delete token configurations?" if len(selected) > 1 else "Delete token configuration?",
            f"Delete {names}?\n\nThe stored token and the client secret are deleted too. This cannot be undone "
            "(export a backup first if you may need it again).",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        problems: list[str] = []
        deleted = 0
        for cfg in selected:
            try:
                self.ctx.configurations.delete(cfg.name)
                deleted += 1
            except Exception as exc:
                problems.append(str(exc))
        self.hub.configurations_changed.emit()
        if problems:
            QMessageBox.warning(self, "Not everything was deleted", "\n\n".join(problems))
        self.show_status(f"Deleted {deleted} configuration{'s' if deleted != 1 else ''}.")

    @Slot()
    def on_settings(self) -> None:
        from desktop import autostart
        from desktop.ui.dialogs.settings_dialog import SettingsDialog

        linux = sys.platform.startswith("linux")
        dialog = SettingsDialog(self.ctx.settings, self, autostart=autostart.is_enabled() if linux else None,
                                secrets=self._secrets_summary())
        if dialog.exec() == dialog.DialogCode.Accepted:
            try:
                self.ctx.store.set_settings(dialog.collected().items())
            except ValueError as exc:
                QMessageBox.warning(self, "Settings not saved", str(exc))
                return
            wanted = dialog.autostart_check.isChecked() if dialog.autostart_check is not None else None
            if wanted is not None and wanted != autostart.is_enabled():
                try:
                    autostart.enable() if wanted else autostart.disable()
                except OSError as exc:
                    QMessageBox.warning(self, "Autostart not changed",
                                        f"{autostart.entry_path()} could not be written: {exc.strerror or exc}")
            self.show_status("Settings saved.")
            self.hub.configurations_changed.emit()  # lead times changed: reload, re-plan the scheduler

    @Slot()
    def on_about(self) -> None:
        from desktop import logfile

        log = logfile.current()
        box = QMessageBox(QMessageBox.Icon.Information, f"About {APP_NAME}",
                          f"<b>{APP_NAME} {__version__}</b><br>OAuth2 token administration for the desktop.<br><br>"
                          f"Data: {html.escape(str(self.ctx.store.path))}<br>"
                          f"Log: {html.escape(str(log)) if log else 'not written (see tokendesk -v)'}<br>"
                          f"Secrets: {html.escape(self._secrets_summary())}",
                          QMessageBox.StandardButton.Ok, self)
        box.setObjectName("AboutBox")
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.about_box = box
        box.open()

    @Slot()
    def on_open_log_folder(self) -> bool:
        """Open the log folder in the file manager; says where it is when that does not work."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        from desktop import logfile

        log = logfile.current()
        if log is None:
            self.show_status("No log file is written in this session (start Tokendesk normally, or use tokendesk -v).")
            return False
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(log.parent)))
        if not opened:
            self.show_status(f"The log is {log} (no file manager answered).", 15000)
        return bool(opened)

    def column_menu(self, menu: QMenu | None = None) -> QMenu:
        """Checkable entries for every column but Name (which identifies the row), in ``menu`` (refilled)
        or a new one: the header's context menu and View > Columns."""
        header = self.table.horizontalHeader()
        if menu is None:
            menu = QMenu(self)
            menu.setObjectName("ColumnMenu")
        menu.clear()
        for col in range(1, self.model.columnCount()):
            action = menu.addAction(str(self.model.headerData(col, Qt.Orientation.Horizontal)))
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(col))
            action.toggled.connect(lambda shown, c=col: self.table.setColumnHidden(c, not shown))
        return menu

    @Slot(object)
    def _on_header_menu(self, pos) -> None:  # type: ignore[no-untyped-def]
        menu = self.column_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.table.horizontalHeader().mapToGlobal(pos))

    @Slot(object)
    def _on_context_menu(self, pos) -> None:  # type: ignore[no-untyped-def]
        # Edit and Delete are registered through add_action like every feature's action
        menu = QMenu(self)
        for action in self._context_actions:
            menu.addAction(action)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    @Slot(str)
    def _on_busy_changed(self, text: str) -> None:
        self.busy_label.setText(text)
        self.busy_bar.setVisible(bool(text))

    # ---- show, hide, close
    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt API
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            # the details sections write their colours into rich text: draw them again for the new theme
            self._update_details()
            self.selection_changed.emit()

    def paintEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()

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
