"""The composition root of the GUI: builds the context, hub, task runner, window and features.

Nothing else constructs services for the GUI. Start-up stays lean: QtWebEngine is not
imported here (``AA_ShareOpenGLContexts`` lets the login dialog import it on first use).
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QWidget

from desktop import APP_NAME, __version__
from desktop.paths import data_dir
from desktop.qtns import AA_SHARE_OPENGL_CONTEXTS, Qt
from desktop.services import Context, open_context
from desktop.store.database import damage_from
from desktop.ui.hub import Hub
from desktop.ui.main_window import MainWindow
from desktop.ui.tasks import TaskRunner
from desktop.usage.guards import install_delete_guards

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox

    from desktop.ui.row_loading import RowsLater

logger = logging.getLogger(__name__)

#: feature modules, each with ``install(host)`` (``desktop.ui.features.host.FeatureHost``: this Application);
#: absent ones are skipped. The order is the order of their menu entries and toolbar buttons.
FEATURES: list[str] = [
    "desktop.ui.features.configurations",
    "desktop.ui.features.vault",
    "desktop.ui.features.oauth",
    "desktop.ui.features.device_sign_in",
    "desktop.ui.features.history",
    "desktop.ui.features.notify",
    "desktop.ui.features.backup",
    "desktop.ui.features.usage",
    "desktop.ui.features.relay",
    "desktop.ui.features.alerts",
    "desktop.ui.features.team_store",
    "desktop.ui.features.store_status",
    "desktop.ui.features.help",
]

#: features that add only menu entries behind others' (no toolbar button, context-menu entry, tab, bar or section):
#: the real start installs them right after the first paint, in this order, so every menu reads the same (~3 ms)
AFTER_FIRST_PAINT = frozenset({"desktop.ui.features.alerts", "desktop.ui.features.team_store",
                               "desktop.ui.features.help"})


#: ``QCoreApplication::setAttribute(Qt::ApplicationAttribute, bool)`` in Qt's library (the Itanium C++ ABI: Linux)
_SET_ATTRIBUTE = "_ZN16QCoreApplication12setAttributeEN2Qt20ApplicationAttributeEb"


def prepare_qt() -> None:
    """Process-wide Qt settings that must precede the QApplication."""
    _share_opengl_contexts()
    if os.geteuid() == 0 and "QTWEBENGINE_DISABLE_SANDBOX" not in os.environ:
        # Chromium refuses to start as root with its sandbox; only then is it turned off
        os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"


def _share_opengl_contexts() -> None:
    """``AA_ShareOpenGLContexts``, which QtWebEngine needs set before the QApplication (the login dialog imports it on
    first use), set in Qt's library directly: through PySide6 its ``Qt`` enum would build the whole ``Qt``
    namespace before the first paint (desktop/qtns.py; ctypes costs a tenth of that). Where the function is not
    found under that name (another C++ ABI), through PySide6."""
    try:
        import ctypes

        from PySide6 import QtCore

        set_attribute = ctypes.CDLL(QtCore.__file__)[_SET_ATTRIBUTE]
    except (OSError, AttributeError):
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        return
    set_attribute.argtypes, set_attribute.restype = [ctypes.c_int, ctypes.c_bool], None
    set_attribute(AA_SHARE_OPENGL_CONTEXTS, True)


class Application:
    def __init__(
        self,
        qapp: QApplication,
        ctx: Context,
        tasks: TaskRunner | None = None,
        features: Sequence[str] = FEATURES,
        minimized: bool = False,
        defer_start: bool = False,
    ) -> None:
        #: features start their expensive work (planning over every configuration) after the first paint
        self.defer_start = defer_start
        self.qapp = qapp
        self.ctx = ctx
        self.hub = Hub()
        self.tasks = tasks or TaskRunner()
        self.minimized = minimized
        #: a large store's rows, read after the first paint (ui/row_loading.py); None: read with the window
        self._rows_later: RowsLater | None = None
        self.window = MainWindow(ctx, self.hub, self.tasks, first_read=self._first_read if defer_start else None)
        #: work that waits for the window's first paint (opening the vault, planning): see after_first_paint
        self._after_paint: list[Callable[[], None]] | None = []
        # 0 ms timers: after the first frame has gone to the screen (run from the paint itself, the rows' read - a
        # thread holding the GIL - started before the frame was flushed and held it back). First the header and the
        # sorting as they are after the first paint (the table as the timer's context: not run once the window is
        # gone), then the rest
        self.window.first_painted.connect(
            lambda: QTimer.singleShot(0, self.window.table, self.window.table.after_first_paint))
        self.window.first_painted.connect(lambda: QTimer.singleShot(0, self._run_after_paint))
        if not defer_start:  # nothing waits for a paint: the header and the sorting as they are after it
            self.window.table.after_first_paint()
        self.features: dict[str, object] = {}
        later = [name for name in features if defer_start and name in AFTER_FIRST_PAINT]
        for name in features:
            if name not in later:
                self._install(name)
        if later:
            self.after_first_paint(lambda: [self._install(name) for name in later])
        from desktop.ui.keyboard import order_focus

        # Tab top to bottom, the bars' buttons included; the table has the focus. The real start orders it after
        # the first paint: reading the focus policies builds PySide6's Qt namespace (desktop/qtns.py)
        self.window.table.setFocus()
        if defer_start:
            self.after_first_paint(lambda: order_focus(self.window))
        else:
            order_focus(self.window)

    def _install(self, name: str) -> None:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                return
            raise
        try:
            self.features[name.rsplit(".", 1)[-1]] = module.install(self)
        except Exception:
            logger.exception("feature %s failed to install; the rest of the app continues", name)

    def tray_available(self) -> bool:
        tray = self.features.get("notify")
        return bool(getattr(tray, "tray_available", lambda: False)())

    def after_first_paint(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread once the window has painted for the first time (at once when
        it has). A keyring import or a plan over every configuration started earlier competes with
        that paint: a timer of 0 ms after ``show()`` fires *before* the first paint."""
        if self._after_paint is None:
            QTimer.singleShot(0, fn)
        else:
            self._after_paint.append(fn)

    def _first_read(self, window: MainWindow) -> None:
        from desktop.ui.row_loading import first_read

        self._rows_later = first_read(window, self.tasks)

    def _run_after_paint(self) -> None:
        rows = self._rows_later
        if rows is not None and not rows.done:  # the rows first, then what waited for the paint (it reads them)
            rows.start(then=self._run_after_paint)
            return
        waiting, self._after_paint = self._after_paint, None
        for fn in waiting or ():
            QTimer.singleShot(0, fn)

    def serve_later_starts(self) -> bool:
        """Listen on this data directory's instance socket (desktop.instance): ``tokendesk`` started again asks
        this window to come to the front, and ``tokendesk token``/``refresh`` ask it for tokens
        (desktop.agent: answered on worker threads from this window's context). False when another
        instance already listens."""
        from PySide6.QtCore import QSocketNotifier

        from desktop import instance

        if not instance.supported():
            return True
        claimed = instance.claim(data_dir(), raw=True)
        if claimed is None:
            return False
        self._instance_listener = claimed

        def serve() -> None:  # a start or command meanwhile waits in the socket's backlog
            if self._instance_listener is not claimed:  # served already, or shut down
                return
            from desktop import agent

            listener = self._instance_listener = instance.full(claimed)
            relay = _AgentRelay(self)
            self._agent_relay = relay
            self._agent = agent.AgentServer(listener, agent.TokenAgent(self.ctx, on_changed=relay.token_changed.emit),
                                            on_command=relay.command.emit)
            self._instance_notifier = QSocketNotifier(listener.fileno(), QSocketNotifier.Type.Read, self.window)
            self._instance_notifier.activated.connect(lambda *_args: self._agent.accept_ready())

        if self.defer_start:  # the agent's modules load right after the first paint (not after a large store's rows)
            self.window.first_painted.connect(lambda: QTimer.singleShot(0, serve))
            self.after_first_paint(serve)  # a start in the tray paints nothing
        else:
            serve()
        return True

    def show(self) -> None:
        if not (self.minimized and self.tray_available()):
            self.window.show()  # else the tray icon is the way in
            QTimer.singleShot(2000, self._run_after_paint)  # a platform that never paints must not stall these
        else:
            QTimer.singleShot(0, self._run_after_paint)  # in the tray: nothing to paint first

    def shutdown(self) -> None:
        listener = getattr(self, "_instance_listener", None)
        if listener is not None:
            if hasattr(self, "_agent"):  # else it quit before its first paint: nothing was served yet
                self._instance_notifier.setEnabled(False)
                if not self._agent.close(timeout=5.0):  # nothing new is taken; running requests may finish
                    logger.warning("quitting while the token agent still answers a command; it works alone")
            listener.close()  # a start from now on is a first start again
            self._instance_listener = None
        dropped = self.tasks.drop_pending()
        if dropped:
            logger.info("quitting: %d queued background tasks dropped", dropped)
        if not self.tasks.wait(5000):
            logger.warning("quitting while a network request still runs; it ends at its time-out")
        self.window.db_watcher.stop()  # a team store's listener thread
        self.ctx.close()


