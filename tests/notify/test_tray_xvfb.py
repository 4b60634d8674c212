"""End to end under Xvfb with a real tray host (trayer): the tray icon appears, a message is shown
for a token that is about to expire, clicking it opens the window with that token selected and starts
its sign-in (the message says: request a new token).

Marker ``xvfb``: run with ``.venv/bin/pytest tests/notify -m xvfb``. Needs the Debian packages
``xvfb trayer imagemagick`` (and the Qt xcb libraries, scripts/apt-packages.txt). The fixture
starts Xvfb on a free display (``-displayfd``) and trayer, and kills both at teardown. On
failure the screen is saved under ``artifacts/``.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.notify.conftest import start_trayer
from tests.notify.conftest import stop_process as _stop
from tests.notify.helpers import shots_dir

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"

pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("trayer")), reason="needs Xvfb and trayer"),
]


def screenshot(display: str, path: Path) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["import", "-display", display, "-window", "root", str(path)],
                            capture_output=True, timeout=30)
    return result.returncode == 0


def crop(source: Path, target: Path, geometry: str) -> None:
    """Keep the part of the screen that matters for the docs (the rest of Xvfb's root is black)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("convert"):
        subprocess.run(["convert", str(source), "-crop", geometry, "+repage", str(target)], check=True, timeout=30)
    else:
        shutil.copy(source, target)


def keep_failure(display: str, home: Path, prefix: str) -> None:
    """A failed run leaves the screen and the GUI's log in artifacts/ (CI keeps that folder)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    screenshot(display, ARTIFACTS / f"{prefix}-{stamp}.png")
    log = home / "driver.log"
    if log.exists():
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / f"{prefix}-{stamp}.log")


class Driver:
    """The GUI process and its line protocol (see tests/notify/xvfb_driver.py)."""

    def __init__(self, display: str, home: Path, *, wait_for_tray: bool = True) -> None:
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", TOKENDESK_HOME=str(home),
                   # a keyring that works (a file, tests/support/file_keyring.py): the shot is about tokens
                   PYTHON_KEYRING_BACKEND="tests.support.file_keyring.FileKeyring",
                   TOKENDESK_TEST_KEYRING=str(home / "keyring.json"), PYTHONPATH=str(ROOT),
                   TOKENDESK_DRIVER_WAIT_TRAY="1" if wait_for_tray else "0")
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.notify.xvfb_driver"], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(home / "driver.log", "w"),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def expect(self, prefix: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        raise AssertionError(f"driver never said {prefix!r}; it said {seen} (exit {self.proc.poll()})")

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        _stop(self.proc)


def prepare_store(home: Path, warning_in: timedelta) -> None:
    """Two configurations; the access token of 'Support mailbox' gets its one-minute warning after ``warning_in``."""
    from desktop.store.repository import Store

    store = Store.open(home / "tokendesk.sqlite3")
    from desktop.models.templates import load_templates

    cfg = load_templates().require("Microsoft Exchange Online").new_configuration("Support mailbox")
    cfg.client_id = "client-support"
    cfg.notify_before_token_expiry = True
    cfg.notification_lead_time_minutes = 1
    cfg.notify_on_expired_refresh_token = False
    cfg.browser_mode = "system"  # the sign-in a click starts waits for a browser (none is started here)
    saved = store.insert(cfg)
    other_cfg = load_templates().require("Google Mail").new_configuration("Sales mailbox")
    other_cfg.notify_on_expired_refresh_token = False
    other = store.insert(other_cfg)
    now = datetime.now(UTC)
    # an access token without refresh token that expires in a minute + warning_in: then the warning is due
    store.update_state(saved.id, has_access_token=True, has_refresh_token=False,
                       token_expires_at=now + timedelta(minutes=1) + warning_in,
                       last_requested_at=now - timedelta(minutes=59))
    store.update_state(other.id, has_access_token=True, has_refresh_token=False,
                       token_expires_at=now + timedelta(days=3), last_requested_at=now)
    store.set_setting("ui.close_to_tray_hint_shown", True)
    store.close()


def test_tray_message_for_an_expiring_token_and_click_through(xdisplay, tmp_path, tokendesk_home):
    home = tokendesk_home
    shots = shots_dir(tmp_path / "shots")
    prepare_store(home, timedelta(seconds=10))  # the warning is due in 10 s
    driver = Driver(xdisplay, home)
    try:
        assert driver.expect("STRATEGY") == "tray"
        assert driver.expect("WINDOW") == "visible=False"  # --minimized with a tray: only the icon
        started = time.monotonic()
        assert driver.expect("MESSAGE", timeout=40) == "Token expires soon"
        waited = time.monotonic() - started
        assert 3 <= waited <= 30, f"the warning came after {waited:.1f} s, expected about 10 s"
        geometry = driver.expect("BALLOON")
        assert geometry != "none", "no balloon is visible"
        x, y, w, h = (int(v) for v in geometry.split())
        assert w > 100 and h > 30
        assert screenshot(xdisplay, tmp_path / "balloon.png")
        crop(tmp_path / "balloon.png", shots / "tray-balloon.png", f"{1280 - min(x, 1280 - 40) + 20}x{y + h + 20}"
             f"+{max(0, x - 20)}+0")

        driver.send("CLICK")
        opened = driver.expect("OPENED")
        assert opened == "Support mailbox visible=True"
        assert driver.expect("SIGNIN") == "Sign in \u2013 Support mailbox visible=True"  # the click did it
        time.sleep(0.8)
        assert screenshot(xdisplay, tmp_path / "after-click.png")
        crop(tmp_path / "after-click.png", shots / "tray-click-through.png", "1280x660+0+0")
        driver.send("CANCEL")
        assert driver.expect("CANCELLED") == "Sign-in for 'Support mailbox' cancelled; the token was not changed."
        driver.send("QUIT")
        assert driver.proc.wait(timeout=15) == 0
    except BaseException:
        keep_failure(xdisplay, home, "tray-xvfb-failure")
        raise
    finally:
        driver.stop()


def test_a_tray_that_appears_after_start_up_gets_the_icon_and_the_messages(xserver, tmp_path, tokendesk_home):
    """Autostart before the panel: Tokendesk starts on a display without a tray (window shown, bar only),
    then trayer starts; the icon is embedded and the next notification is a tray message."""
    home = tokendesk_home
    prepare_store(home, timedelta(seconds=12))
    driver = Driver(xserver, home, wait_for_tray=False)
    trayer = None
    try:
        assert driver.expect("STRATEGY") == "window"
        assert driver.expect("WINDOW") == "visible=True"  # --minimized without a tray: the window is the way in
        trayer = start_trayer(xserver, tmp_path)
        assert driver.expect("MESSAGE", timeout=40) == "Token expires soon"
        geometry = driver.expect("BALLOON")
        assert geometry != "none", "no balloon is visible"
        assert screenshot(xserver, tmp_path / "late-tray.png")
        driver.send("QUIT")
        assert driver.proc.wait(timeout=15) == 0
    except BaseException:
        keep_failure(xserver, home, "late-tray-failure")
        raise
    finally:
        driver.stop()
        if trayer is not None:
            _stop(trayer)
