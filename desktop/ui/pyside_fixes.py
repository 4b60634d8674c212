"""Work-arounds for PySide6: a reference-count bug that aborts the interpreter, and a slow import hook.

PySide6 6.12.0 returns the bool result of ``SignalInstance.emit()`` and ``SignalInstance.disconnect()``
without taking a reference to it. On Python 3.11 (Debian 12), where ``True`` and ``False`` are ordinary
reference-counted objects, every ``signal.emit(...)`` made from Python drops one reference to ``True``.
After a few thousand emits (a tray app running for a day, or one test run) the interpreter aborts with
"Fatal Python error: bool_dealloc: deallocating True or False". PySide6 6.11.3 does not have the bug and
Python 3.12+ makes the bools immortal, so neither is affected.

``install()`` measures whether the running PySide6 drops those references and only then wraps the two
methods so that they give the missing reference back. It is idempotent and does nothing where the bug
is absent, so it can stay after an upgrade. Call it before the first emit (``desktop.ui`` does so on
import; ``tests/conftest.py`` too).
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None

_installed: dict[str, bool] = {}


def _lost_bool_references(call: Callable[[], Any], rounds: int = 32) -> bool:
    """Run ``call`` ``rounds`` times; True when that dropped about one bool reference per call.
    References the probe itself dropped are given back."""
    true_before, false_before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(rounds):
        call()
    lost_true = true_before - sys.getrefcount(True)
    lost_false = false_before - sys.getrefcount(False)
    for _ in range(max(0, lost_true)):
        _incref(True)
    for _ in range(max(0, lost_false)):
        _incref(False)
    return lost_true + lost_false >= rounds * 3 // 4


def _giving_back_bool_references(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        if result is True or result is False:
            _incref(result)  # one reference too many is harmless; one too few aborts the interpreter
        return result

    wrapper.__name__ = getattr(method, "__name__", "wrapper")
    # not __doc__: reading a PySide method's __doc__ runs shiboken's signature parser (~25 ms at start-up)
    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    return wrapper


def install() -> dict[str, bool]:
    """Patch ``SignalInstance.emit``/``disconnect`` if (and only if) they drop bool references.

    Returns which methods were patched, e.g. ``{"emit": True, "disconnect": True}`` on PySide6 6.12.0.
    """
    if _installed:
        return dict(_installed)
    from PySide6.QtCore import QObject, Signal, SignalInstance, Slot

    _quick_feature_scan()

    class _Probe(QObject):
        ping = Signal()

        @Slot()
        def pong(self) -> None:
            pass

    probe = _Probe()
    emit_broken = _lost_bool_references(lambda: probe.ping.emit())

    def connect_and_disconnect() -> None:
        probe.ping.connect(probe.pong)
        probe.ping.disconnect(probe.pong)

    disconnect_broken = _lost_bool_references(connect_and_disconnect)
    if emit_broken:
        SignalInstance.emit = _giving_back_bool_references(SignalInstance.emit)  # type: ignore[method-assign]
    if disconnect_broken:
        SignalInstance.disconnect = _giving_back_bool_references(  # type: ignore[method-assign]
            SignalInstance.disconnect
        )
    _installed.update(emit=emit_broken, disconnect=disconnect_broken)
    if emit_broken or disconnect_broken:
        logger.info("PySide6 reference-count work-around installed: %s", _installed)
    return dict(_installed)


def _quick_feature_scan() -> bool:
    """Answer PySide6's "does this module's source name PySide6?" from the source file's bytes; modules
    without a ``.py`` file (built-in, frozen, extension) and unreadable files keep PySide6's own answer.
    True when installed (False: this PySide6 has no such hook)."""
    feature = sys.modules.get("shibokensupport.feature") or sys.modules.get("PySide6.support.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if original is None:
        return False
    if getattr(original, "quick", False):
        return True

    def uses_pyside(module: Any) -> bool:
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        if not (isinstance(origin, str) and origin.endswith(".py")):
            return bool(original(module))
        try:
            with open(origin, "rb") as source:
                return b"PySide6" in source.read()
        except OSError:
            return bool(original(module))

    uses_pyside.quick = True  # type: ignore[attr-defined]
    uses_pyside.original = original  # type: ignore[attr-defined]
    feature._mod_uses_pyside = uses_pyside  # type: ignore[union-attr]
    return True