class _AgentRelay(QObject):
    """Lives on the GUI thread; the agent's worker threads emit these, the slots run queued on the GUI thread."""

    command = Signal(str)
    token_changed = Signal(int)

    def __init__(self, app: Application) -> None:
        super().__init__(app.window)
        self._app = app
        self.command.connect(self.on_command)
        self.token_changed.connect(self.on_token_changed)

    @Slot(str)
    def on_command(self, command: str) -> None:
        if command == "show":
            logger.info("tokendesk was started again: showing the window")
            self._app.window.show_normal_and_raise()

    @Slot(int)
    def on_token_changed(self, config_id: int) -> None:
        self._app.hub.token_changed.emit(config_id)


def run_gui(minimized: bool = False, argv: Sequence[str] | None = None) -> int:
    prepare_qt()
    qapp = QApplication.instance() or QApplication(list(argv or sys.argv[:1] or ["tokendesk"]))
    qapp.setApplicationName(APP_NAME)
    qapp.setApplicationVersion(__version__)
    qapp.setOrganizationName("Tokendesk")
    qapp.setDesktopFileName("tokendesk")
    from desktop import logfile

    logfile.enable(data_dir())
    try:
        # cheap: the vault opens after the first paint (features/vault.py), a team store connects then (row_loading)
        ctx = open_context(connect_later=True)
    except Exception as exc:  # the database cannot be opened: say so in a window, not a traceback
        database_problem_box(None, damage_from(exc) or exc, starting=True).exec()
        return 1
    install_delete_guards(ctx)  # this composition root's context: usage refuses deleting what it uses
    try:
        app = Application(qapp, ctx, minimized=minimized, defer_start=True)
    except Exception as exc:  # the window's first read met a damaged page
        damaged = damage_from(exc, ctx.store.path)
        if damaged is None:
            raise
        ctx.close()
        database_problem_box(None, damaged, starting=True).exec()
        return 1
    report = DamageReport(app)  # from now on: what to do, in a window, when a read meets a damaged page
    if not app.serve_later_starts():
        # another Tokendesk claimed this data directory between our check and now: hand over to it
        from desktop.instance import ask_running_instance

        if ask_running_instance("minimized" if minimized else "show", data_dir()):
            app.shutdown()
            return 0
    qapp.setQuitOnLastWindowClosed(not app.tray_available())
    app.after_first_paint(gc.enable)  # turned off for the start (desktop.cli._start_gui)
    app.after_first_paint(_application_icon)  # dialogs' icon; rendering the SVG delayed the window (X11: its map)
    if os.environ.get("TOKENDESK_EXIT_WHEN_SHOWN"):  # bench/bench_startup.py: measure start-up, then leave
        _report_start_up(app)
    app.show()
    code = qapp.exec()
    app.shutdown()
    report.uninstall()
    return int(code)


