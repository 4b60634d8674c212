"""A database with a damaged page inside the file, not its header (issue 10, point 9).

Commands that meet the damage say what happened and what to do (not "database disk image is malformed");
``tokendesk doctor`` runs SQLite's quick check and reports the damage; ``tokendesk export --salvage`` writes
every configuration (and, when asked, every client secret) that can still be read and names the rest.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from desktop.cli import main, system_commands
from desktop.services import open_context
from tests.support.damaged_store import build_damaged, fill_store

ROOT = Path(__file__).resolve().parent.parent
COUNT = 200


def _damaged(ctx, table: str) -> SimpleNamespace:
    d = build_damaged(ctx, table, COUNT)
    d.ctx = open_context()
    return d


@pytest.fixture
def damaged(ctx):
    """200 configurations with client secrets; then a leaf page of token_config overwritten."""
    d = _damaged(ctx, "token_config")
    yield d
    d.ctx.close()


@pytest.fixture
def damaged_secrets(ctx):
    """The same, but the damaged page belongs to config_secret (the vault's sealed secrets)."""
    d = _damaged(ctx, "config_secret")
    yield d
    d.ctx.close()


@pytest.fixture
def run(capsys):
    def invoke(ctx, *argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv), context_factory=lambda: ctx)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def _says_damaged(err: str, path: Path) -> None:
    assert f"The database {path} is damaged (database disk image is malformed)" in err
    assert "tokendesk export --salvage -o FILE" in err  # what to do
    assert "move the database away" in err and "tokendesk import FILE" in err
    assert "--include-secrets" in err
    assert "Traceback" not in err and "error: database disk image" not in err


def test_list_and_export_say_the_database_is_damaged_and_what_to_do(damaged, run, tmp_path):
    code, out, err = run(damaged.ctx, "list")
    assert code == 1 and out == ""
    _says_damaged(err, damaged.path)
    code, out, err = run(damaged.ctx, "export", "-o", str(tmp_path / "x.yml"))
    assert code == 1 and not (tmp_path / "x.yml").exists()
    _says_damaged(err, damaged.path)


