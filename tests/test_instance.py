"""One Tokendesk GUI per data directory: a second start hands over to the first (desktop/instance.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from desktop import instance
from tests.support.window import window_features

pytestmark = pytest.mark.skipif(not instance.supported(), reason="abstract Unix sockets are Linux-only")

ROOT = Path(__file__).resolve().parents[1]


def test_nobody_listening_means_this_start_is_the_first(tmp_path):
    started = time.monotonic()
    assert instance.ask_running_instance("show", tmp_path) is False
    assert time.monotonic() - started < 1


def test_a_second_start_is_answered_and_the_command_arrives(tmp_path):
    listener = instance.claim(tmp_path)
    assert listener is not None
    try:
        assert instance.claim(tmp_path) is None  # one per data directory
        other = instance.claim(tmp_path / "elsewhere")  # another data directory is another instance
        assert other is not None
        other.close()
        got = []
        server = threading.Thread(target=lambda: got.append(_serve_one(listener)))
        server.start()
        assert instance.ask_running_instance("minimized", tmp_path) is True
        server.join(5)
        assert got == ["minimized"]
    finally:
        listener.close()
    assert instance.ask_running_instance("show", tmp_path) is False  # closed: the next start is first again


def test_a_listener_that_never_answers_does_not_block_the_start(tmp_path):
    listener = instance.claim(tmp_path)
    try:
        started = time.monotonic()
        assert instance.ask_running_instance("show", tmp_path, timeout=0.5) is False
        assert time.monotonic() - started < 2
    finally:
        listener.close()


def test_unknown_commands_are_ignored(tmp_path):
    import socket

    listener = instance.claim(tmp_path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(instance.address(tmp_path))
            sock.sendall(b"rm -rf /\n")
            listener.setblocking(True)
            assert instance.read_command(listener) is None
    finally:
        listener.close()


def _serve_one(listener):
    listener.setblocking(True)
    return instance.read_command(listener)


def test_the_running_window_comes_to_the_front(ctx, qapp, qtbot, tokendesk_home):
    from desktop.app import Application
    from desktop.ui.tasks import InlineTaskRunner

    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    qtbot.addWidget(app.window)
    try:
        assert app.serve_later_starts() is True
        assert app.window.isVisible() is False
        answered = []
        asker = threading.Thread(target=lambda: answered.append(
            instance.ask_running_instance("show", tokendesk_home)))
        asker.start()
        qtbot.waitUntil(lambda: app.window.isVisible(), timeout=5000)
        asker.join(5)
        assert answered == [True]
    finally:
        app.window._quitting = True
        app.shutdown()
    assert instance.ask_running_instance("show", tokendesk_home) is False


def test_starting_tokendesk_twice_hands_over_to_the_first(tmp_path):
    """Two real processes: the second `tokendesk` exits 0 at once and the first shows its window."""
    home = tmp_path / "home"
    env = dict(os.environ, TOKENDESK_HOME=str(home), QT_QPA_PLATFORM="offscreen",
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring", PYTHONPATH=str(ROOT))
    first = subprocess.Popen([sys.executable, "-m", "desktop", "-v", "--minimized"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not instance.ask_running_instance("minimized", home):  # "minimized": changes nothing
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            assert time.monotonic() < deadline, "the first Tokendesk never listened"
            time.sleep(0.1)
        second = subprocess.run([sys.executable, "-m", "desktop"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=30)
        assert second.returncode == 0
        assert second.stderr.strip() == "tokendesk: already running; its window was brought to the front."
        assert first.poll() is None  # the first keeps running
    finally:
        first.terminate()
        try:
            _, err = first.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            first.kill()
            _, err = first.communicate()
    assert "tokendesk was started again: showing the window" in err
