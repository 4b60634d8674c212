"""Runs the real GUI (``run_gui(minimized=True)``) under Xvfb for the tray end-to-end test.

The test process prepares ``TOKENDESK_HOME`` and starts this script with ``DISPLAY`` set. The
script waits for the tray host (unless TOKENDESK_DRIVER_WAIT_TRAY=0), then hands over to
``desktop.app.run_gui`` exactly as ``tokendesk --minimized`` does, and talks to the test over stdin/stdout:

* prints ``STRATEGY <name>`` once the notify feature chose, ``MESSAGE <title>`` when a tray
  message appeared (and a little later ``BALLOON <x> <y> <w> <h>`` once it is painted);
* on ``CLICK`` it clicks the balloon with a real mouse event (``QTest.mouseClick``) and prints
  ``OPENED <name>`` with the window's selected configuration, then ``SIGNIN <title> visible=<bool>``
  for the sign-in the click started (the system-browser wait; no browser is started here);
* on ``CANCEL`` it presses that window's Cancel and prints ``CANCELLED <status bar message>``;
* on ``QUIT`` it quits through the tray menu's Quit.
"""

from __future__ import annotations

import os
import sys
import threading
import time


def main() -> int:
    from desktop.app import prepare_qt

    prepare_qt()
    from PySide6.QtCore import QObject, Qt, QTimer, Signal
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    qapp = QApplication(["tokendesk"])
    deadline = time.monotonic() + 15
    # TOKENDESK_DRIVER_WAIT_TRAY=0: start before any tray exists (autostart before the panel)
    while os.environ.get("TOKENDESK_DRIVER_WAIT_TRAY", "1") == "1" and not QSystemTrayIcon.isSystemTrayAvailable():
        if time.monotonic() > deadline:
            print("NOTRAY", flush=True)
            return 3
        qapp.processEvents()
        time.sleep(0.1)

    class Commands(QObject):
        received = Signal(str)

    commands = Commands()

    def read_stdin() -> None:
        for line in sys.stdin:
            commands.received.emit(line.strip())

    def feature(kind=None):
        from desktop.ui.features.notify import NotifyFeature

        for widget in QApplication.topLevelWidgets():
            found = widget.findChild(kind or NotifyFeature)
            if found is not None:
                return found
        return None

    def oauth():
        from desktop.ui.features.oauth import OAuthFeature

        return feature(OAuthFeature)

    def balloon():
        for widget in QApplication.topLevelWidgets():
            if widget.metaObject().className() == "QBalloonTip" and widget.isVisible():
                return widget
        return None

    state = {"hooked": False}

    def hook() -> None:
        notify = feature()
        if notify is None:
            QTimer.singleShot(50, hook)
            return
        if state["hooked"]:
            return
        state["hooked"] = True
        sign_in = oauth()
        if sign_in is not None:
            sign_in.open_browser = lambda url: False  # no browser here: the wait window offers the address
        print(f"STRATEGY {notify.strategy}", flush=True)
        print(f"WINDOW visible={notify.window.isVisible()}", flush=True)
        if notify.tray is None:
            return
        original = notify.tray.show_message

        def show_message(note, msecs=20000):
            original(note, msecs)
            print(f"MESSAGE {note.title}", flush=True)
            QTimer.singleShot(1500, report_balloon)

        notify.tray.show_message = show_message

    def report_balloon() -> None:
        tip = balloon()
        if tip is None:
            print("BALLOON none", flush=True)
            return
        g = tip.frameGeometry()
        print(f"BALLOON {g.x()} {g.y()} {g.width()} {g.height()}", flush=True)

    def on_command(cmd: str) -> None:
        notify = feature()
        if cmd == "CLICK":
            tip = balloon()
            if tip is None:
                print("OPENED no-balloon", flush=True)
                return
            QTest.mouseClick(tip, Qt.MouseButton.LeftButton, pos=tip.rect().center())

            def opened() -> None:
                current = notify.window.current_configuration()
                visible = notify.window.isVisible()
                print(f"OPENED {current.name if current else '-'} visible={visible}", flush=True)
                wait = oauth().wait_dialog
                print(f"SIGNIN {wait.windowTitle() if wait else '-'} visible={bool(wait and wait.isVisible())}",
                      flush=True)

            QTimer.singleShot(800, opened)
        elif cmd == "CANCEL":
            wait = oauth().wait_dialog
            if wait is not None:
                wait.cancel_button.click()
            QTimer.singleShot(500, lambda: print(f"CANCELLED {notify.window.statusBar().currentMessage()}",
                                                  flush=True))
        elif cmd == "QUIT":
            notify.tray.quit_action.trigger()

    commands.received.connect(on_command, Qt.ConnectionType.QueuedConnection)
    threading.Thread(target=read_stdin, daemon=True).start()
    QTimer.singleShot(0, hook)

    from desktop.app import run_gui

    return run_gui(minimized=True)


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    sys.exit(main())