def _application_icon() -> None:
    from desktop.ui.icons import app_icon

    QApplication.setWindowIcon(app_icon())


def database_problem_box(parent: QWidget | None, exc: BaseException, *, starting: bool = False) -> QMessageBox:
    """What happened to the database and what to do (``StoreDamaged``'s words; selectable, so the commands
    can be copied). The caller shows it."""
    from PySide6.QtWidgets import QMessageBox

    title = "Tokendesk cannot start." if starting else "Tokendesk's database is damaged."
    if starting:  # no window has painted: the application icon is not set yet
        _application_icon()
    box = QMessageBox(QMessageBox.Icon.Critical, APP_NAME, title, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("DatabaseProblemBox")
    box.setInformativeText("\n\n".join(getattr(exc, "paragraphs", None) or [str(exc)]))
    box.setStyleSheet("QLabel#qt_msgbox_informativelabel { min-width: 460px; }")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return box


class DamageReport:
    """While the window runs, a read that meets a damaged page (a slot on the GUI thread: ``sys.excepthook``;
    a background task: ``TaskRunner.damaged``) shows ``database_problem_box`` - once while it is open,
    not once per reload. Other exceptions go to the previous hook as before."""

    def __init__(self, app: Application) -> None:
        self._app = app
        self.box: QMessageBox | None = None
        #: the damage reports shown (tests)
        self.shown: list[BaseException] = []
        self._previous = sys.excepthook
        sys.excepthook = self._hook
        app.tasks.damaged.connect(self.show)

    def _hook(self, exc_type: type[BaseException], exc: BaseException, tb: object) -> None:
        damaged = damage_from(exc, self._app.ctx.store.path) if exc is not None else None
        if damaged is None:
            self._previous(exc_type, exc, tb)  # type: ignore[arg-type]
            return
        logger.error("%s", damaged)
        self.show(damaged)

    def show(self, damaged: BaseException) -> None:
        if self.box is not None and self.box.isVisible():
            return
        self.shown.append(damaged)
        self.box = database_problem_box(self._app.window, damaged)
        self.box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.box.open()

    def uninstall(self) -> None:
        if sys.excepthook == self._hook:
            sys.excepthook = self._previous


def _report_start_up(app: Application) -> None:
    """For bench/bench_startup.py: ``SHOWN`` at the first paint, ``SETTLED`` once the work queued
    behind it (keyring probe started, notification plan over every configuration) is done; then quit (with
    ``TOKENDESK_EXIT_WHEN_SHOWN=stay`` the bench ends the process once it found the mapped window; with
    ``painted`` it leaves at once after SHOWN, for the bench's instruction count)."""
    import resource

    def line(word: str) -> str:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        webengine = "PySide6.QtWebEngineWidgets" in sys.modules
        return (f"{word} rows={app.window.model.rowCount()} maxrss_mb={usage.ru_maxrss / 1024:.0f} "
                f"webengine={webengine} cpu_ms={(usage.ru_utime + usage.ru_stime) * 1000:.0f}")

    done = []

    def settled(*_args: object) -> None:
        if not done:
            done.append(True)
            print(line("SETTLED"), flush=True)
            if os.environ.get("TOKENDESK_EXIT_WHEN_SHOWN") != "stay":  # "stay": the bench's xcb lane ends it
                app.qapp.quit()

    def shown() -> None:
        print(line("SHOWN"), flush=True)
        if os.environ.get("TOKENDESK_EXIT_WHEN_SHOWN") == "painted":  # the bench's count of the work to this paint
            os._exit(0)

    app.window.first_painted.connect(shown)

    def follow_plan() -> bool:  # the plan over every configuration runs in slices after the paint
        controller = getattr(app.features.get("notify"), "controller", None)
        if controller is not None:
            controller.planned.connect(settled)
        return controller is not None

    if not follow_plan():  # the notify feature is built after the first paint (features/notify.py)
        app.after_first_paint(lambda: follow_plan() or QTimer.singleShot(0, settled))
