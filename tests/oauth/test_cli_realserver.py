"""The token commands against the real server, partly as separate processes (the way scripts use them).

Processes share the test's vault through a keyring file that the test and its children both use
(tests/support/file_keyring.py, named in PYTHON_KEYRING_BACKEND for the children).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.cli.common import EXIT_NETWORK, EXIT_NOT_FOUND, EXIT_REAUTH
from desktop.models.token import utcnow
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN
from desktop.usage.sasl import xoauth2_base64

pytestmark = pytest.mark.realserver

FAKE_BROWSER = Path(__file__).with_name("fake_browser.py")


#: the keyring file of the running test, for its child processes (set by the ctx fixture)
CHILD_KEYRING: dict[str, str] = {}


@pytest.fixture
def ctx(tokendesk_home, shared_keyring):
    """A context whose vault key is in a keyring file that child processes read too."""
    from desktop.services import open_context

    CHILD_KEYRING.clear()
    CHILD_KEYRING.update(shared_keyring[1])
    context = open_context()
    yield context
    context.close()


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CHILD_KEYRING)
    env.pop("DISPLAY", None)
    env.update(extra)
    return env


def tokendesk(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "desktop", *args], capture_output=True, text=True,
                          timeout=timeout, env=child_env(**env))


def run_cli(ctx, *args: str, capsys) -> tuple[int, str, str]:
    code = main(list(args), context_factory=lambda: ctx)
    out, err = capsys.readouterr()
    return code, out, err


def test_system_browser_flow_with_browser_env(ctx, oauth, server_config, tmp_path):
    cfg = server_config(Browser="system")
    page = tmp_path / "browser.txt"
    proc = tokendesk("authorize", cfg.name, "--timeout", "30",
                     BROWSER=f"{sys.executable} {FAKE_BROWSER} %s", FAKE_BROWSER_OUT=str(page))
    assert proc.returncode == 0, proc.stderr
    assert oauth.authorization_endpoint + "?" in proc.stdout  # printed for SSH use
    assert f"Token stored for '{cfg.name}'" in proc.stdout
    status, final_url, html = page.read_text().split("\n", 2)
    assert status == "200" and final_url.startswith("http://127.0.0.1:")
    assert "You can close this tab" in html and "Signed in" in html
    state = ctx.store.get_state(cfg.id)
    assert state.has_access_token and state.has_refresh_token
    assert oauth.introspect(ctx.secrets.get_for(cfg.id, ACCESS_TOKEN))["active"] is True
    redirect = oauth.requests("/authorize")[-1]["params"]["redirect_uri"]
    assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/oauth2/callback")


def test_system_browser_wrong_state_is_refused(ctx, oauth, server_config, tmp_path):
    cfg = server_config(Browser="system")
    page = tmp_path / "browser.txt"
    proc = tokendesk("authorize", cfg.name, "--timeout", "3", BROWSER=f"{sys.executable} {FAKE_BROWSER} %s",
                     FAKE_BROWSER_OUT=str(page), FAKE_BROWSER_REWRITE="state=>state=forged")
    assert proc.returncode == 1
    assert "No answer from the browser within 3 s" in proc.stderr
    status, _url, html = page.read_text().split("\n", 2)
    assert status == "400" and "Sign-in refused" in html
    assert not ctx.store.get_state(cfg.id).has_access_token
    assert oauth.counters["authorization_code"] == 0


def test_system_browser_provider_error_shows_in_tab_and_exit_5(ctx, oauth, server_config, tmp_path):
    cfg = server_config(Browser="system")
    oauth.fault("authorize", "error", params={"error": "access_denied", "error_description": "User declined"})
    page = tmp_path / "browser.txt"
    proc = tokendesk("authorize", cfg.name, "--timeout", "30", BROWSER=f"{sys.executable} {FAKE_BROWSER} %s",
                     FAKE_BROWSER_OUT=str(page))
    assert proc.returncode == EXIT_NETWORK
    assert "User declined" in proc.stderr and "consent" in proc.stderr
    _status, _url, html = page.read_text().split("\n", 2)
    assert "Sign-in failed" in html and "User declined" in html
    assert ctx.store.get_state(cfg.id).error_text == "access_denied: User declined"


def test_token_refreshes_an_expired_token_in_a_child_process_without_qt(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    old = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    ctx.store.update_state(cfg.id, token_expires_at=utcnow() - timedelta(seconds=5))
    code = (
        "import sys\n"
        "from desktop.cli import main\n"
        f"rc = main(['token', {cfg.name!r}])\n"
        "heavy = sorted(m for m in ('PySide6', 'PySide6.QtCore') if m in sys.modules)\n"
        "print('RC', rc, 'QT', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=child_env())
    assert "RC 0 QT []" in proc.stderr, proc.stderr
    new = proc.stdout.strip()
    assert new and new != old and oauth.introspect(new)["active"] is True
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) == new
    assert oauth.counters["refresh_token"] == 1


def test_token_fast_path_imports_no_http_stack(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    code = (
        "import sys\n"
        "from desktop.cli import main\n"
        f"rc = main(['token', {cfg.name!r}])\n"
        "print('RC', rc, sorted(m for m in ('PySide6', 'authlib', 'httpx') if m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=child_env())
    assert "RC 0 []" in proc.stderr, proc.stderr
    assert proc.stdout.strip() == ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)


def test_two_processes_refresh_once(ctx, oauth, server_config, sign_in):
    cfg = server_config()
    sign_in(cfg.name)
    ctx.store.update_state(cfg.id, token_expires_at=utcnow() - timedelta(seconds=5))
    oauth.fault("token", "hang", seconds=1, grant_type="refresh_token")  # the first refresh takes a while
    procs = [subprocess.Popen([sys.executable, "-m", "desktop", "token", cfg.name], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=child_env()) for _ in range(3)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outputs]
    tokens = {out.strip() for out, _ in outputs}
    assert len(tokens) == 1
    assert oauth.counters["refresh_token"] == 1


def test_token_formats(ctx, oauth, server_config, sign_in, capsys):
    cfg = server_config()
    sign_in(cfg.name)
    token = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
    assert run_cli(ctx, "token", cfg.name, capsys=capsys)[1] == token + "\n"
    assert run_cli(ctx, "token", cfg.name, "--format", "header", capsys=capsys)[1] == f"Authorization: Bearer {token}\n"
    code, out, _ = run_cli(ctx, "token", cfg.name, "--format", "json", capsys=capsys)
    data = json.loads(out)
    assert data["access_token"] == token and data["token_type"] == "Bearer" and 3500 <= data["expires_in"] <= 3600
    assert data["account"] == "tokendesk-user@example.test" and data["scope"] == cfg.scope
    code, out, _ = run_cli(ctx, "token", cfg.name, "--format", "xoauth2", "--user", "a@b.example", capsys=capsys)
    assert out.strip() == xoauth2_base64("a@b.example", token)
    # without --user: the account the token names
    code, out, _ = run_cli(ctx, "token", cfg.name, "--format", "xoauth2", capsys=capsys)
    assert code == 0 and out.strip() == xoauth2_base64("tokendesk-user@example.test", token)
    ctx.store.update_state(cfg.id, token_info={})  # a token that does not say whose it is
    code, _, err = run_cli(ctx, "token", cfg.name, "--format", "xoauth2", capsys=capsys)
    assert code == 2 and "--user" in err and "does not name its account" in err
    code, _, err = run_cli(ctx, "token", "no such thing", capsys=capsys)
    assert code == EXIT_NOT_FOUND


def test_token_exit_4_when_reauthorization_is_needed(ctx, oauth, server_config, sign_in, capsys):
    cfg = server_config()
    sign_in(cfg.name)
    oauth.revoke_token(ctx.secrets.get_for(cfg.id, REFRESH_TOKEN))
    ctx.store.update_state(cfg.id, token_expires_at=utcnow() - timedelta(seconds=5))
    code, out, err = run_cli(ctx, "token", cfg.name, capsys=capsys)
    assert code == EXIT_REAUTH and out == ""
    assert f'tokendesk authorize "{cfg.name}"' in err and "invalid_grant" not in out
    assert ctx.store.get_state(cfg.id).reauthorization_needed
    code, _, err = run_cli(ctx, "refresh", "--all", capsys=capsys)
    assert code == 0  # nothing to do: the token is listed as skipped


def test_token_exit_5_when_the_provider_fails(ctx, oauth, server_config, sign_in, capsys, monkeypatch):
    from desktop.oauth import tokens

    monkeypatch.setattr(tokens, "DEFAULT_BACKOFF", (0.05, 0.05))
    cfg = server_config()
    sign_in(cfg.name)
    ctx.store.update_state(cfg.id, token_expires_at=utcnow() - timedelta(seconds=5))
    oauth.fault("token", "status", status=502, text="Bad Gateway", times=3)
    code, out, err = run_cli(ctx, "token", cfg.name, capsys=capsys)
    assert oauth.counters["refresh_token"] == 3
    assert code == EXIT_NETWORK and out == "" and "HTTP 502" in err


def test_refresh_revoke_forget_commands(ctx, oauth, server_config, sign_in, capsys):
    cfg = server_config()
    sign_in(cfg.name)
    code, out, _ = run_cli(ctx, "refresh", cfg.name, capsys=capsys)
    assert code == 0 and f"{cfg.name}: refreshed" in out and oauth.counters["refresh_token"] == 1
    refresh = ctx.secrets.get_for(cfg.id, REFRESH_TOKEN)
    code, out, _ = run_cli(ctx, "revoke", cfg.name, "--yes", capsys=capsys)
    assert code == 0 and "Revoked" in out
    assert oauth.introspect(refresh)["active"] is False and not ctx.store.get_state(cfg.id).has_access_token
    sign_in(cfg.name)
    code, out, _ = run_cli(ctx, "forget", cfg.name, "--yes", capsys=capsys)
    assert code == 0 and not ctx.store.get_state(cfg.id).has_refresh_token
    assert ctx.secrets.get_for(cfg.id, ACCESS_TOKEN) is None


def test_authorize_embedded_opens_only_the_login_dialog(ctx, oauth, server_config):
    cfg = server_config()
    proc = tokendesk("authorize", cfg.name, "--browser", "embedded", timeout=120, QT_QPA_PLATFORM="offscreen")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"Token stored for '{cfg.name}'" in proc.stdout
    assert ctx.store.get_state(cfg.id).has_access_token
    assert oauth.counters["authorization_code"] == 1


def test_authorize_embedded_provider_error_exit_5(ctx, oauth, server_config):
    cfg = server_config()
    oauth.fault("authorize", "error", params={"error": "access_denied", "error_description": "User declined"})
    code = (
        "import sys\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "import desktop.ui.dialogs.login_dialog as login\n"
        "original = login.LoginDialog._fail\n"
        "def fail(self, exc, retry):\n"
        "    original(self, exc, retry=retry)\n"
        "    QTimer.singleShot(200, self.reject)  # the admin reads the message and closes\n"
        "login.LoginDialog._fail = fail\n"
        "from desktop.cli import main\n"
        f"sys.exit(main(['authorize', {cfg.name!r}, '--browser', 'embedded']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=child_env(QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == EXIT_NETWORK, proc.stderr[-2000:]
    assert "User declined" in proc.stderr and "consent" in proc.stderr
