"""Times the moment an X server maps a top-level window, without polling (for bench_startup.py's xcb lane).

A small X client over libxcb (ctypes; libxcb is what Qt's xcb platform plugin runs on, so it is there wherever that
lane can run) asks the display for SubstructureNotify on the root window and then blocks in
``xcb_wait_for_event``: each MapNotify wakes it, and it notes the time and the window's WM_NAME. Polling with
``xdotool search`` every 10 ms, as the lane did before, spent CPU beside the start it timed (a 2-CPU machine also
runs Xvfb), and more of it the longer a start took.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time

MAP_NOTIFY = 19
CW_EVENT_MASK = 1 << 11
EVENT_MASK_SUBSTRUCTURE_NOTIFY = 1 << 19
ATOM_WM_NAME = 39
GET_PROPERTY_TYPE_ANY = 0

ptr, u8, u32 = ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint32


class _ScreenIterator(ctypes.Structure):
    _fields_ = [("data", ptr), ("rem", ctypes.c_int), ("index", ctypes.c_int)]


class _Cookie(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint)]


class _MapNotify(ctypes.Structure):  # xcb_map_notify_event_t; the first byte is every event's response_type
    _fields_ = [("response_type", u8), ("pad0", u8), ("sequence", ctypes.c_uint16), ("event", u32), ("window", u32),
                ("override_redirect", u8)]


def _load_xcb() -> ctypes.CDLL:
    xcb = ctypes.CDLL(ctypes.util.find_library("xcb") or "libxcb.so.1")
    signatures = {
        "xcb_connect": (ptr, [ctypes.c_char_p, ptr]),
        "xcb_connection_has_error": (ctypes.c_int, [ptr]),
        "xcb_disconnect": (None, [ptr]),
        "xcb_get_setup": (ptr, [ptr]),
        "xcb_setup_roots_iterator": (_ScreenIterator, [ptr]),
        "xcb_change_window_attributes": (_Cookie, [ptr, u32, u32, ptr]),
        "xcb_flush": (ctypes.c_int, [ptr]),
        "xcb_wait_for_event": (ptr, [ptr]),
        "xcb_get_property": (_Cookie, [ptr, u8, u32, u32, u32, u32, u32]),
        "xcb_get_property_reply": (ptr, [ptr, _Cookie, ptr]),
        "xcb_get_property_value": (ptr, [ptr]),
        "xcb_get_property_value_length": (ctypes.c_int, [ptr]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(xcb, name)
        function.restype, function.argtypes = restype, argtypes
    return xcb


class MapWatcher:
    """Every top-level window mapped on ``display`` from now on: (perf_counter time, WM_NAME), in order."""

    def __init__(self, display: str) -> None:
        self.display = display
        self._xcb = _load_xcb()
        self._free = ctypes.CDLL(None).free
        self._free.argtypes = [ptr]
        self._conn = self._xcb.xcb_connect(display.encode(), None)
        if not self._conn or self._xcb.xcb_connection_has_error(self._conn):
            raise RuntimeError(f"cannot connect to the X display {display}")
        screen = self._xcb.xcb_setup_roots_iterator(self._xcb.xcb_get_setup(self._conn)).data
        root = u32.from_address(screen).value  # xcb_screen_t starts with its root window
        mask = u32(EVENT_MASK_SUBSTRUCTURE_NOTIFY)
        self._xcb.xcb_change_window_attributes(self._conn, root, CW_EVENT_MASK, ctypes.byref(mask))
        self._xcb.xcb_flush(self._conn)
        self._maps: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        # daemon: blocked in libxcb until the X server goes away (the bench ends Xvfb), then it returns
        threading.Thread(target=self._listen, name="xmap", daemon=True).start()

    def _window_name(self, window: int) -> str:
        cookie = self._xcb.xcb_get_property(self._conn, 0, window, ATOM_WM_NAME, GET_PROPERTY_TYPE_ANY, 0, 256)
        reply = self._xcb.xcb_get_property_reply(self._conn, cookie, None)
        if not reply:
            return ""
        try:
            value = self._xcb.xcb_get_property_value(reply)
            return ctypes.string_at(value, self._xcb.xcb_get_property_value_length(reply)).decode("utf-8", "replace")
        finally:
            self._free(reply)

    def _listen(self) -> None:
        while event := self._xcb.xcb_wait_for_event(self._conn):  # NULL: the connection is gone
            at = time.perf_counter()
            notify = _MapNotify.from_address(event)
            kind, window = notify.response_type & 0x7F, notify.window
            self._free(event)
            if kind == MAP_NOTIFY:
                name = self._window_name(window)
                with self._changed:
                    self._maps.append((at, name))
                    self._changed.notify_all()

    def wait_for(self, title_prefix: str, since: float, timeout: float) -> float | None:
        """The time the first window whose title starts with ``title_prefix`` was mapped at or after ``since``
        (a perf_counter time), waiting up to ``timeout`` seconds; None if none was."""

        def found() -> float | None:
            return next((at for at, name in self._maps if at >= since and name.startswith(title_prefix)), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None, timeout)
            return found()
