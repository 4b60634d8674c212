"""Text colours that stay readable on a light and on a dark desktop theme.

Status colours and muted labels are drawn on the window's own background. A dark green that
reads well on white disappears on the dark grey of a Breeze Dark or Adwaita Dark desktop, so
every text-only colour is picked here by name, for the palette in use when it is drawn. (Bars
and boxes that set their own background keep their fixed colour pairs.) QtGui only; no widgets.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication, QPalette

#: name -> (on a light background, on a dark background)
TONES: dict[str, tuple[str, str]] = {
    "ok": ("#1b5e20", "#81c784"),
    "warn": ("#8a5300", "#ffb74d"),
    "error": ("#b71c1c", "#ef9a9a"),
    "reauth": ("#bf360c", "#ffab91"),
    "muted": ("#616161", "#a6a6a6"),
    "disabled": ("#757575", "#8c8c8c"),
    "label": ("#555555", "#b0b0b0"),
    "note": ("#8a6d00", "#e6c35c"),
}


def is_dark(palette: QPalette | None = None) -> bool:
    """The window background is dark (lightness below the middle)."""
    if palette is None:
        if QGuiApplication.instance() is None:
            return False
        palette = QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def tone(name: str, dark: bool | None = None) -> str:
    """The colour ``name`` (see TONES) as ``#rrggbb`` for the current (or the given) kind of theme."""
    light_value, dark_value = TONES[name]
    return dark_value if (is_dark() if dark is None else dark) else light_value


def tone_color(name: str, dark: bool | None = None) -> QColor:
    return QColor(tone(name, dark))


def style(name: str, extra: str = "") -> str:
    """A style sheet fragment: ``color:<tone>;`` plus ``extra``."""
    return f"color:{tone(name)};{extra}"
