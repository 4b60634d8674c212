"""The PySide6 work-around: signal emits from Python must not eat references to True (PySide6 6.12.0 on
Python 3.11 does, and the interpreter then aborts with 'bool_dealloc' after a few thousand emits)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from desktop.ui import pyside_fixes

ROOT = Path(__file__).resolve().parent.parent


class Sender(QObject):
    changed = Signal(int)
    plain = Signal()


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[int] = []

    @Slot(int)
    def on_changed(self, value: int) -> None:
        self.values.append(value)


def test_emit_and_disconnect_keep_bool_reference_counts():
    sender, receiver = Sender(), Receiver()
    sender.changed.connect(receiver.on_changed)
    true_before, false_before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(5000):
        assert sender.changed.emit(i) is True
        sender.plain.emit()
    for _ in range(500):
        sender.plain.connect(receiver.deleteLater)
        sender.plain.disconnect(receiver.deleteLater)
    assert sys.getrefcount(True) >= true_before
    assert sys.getrefcount(False) >= false_before
    assert receiver.values == list(range(5000))  # the wrapped emit still delivers


def test_install_is_idempotent_and_reports_what_it_patched():
    first = pyside_fixes.install()
    assert pyside_fixes.install() == first
    assert set(first) == {"emit", "disconnect"}


def test_a_long_running_process_does_not_abort():
    code = (
        "from desktop.ui.hub import Hub\n"
        "hub = Hub(); seen = []\n"
        "hub.token_changed.connect(seen.append)\n"
        "for i in range(50000): hub.token_changed.emit(i); hub.configurations_changed.emit()\n"
        "print(len(seen))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "bool_dealloc" not in proc.stderr
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "50000"


def test_quick_feature_scan_gives_pysides_own_answer():
    """PySide6's import hook asks of each module whether its source names PySide6; the quick answer (the file's
    bytes) must match PySide6's own (inspect.getsource) for modules with and without PySide6, built-in ones
    and extension modules, and the modules imported after install() must be recorded as before."""
    import json
    import sqlite3

    import desktop.store.repository
    import desktop.ui.main_window

    feature = sys.modules.get("shibokensupport.feature") or sys.modules.get("PySide6.support.feature")
    assert feature is not None
    quick = feature._mod_uses_pyside
    assert getattr(quick, "quick", False), "install() did not put the quick scan in place"
    original = quick.original
    for module in (desktop.ui.main_window, desktop.store.repository, json, sqlite3, sys, pyside_fixes):
        assert quick(module) == original(module), module.__name__
    assert quick(desktop.ui.main_window) is True
    assert quick(desktop.store.repository) is False
    # the module an import returns is still recorded by PySide6's hook (0: uses PySide6, -1: ignored)
    from desktop.ui.relay_view import _local  # noqa: F401

    assert feature.pyside_feature_dict.get("desktop.ui.relay_view") == 0
