"""A secret copied to the clipboard is taken off again, and a copy still pending at quit does not crash the exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from desktop.ui.clipboard import PASSWORD_MANAGER_HINT, copy_secret_to_clipboard

ROOT = Path(__file__).resolve().parents[2]

QUIT_WHILE_PENDING = """
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from desktop.ui.clipboard import copy_secret_to_clipboard
app = QApplication([])
copy_secret_to_clipboard("not-a-real-secret", 60)
QTimer.singleShot(10, app.quit)
app.exec()
print("left the event loop", flush=True)
"""


def test_a_copied_secret_is_marked_and_taken_off_after_the_time(qapp, qtbot):
    copy_secret_to_clipboard("copied-secret-value", 0.2)
    clipboard = QGuiApplication.clipboard()
    assert clipboard.text() == "copied-secret-value"
    assert clipboard.mimeData().hasFormat(PASSWORD_MANAGER_HINT)
    qtbot.waitUntil(lambda: clipboard.text() == "", timeout=3000)


def test_quitting_while_a_secret_waits_to_be_cleared_exits_cleanly():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", QUIT_WHILE_PENDING], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert "left the event loop" in done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
