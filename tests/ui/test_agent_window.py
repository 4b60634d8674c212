"""The window as the token agent, end to end: a real ``python -m desktop token NAME`` process is answered by a
running window (Application.serve_later_starts -> desktop.agent) from the window's own context - the child has
no keyring and imports neither sqlite3 nor keyring - the window records which program asked and its row and
details pane say so; an old-protocol window and a hung one make the command work alone, within the time-out."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from desktop import agent, instance, procinfo
from desktop.app import Application
from desktop.models.token import utcnow
from desktop.store.secrets import ACCESS_TOKEN
from desktop.ui.tasks import InlineTaskRunner
from tests.support.window import window_features

pytestmark = pytest.mark.skipif(not instance.supported(), reason="abstract Unix sockets are Linux-only")

ROOT = Path(__file__).resolve().parents[2]
NAME = "Support mailbox"
TOKEN = "eyJhbGciOiJSUzI1NiJ9." + "y" * 900 + ".sig-window-agent"
#: modules the window path of ``tokendesk token`` must not import
HEAVY = {"sqlite3", "_sqlite3", "keyring", "PySide6", "cryptography", "argparse", "desktop.store.repository"}


@pytest.fixture
def seeded(ctx, make_config):
    cfg = make_config(NAME)
    make_config("Sales Gmail", template="Google Mail")
    ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, TOKEN)
    ctx.store.update_state(cfg.id, has_access_token=True, token_expires_at=utcnow() + timedelta(minutes=50),
                           last_requested_at=utcnow() - timedelta(minutes=10),
                           token_info={"account": "support@example.org", "granted_scope": "Mail.Send"})
    return cfg


@pytest.fixture
def window(ctx, qapp, qtbot):
    """An Application whose window serves the data directory's socket (as run_gui does)."""
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    qtbot.addWidget(app.window)
    app.window.resize(1100, 620)
    app.window.show()
    assert app.serve_later_starts() is True
    yield app
    app.window._quitting = True
    app.shutdown()


def child_env(tokendesk_home: Path) -> dict[str, str]:
    """No keyring at all in the child: whatever it prints came from the window."""
    env = dict(os.environ, TOKENDESK_HOME=str(tokendesk_home), PYTHONPATH=str(ROOT),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    env.pop("DISPLAY", None)
    return env


def run_child(qtbot, argv: list[str], env: dict[str, str], timeout_ms: int = 30000) -> tuple[int, str, str, float]:
    """Run a child while the GUI's event loop keeps going (the window accepts on the GUI thread)."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=timeout_ms)
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.communicate()
    return proc.returncode, out, err, time.monotonic() - started


def imported_modules(importtime_stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[-1].strip() for line in importtime_stderr.splitlines()
            if line.startswith("import time:")}


def test_a_real_tokendesk_token_is_answered_by_the_window(seeded, window, ctx, qtbot, tokendesk_home):
    window.window.select_configuration(NAME)
    assert "Last used" in window.window.details_text.text() and "never" in window.window.details_text.text()
    with qtbot.waitSignal(window.hub.token_changed, timeout=30000) as changed:
        code, out, err, _ = run_child(qtbot, ["sh", "-c", f"{sys.executable} -X importtime -m desktop token "
                                              f"'{NAME}'; true"], child_env(tokendesk_home))
    assert code == 0 and out == TOKEN + "\n", err
    assert changed.args == [seeded.id]
    heavy = HEAVY & imported_modules(err)
    assert not heavy, f"the window path imported {sorted(heavy)}"
    # who asked: the child was this test's process -> sh -c -> python -m desktop; the walk names this process
    asked_by = procinfo.describe(procinfo.read_process(os.getpid()))
    assert ctx.store.get_state(seeded.id).last_used_by == asked_by
    row = window.window.model.row_at(window.window.model.row_of(NAME))
    assert row.state.last_used_by == asked_by and row.state.last_used_at is not None
    details = window.window.details_text.text()
    assert f"by {asked_by}" in details.replace("\u200b", "")  # (break opportunities in long words)


def test_the_window_answers_json_and_failures_like_the_command_line(seeded, window, qtbot, tokendesk_home):
    import json

    env = child_env(tokendesk_home)
    code, out, err, _ = run_child(qtbot, [sys.executable, "-m", "desktop", "token", NAME, "--format", "json"], env)
    assert code == 0, err
    data = json.loads(out)
    assert data["access_token"] == TOKEN and data["account"] == "support@example.org"
    assert data["scope"] == "Mail.Send" and 2900 <= data["expires_in"] <= 3000
    code, out, err, _ = run_child(qtbot, [sys.executable, "-m", "desktop", "token", "nothing"], env)
    assert (code, out) == (3, "") and err.startswith("tokendesk: No configuration named 'nothing'")


def test_an_old_window_makes_the_command_work_alone(ctx, seeded, qtbot, tokendesk_home):
    """A listener that speaks only show/minimized (Tokendesk before the agent): the child goes its own way
    at once (here it has no keyring, so its own way ends in the vault's words - not in a socket error)."""
    listener = instance.claim(tokendesk_home)
    served = []
    old = threading.Thread(target=lambda: (listener.setblocking(True), served.append(instance.read_command(listener))))
    old.start()
    try:
        code, out, err, elapsed = run_child(qtbot, [sys.executable, "-X", "importtime", "-m", "desktop", "-v", "token",
                                                    NAME], child_env(tokendesk_home))
    finally:
        old.join(5)
        listener.close()
    assert served == [None]  # the old window read the request and closed without a word
    assert "no usable answer from the Tokendesk window" in err
    assert "sqlite3" in imported_modules(err)  # worked alone: opened the store (and ended at the vault's key)
    assert out == "" and code != 0
    assert elapsed < 15


def test_a_hung_window_makes_the_command_work_alone_within_the_time_out(ctx, seeded, qtbot, tokendesk_home):
    listener = instance.claim(tokendesk_home)  # listens, never accepts
    try:
        code, out, err, elapsed = run_child(qtbot, [sys.executable, "-X", "importtime", "-m", "desktop", "-v", "token",
                                                    NAME], child_env(tokendesk_home))
    finally:
        listener.close()
    assert "did not answer" in err and "working without it" in err, err
    assert "sqlite3" in imported_modules(err) and out == "" and code != 0
    assert agent.ACCEPT_TIMEOUT <= elapsed < agent.ACCEPT_TIMEOUT + 10
