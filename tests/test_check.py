"""``tokendesk check`` (issue 13, point 2): the monitoring plugin's status line, performance data and exit code
for each state; it never refreshes, never prints a secret, imports no Qt and works with a locked vault."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN

ROOT = Path(__file__).resolve().parents[1]
D = timedelta(days=1)
MS = "Microsoft Exchange Online"
GUID = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


@pytest.fixture
def run(ctx, capsys):
    def invoke(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(["check", *argv], context_factory=lambda: ctx)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def signed_in(ctx, make_config, name, *, secret_expires=None, rt_days=60.0, error=None, token_hours=1.0,
              template=MS, **state):
    cfg = make_config(name, template=template, secret="client-secret-" + uuid.uuid4().hex)
    cfg = ctx.store.get_by_id(cfg.id)
    cfg.client_id = GUID
    if secret_expires is not None:
        cfg.client_secret_expires = secret_expires
    ctx.configurations.update(cfg)
    at = now()
    with ctx.store.transaction():
        ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, "access-" + uuid.uuid4().hex)
        ctx.secrets.set_for(cfg.id, REFRESH_TOKEN, "refresh-" + uuid.uuid4().hex)
        ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True, last_requested_at=at - D,
                               token_expires_at=at + timedelta(hours=token_hours),
                               refresh_token_expires_at=at + timedelta(days=rt_days), **state)
        if error:
            ctx.store.update_state(cfg.id, error_message=error, error_code="")
    return cfg


def first_line(out: str) -> tuple[str, str]:
    status, _, perf = out.splitlines()[0].partition(" | ")
    return status, perf


def test_all_fine_is_ok_with_counts_and_days_as_performance_data(run, ctx, make_config):
    signed_in(ctx, make_config, "Support", rt_days=60, secret_expires=(now() + 200 * D).astimezone().date())
    code, out, err = run()
    assert (code, err) == (0, "")
    status, perf = first_line(out)
    assert status == "TOKENDESK OK - 1 configuration fine"
    assert perf == ("configurations=1;;;0 ok=1;;;0 warning=0;;;0 critical=0;;;0 disabled=0;;;0 "
                    "'Support refresh_token_days'=60.0;7;1; 'Support client_secret_days'=200;7;1;")
    assert len(out.splitlines()) == 1


def test_warning_for_a_client_secret_and_a_refresh_token_that_expire_within_the_days(run, ctx, make_config):
    soon = (now() + 5 * D).astimezone().date()
    signed_in(ctx, make_config, "Support", secret_expires=soon)
    signed_in(ctx, make_config, "Sales", rt_days=3.2)
    code, out, _ = run()
    assert code == 1
    status, _ = first_line(out)
    assert status == ("TOKENDESK WARNING - 2 warning of 2: Sales: the refresh token expires on "
                      f"{(now() + timedelta(days=3.2)).astimezone():%Y-%m-%d %H:%M} (in 3 days); Support: the "
                      f"client secret expires on {soon.isoformat()} (in 5 days)")
    assert out.splitlines()[1:] == [
        f"[WARNING] Sales: the refresh token expires on {(now() + timedelta(days=3.2)).astimezone():%Y-%m-%d %H:%M}"
        " (in 3 days): sign in again before then",
        f"[WARNING] Support: the client secret expires on {soon.isoformat()} (in 5 days): make a new one at the "
        "provider and enter it with Edit",
    ]
    # wider thresholds: critical
    assert run("--warning", "30", "--critical", "10")[0] == 2
    # narrower: fine
    assert run("--warning", "2", "--critical", "1")[0] == 0


def test_critical_states_each_named_with_what_to_do(run, ctx, make_config):
    signed_in(ctx, make_config, "Rejected", reauthorization_needed=True, error="invalid_grant")
    make_config("Never signed in", secret="s")
    signed_in(ctx, make_config, "Failed offline", error="the provider could not be reached", token_hours=-1)
    signed_in(ctx, make_config, "Secret gone", secret_expires=(now() - 2 * D).astimezone().date())
    signed_in(ctx, make_config, "Refresh died", rt_days=-1)
    broken = signed_in(ctx, make_config, "Tenant missing")
    cfg = ctx.store.get_by_id(broken.id)
    cfg.config["Requests"]["TokenByAuthorizationCode"]["Request"]["URL"] = \
        "https://login.microsoftonline.com/TENANT-ID/oauth2/v2.0/token"
    ctx.store.conn.execute("UPDATE token_config SET config_json = ? WHERE id = ?",
                           (json.dumps(cfg.config), cfg.id))  # as an old version or a hand edit left it
    code, out, _ = run()
    assert code == 2
    status, perf = first_line(out)
    assert status.startswith("TOKENDESK CRITICAL - 6 critical of 6: Failed offline: the last refresh failed; ")
    assert "critical=6;;;0" in perf.split(" ")
    lines = out.splitlines()[1:]
    assert "[CRITICAL] Rejected: sign-in needed: the provider rejected the refresh token (invalid_grant); sign in " \
           "with: tokendesk authorize Rejected (or Request new token in the window)" in lines
    assert "[CRITICAL] Never signed in: sign-in needed: no token was ever requested; sign in with: tokendesk " \
           "authorize 'Never signed in' (or Request new token in the window)" in lines  # quoted as a shell wants it
    assert "[CRITICAL] Failed offline: the last refresh failed: the provider could not be reached; no working " \
           "access token is left" in lines
    gone = (now() - 2 * D).astimezone().date().isoformat()
    assert f"[CRITICAL] Secret gone: the client secret expired on {gone}: make a new one at the provider and " \
           "enter it with Edit (and its expiry day)" in lines
    assert any(line.startswith("[CRITICAL] Refresh died: sign-in needed: the refresh token expired on ")
               for line in lines)
    assert any(line.startswith("[CRITICAL] Tenant missing: the configuration is not usable: Token endpoint still "
                               "contains the placeholder TENANT-ID") for line in lines)


def test_a_failed_refresh_with_a_working_token_is_a_warning_and_switched_off_ones_are_counted(run, ctx,
                                                                                              make_config):
    signed_in(ctx, make_config, "Flaky", error="time-out")
    off = make_config("Old", secret="s")
    cfg = ctx.store.get_by_id(off.id)
    cfg.valid_id = 2
    ctx.configurations.update(cfg)
    code, out, _ = run()
    assert code == 1
    assert out.splitlines()[1] == "[WARNING] Flaky: the last refresh failed: time-out; the access token still works"
    assert "disabled=1;;;0" in first_line(out)[1].split(" ")
    assert run("Old")[0] == 0  # switched off: not judged


def test_unknown_states(run, ctx, make_config):
    code, out, _ = run()
    assert (code, out) == (3, "TOKENDESK UNKNOWN - no token configurations to check (is TOKENDESK_HOME the right "
                              "data directory for this user?) | configurations=0;;;0 ok=0;;;0 warning=0;;;0 "
                              "critical=0;;;0 disabled=0;;;0\n")
    signed_in(ctx, make_config, "Support")
    code, out, _ = run("Support", "Nope")
    assert (code, out) == (3, "TOKENDESK UNKNOWN - no configuration named 'Nope' (see 'tokendesk list')\n")
    code, out, _ = run("--warning", "soon")
    assert code == 3 and out == ("TOKENDESK UNKNOWN - argument --warning/-w: 'soon' is not a whole number of days "
                                 "(usage: tokendesk check [-h] [--warning DAYS] [--critical DAYS] [--json] "
                                 "[NAME ...])\n")
    code, out, _ = run("--warning", "1", "--critical", "5")
    assert code == 3 and "the critical threshold must come later" in out
    assert run("support")[0] == 0  # names as the other commands take them: case does not matter


def test_json_has_the_same_verdict_and_no_secret(run, ctx, make_config):
    signed_in(ctx, make_config, "Support", rt_days=3)
    code, out, _ = run("--json")
    data = json.loads(out)
    assert code == 1 and data["state"] == "WARNING" and data["exit_code"] == 1
    [entry] = data["configurations"]
    assert (entry["name"], entry["state"], entry["refresh_token_days"]) == ("Support", "WARNING", 3.0)
    secrets = [r[0] for r in ctx.store.conn.execute("SELECT field FROM config_secret")]
    assert secrets  # stored sealed; whatever they are, the plugin's output names none of the tokens
    for value in ("access-", "refresh-", "client-secret-"):
        assert value not in out


def test_check_never_refreshes_needs_no_vault_and_imports_no_qt(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENDESK_", "DBUS_"))}
    env.update(TOKENDESK_HOME=str(tmp_path / "home"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               PYTHONPATH=str(ROOT))
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("check passphrase 1\n")
    tokendesk = [sys.executable, "-m", "desktop"]

    def call(*argv, extra=None, stdin=None):
        return subprocess.run([*tokendesk, *argv], capture_output=True, text=True, env=dict(env, **(extra or {})),
                              input=stdin, timeout=60, cwd=ROOT, start_new_session=True)

    assert call("vault", "passphrase", "--new-passphrase-file", str(passphrase)).returncode == 0
    secret = "cs-" + uuid.uuid4().hex
    added = call("add", "-t", MS, "-n", "Support", "--client-id", GUID, "--client-secret-file", "-",
                 extra={"TOKENDESK_PASSPHRASE_FILE": str(passphrase)}, stdin=secret)
    assert added.returncode == 0, added.stderr
    # no passphrase, no terminal: the vault stays locked, and check does not need it
    probe = ("import sys; from desktop.cli import main; code = main(['check']); "
             "print('QT', sorted(m for m in sys.modules if m.startswith('PySide6'))); "
             "print('HTTP', 'httpx' in sys.modules); sys.exit(code)")
    checked = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60,
                             cwd=ROOT, start_new_session=True)
    assert checked.returncode == 2, checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[0].startswith("TOKENDESK CRITICAL - 1 critical of 1: Support: sign-in needed")
    assert "QT []" in lines and "HTTP False" in lines
    assert secret not in checked.stdout + checked.stderr
    assert checked.stderr == ""


def test_a_template_that_needs_a_client_secret_is_critical_without_one(run, ctx, make_config):
    cfg = signed_in(ctx, make_config, "Sales Gmail", template="Google Mail")
    ctx.configurations.update(ctx.store.get_by_id(cfg.id), "")  # the secret taken away, as an import without it
    assert not ctx.store.get_by_id(cfg.id).has_client_secret
    signed_in(ctx, make_config, "Support")  # Microsoft Exchange Online may be a public client: no secret needed
    ms = ctx.store.get("Support")
    ctx.configurations.update(ms, "")
    code, out, _ = run()
    assert code == 2
    lines = out.splitlines()[1:]
    assert "[CRITICAL] Sales Gmail: no client secret, and Google Mail needs one: sign-ins and refreshes fail until " \
           "it is entered with Edit or: tokendesk edit 'Sales Gmail' --client-secret-file FILE" in lines
    assert not any(line.startswith("[CRITICAL] Support") for line in lines)
