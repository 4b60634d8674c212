"""The vault on the real Secret Service (gnome-keyring over D-Bus): one keyring item per store, secrets only
encrypted in the database, a store of the earlier version moved in, and imports killed at random moments.

Run (private HOME, private session bus, unlocked gnome-keyring; needs Debian gnome-keyring and dbus-x11)::

    HOME="$(mktemp -d)" dbus-run-session -- sh -c 'eval "$(printf pw | gnome-keyring-daemon --unlock \
        --components=secrets)"; .venv/bin/pytest tests/test_secret_service.py -m secretservice -q'
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN
from tests.support.legacy_store import build_legacy_store

pytestmark = pytest.mark.secretservice

ROOT = Path(__file__).resolve().parents[1]
TOKENDESK = ROOT / ".venv" / "bin" / "tokendesk"


@pytest.fixture(autouse=True)
def _session_bus():
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.fail("no D-Bus session bus: run this lane under dbus-run-session with gnome-keyring (see the docstring)")


def items_of(service: str) -> list[str]:
    """The user names of every Secret Service item of ``service``, straight from gnome-keyring."""
    import secretstorage

    conn = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(conn)
        return sorted(item.get_attributes().get("username", "") for item in collection.search_items(
            {"service": service}))
    finally:
        conn.close()


def remove_items(service: str) -> None:
    import secretstorage

    conn = secretstorage.dbus_init()
    try:
        for item in secretstorage.get_default_collection(conn).search_items({"service": service}):
            item.delete()
    finally:
        conn.close()


def raw_bytes(*paths: Path) -> bytes:
    data = b""
    for path in paths:
        for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if candidate.exists():
                data += candidate.read_bytes()
    return data


@pytest.fixture
def real_ctx(tokendesk_home):
    from desktop.services import open_context

    ctx = open_context()
    yield ctx
    service = f"tokendesk:{ctx.store.store_id}"
    ctx.close()
    remove_items(service)


def test_the_secret_service_is_usable_and_keyrings_own_choice():
    import keyring

    from desktop.store.keyring_access import probe_keyring

    probe = probe_keyring()
    assert probe.usable, probe.reason
    assert "SecretService" in probe.backend
    backend = keyring.get_keyring()
    assert f"{type(backend).__module__}.{type(backend).__name__}" == "keyring.backends.SecretService.Keyring"
    assert items_of("tokendesk:probe") == []  # the probe cleans up after itself


def test_one_item_per_store_and_no_secret_in_the_database(real_ctx):
    from desktop.services import open_context

    ctx = real_ctx
    service = f"tokendesk:{ctx.store.store_id}"
    values = {}
    for i in range(25):
        cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration(f"Real {i}")
        cfg.client_id = f"real-client-{i}"
        secret = f"client-{uuid.uuid4().hex}"
        saved = ctx.configurations.add(cfg, secret)
        access, refresh = f"access-{uuid.uuid4().hex}", f"refresh-{uuid.uuid4().hex}"
        with ctx.store.transaction():
            ctx.secrets.set_for(saved.id, ACCESS_TOKEN, access)
            ctx.secrets.set_for(saved.id, REFRESH_TOKEN, refresh)
            ctx.store.update_state(saved.id, has_access_token=True, has_refresh_token=True)
        values[saved.id] = (secret, access, refresh)
    info = ctx.vault.info()
    assert items_of(service) == [f"vault-data-key/{info.key_id}"]
    assert info.backend == "keyring.backends.SecretService.Keyring"  # remembered: later starts load it directly
    raw = raw_bytes(ctx.store.path)
    assert b"real-client-3" in raw  # the scan reads the right file
    assert [v for triple in values.values() for v in triple if v.encode() in raw] == []

    other = open_context()  # another process: reads the key item from gnome-keyring
    try:
        assert {cid: (other.secrets.get_for(cid, CLIENT_SECRET), other.secrets.get_for(cid, ACCESS_TOKEN),
                      other.secrets.get_for(cid, REFRESH_TOKEN)) for cid in values} == values
    finally:
        other.close()
    assert ctx.vault.rekey() == 75
    assert items_of(service) == [f"vault-data-key/{ctx.vault.info().key_id}"]
    ctx.vault.use_passphrase("real passphrase 1")
    assert items_of(service) == []
    ctx.vault.use_keyring()
    assert items_of(service) == [f"vault-data-key/{ctx.vault.info().key_id}"]


def test_a_store_of_the_earlier_version_moves_in_and_its_items_go(tokendesk_home):
    """A schema-5 store, written the way the earlier version wrote it (one item per secret)."""
    from desktop.services import open_context

    old = build_legacy_store(tokendesk_home / "tokendesk.sqlite3", count=5)
    assert len(items_of(old.service)) == 15
    ctx = open_context()
    try:
        for cid, per_kind in old.secrets.items():
            for kind, value in per_kind.items():
                assert ctx.secrets.get_for(cid, kind) == value
        assert items_of(old.service) == [f"vault-data-key/{ctx.vault.info().key_id}"]
        assert not ctx.vault.info().legacy
        raw = raw_bytes(ctx.store.path)
        assert [v for v in old.all_values() if v.encode() in raw] == []
    finally:
        ctx.close()
        remove_items(old.service)


# ---- imports killed at random moments


def _records(count: int) -> tuple[str, dict[str, str]]:
    template = {"TemplateName": "Generic OAuth2", "ClientID": "", "Scope": "openid",
                "Requests": {"AuthorizationCode": {"Request": {"URL": "https://idp.example.org/auth"}},
                             "TokenByAuthorizationCode": {"Request": {"URL": "https://idp.example.org/token"}},
                             "TokenByRefreshToken": {"Request": {"URL": "https://idp.example.org/token"}}}}
    records, secrets = [], {}
    for i in range(count):
        name = f"Killed import {i:05d}"
        secret = f"kill-secret-{i:05d}-{uuid.uuid4().hex}"
        config = dict(template, ClientID=f"client-{i}", ClientSecret=secret)
        records.append({"Name": name, "ValidID": 1, "Config": config})
        secrets[name] = secret
    return yaml.safe_dump(records, sort_keys=False), secrets


def _check_after_kill(db: Path, secrets: dict[str, str], env: dict[str, str]) -> int:
    if not db.exists():
        return 0  # killed before the database was made
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = conn.execute("SELECT COUNT(*) FROM token_config").fetchone()[0]
        assert count in (0, len(secrets)), f"partial import: {count} of {len(secrets)}"
    finally:
        conn.close()
    if count:
        exported = subprocess.run([str(TOKENDESK), "export", "--include-secrets", "-o", "-"], capture_output=True,
                                  text=True, env=env, timeout=120, start_new_session=True)
        assert exported.returncode == 0, exported.stderr
        got = {r["Name"]: r["Config"].get("ClientSecret") for r in yaml.safe_load(exported.stdout)}
        assert got == secrets  # every configuration present can use its secret
    return count


@pytest.mark.parametrize("mode", ["keyring", "passphrase"])
def test_an_import_killed_at_random_moments_is_all_or_nothing(mode, tmp_path):
    text, secrets = _records(2000)
    source = tmp_path / "import.yml"
    source.write_text(text)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("kill test passphrase\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOKENDESK_")}
    rng = random.Random(20261130)
    outcomes = []
    services = []
    durations: list[float] = []
    for trial in range(10):
        home = tmp_path / f"home-{trial}"
        env = dict(base, TOKENDESK_HOME=str(home))
        if mode == "passphrase":
            env["TOKENDESK_PASSPHRASE_FILE"] = str(passphrase)
            made = subprocess.run([str(TOKENDESK), "vault", "passphrase", "--new-passphrase-file", str(passphrase)],
                                  capture_output=True, text=True, env=env, timeout=60, start_new_session=True)
            assert made.returncode == 0, made.stderr
        if not durations:  # one full run first, to know how long an import takes here
            start = time.monotonic()
            done = subprocess.run([str(TOKENDESK), "import", str(source)], capture_output=True, text=True, env=env,
                                  timeout=300, start_new_session=True)
            durations.append(time.monotonic() - start)
            assert done.returncode == 0, done.stderr
            outcomes.append(("complete", _check_after_kill(home / "tokendesk.sqlite3", secrets, env)))
        else:
            proc = subprocess.Popen([str(TOKENDESK), "import", str(source)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, env=env, start_new_session=True)
            time.sleep(rng.uniform(0.05, durations[0] * 0.85))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            outcomes.append((proc.returncode, _check_after_kill(home / "tokendesk.sqlite3", secrets, env)))
        if (home / "tokendesk.sqlite3").exists():
            conn = sqlite3.connect(home / "tokendesk.sqlite3")
            row = conn.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
            conn.close()
            if row:
                services.append(f"tokendesk:{row[0]}")
    try:
        logging.getLogger(__name__).warning("kill trials (%s, import %.1f s): %s", mode, durations[0], outcomes)
        killed = [o for o in outcomes if o[0] == -signal.SIGKILL]
        assert len(outcomes) == 10 and len(killed) >= 5  # most were really killed midway or before
        for service in services:  # never more than the one key item per store
            assert len(items_of(service)) <= (1 if mode == "keyring" else 0)
    finally:
        for service in services:
            remove_items(service)


def test_database_wal_and_log_hold_no_secret(tokendesk_home, log_home):
    """Keyring and passphrase mode: the raw bytes of the database, its WAL and the log file."""
    from desktop import logfile
    from desktop.backup import apply_import, export_configurations, parse_import, plan_import
    from desktop.services import open_context

    logfile.enable(log_home)
    text, secrets = _records(50)
    for mode in ("keyring", "passphrase"):
        ctx = open_context(Path(tokendesk_home) / f"{mode}.sqlite3",
                           passphrase_provider=lambda purpose: "scan passphrase 1")
        try:
            if mode == "passphrase":
                ctx.vault.use_passphrase("scan passphrase 1")
            plan = plan_import(ctx, parse_import(text, templates=ctx.templates))
            apply_import(ctx, plan)
            cfg = ctx.store.get("Killed import 00001")
            with ctx.store.transaction():
                ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, "scan-access-token-" + uuid.uuid4().hex)
            export_configurations(ctx, include_secrets=True)
            ctx.vault.rekey()
            token = ctx.secrets.get_for(cfg.id, ACCESS_TOKEN)
            raw = raw_bytes(ctx.store.path) + b"".join(p.read_bytes() for p in log_home.rglob("*.log*"))
            leaked = [s for s in [*secrets.values(), token, "scan passphrase 1"] if s.encode() in raw]
            assert leaked == [], mode
        finally:
            service = f"tokendesk:{ctx.store.store_id}"
            ctx.close()
            remove_items(service)
