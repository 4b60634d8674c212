"""Alerts by command (issue 13, point 3): the hook receives the documented variables, each alert runs it once,
a failing hook is tried again on the next run, no secret reaches it, and ``tokendesk alerts run`` works headless
with a locked vault."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from desktop.alerts.runner import run_alerts
from desktop.notify.log import SqliteLog
from desktop.notify.scheduler import Scheduler
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN

ROOT = Path(__file__).resolve().parents[2]
D = timedelta(days=1)
DOCUMENTED = ["TOKENDESK_ALERT_KIND", "TOKENDESK_ALERT_EVENT", "TOKENDESK_ALERT_SEVERITY", "TOKENDESK_ALERT_TITLE",
              "TOKENDESK_ALERT_MESSAGE", "TOKENDESK_ALERT_ACTION", "TOKENDESK_ALERT_DUE", "TOKENDESK_ALERT_EXPIRES",
              "TOKENDESK_ALERT_ID", "TOKENDESK_CONFIGURATION", "TOKENDESK_HOST"]

HOOK = """
import json, os, sys
out, fail_first = sys.argv[1], sys.argv[2] == "fail-first"
marker = out + ".failed-once"
if fail_first and not os.path.exists(marker):
    open(marker, "w").close()
    print("pager service unreachable", file=sys.stderr)
    sys.exit(3)
with open(out, "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items()
                                                     if k.startswith("TOKENDESK_")}}) + "\\n")