def test_a_real_tokendesk_list_process_says_it_too(damaged, tokendesk_home):
    damaged.ctx.close()
    env = dict(os.environ, TOKENDESK_HOME=str(tokendesk_home), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "desktop", "list"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    _says_damaged(proc.stderr, damaged.path)


def test_doctor_runs_a_quick_check_and_reports_the_damage(damaged, ctx, run, monkeypatch):
    monkeypatch.setattr(system_commands, "_qt_probe", lambda code, timeout=30.0: (True, "x"))
    code, out, err = run(damaged.ctx, "doctor", "--json")
    assert code == 1, err
    checks = {c["check"]: c for c in json.loads(out)}
    data = checks["data directory"]
    assert data["ok"] is False
    assert "integrity check FAILED" in data["detail"]
    assert "tokendesk export --salvage -o FILE" in data["detail"]
    code, out, _ = run(damaged.ctx, "doctor")
    assert code == 1 and "[!!] data directory:" in out


def test_doctor_on_a_healthy_database_says_its_integrity_check_passed(ctx, run, make_config, monkeypatch):
    monkeypatch.setattr(system_commands, "_qt_probe", lambda code, timeout=30.0: (True, "x"))
    make_config("Healthy")
    code, out, _ = run(ctx, "doctor", "--json")
    assert code == 0
    data = {c["check"]: c for c in json.loads(out)}["data directory"]
    assert data["ok"] is True and "integrity check passed" in data["detail"]


def _salvaged_and_skipped(err: str) -> list[str]:
    line = next(ln for ln in err.splitlines() if "could not be read" in ln and "configuration" in ln)
    return [part.strip(" '.") for part in line.split("could not be read: ", 1)[1].split(", ")]


def test_salvage_writes_every_readable_configuration_and_names_the_rest(damaged, run, tmp_path):
    target = tmp_path / "salvaged.yml"
    code, out, err = run(damaged.ctx, "export", "--salvage", "-o", str(target))
    assert code == 0, err
    records = yaml.safe_load(target.read_text())
    names = [r["Name"] for r in records]
    skipped = _salvaged_and_skipped(err)
    assert 1 <= len(skipped) <= 30, skipped  # one leaf page's worth
    assert {n.casefold() for n in names} | set(skipped) == {n.casefold() for n in damaged.clean}
    assert not {n.casefold() for n in names} & set(skipped)
    for record in records:
        assert record == damaged.clean[record["Name"]]
    assert out.startswith(f"Salvaged {len(names)} of {COUNT} configurations without client secrets.")
    assert f"File: {target}" in out
    assert "move the database away" in err and "tokendesk import" in err  # the next steps

    # the file imports into a new store as it is
    fresh_home = tmp_path / "fresh"
    fresh = open_context(fresh_home / "tokendesk.sqlite3")
    try:
        code, out, err = run(fresh, "import", str(target))
        assert code == 0, err
        assert sorted(fresh.store.names()) == sorted(names)
    finally:
        fresh.close()


def test_salvage_with_secrets_decrypts_every_readable_client_secret(damaged, run, tmp_path):
    target = tmp_path / "salvaged-secrets.yml"
    code, out, err = run(damaged.ctx, "export", "--salvage", "--include-secrets", "-o", str(target))
    assert code == 0, err
    records = yaml.safe_load(target.read_text())
    assert len(records) >= COUNT - 30
    for record in records:
        assert record["Config"]["ClientSecret"] == damaged.secrets[record["Name"]]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert f"with {len(records)} client secrets" in out
    assert "warning: The export contains client secrets in clear text" in err


def test_salvage_encrypted_for_a_passphrase(damaged, run, tmp_path):
    from desktop.backup.encrypted import decrypt_bytes

    passphrase = tmp_path / "pass.txt"
    passphrase.write_text("correct horse battery staple\n")
    target = tmp_path / "salvaged.yml.age"
    code, out, err = run(damaged.ctx, "export", "--salvage", "--include-secrets", "--encrypt",
                         "--passphrase-file", str(passphrase), "-o", str(target))
    assert code == 0, err
    assert "Encrypted for a passphrase (age)." in out
    records = yaml.safe_load(decrypt_bytes(target.read_bytes(), "correct horse battery staple").decode())
    assert len(records) >= COUNT - 30
    assert all(r["Config"]["ClientSecret"] == damaged.secrets[r["Name"]] for r in records)


def test_salvage_with_a_damaged_secrets_page_keeps_every_configuration(damaged_secrets, run, tmp_path):
    d = damaged_secrets
    code, out, err = run(d.ctx, "list")  # the configurations themselves are fine
    assert code == 0
    target = tmp_path / "salvaged.yml"
    code, out, err = run(d.ctx, "export", "--salvage", "--include-secrets", "-o", str(target))
    assert code == 0, err
    records = yaml.safe_load(target.read_text())
    assert len(records) == COUNT
    without = [r["Name"] for r in records if "ClientSecret" not in r["Config"]]
    assert 1 <= len(without) <= 60
    line = next(ln for ln in err.splitlines() if "could not be read (exported without" in ln)
    for name in without:
        assert f"'{name}'" in line
    for record in records:
        if record["Name"] not in without:
            assert record["Config"]["ClientSecret"] == d.secrets[record["Name"]]


def test_salvage_refuses_names(damaged, run):
    code, _, err = run(damaged.ctx, "export", "--salvage", "Config 001")
    assert code == 2 and "--salvage" in err


def test_salvage_when_the_store_itself_cannot_be_opened(ctx, capsys, tmp_path):
    """The page of ``meta`` (store id, the vault's description) is damaged: the store does not open, the
    configurations are read straight from the file, and the client secrets are named as unreadable."""
    import sqlite3

    from tests.support.damaged_store import checkpoint

    secrets = fill_store(ctx, 40)
    path = ctx.store.path
    ctx.close()
    checkpoint(path)
    raw = sqlite3.connect(path)
    page = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'meta'").fetchone()[0]
    page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    raw.close()
    with open(path, "r+b") as fh:
        fh.seek((page - 1) * page_size)
        fh.write(b"\xff" * 64)

    code = main(["list"], context_factory=open_context)
    out, err = capsys.readouterr()
    assert code == 1
    _says_damaged(err, path)
    target = tmp_path / "salvaged.yml"
    code = main(["export", "--salvage", "--include-secrets", "-o", str(target)], context_factory=open_context)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "the store cannot be opened (database disk image is malformed); reading the file directly, without " \
           "client secrets" in err
    assert "40 client secrets could not be read (exported without them)" in err
    records = yaml.safe_load(target.read_text())
    assert sorted(r["Name"] for r in records) == sorted(secrets)
    assert not any("ClientSecret" in r["Config"] for r in records)


def test_the_windows_token_agent_answers_with_the_same_words(damaged):
    """``tokendesk token NAME`` answered by a running window: a configuration on the damaged page."""
    from desktop import agent

    lost = None
    for name in damaged.clean:
        try:
            damaged.ctx.store.find(name)
        except Exception:
            lost = name
            break
    assert lost is not None
    answer = agent.TokenAgent(damaged.ctx, program_for=lambda pid: "")({"op": "token", "name": lost}, 1)
    assert answer["ok"] is False and answer["exit"] == 1
    _says_damaged(answer["message"], damaged.path)
