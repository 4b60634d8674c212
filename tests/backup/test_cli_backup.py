"""``tokendesk export`` and ``tokendesk import``: in-process with the test context, plus real processes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.backup.conftest import snapshot

ROOT = Path(__file__).resolve().parents[2]
TOKENDESK = Path(sys.executable).with_name("tokendesk")


def test_export_default_file_name_in_the_current_folder(run, make_config, tmp_path, monkeypatch):
    make_config("Support mailbox", secret="s3cret")
    monkeypatch.chdir(tmp_path)
    code, out, err = run("export")
    assert code == 0 and err == ""
    [path] = list(tmp_path.glob("OAuth2TokenConfigurationExport_*.yml"))
    assert len(path.name) == len("OAuth2TokenConfigurationExport_20240531_140509.yml")
    assert out == f"Exported 1 configuration without client secrets. File: {path}\n"
    assert "s3cret" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 != 0o077  # an ordinary file


def test_export_with_secrets_warns_and_writes_0600(run, make_config, tmp_path):
    make_config("Support mailbox", secret="s3cret")
    target = tmp_path / "with-secrets.yml"
    code, out, err = run("export", "--include-secrets", "-o", str(target))
    assert code == 0
    assert err.startswith("tokendesk: warning: The export contains client secrets in clear text.")
    assert "Use --encrypt to protect the file with a passphrase (age)" in err  # and Znuny reads only plain YAML
    assert "Znuny itself reads only plain YAML" in err
    assert out.startswith("Exported 1 configuration with 1 client secret.")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert yaml.safe_load(target.read_text())[0]["Config"]["ClientSecret"] == "s3cret"


def test_export_to_stdout_and_selected_names(run, make_config):
    make_config("One")
    make_config("Two")
    code, out, err = run("export", "two", "-o", "-")
    assert code == 0
    assert [r["Name"] for r in yaml.safe_load(out)] == ["Two"]
    assert err == "Exported 1 configuration without client secrets.\n"


def test_export_unknown_name_exits_3_and_writes_nothing(run, make_config, tmp_path):
    make_config("One")
    code, out, err = run("export", "One", "Missing", "-o", str(tmp_path / "x.yml"))
    assert (code, out) == (3, "")
    assert err == (
        "tokendesk: No configuration named 'Missing'; nothing was exported. 'tokendesk list' shows the names.\n"
    )
    assert not (tmp_path / "x.yml").exists()


def test_import_reports_every_record_and_applies(run, ctx, make_config, fixtures_dir):
    make_config("Gmail helpdesk", template="Google Mail", secret="kept")
    code, out, err = run("import", str(fixtures_dir / "znuny7_export.yml"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "   1  new         'Exchange Online support mailbox': will be added"
    assert lines[1] == "   2  new         'Exchange app-only': will be added"  # template names match case-insensitively
    assert lines[2] == "   3  skipped     'Gmail helpdesk': 'Gmail helpdesk' exists; tick overwrite to replace it"
    assert "3 records: 2 new, 0 overwrites, 1 skipped, 0 invalid" in lines
    assert "Imported 2 configurations: 2 new, 0 overwritten; 1 skipped." in lines
    assert ctx.store.names() == ["Exchange app-only", "Exchange Online support mailbox", "Gmail helpdesk"]
    assert "made-up" not in out + err  # the file's client secrets are never printed


def test_import_overwrite_and_dry_run(run, ctx, make_config, fixtures_dir, memory_keyring):
    original = make_config("Gmail helpdesk", template="Google Mail", secret="kept")
    before = snapshot(ctx, memory_keyring)
    code, out, _ = run("import", str(fixtures_dir / "znuny7_export.yml"), "--overwrite", "--dry-run")
    assert code == 0
    assert "   3  overwrites  'Gmail helpdesk': replaces the stored 'Gmail helpdesk'; keeps the stored template " \
           "name 'Google Mail' (it is permanent)" in out.splitlines()[2]
    assert out.splitlines()[-1] == "Dry run: nothing was changed."
    assert snapshot(ctx, memory_keyring) == before

    code, out, _ = run("import", str(fixtures_dir / "znuny7_export.yml"), "--overwrite")
    assert code == 0
    assert "Imported 3 configurations: 2 new, 1 overwritten; 0 skipped." in out
    gmail = ctx.store.get("Gmail helpdesk")
    assert gmail.id == original.id  # the same configuration: its token stays attached
    assert gmail.template_name == "Google Mail"
    assert gmail.client_id.startswith("123456789012-")


def test_import_with_problems_exits_1_and_changes_nothing(run, ctx, make_config, tmp_path, memory_keyring):
    make_config("Existing")
    text = export_text = run("export", "-o", "-")[1]
    text = export_text.replace("https://login.microsoftonline.com/common/oauth2/v2.0/token",
                               "http://login.example.com/token", 1)
    bad = tmp_path / "bad.yml"
    bad.write_text(text + "- Name: Existing\n  Config: {}\n")
    before = snapshot(ctx, memory_keyring)
    code, out, err = run("import", str(bad), "--overwrite")
    assert code == 1
    assert "   1  invalid     'Existing'" in out
    assert "        Config.Requests.TokenByAuthorizationCode.Request.URL (Token endpoint): must use https" in out
    assert "   2  invalid     'Existing'" in out
    assert "'Existing' occurs 2 times in the file (records 1, 2)" in out
    assert err.startswith("tokendesk: nothing was imported: ")
    assert snapshot(ctx, memory_keyring) == before


def test_import_of_a_broken_file(run, tmp_path):
    bad = tmp_path / "image.yml"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    code, out, err = run("import", str(bad))
    assert code == 1
    assert out.startswith("The file contains binary data")
    assert "records:" not in out


# ---- real processes
@pytest.fixture
def cli_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENDESK_", "DBUS_"))}
    env.update(TOKENDESK_HOME=str(tmp_path / "cli-home"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               PYTHONPATH=str(ROOT))
    return env


def tokendesk(env, *argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOKENDESK), *argv], capture_output=True, text=True, env=env, timeout=60, cwd=cwd,
                          start_new_session=True)  # no terminal: nobody to ask for a passphrase


def test_subprocess_round_trip_through_the_vault(cli_env, shared_keyring, tmp_path, fixtures_dir):
    backend, child_env = shared_keyring
    env = dict(cli_env, **child_env)
    imported = tokendesk(env, "import", str(fixtures_dir / "znuny7_export.yml"))
    assert imported.returncode == 0, imported.stderr
    exported = tokendesk(env, "export", "--include-secrets", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    [path] = list(tmp_path.glob("OAuth2TokenConfigurationExport_*.yml"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    records = yaml.safe_load(path.read_text())
    secrets = {r["Name"]: r["Config"]["ClientSecret"] for r in records}
    assert secrets == {
        "Exchange app-only": "made-up-app-only-secret",
        "Exchange Online support mailbox": "made-up-microsoft-secret~1",
        "Gmail helpdesk": "GOCSPX-made-up-google-secret",
    }
    assert len([u for (s, u) in backend.passwords if s.startswith("tokendesk:")]) == 1  # the data key only
    db = Path(cli_env["TOKENDESK_HOME"]) / "tokendesk.sqlite3"
    raw = b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    assert [s for s in secrets.values() if s.encode() in raw] == []


def test_subprocess_import_without_any_secret_store_fails_whole(cli_env, fixtures_dir):
    refused = tokendesk(cli_env, "import", str(fixtures_dir / "znuny7_export.yml"))
    assert refused.returncode == 1
    assert "nothing was imported: a client secret could not be stored (No usable keyring" in refused.stderr
    assert "tokendesk vault passphrase" in refused.stderr
    listed = tokendesk(cli_env, "list")
    assert listed.stdout.startswith("No token configurations yet.")


def test_backup_commands_import_no_qt_and_no_pyrage(cli_env, tmp_path, fixtures_dir):
    code = (
        "import sys; from desktop.cli import main; "
        f"main(['import', '--dry-run', {str(fixtures_dir / 'znuny6_export.yml')!r}]); "
        f"main(['export', '-o', {str(tmp_path / 'x.yml')!r}]); "
        "print('PySide6' in sys.modules, 'pyrage' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env, timeout=60,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "False False"  # pyrage only for encrypted files
