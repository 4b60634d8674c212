"""The window as the token agent against the real servers: a due token is refreshed *by the window* when the
command line asks (the child has no keyring: it cannot refresh itself), ``tokendesk refresh`` is done there too,
and msmtp's ``passwordeval`` through a running window is recorded as "Last used ... by /usr/bin/msmtp"."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop import instance
from desktop.app import Application
from desktop.store.secrets import ACCESS_TOKEN
from desktop.ui.tasks import InlineTaskRunner
from tests.servers.dovecot import MAIL_USER
from tests.support.window import window_features

pytestmark = [pytest.mark.realserver,
              pytest.mark.skipif(not instance.supported(), reason="abstract Unix sockets are Linux-only")]

ROOT = Path(__file__).resolve().parents[2]
NAME = "Mail provider"


def screenshot_path(name: str) -> Path:
    """artifacts/screenshots/ (git-ignored), or docs/screenshots/ with TOKENDESK_UPDATE_SCREENSHOTS=1."""
    folder = ROOT / ("docs" if os.environ.get("TOKENDESK_UPDATE_SCREENSHOTS") else "artifacts") / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


@pytest.fixture
def window(ctx, qapp, qtbot):
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    qtbot.addWidget(app.window)
    app.window.resize(1180, 640)
    app.window.show()
    assert app.serve_later_starts() is True
    yield app
    app.window._quitting = True
    app.shutdown()


def child_env(tokendesk_home: Path, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, TOKENDESK_HOME=str(tokendesk_home), HOME=str(tmp_path), PYTHONPATH=str(ROOT),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",  # only the window can answer
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("DISPLAY", None)
    return env


def run_child(qtbot, argv: list[str], env: dict[str, str], stdin: str | None = None,
              cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """A child process while the GUI's event loop keeps running (the window accepts on the GUI thread)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=cwd)
    if stdin is not None:
        proc.stdin.write(stdin)
    proc.stdin.close()
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=60000)
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def test_a_due_token_is_refreshed_by_the_window_when_the_command_asks(provider, window, ctx, oauth, qtbot,
                                                                      tokendesk_home, tmp_path):
    cfg, pair = provider(NAME, expires_in=-5)  # expired: due
    window.window.reload()
    env = child_env(tokendesk_home, tmp_path)
    with qtbot.waitSignal(window.hub.token_changed, timeout=60000):
        got = run_child(qtbot, [sys.executable, "-m", "desktop", "token", NAME], env)
    assert got.returncode == 0, got.stderr
    new = got.stdout.strip()
    assert new and new != pair["access_token"] and oauth.introspect(new)["active"] is True
    assert oauth.counters["refresh_token"] == 1
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) == new  # stored by the window, in its vault
    row = window.window.model.row_at(window.window.model.row_of(NAME))
    assert row.state.last_refreshed_at is not None and not row.state.token_expired(row.state.last_refreshed_at)
    # a second call finds it fresh: no second refresh
    assert run_child(qtbot, [sys.executable, "-m", "desktop", "token", NAME], env).stdout.strip() == new
    assert oauth.counters["refresh_token"] == 1
    # tokendesk refresh NAME: done by the window as well
    refreshed = run_child(qtbot, [sys.executable, "-m", "desktop", "refresh", NAME.lower()], env)
    assert refreshed.returncode == 0, refreshed.stderr
    assert refreshed.stdout.startswith(f"{NAME}: refreshed (valid until ")
    assert "refresh token stored" in refreshed.stdout
    assert oauth.counters["refresh_token"] == 2
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) != new


def test_a_failing_refresh_in_the_window_gives_the_command_lines_exit_code(provider, window, ctx, oauth, qtbot,
                                                                           tokendesk_home, tmp_path):
    cfg, pair = provider(NAME, expires_in=-5)
    oauth.revoke_token(pair["refresh_token"])
    got = run_child(qtbot, [sys.executable, "-m", "desktop", "token", NAME], child_env(tokendesk_home, tmp_path))
    assert got.returncode == 4 and got.stdout == ""
    assert f'Next: tokendesk authorize "{NAME}"' in got.stderr
    assert ctx.store.get_state(cfg.id).reauthorization_needed


def test_msmtp_through_a_running_window_is_recorded_and_shown(provider, window, ctx, smtp, qtbot, tokendesk_home,
                                                              tmp_path):
    msmtp = shutil.which("msmtp")
    if msmtp is None:
        pytest.skip("msmtp is not installed")
    if shutil.which("tokendesk", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the tokendesk command is not installed (pip install -e .)")
    cfg, _pair = provider(NAME)
    provider("Helpdesk API")  # a second row, for a realistic picture
    window.window.reload()
    window.window.select_configuration(NAME)
    window.window.splitter.setSizes([690, 490])  # the details pane wide enough for "... by /usr/bin/msmtp"
    rc = tmp_path / "msmtprc"
    rc.write_text(
        f"defaults\ntls on\ntls_trust_file {smtp.ca_file}\n\naccount tokendesk\n"
        f"host 127.0.0.1\nport {smtp.starttls_port}\ntls_starttls on\n"
        f"auth xoauth2\nuser {MAIL_USER}\nfrom {MAIL_USER}\n"
        f"passwordeval \"tokendesk token '{NAME}'\"\n")
    rc.chmod(0o600)
    with qtbot.waitSignal(window.hub.token_changed, timeout=60000):
        sent = run_child(qtbot, [msmtp, "-C", str(rc), "-a", "tokendesk", "colleague@example.test"],
                         child_env(tokendesk_home, tmp_path), stdin="Subject: through the window\n\nHello.\n",
                         cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert smtp.attempts == [("XOAUTH2", MAIL_USER, True)]
    program = os.path.realpath(msmtp)
    assert ctx.store.get_state(cfg.id).last_used_by == program
    qtbot.waitUntil(lambda: f"by {program}" in window.window.details_text.text().replace("\u200b", ""),
                    timeout=5000)
    time.sleep(0.05)
    qtbot.wait(50)
    window.window.grab().save(str(screenshot_path("details-last-used.png")))
    # tokendesk show says the same
    env = child_env(tokendesk_home, tmp_path)
    shown = run_child(qtbot, [sys.executable, "-m", "desktop", "show", NAME], env)
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if x.strip().startswith("last used:"))
    assert line.endswith(f"ago) by {program}") or line.endswith(f"just now) by {program}")
    import json

    data = json.loads(run_child(qtbot, [sys.executable, "-m", "desktop", "show", NAME, "--json"], env).stdout)
    assert data["token"]["last_used_by"] == program
