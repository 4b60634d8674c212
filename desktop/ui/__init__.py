"""Widgets: windows, dialogs, tray. The only package that builds widgets."""
