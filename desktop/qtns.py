"""PySide6's ``Qt`` namespace, built at its first use - after the window's first paint.

The first touch of ``PySide6.QtCore.Qt`` builds all of its 94 enums (~1,200 members, through Python's ``enum``):
~110M instructions, ~20 ms, about 40% of what Tokendesk's start added to a bare PySide6 window. A module-level
``from PySide6.QtCore import Qt`` is such a touch, and so is passing a ``Qt`` enum, or an int where one is due
(the overload check builds it for its error message), or a Python method Qt calls with one (``headerData``'s
orientation, ``sort``'s order).

So the modules on the start path take ``Qt`` from here: an object that imports the real namespace the first time
one of its attributes is read, and keeps each attribute it read. What the first frame needs is set without it:
the ``int`` values below, through ``QObject.setProperty`` (Qt converts an int to the property's enum) or compared
with the ints Qt passes (item data roles). ``tests/test_qtns.py`` checks each against Qt's own value, and
``tests/ui/test_main_window.py::test_the_first_paint_builds_no_python_type_it_does_not_draw`` that a real start
builds none of the namespace before its first paint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtCore import Qt
else:

    class _QtAtFirstUse:
        def __getattr__(self, name: str) -> Any:
            from PySide6.QtCore import Qt as namespace

            value = getattr(namespace, name)
            setattr(self, name, value)  # read once: the next read is a plain attribute
            return value

    Qt = _QtAtFirstUse()

# ---- item data roles (Qt.ItemDataRole), as the model's data() receives them
DISPLAY_ROLE = 0
DECORATION_ROLE = 1
TOOLTIP_ROLE = 3
FOREGROUND_ROLE = 9
USER_ROLE = 0x0100

# ---- Qt.ApplicationAttribute, for QCoreApplication::setAttribute in Qt's library (desktop/app.py)
AA_SHARE_OPENGL_CONTEXTS = 18

# ---- property values for the first frame's widgets (QObject.setProperty(name, int))
ALIGN_CENTER = 0x0084  # Qt.AlignmentFlag.AlignCenter ("alignment")
ALIGN_TOP_LEFT = 0x0021  # AlignTop | AlignLeft ("alignment")
RICH_TEXT = 1  # Qt.TextFormat.RichText ("textFormat")
SELECTABLE_BY_MOUSE = 1  # Qt.TextInteractionFlag.TextSelectableByMouse ("textInteractionFlags")
SCROLL_BAR_ALWAYS_OFF = 1  # Qt.ScrollBarPolicy.ScrollBarAlwaysOff ("horizontalScrollBarPolicy")
WIDGET_SHORTCUT = 0  # Qt.ShortcutContext.WidgetShortcut ("shortcutContext" of an action, "context" of a QShortcut)
ACTIONS_CONTEXT_MENU = 2  # Qt.ContextMenuPolicy.ActionsContextMenu ("contextMenuPolicy")
CUSTOM_CONTEXT_MENU = 3  # Qt.ContextMenuPolicy.CustomContextMenu ("contextMenuPolicy")
TOOL_BUTTON_TEXT_ONLY = 1  # Qt.ToolButtonStyle.ToolButtonTextOnly ("toolButtonStyle")