"""


@pytest.fixture
def hook(tmp_path):
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    out = tmp_path / "hook-calls.jsonl"

    def command(mode: str = "ok") -> str:
        return shlex.join([sys.executable, str(script), str(out), mode])

    def calls() -> list[dict]:
        return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []

    return command, calls



def secret_expiring(ctx, make_config, name="Helpdesk", days=5):
    cfg = make_config(name, secret="client-secret-" + uuid.uuid4().hex)
    cfg = ctx.store.get_by_id(cfg.id)
    cfg.client_secret_expires = datetime.now(UTC).astimezone().date() + timedelta(days=days)
    ctx.configurations.update(cfg)
    now = datetime.now(UTC).replace(microsecond=0)
    tokens = ("access-" + uuid.uuid4().hex, "refresh-" + uuid.uuid4().hex)
    with ctx.store.transaction():
        ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, tokens[0])
        ctx.secrets.set_for(cfg.id, REFRESH_TOKEN, tokens[1])
        ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True, last_requested_at=now,
                               token_expires_at=now + timedelta(hours=1), refresh_token_expires_at=now + 80 * D)
    return cfg, tokens


def test_the_hook_gets_the_documented_variables_once_per_alert(run, ctx, make_config, hook):
    command, calls = hook
    cfg, tokens = secret_expiring(ctx, make_config)
    code, out, _ = run("settings", "set", "alerts.client_secret.command", command("ok"))
    assert code == 0
    code, out, err = run("alerts", "run")
    assert (code, err) == (0, "")
    day = cfg.client_secret_expires.isoformat()
    assert out == f"sent by command to {command('ok')}: Client secret expires soon - Helpdesk\n"
    [call] = calls()
    assert call["argv"][1:] == ["ok"]
    env = call["env"]
    assert sorted(k for k in env if k in DOCUMENTED) == sorted(DOCUMENTED)
    assert env["TOKENDESK_ALERT_KIND"] == "client_secret"
    assert env["TOKENDESK_ALERT_EVENT"] == "client_secret_expiring"
    assert env["TOKENDESK_ALERT_SEVERITY"] == "warning"
    assert env["TOKENDESK_ALERT_TITLE"] == "Client secret expires soon"
    assert env["TOKENDESK_ALERT_MESSAGE"].startswith(f"The client secret of 'Helpdesk' expires on {day}. Make a new "
                                                     "client secret at the provider")
    assert env["TOKENDESK_ALERT_ACTION"] == "edit"
    assert env["TOKENDESK_CONFIGURATION"] == "Helpdesk"
    assert datetime.fromisoformat(env["TOKENDESK_ALERT_EXPIRES"]).astimezone().date().isoformat() == day
    assert len(env["TOKENDESK_ALERT_ID"]) == 16
    for secret in tokens:
        assert secret not in json.dumps(call)
    # the next runs (and a window's announcement pass, which prunes its own rows) send nothing again
    Scheduler(SqliteLog(ctx.store)).plan(ctx.store.list_with_state(), datetime.now(UTC))
    assert run("alerts", "run") == (0, "", "")
    assert len(calls()) == 1


def test_a_failing_hook_is_tried_again_on_the_next_run(run, ctx, make_config, hook):
    command, calls = hook
    secret_expiring(ctx, make_config)
    ctx.store.set_setting("alerts.client_secret.command", command("fail-first"))
    code, out, _ = run("alerts", "run")
    assert code == 1
    assert out.endswith("(tried again next run): Client secret expires soon - Helpdesk: "
                        f"{sys.executable} exited with status 3: pager service unreachable\n")
    assert calls() == []
    code, out, _ = run("alerts", "run")
    assert code == 0 and out.startswith("sent by command")
    assert len(calls()) == 1


def test_kinds_without_a_route_send_nothing_and_bad_commands_say_why(ctx, make_config, hook, tmp_path):
    secret_expiring(ctx, make_config)
    ctx.store.set_setting("alerts.refresh_token.command", hook[0]("ok"))  # another kind
    result = run_alerts(ctx)
    assert (result.sent, result.failed, result.unrouted) == ([], [], 1)
    ctx.store.set_setting("alerts.client_secret.command", str(tmp_path / "no-such-pager"))
    [failed] = run_alerts(ctx).failed
    assert failed.detail == f"{tmp_path / 'no-such-pager'}: no such program (give its full path)"
    ctx.store.set_setting("alerts.client_secret.command", "notify-send 'unclosed")
    [failed] = run_alerts(ctx).failed
    assert failed.detail == "the command cannot be read (No closing quotation): close every quote"


def test_alerts_run_headless_with_a_locked_vault(tmp_path, hook):
    command, calls = hook
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENDESK_", "DBUS_"))}
    env.update(TOKENDESK_HOME=str(tmp_path / "home"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               PYTHONPATH=str(ROOT))
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("alerts passphrase 1\n")

    def call(*argv, extra=None, stdin=None):
        return subprocess.run([sys.executable, "-m", "desktop", *argv], capture_output=True, text=True,
                              env=dict(env, **(extra or {})), input=stdin, timeout=60, cwd=ROOT,
                              start_new_session=True)

    assert call("vault", "passphrase", "--new-passphrase-file", str(passphrase)).returncode == 0
    secret = "cs-" + uuid.uuid4().hex
    added = call("add", "-t", "Microsoft Exchange Online", "-n", "Support", "--client-id",
                 "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9", "--client-secret-file", "-",
                 extra={"TOKENDESK_PASSPHRASE_FILE": str(passphrase)}, stdin=secret)
    assert added.returncode == 0, added.stderr
    assert call("settings", "set", "alerts.refresh_token.command", command("ok")).returncode == 0
    done = call("alerts", "run")  # never signed in: a sign-in is needed (a refresh_token alert)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"sent by command to {command('ok')}: No token yet - Support\n"
    [hooked] = calls()
    assert hooked["env"]["TOKENDESK_ALERT_EVENT"] == "refresh_token_expired"
    assert "TOKENDESK_PASSPHRASE_FILE" not in hooked["env"]
    assert secret not in done.stdout + json.dumps(hooked)
    assert call("alerts", "run").stdout == ""


def test_settings_set_refuses_a_command_or_address_that_cannot_work(run, ctx):
    code, out, err = run("settings", "set", "alerts.token.command", "notify-send 'unclosed")
    assert (code, out) == (2, "")
    assert err == ("tokendesk: alerts.token.command was not changed: the command cannot be read (No closing "
                   "quotation): close every quote\n")
    code, _, err = run("settings", "set", "alerts.token.mail_to", "helpdesk@example.org, oncall at example.org")
    assert code == 2
    assert err == ("tokendesk: alerts.token.mail_to was not changed: oncall at example.org is not a mail address "
                   "(name@domain; separate addresses with commas)\n")
    assert ctx.store.get_setting("alerts.token.mail_to") == []
    assert run("settings", "set", "alerts.token.mail_to", "helpdesk@example.org, oncall@example.org")[0] == 0
    assert ctx.store.get_setting("alerts.token.mail_to") == ["helpdesk@example.org", "oncall@example.org"]


def test_alerts_test_sends_a_test_alert_through_each_route_and_records_nothing(run, ctx, hook):
    command, calls = hook
    assert run("alerts", "test")[0] == 2  # nothing configured: says so
    ctx.store.set_setting("alerts.refresh_failed.command", command("ok"))
    code, out, err = run("alerts", "test")
    assert (code, err) == (0, "")
    assert out == f"sent by command to {command('ok')}: Test alert - refresh_failed\n"
    [call] = calls()
    assert (call["env"]["TOKENDESK_ALERT_EVENT"], call["env"]["TOKENDESK_ALERT_KIND"]) == ("test", "refresh_failed")
    assert run("alerts", "test", "token") == (2, "", "tokendesk: no alert kind sends anywhere yet: set "
                                              "alerts.<kind>.command or alerts.<kind>.mail_to (File > Alerts ... or "
                                              "'tokendesk settings set')\n")
    assert run("alerts", "test", "nonsense")[0] == 2
    assert ctx.store.conn.execute("SELECT COUNT(*) FROM notification_log").fetchone()[0] == 0


def test_the_alerts_room_imports_no_qt():
    code = ("import sys, desktop.alerts.check, desktop.alerts.kinds, desktop.alerts.hooks, desktop.alerts.mail, "
            "desktop.alerts.runner, desktop.cli.monitor_commands; "
            "print(sorted(m for m in sys.modules if m.startswith('PySide6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
