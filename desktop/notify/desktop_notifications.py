"""Desktop notifications over D-Bus (``org.freedesktop.Notifications``), with clickable actions.

Used when there is no system tray but a session bus with a notification daemon (GNOME, KDE,
dunst, ...). Clicking the notification (the ``default`` action) or its button invokes
``on_action(notification_id, action_key)`` on a listener thread; the GUI turns that into a
queued Qt signal.

Why not QtDBus: ``Notify`` has the signature ``susssasa{sv}i`` and its second argument must be a
D-Bus ``uint32``. PySide6 cannot produce one (it has no typed ``QVariant``; ``QDBusArgument``'s
only integer overload writes a ``uint16``), so the daemon rejects the call. ``jeepney``, a
pure-Python D-Bus library that ``keyring`` already depends on on Linux, marshals it exactly.
No Qt here.
"""

from __future__ import annotations

import html
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
DEFAULT_ACTION = "default"  # the spec's key for "the notification itself was clicked"

ActionCallback = Callable[[int, str], None]


class NotificationsUnavailable(RuntimeError):
    """No session bus or no notification service on it (the message says which)."""


class DesktopNotifications:
    """A client of the notification service; ``open`` connects, ``close`` disconnects."""

    def __init__(self, router: Any, *, app_name: str = "Tokendesk", timeout: float = 3.0) -> None:
        self._router = router
        self.app_name = app_name
        self.timeout = timeout
        self.on_action: ActionCallback | None = None
        self.on_closed: Callable[[int, int], None] | None = None
        self.server_name = ""
        self.capabilities: list[str] = []
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=256)
        self._filter_handles: list[Any] = []
        self._listener: threading.Thread | None = None
        self._closed = False

    # ---- connection
    @classmethod
    def open(cls, *, app_name: str = "Tokendesk", timeout: float = 3.0, bus: str = "SESSION") -> DesktopNotifications:
        """Connect and check that a notification service answers; raises ``NotificationsUnavailable``."""
        if bus == "SESSION" and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            raise NotificationsUnavailable("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
        try:
            from jeepney.io.threading import DBusRouter, open_dbus_connection
        except ImportError:
            raise NotificationsUnavailable("the 'jeepney' D-Bus library is not installed") from None
        try:
            router = DBusRouter(open_dbus_connection(bus))
        except Exception as exc:  # connection refused, auth failure, ...
            reason = exc.__class__.__name__
            raise NotificationsUnavailable(f"cannot connect to the D-Bus session bus ({reason})") from None
        client = cls(router, app_name=app_name, timeout=timeout)
        try:
            info = client._call("GetServerInformation", "", ())
            client.server_name = str(info[0]) if info else ""
            caps = client._call("GetCapabilities", "", ())
            client.capabilities = list(caps[0]) if caps else []
            client._subscribe()
        except Exception as exc:
            client.close()
            if isinstance(exc, NotificationsUnavailable):
                raise
            raise NotificationsUnavailable(
                f"no desktop notification service answers on the session bus ({exc.__class__.__name__})"
            ) from None
        return client

    @property
    def supports_actions(self) -> bool:
        return "actions" in self.capabilities

    def _call(self, method: str, signature: str, body: tuple[Any, ...]) -> tuple[Any, ...]:
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg

        address = DBusAddress(PATH, bus_name=SERVICE, interface=INTERFACE)
        msg = new_method_call(address, method, signature, body) if signature else new_method_call(address, method)
        reply = self._router.send_and_get_reply(msg, timeout=self.timeout)
        return tuple(unwrap_msg(reply))

    def _subscribe(self) -> None:
        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus
        from jeepney.wrappers import unwrap_msg

        for member in ("ActionInvoked", "NotificationClosed"):
            # the bus resolves the well-known sender name; the local filter must not (it sees ":1.x")
            bus_rule = MatchRule(type="signal", sender=SERVICE, interface=INTERFACE, member=member, path=PATH)
            unwrap_msg(self._router.send_and_get_reply(message_bus.AddMatch(bus_rule), timeout=self.timeout))
            local_rule = MatchRule(type="signal", interface=INTERFACE, member=member, path=PATH)
            handle = self._router.filter(local_rule, queue=self._queue)
            self._filter_handles.append(handle)
        self._listener = threading.Thread(target=self._listen, name="tokendesk-notifications", daemon=True)
        self._listener.start()

    def _listen(self) -> None:
        while True:
            msg = self._queue.get()
            if msg is None:
                return
            try:
                member = msg.header.fields.get(_member_field())
                if member == "ActionInvoked" and self.on_action is not None:
                    nid, key = msg.body
                    self.on_action(int(nid), str(key))
                elif member == "NotificationClosed" and self.on_closed is not None:
                    nid, reason = msg.body
                    self.on_closed(int(nid), int(reason))
            except Exception:  # a callback's bug must not kill the listener
                logger.exception("handling a desktop notification signal failed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for handle in self._filter_handles:
            try:
                handle.close()
            except Exception:
                pass
        self._filter_handles.clear()
        if self._listener is not None:
            self._queue.put(None)
            self._listener.join(timeout=2)
        try:
            self._router.close()
            self._router.conn.close()
        except Exception:
            pass

    # ---- notifications
    def notify(self, title: str, body: str, actions: dict[str, str] | None = None, *, icon: str = "",
               expire_ms: int = -1, replaces_id: int = 0) -> int:
        """Show a notification; returns its id. ``actions`` maps keys to button labels
        (``default`` is what a click on the notification itself invokes)."""
        if "body-markup" in self.capabilities:
            body = html.escape(body, quote=False)  # a token named "<a&b>" must show as typed
        flat: list[str] = []
        for key, label in (actions or {}).items():
            flat += [key, label]
        hints: dict[str, tuple[str, Any]] = {"desktop-entry": ("s", "tokendesk")}
        (nid,) = self._call(
            "Notify", "susssasa{sv}i", (self.app_name, replaces_id, icon, title, body, flat, hints, expire_ms)
        )
        return int(nid)

    def close_notification(self, nid: int) -> None:
        self._call("CloseNotification", "u", (nid,))


def _member_field() -> Any:
    from jeepney.low_level import HeaderFields

    return HeaderFields.member
