"""The details pane beside the token table: the selected configuration's name and facts, then the
features' sections (``MainWindow.add_details_section``: Token, Automatic refresh, Used by).

It draws from the row the table read (configuration and token state): no store query per selection.
Colours are written into rich text, so the window draws it again on a palette change.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from PySide6.QtGui import QAction, QFont, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from desktop.models.config import ENDPOINT_LABELS
from desktop.models.status import format_when, last_used_text
from desktop.models.token_table_model import COL_REFRESH, COL_TOKEN, SelectedRow, row_status
from desktop.models.tones import tone
from desktop.qtns import ACTIONS_CONTEXT_MENU, SCROLL_BAR_ALWAYS_OFF, WIDGET_SHORTCUT
from desktop.ui.widgets import escape_html, rich_text_label

#: a word (no space) longer than this may not fit the pane: it gets places to wrap (zero-width spaces)
LONG_WORD = 30
#: ... after '/', '.', '&' and '-' (Qt does not wrap after '-' before a digit: UUIDs), and inside a run of more
#: than LONGEST_RUN characters without any of them
LONGEST_RUN = 24
_LONG_WORD = re.compile(rf"\S{{{LONG_WORD + 1},}}")
_LONG_RUN = re.compile(rf"[^/.&\-]{{{LONGEST_RUN}}}(?=[^/.&\-])")
_WRAP_AFTER = re.compile(r"([/.&\-])(?=.)")
ZERO_WIDTH_SPACE = "\u200b"


def _marked(word: str) -> str:
    word = _LONG_RUN.sub(lambda m: m.group(0) + ZERO_WIDTH_SPACE, word)
    return _WRAP_AFTER.sub(lambda m: m.group(1) + ZERO_WIDTH_SPACE, word)


def breakable(text: str) -> str:
    """HTML-escape and let long values wrap (URLs, scopes, UUIDs, long IDs): words longer than LONG_WORD get
    zero-width spaces where they may break; shorter ones stay as they are. Copying from the pane takes the marks
    out again."""
    return escape_html(_LONG_WORD.sub(lambda m: _marked(m.group(0)), text))


def details_items(row: SelectedRow, now: datetime, token_lead: timedelta) -> list[tuple[str, str]]:
    """(label, text) lines of the configuration part of the pane (pure)."""
    cfg, state = row
    items = [
        ("Token", row_status(cfg, state, COL_TOKEN, now, token_lead).text),
        ("Refresh token", row_status(cfg, state, COL_REFRESH, now, token_lead).text),
    ]
    for label, dt in (("Last requested", state.last_requested_at), ("Last refreshed", state.last_refreshed_at)):
        items.append((label, format_when(dt, now) if dt else "never"))
    # when and to which program the token was last handed out ("... by /usr/bin/msmtp", desktop.agent)
    items.append(("Last used", last_used_text(state.last_used_at, state.last_used_by, now)))
    items += [
        ("Template", cfg.template_name),
        ("Validity", cfg.validity_label),
        ("Client ID", cfg.client_id or "-"),
        ("Client secret", "stored" if cfg.has_client_secret else "missing: Edit to add it if the provider needs one"),
        ("Scope", cfg.scope or "-"),
    ]
    items += [(ENDPOINT_LABELS[k], url or "-") for k, url in cfg.endpoints_in_use().items()]
    return items


class DetailsPane(QScrollArea):
    #: the style sheet of the frame that shows the focus (ui/keyboard.py), set when the pane first takes the focus:
    #: a style sheet brings Qt's style sheet engine into the window's start, for a frame nobody has seen yet
    focus_frame = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumWidth(260)
        # long values wrap (``breakable``): never a sideways scroll bar hiding the end of a value
        self.setProperty("horizontalScrollBarPolicy", SCROLL_BAR_ALWAYS_OFF)  # ints: desktop/qtns.py
        #: the configuration shown: another one starts at the top of the pane (its name)
        self._shown_id: int | None = None
        details = QWidget()
        self._layout = QVBoxLayout(details)
        self.title = QLabel()
        font = self.title.font()
        font.setPointSize(12)
        font.setWeight(QFont.Weight.DemiBold)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self._layout.addWidget(self.title)
        self.text = rich_text_label("detailsText")
        self._copy_plain(self.text)
        self._layout.addWidget(self.text)
        self._sections: list[QGroupBox] = []
        self._layout.addStretch(1)
        self.setWidget(details)

    def focusInEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 - Qt API
        if self.focus_frame and self.styleSheet() != self.focus_frame:
            self.setStyleSheet(self.focus_frame)
        super().focusInEvent(event)

    def sections(self) -> list[QGroupBox]:
        """The features' sections, top to bottom."""
        items = (self._layout.itemAt(i).widget() for i in range(self._layout.count()))
        return [w for w in items if isinstance(w, QGroupBox)]

    def next_place(self) -> int:
        return self._layout.count() - 1  # above the stretch

    def add_section(self, title: str, widget: QWidget, shown: bool, at: int = -1) -> QGroupBox:
        """A titled box below the configuration's facts and the sections added before (above the stretch), or
        at ``at`` (a ``next_place`` kept earlier), shown while a row is."""
        box = QGroupBox(title)
        layout = QVBoxLayout(box)
        layout.addWidget(widget)
        if isinstance(widget, QLabel):
            self._copy_plain(widget)
        self._layout.insertWidget(self.next_place() if at < 0 else at, box)
        self._sections.append(box)
        box.setVisible(shown)
        return box

    def _copy_plain(self, label: QLabel) -> None:
        """Ctrl+C and the context menu's Copy take the selected text without the wrap marks."""
        copy = QAction(label)  # not QAction(text, parent): see ui/actions.py
        copy.setText("&Copy")
        copy.setShortcuts([QKeySequence(QKeySequence.StandardKey.Copy)])  # setShortcut's overloads build Qt
        copy.setProperty("shortcutContext", WIDGET_SHORTCUT)
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(
            label.selectedText().replace(ZERO_WIDTH_SPACE, "")))
        label.addAction(copy)
        label.setProperty("contextMenuPolicy", ACTIONS_CONTEXT_MENU)

    def show_row(self, row: SelectedRow | None, now: datetime, token_lead: timedelta) -> None:
        shown_id = row.config.id if row is not None else None
        if shown_id != self._shown_id:
            self._shown_id = shown_id
            self.verticalScrollBar().setValue(0)  # another configuration: from its name (a token change keeps it)
        for section in self._sections:
            section.setVisible(row is not None)
        if row is None:
            self.title.setText("No configuration selected")
            self.text.setText("Select a configuration to see its details.")
            return
        self.title.setText(row.config.name)
        self.text.setText("".join(
            f"<p style='margin:0 0 6px 0'><span style='color:{tone('label')}'>{escape_html(label)}</span><br>"
            f"{breakable(value)}</p>"
            for label, value in details_items(row, now, token_lead)
        ))
