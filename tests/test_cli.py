"""The ``tokendesk`` command: in-process through ``desktop.cli.main`` with the test context, plus a few real
subprocess runs (TOKENDESK_HOME, no keyring and a passphrase, a keyring shared between processes) and the
no-Qt check."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from desktop.cli import main, system_commands
from desktop.store.database import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent
TOKENDESK = Path(sys.executable).with_name("tokendesk")
HTTPS_NEEDED = "must use https (http is allowed only for this machine: localhost, 127.0.0.1, ::1)"


@pytest.fixture
def run(ctx, capsys):
    """run(*argv) -> (exit code, stdout, stderr) against the test context."""

    def invoke(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            old = sys.stdin
            sys.stdin = io.StringIO(stdin)
        try:
            code = main(list(argv), context_factory=lambda: ctx)
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            if stdin is not None:
                sys.stdin = old
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def secret_file(tmp_path):
    def write(secret: str) -> str:
        path = tmp_path / f"secret-{uuid.uuid4().hex[:6]}.txt"
        path.write_text(secret + "\n", encoding="utf-8")
        return str(path)

    return write


def add_args(name: str = "Support mailbox", template: str = "Microsoft Exchange Online", *extra: str) -> list[str]:
    return ["add", "--template", template, "--name", name, "--client-id", f"id-{name}", *extra]


# ---- help and templates


def test_help_lists_the_subcommands(run):
    code, out, _ = run("--help")
    assert code == 0
    for command in ("list", "templates", "show", "add", "delete", "settings", "doctor"):
        assert f"\n    {command} " in out or f"\n    {command}\n" in out, command
    assert "Exit codes: 0 success, 1 error, 2 usage error, 3 not found" in out


def test_unknown_command_is_a_usage_error(run):
    code, _, err = run("frobnicate")
    assert code == 2
    assert "invalid choice: 'frobnicate'" in err


def test_templates_lists_the_built_ins(run):
    code, out, err = run("templates")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["TEMPLATE", "DESCRIPTION"]
    for name in ("Google Mail", "Microsoft Exchange Online", "Microsoft Exchange Online (client credentials)",
                 "Generic OAuth2", "Generic OpenID Connect"):
        assert any(line.startswith(name + " ") for line in lines), name


def test_templates_json_and_broken_files_warned_on_stderr(run, tmp_path, monkeypatch):
    extra = tmp_path / "t"
    extra.mkdir()
    (extra / "broken.yml").write_text("Name: [unclosed\n")
    monkeypatch.setenv("TOKENDESK_TEMPLATES", str(extra))
    code, out, err = run("templates", "--json")
    assert code == 0
    data = json.loads(out)
    flows = {t["name"]: t["auth_flow"] for t in data}
    assert flows["Microsoft Exchange Online (client credentials)"] == "ClientCredentials"
    assert flows["Google Mail"] == "AuthorizationCode"
    assert "tokendesk: warning: template skipped: broken.yml: cannot be read as YAML" in err


# ---- add


def test_add_reads_the_secret_from_a_file_and_never_prints_it(run, ctx, secret_file, memory_keyring):
    secret = "file-secret-" + uuid.uuid4().hex
    code, out, err = run(*add_args(), "--client-secret-file", secret_file(secret))
    assert code == 0, err
    assert out.startswith("Added 'Support mailbox' (template Microsoft Exchange Online); secrets in the encrypted "
                          "vault, key in the system keyring")
    assert secret not in out + err
    saved = ctx.store.get("Support mailbox")
    assert saved.client_id == "id-Support mailbox" and saved.has_client_secret
    assert ctx.configurations.client_secret(saved) == secret  # trailing newline stripped
    assert saved.authorization_url == "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"


def test_add_reads_the_secret_from_stdin(run, ctx):
    secret = "stdin-secret-" + uuid.uuid4().hex
    code, out, err = run(*add_args("From stdin", "Google Mail"), "--client-secret-file", "-", stdin=secret + "\r\n")
    assert code == 0, err
    assert secret not in out + err
    assert ctx.configurations.client_secret(ctx.store.get("From stdin")) == secret


def test_add_without_a_secret_says_how_to_add_one(run, ctx):
    code, out, _ = run(*add_args("Public"))
    assert code == 0
    assert "No client secret was given" in out
    assert ctx.store.get("Public").has_client_secret is False


def test_add_with_field_options(run, ctx):
    code, _, err = run(
        *add_args("Custom", "Generic OAuth2"),
        "--auth-url", "https://sso.example.org/authorize", "--token-url", "https://sso.example.org/token",
        "--revocation-url", "https://sso.example.org/revoke", "--scope", "openid offline_access",
        "--validity", "invalid-temporarily", "--browser", "system", "--no-pkce",
        "--redirect-uri", "http://127.0.0.1:9999/cb", "--notify-expired-token", "on",
        "--notify-expired-refresh-token", "off", "--client-auth", "basic",
    )
    assert code == 0, err
    cfg = ctx.store.get("Custom")
    assert cfg.client_authentication == "client_secret_basic"
    assert json.loads(run("show", "Custom", "--json")[1])["client_authentication"] == "client_secret_basic"
    assert cfg.refresh_url == "https://sso.example.org/token"  # defaults to the token endpoint
    assert cfg.revocation_url == "https://sso.example.org/revoke"
    assert cfg.scope == "openid offline_access"
    assert cfg.validity_label == "invalid-temporarily"
    assert cfg.browser_mode == "system" and cfg.pkce_enabled is False
    assert cfg.redirect_url_override == "http://127.0.0.1:9999/cb"
    assert cfg.notify_on_expired_token is True and cfg.notify_on_expired_refresh_token is False


def test_add_with_a_bad_url_names_the_field(run, ctx):
    code, out, err = run(*add_args("Bad", "Generic OAuth2"), "--auth-url", "http://sso.example.org/authorize",
                         "--token-url", "https://sso.example.org/token")
    assert code == 2
    assert out == ""
    assert err.startswith("tokendesk: the configuration was not saved:\n")
    assert f"  Authorization endpoint: {HTTPS_NEEDED}" in err
    assert ctx.store.count() == 0


def test_add_with_missing_endpoints_lists_every_field(run, ctx):
    code, _, err = run(*add_args("Empty", "Generic OAuth2"))
    assert code == 2
    for label in ("Authorization endpoint", "Token endpoint", "Token refresh endpoint"):
        assert f"  {label}: is required" in err
    assert ctx.store.count() == 0


def test_add_with_an_unknown_template_lists_the_templates(run, ctx):
    code, _, err = run(*add_args("X", "Yahoo Mail"))
    assert code == 2
    assert "tokendesk: unknown template 'Yahoo Mail' (known templates: " in err
    assert "Google Mail" in err and "Generic OpenID Connect" in err
    assert ctx.store.count() == 0


def test_add_accepts_a_template_file_stem(run, ctx):
    code, _, err = run(*add_args("Stem", "google_mail"))
    assert code == 0, err
    assert ctx.store.get("Stem").template_name == "Google Mail"


def test_add_a_duplicate_name(run, ctx, make_config):
    make_config("Support mailbox")
    code, _, err = run(*add_args("support MAILBOX"))
    assert code == 2
    assert "Name: 'support MAILBOX' is already used by another configuration" in err
    assert ctx.store.count() == 1


def test_add_with_an_empty_or_missing_secret_file(run, ctx, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    code, _, err = run(*add_args(), "--client-secret-file", str(empty))
    assert (code, err) == (1, "tokendesk: the client secret file is empty\n")
    code, _, err = run(*add_args(), "--client-secret-file", str(tmp_path / "nope.txt"))
    assert code == 1
    assert f"tokendesk: cannot read the client secret file {tmp_path / 'nope.txt'}: No such file or directory" in err
    assert ctx.store.count() == 0


def test_add_without_required_options_is_a_usage_error(run):
    code, _, err = run("add", "--template", "Google Mail", "--name", "x")
    assert code == 2
    assert "--client-id" in err


def test_add_without_a_keyring_or_terminal_exits_1_and_saves_nothing(run, ctx, secret_file, monkeypatch):
    keyring.set_keyring(fail.Keyring())
    monkeypatch.setattr(ctx.vault, "passphrase_provider", lambda purpose: None)  # no terminal to ask on
    code, out, err = run(*add_args(), "--client-secret-file", secret_file("locked-secret"))
    assert code == 1
    assert err.startswith("tokendesk: the configuration was not saved: No usable keyring (no keyring backend")
    assert "tokendesk vault passphrase" in err
    assert "locked-secret" not in out + err
    assert ctx.store.count() == 0


# ---- list and show


def test_list_empty(run):
    code, out, _ = run("list")
    assert code == 0
    assert out.startswith("No token configurations yet.")
    code, out, _ = run("list", "--json")
    assert json.loads(out) == []


def test_list_and_list_json(run, ctx, make_config):
    from datetime import timedelta

    from desktop.models.token import utcnow

    make_config("Support mailbox")
    google = make_config("Sales Gmail", template="Google Mail")
    ctx.store.update_state(google.id, has_access_token=True, has_refresh_token=True,
                           token_expires_at=utcnow() + timedelta(minutes=30, seconds=20),
                           token_info={"account": "sales@example.com"})
    code, out, _ = run("list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TEMPLATE", "TOKEN", "REFRESH", "TOKEN", "VALIDITY", "SIGNED", "IN", "AS"]
    assert lines[1].startswith("Sales Gmail ") and "valid until" in lines[1] and "(in 30 min)" in lines[1]
    assert lines[1].rstrip().endswith(" sales@example.com")
    assert lines[2].startswith("Support mailbox ") and "no token requested yet" in lines[2]
    code, out, _ = run("list", "--json")
    data = {row["name"]: row for row in json.loads(out)}
    assert set(data) == {"Sales Gmail", "Support mailbox"}
    assert data["Sales Gmail"]["token_status"] == "valid"
    assert data["Sales Gmail"]["refresh_token_status"] == "no_expiry"
    assert data["Sales Gmail"]["template"] == "Google Mail"
    assert data["Support mailbox"]["token_status"] == "none"
    assert data["Support mailbox"]["validity"] == "valid"
    assert (data["Sales Gmail"]["account"], data["Support mailbox"]["account"]) == ("sales@example.com", None)


def test_list_calls_a_token_expiring_inside_the_refresh_lead_time(run, ctx, make_config):
    from datetime import timedelta

    from desktop.models.token import utcnow

    saved = make_config("Soon")
    ctx.store.update_state(saved.id, has_access_token=True, token_expires_at=utcnow() + timedelta(minutes=4))
    assert json.loads(run("list", "--json")[1])[0]["token_status"] == "expiring"  # default lead: 300 s
    run("settings", "set", "refresh.lead_time_seconds", "60")
    assert json.loads(run("list", "--json")[1])[0]["token_status"] == "valid"
    assert json.loads(run("show", "Soon", "--json")[1])["token"]["token_status"] == "valid"


def test_show_and_show_json_never_contain_secrets(run, ctx, make_config):
    from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN

    secret, access, refresh = (f"{k}-{uuid.uuid4().hex}" for k in ("client", "access", "refresh"))
    saved = make_config("Support mailbox", secret=secret)
    ctx.secrets.set_for(saved.id, ACCESS_TOKEN, access)
    ctx.secrets.set_for(saved.id, REFRESH_TOKEN, refresh)
    ctx.store.update_state(saved.id, has_access_token=True, has_refresh_token=True)
    code, out, err = run("show", "support mailbox")
    assert code == 0, err
    assert "name: Support mailbox" in out
    assert "client secret: stored" in out
    assert "  token: https://login.microsoftonline.com/common/oauth2/v2.0/token" in out
    code, out_json, _ = run("show", "Support mailbox", "--json")
    data = json.loads(out_json)
    assert data["client_secret"] == "stored"
    assert data["client_id"] == "client-Support mailbox"
    assert data["token"]["token_status"] == "valid"
    for text in (out, out_json):
        for value in (secret, access, refresh):
            assert value not in text


def test_show_unknown_name_exits_3(run):
    code, out, err = run("show", "ghost")
    assert (code, out) == (3, "")
    assert err == "tokendesk: No configuration named 'ghost'. 'tokendesk list' shows the names.\n"


# ---- delete


def test_delete(run, ctx, make_config, memory_keyring):
    make_config("Doomed", secret="doomed-secret")
    code, out, _ = run("delete", "doomed")
    assert code == 0
    assert out == "Deleted 'Doomed' with its token and secrets.\n"
    assert ctx.store.count() == 0
    assert ctx.store.conn.execute("SELECT COUNT(*) FROM config_secret").fetchone()[0] == 0
    code, _, err = run("delete", "Doomed")
    assert code == 3 and "No configuration named 'Doomed'" in err


def test_delete_refused_while_in_use(run, ctx, make_config):
    make_config("Used")
    ctx.delete_guards.append(lambda _c, cfg: ["mail account 'Support IMAP'"])
    code, _, err = run("delete", "Used")
    assert code == 1
    assert "'Used' cannot be deleted: it is used by mail account 'Support IMAP'" in err
    assert ctx.store.names() == ["Used"]


# ---- settings


def test_settings_get_all_shows_the_redirect_uri(run):
    code, out, _ = run("settings", "get")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["SETTING", "VALUE", "ZNUNY"]
    assert "redirect.fqdn" in out and "FQDN" in out
    assert "pop3.split_hosts" in out and "outlook.office365.com, pop-mail.outlook.com" in out
    assert "ui.close_to_tray_hint_shown" not in out
    assert out.rstrip().endswith("Redirect URI: http://127.0.0.1:8765/oauth2/callback")
    code, out2, _ = run("settings")  # 'get' is the default action
    assert out2 == out


def test_settings_get_one_and_json(run):
    assert run("settings", "get", "network.timeout_seconds")[:2] == (0, "20\n")
    code, out, _ = run("settings", "get", "pop3.split_hosts", "--json")
    assert json.loads(out) == ["outlook.office365.com", "pop-mail.outlook.com"]
    code, out, _ = run("settings", "get", "--json")
    assert json.loads(out)["refresh.lead_time_seconds"] == 300


def test_settings_set_and_reset(run, ctx):
    assert run("settings", "set", "network.timeout_seconds", "45")[:2] == (0, "network.timeout_seconds = 45\n")
    assert ctx.store.get_setting("network.timeout_seconds") == 45
    code, out, _ = run("settings", "set", "pop3.split_hosts", "pop.example.org, pop2.example.org")
    assert out == "pop3.split_hosts = pop.example.org, pop2.example.org\n"
    assert ctx.store.get_setting("pop3.split_hosts") == ["pop.example.org", "pop2.example.org"]
    assert run("settings", "set", "secrets.allow_file_fallback", "yes")[0] == 2  # gone: the vault replaced it
    code, out, _ = run("settings", "reset", "network.timeout_seconds")
    assert (code, out) == (0, "network.timeout_seconds = 20 (default)\n")
    assert ctx.store.get_setting("network.timeout_seconds") == 20


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("set", "network.timeout_seconds", "soon"), "network.timeout_seconds must be a whole number, not 'soon'"),
        (("set", "refresh.lead_time_seconds", "-5"), "refresh.lead_time_seconds must not be negative"),
        (("set", "redirect.http_type", "gopher"), "redirect.http_type must be one of http, https, not 'gopher'"),
        (("set", "no.such", "1"), "unknown setting 'no.such' (known settings: redirect.http_type"),
        (("get", "no.such"), "unknown setting 'no.such'"),
        (("reset", "no.such"), "unknown setting 'no.such'"),
    ],
)
def test_bad_settings_exit_2_and_change_nothing(run, ctx, argv, message):
    before = ctx.store.settings()
    code, out, err = run("settings", *argv)
    assert code == 2 and out == ""
    assert err.startswith("tokendesk: ") and message in err
    assert ctx.store.settings() == before


def test_redirect_uri_must_stay_https_unless_loopback(run, ctx):
    code, _, err = run("settings", "set", "redirect.fqdn", "tokens.example.org")
    assert code == 2
    assert ("the redirect URI would be http://tokens.example.org/oauth2/callback, which must use https" in err)
    assert ctx.store.get_setting("redirect.fqdn") == "127.0.0.1:8765"
    # switching to https first makes the remote host acceptable
    assert run("settings", "set", "redirect.http_type", "https")[0] == 0
    assert run("settings", "set", "redirect.fqdn", "tokens.example.org")[0] == 0
    code, out, _ = run("settings", "get")
    assert "Redirect URI: https://tokens.example.org/oauth2/callback" in out
    # and back to http is refused while the host is remote
    code, _, err = run("settings", "set", "redirect.http_type", "http")
    assert code == 2 and "must use https" in err
    assert ctx.store.get_setting("redirect.http_type") == "https"


def test_reset_cannot_produce_an_http_redirect_to_a_remote_host(run, ctx):
    run("settings", "set", "redirect.http_type", "https")
    run("settings", "set", "redirect.fqdn", "tokens.example.org")
    code, _, err = run("settings", "reset", "redirect.http_type")
    assert code == 2
    assert "the redirect URI would be http://tokens.example.org/oauth2/callback" in err
    assert ctx.store.get_setting("redirect.http_type") == "https"


# ---- doctor


def test_doctor_lines(run, ctx, monkeypatch, tokendesk_home):
    probes = []

    def fake_probe(code: str, timeout: float = 30.0):
        probes.append(code)
        if "QSystemTrayIcon" in code:
            return True, "offscreen without a system tray"
        return True, "QtWebEngine 6.12.0"

    monkeypatch.setattr(system_commands, "_qt_probe", fake_probe)
    code, out, err = run("doctor")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 7
    assert lines[0].startswith("[ok] secrets: no secret stored yet; the vault will keep its key in the system "
                               "keyring; keyring ") and "MemoryKeyring: works" in lines[0]
    assert lines[1].startswith(f"[ok] data directory: {tokendesk_home} (writable); database ")
    assert f"mode 600; schema {SCHEMA_VERSION}/{SCHEMA_VERSION}; 0 configurations" in lines[1]
    assert lines[2] == ("[!!] tray: offscreen without a system tray; notifications go to the window bar "
                        "(and D-Bus where available)")
    assert lines[3] == "[ok] QtWebEngine: QtWebEngine 6.12.0"
    assert lines[4] == f"[ok] log: {tokendesk_home}/logs/tokendesk.log not written yet (the window writes it)"
    assert lines[5] == "[ok] window: not running"
    assert lines[6].startswith("[ok] proxy: https: ") and lines[6].endswith(
        "loopback (127.0.0.0/8, ::1, localhost) never goes through a proxy")
    assert len(probes) == 2
    # with a window running on this data directory (its socket) and a log it wrote
    from desktop import instance

    listener = instance.claim(tokendesk_home)
    (tokendesk_home / "logs").mkdir()
    (tokendesk_home / "logs" / "tokendesk.log").write_text("x" * 3000)
    served = []
    server = threading.Thread(target=lambda: (listener.setblocking(True), served.append(
        instance.read_command(listener))))
    server.start()
    try:
        lines = run("doctor")[1].splitlines()
    finally:
        server.join(5)
        listener.close()
    assert lines[4] == f"[ok] log: {tokendesk_home}/logs/tokendesk.log (2 KB with its rotated files)"
    assert lines[5] == "[ok] window: running on this data directory"
    assert served == ["minimized"]  # the question changes nothing in the window


def test_doctor_without_a_keyring_and_with_a_broken_qt(run, monkeypatch):
    keyring.set_keyring(fail.Keyring())
    monkeypatch.setattr(system_commands, "_qt_probe", lambda code, timeout=30.0: (False, "libEGL.so.1: not found"))
    code, out, _ = run("doctor", "--json")
    assert code == 0  # warnings, not failures: the app still works
    checks = {c["check"]: c for c in json.loads(out)}
    assert checks["secrets"]["ok"] is True  # nothing to protect yet; a passphrase will do it
    assert checks["secrets"]["detail"] == ("no secret stored yet; the vault will keep its key in a passphrase (no "
                                           "usable keyring); keyring fail.Keyring: no keyring backend is available")
    assert checks["tray"]["ok"] is False and "Qt cannot start: libEGL.so.1: not found" in checks["tray"]["detail"]
    assert checks["QtWebEngine"]["detail"].startswith("not usable (libEGL.so.1: not found); use the system browser")


def test_doctor_says_which_vault_mode_and_why(run, ctx, make_config, monkeypatch):
    monkeypatch.setattr(system_commands, "_qt_probe", lambda code, timeout=30.0: (True, "x"))
    make_config("Keyed")
    checks = {c["check"]: c for c in json.loads(run("doctor", "--json")[1])}
    assert checks["secrets"]["ok"] is True
    assert checks["secrets"]["detail"].startswith("encrypted vault, data key in the system keyring; why: system "
                                                  "keyring (")
    ctx.vault.use_passphrase("a good passphrase")
    keyring.set_keyring(fail.Keyring())
    checks = {c["check"]: c for c in json.loads(run("doctor", "--json")[1])}
    assert checks["secrets"]["detail"].startswith("encrypted vault, data key protected by a passphrase; why: chosen "
                                                  "by the admin; keyring fail.Keyring: no keyring backend")


def test_a_database_from_a_newer_tokendesk_is_an_error_on_stderr(tokendesk_home, capsys):
    db = tokendesk_home / "tokendesk.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    code = main(["list"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert f"The database has schema version {SCHEMA_VERSION + 1}" in err and "Update Tokendesk" in err
    assert "Traceback" not in err


# ---- real processes: no keyring (a passphrase), a shared keyring, no Qt on the CLI path


@pytest.fixture
def cli_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENDESK_", "DBUS_"))}
    env.update(TOKENDESK_HOME=str(tmp_path / "cli-home"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               PYTHONPATH=str(ROOT))
    return env


def tokendesk(env, *argv: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOKENDESK), *argv], input=stdin, capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT, start_new_session=True)  # no terminal: nobody to prompt


def database_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def test_subprocess_without_keyring_refuses_then_works_with_a_passphrase(cli_env, tmp_path):
    secret = "proc-secret-" + uuid.uuid4().hex
    args = ["add", "--template", "Google Mail", "--name", "Gmail", "--client-id", "x.apps.googleusercontent.com",
            "--client-secret-file", "-"]
    refused = tokendesk(cli_env, *args, stdin=secret)
    assert refused.returncode == 1
    assert "No usable keyring (no keyring backend is available" in refused.stderr
    assert "tokendesk vault passphrase" in refused.stderr
    assert secret not in refused.stdout + refused.stderr

    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("proc passphrase 1\n")
    made = tokendesk(cli_env, "vault", "passphrase", "--new-passphrase-file", str(passphrase_file))
    assert made.returncode == 0, made.stderr
    added = tokendesk(cli_env, *args, stdin=secret + "\n")
    assert added.returncode == 4  # locked: no passphrase given, no terminal
    assert "protected by a passphrase that has not been given" in added.stderr
    env = dict(cli_env, TOKENDESK_PASSPHRASE_FILE=str(passphrase_file))
    added = tokendesk(env, *args, stdin=secret + "\n")
    assert added.returncode == 0, added.stderr
    assert "secrets in the encrypted vault, key protected by a passphrase (unlocked)" in added.stdout
    assert secret not in added.stdout + added.stderr

    listed = tokendesk(cli_env, "list", "--json")  # listing needs no passphrase
    assert [row["name"] for row in json.loads(listed.stdout)] == ["Gmail"]
    shown = tokendesk(cli_env, "show", "gmail")
    assert "client secret: stored" in shown.stdout and secret not in shown.stdout
    exported = tokendesk(env, "export", "--include-secrets", "-o", "-")
    assert exported.returncode == 0 and f"ClientSecret: {secret}" in exported.stdout

    db = Path(cli_env["TOKENDESK_HOME"]) / "tokendesk.sqlite3"
    assert secret.encode() not in database_bytes(db) and b"proc passphrase 1" not in database_bytes(db)
    status = tokendesk(cli_env, "vault", "status")
    assert "vault: data key protected by a passphrase" in status.stdout
    assert "why: no usable keyring: no keyring backend is available" in status.stdout or "why: chosen" in status.stdout
    deleted = tokendesk(cli_env, "delete", "Gmail")
    assert deleted.returncode == 0


def test_subprocesses_share_the_vault_through_the_keyring(cli_env, shared_keyring, ctx, make_config):
    backend, child_env = shared_keyring
    saved = make_config("Shared mailbox", secret="shared-" + uuid.uuid4().hex)
    env = dict(cli_env, TOKENDESK_HOME=str(ctx.store.path.parent), **child_env)
    status = tokendesk(env, "vault", "status", "--json")
    data = json.loads(status.stdout)
    assert data["mode"] == "keyring" and data["secrets"] == 1
    exported = tokendesk(env, "export", "--include-secrets", "-o", "-")
    assert exported.returncode == 0, exported.stderr
    assert ctx.configurations.client_secret(saved) in exported.stdout
    rekeyed = tokendesk(env, "vault", "rekey")
    assert rekeyed.returncode == 0 and rekeyed.stdout.startswith("Re-encrypted 1 secret under a new data key")
    assert ctx.configurations.client_secret(saved).startswith("shared-")  # this process follows the new key
    assert [u for (s, u) in backend.passwords if s.startswith("tokendesk:")] == [
        f"vault-data-key/{ctx.vault.info().key_id}"]


def test_subprocess_errors_go_to_stderr_with_exit_codes(cli_env):
    missing = tokendesk(cli_env, "show", "nothing")
    assert (missing.returncode, missing.stdout) == (3, "")
    assert missing.stderr.startswith("tokendesk: No configuration named 'nothing'")
    usage = tokendesk(cli_env, "settings", "set", "network.timeout_seconds", "x")
    assert usage.returncode == 2 and usage.stdout == "" and "must be a whole number" in usage.stderr
    doctor = tokendesk(cli_env, "doctor")
    assert doctor.returncode == 0
    assert doctor.stdout.startswith("[ok] secrets: no secret stored yet; the vault will keep its key in a passphrase")
    assert "keyring fail.Keyring: no keyring backend is available" in doctor.stdout
    assert "\n[ok] data directory: " in doctor.stdout and "mode 600" in doctor.stdout
    assert "\n[ok] QtWebEngine: QtWebEngine 6." in doctor.stdout


def test_the_cli_path_imports_no_qt(cli_env):
    code = "import sys; from desktop.cli import main; main(['list']); print('PySide6' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env, timeout=60,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("No token configurations yet.")
    assert proc.stdout.splitlines()[-1] == "False"


def test_autostart_on_off_and_state(run, tmp_path, monkeypatch):
    config_home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    code, out, _ = run("autostart")
    assert code == 0 and out.startswith("autostart: off; runs: ")
    code, out, _ = run("autostart", "on")
    assert code == 0 and out.strip().endswith("autostart/tokendesk.desktop")
    assert run("autostart")[1].startswith(f"autostart: on ({config_home}/autostart/tokendesk.desktop)")
    assert run("autostart", "off")[1].strip() == "Autostart removed."
    assert run("autostart", "off")[1].strip() == "Autostart was not on."


def test_add_says_when_the_template_needs_a_client_secret_and_warns_about_the_client_id_shape(run, ctx):
    code, out, err = run(*add_args("Sales Gmail", "Google Mail"))
    assert code == 0
    assert "No client secret was given, and Google Mail needs one: sign-ins fail until you add it with Edit in the " \
           "window or: tokendesk edit 'Sales Gmail' --client-secret-file FILE" in out
    assert "tokendesk: warning: the client ID does not look like a Google Mail client ID" in err
    code, out, err = run("add", "--template", "Microsoft Exchange Online", "--name", "Public",
                         "--client-id", "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9")
    assert code == 0 and "No client secret was given: add one with Edit" in out and "warning" not in err


def test_list_and_show_import_only_their_own_command_module(tmp_path):
    """``tokendesk list``/``show`` are run often (scripts, a team store's 10,000 configurations): their parser holds
    only the configuration commands - no backup, usage, relay or store module, and no YAML (templates)."""
    code = (
        "import sys\n"
        "from desktop.cli import main\n"
        "code = main(['list'])\n"
        "others = sorted(m for m in sys.modules if m.startswith('desktop.cli.') and m.endswith('_commands'))\n"
        "print(code, others, 'yaml' in sys.modules)\n"
    )
    env = dict(os.environ, TOKENDESK_HOME=str(tmp_path), PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    env.pop("TOKENDESK_STORE", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60).stdout.strip().splitlines()[-1]
    assert out == "0 ['desktop.cli.config_commands'] False"
