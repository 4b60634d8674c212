"""Widgets: windows, dialogs, tray. The only package that builds widgets."""

from desktop.ui import pyside_fixes as _pyside_fixes

_pyside_fixes.install()  # before the first signal is emitted: PySide6 6.12.0 drops references otherwise
