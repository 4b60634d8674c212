"""Small widgets (desktop/ui/widgets.py). The message bar paints its own coloured box (no style sheet: that brought
Qt's style sheet engine into the window's
start): background, border and text in the bar's colours, whatever the bar's object name (the vault renames its bar;
its style sheet had matched only the name 'MessageBar', so the vault's warning bar showed uncoloured)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from desktop.ui.widgets import BAR_COLOURS, MessageBar, escape_html


def test_a_bar_is_drawn_in_its_colours_under_any_object_name(qtbot):
    for kind, name in (("warning", "secretBar"), ("error", "MessageBar"), ("info", "")):
        bar = MessageBar("Something to say", kind)
        qtbot.addWidget(bar)
        if name:
            bar.setObjectName(name)
        bar.resize(400, 40)
        image = bar.grab().toImage()
        background, border, text = (QColor(c) for c in BAR_COLOURS[kind])
        assert image.pixelColor(4, 20) == background, kind  # inside the box, left of the text
        assert image.pixelColor(200, 0).name() != background.name()  # the border line on top
        assert bar.label.palette().color(QPalette.ColorRole.WindowText) == text
        assert bar.styleSheet() == ""


def test_escape_html_is_html_escape():
    import html

    for text in ("a<b>&\"c'", "plain", "", "&amp; <script>alert('x')</script>", "Müller & Söhne <m@x.de>"):
        assert escape_html(text) == html.escape(text)
        assert escape_html(text, quote=False) == html.escape(text, quote=False)
