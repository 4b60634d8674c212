"""desktop/qtns.py: the ints the first frame sets stand for the Qt values they name, and ``Qt`` from there is
PySide6's own namespace once read."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QToolBar, QWidget

from desktop import qtns
from tests.support.fresh_process import RECORD_ENUMS, run_offscreen


def test_each_int_is_the_qt_value_it_names():
    assert (qtns.DISPLAY_ROLE, qtns.DECORATION_ROLE, qtns.TOOLTIP_ROLE, qtns.FOREGROUND_ROLE, qtns.USER_ROLE) == (
        Qt.ItemDataRole.DisplayRole.value, Qt.ItemDataRole.DecorationRole.value, Qt.ItemDataRole.ToolTipRole.value,
        Qt.ItemDataRole.ForegroundRole.value, Qt.ItemDataRole.UserRole.value)
    assert qtns.ALIGN_CENTER == Qt.AlignmentFlag.AlignCenter.value
    assert qtns.ALIGN_TOP_LEFT == (Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft).value
    assert qtns.RICH_TEXT == Qt.TextFormat.RichText.value
    assert qtns.SELECTABLE_BY_MOUSE == Qt.TextInteractionFlag.TextSelectableByMouse.value
    assert qtns.SCROLL_BAR_ALWAYS_OFF == Qt.ScrollBarPolicy.ScrollBarAlwaysOff.value
    assert qtns.WIDGET_SHORTCUT == Qt.ShortcutContext.WidgetShortcut.value
    assert (qtns.ACTIONS_CONTEXT_MENU, qtns.CUSTOM_CONTEXT_MENU) == (
        Qt.ContextMenuPolicy.ActionsContextMenu.value, Qt.ContextMenuPolicy.CustomContextMenu.value)
    assert qtns.TOOL_BUTTON_TEXT_ONLY == Qt.ToolButtonStyle.ToolButtonTextOnly.value
    assert qtns.AA_SHARE_OPENGL_CONTEXTS == Qt.ApplicationAttribute.AA_ShareOpenGLContexts.value


def test_a_property_set_as_an_int_reads_back_as_the_enum(qapp):
    label, area, bar, widget = QLabel(), QScrollArea(), QToolBar(), QWidget()
    for target, name, value, read, expected in (
        (label, "alignment", qtns.ALIGN_CENTER, label.alignment, Qt.AlignmentFlag.AlignCenter),
        (label, "textFormat", qtns.RICH_TEXT, label.textFormat, Qt.TextFormat.RichText),
        (label, "textInteractionFlags", qtns.SELECTABLE_BY_MOUSE, label.textInteractionFlags,
         Qt.TextInteractionFlag.TextSelectableByMouse),
        (area, "horizontalScrollBarPolicy", qtns.SCROLL_BAR_ALWAYS_OFF, area.horizontalScrollBarPolicy,
         Qt.ScrollBarPolicy.ScrollBarAlwaysOff),
        (bar, "toolButtonStyle", qtns.TOOL_BUTTON_TEXT_ONLY, bar.toolButtonStyle,
         Qt.ToolButtonStyle.ToolButtonTextOnly),
        (widget, "contextMenuPolicy", qtns.CUSTOM_CONTEXT_MENU, widget.contextMenuPolicy,
         Qt.ContextMenuPolicy.CustomContextMenu),
    ):
        assert target.setProperty(name, value), name
        assert read() == expected, name


def test_qt_from_here_is_pysides_namespace_once_read():
    assert qtns.Qt.AlignmentFlag is Qt.AlignmentFlag
    assert qtns.Qt.SortOrder.DescendingOrder is Qt.SortOrder.DescendingOrder


def test_prepare_qt_shares_opengl_contexts_without_building_the_namespace(tmp_path):
    """QtWebEngine needs AA_ShareOpenGLContexts before the QApplication; prepare_qt sets it in Qt's library."""
    code = RECORD_ENUMS + (
        "from desktop.app import prepare_qt\n"
        "prepare_qt()\n"
        "print('GlobalColor' in made)\n"
        "from PySide6.QtCore import QCoreApplication, Qt\n"
        "print(QCoreApplication.testAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts))\n"
    )
    assert run_offscreen(code, tmp_path) == ["False", "True"]  # set, and the Qt namespace not built for it
