"""The team store end to end, on a real PostgreSQL server: several "desktops" (each its own data directory and
keyring file, running real ``tokendesk`` processes) set up, join, grant, remove; the secrets stay end-to-end
encrypted; one refresh per token across the team against a rotating provider with reuse detection."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN
from tests.servers.oauth import oauth, oauth_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]


class Desktop:
    """One admin's workstation: a data directory and a keyring file of its own (``real_keyring``: the session's
    Secret Service instead)."""

    def __init__(self, base: Path, name: str, *, real_keyring: bool = False) -> None:
        self.name = name
        self.home = base / name
        self.home.mkdir()
        self.keyring_file = str(base / f"{name}-keyring.json")
        env = {k: v for k, v in os.environ.items() if k not in ("TOKENDESK_STORE", "TOKENDESK_MEMBER")}
        env.update(TOKENDESK_HOME=str(self.home), PYTHONPATH=str(ROOT))
        if real_keyring:
            env.pop("PYTHON_KEYRING_BACKEND", None)
            env.pop("TOKENDESK_TEST_KEYRING", None)
        else:
            env.update(PYTHON_KEYRING_BACKEND="tests.support.file_keyring.FileKeyring",
                       TOKENDESK_TEST_KEYRING=self.keyring_file)
        self.env = env

    def run(self, *args: str, timeout: float = 60, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "desktop", *args], env=self.env, cwd=ROOT, text=True,
                              input=stdin, capture_output=True, timeout=timeout)

    def context(self, monkeypatch):
        """This desktop's Context in the test process (its keyring and data directory)."""
        import keyring

        from desktop.services import open_context
        from tests.support.file_keyring import FileKeyring

        monkeypatch.setenv("TOKENDESK_HOME", str(self.home))
        monkeypatch.delenv("TOKENDESK_STORE", raising=False)
        keyring.set_keyring(FileKeyring(self.keyring_file))
        return open_context()


@pytest.fixture
def team(tmp_path, pg_url):
    def make(*names: str) -> list[Desktop]:
        return [Desktop(tmp_path, n) for n in names]
    return make


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _add_with_token(ctx, name: str, *, access: str, refresh: str, expires: datetime, token_url: str = "",
                    client_id: str = "client-x", secret: str = "client-secret-value-123"):
    cfg = ctx.templates.require("Generic OAuth2").new_configuration(name)
    cfg.client_id = client_id
    cfg.scope = "openid offline_access"
    for key in ("AuthorizationCode", "TokenByAuthorizationCode", "TokenByRefreshToken"):
        cfg.set_endpoint(key, token_url or "https://login.example.org/token")
    saved = ctx.configurations.add(cfg, secret)
    ctx.secrets.prepare_write()
    with ctx.store.transaction():
        ctx.secrets.set_for(saved.id, ACCESS_TOKEN, access)
        ctx.secrets.set_for(saved.id, REFRESH_TOKEN, refresh)
        ctx.store.update_state(saved.id, has_access_token=True, has_refresh_token=True, token_expires_at=expires)
    return saved


def _every_value(url: str) -> bytes:
    """Every column of every row of every table of the team store, as bytes (what the server holds)."""
    import psycopg

    out = bytearray()
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    out += value if isinstance(value, bytes) else str(value).encode()
                    out += b"\n"
    return bytes(out)


def test_init_join_grant_remove_and_the_server_never_sees_a_secret(team, pg_url, monkeypatch):
    alice, bob = team("alice", "bob")
    out = _ok(alice.run("store", "init", pg_url, "--name", "alice"))
    assert "you are 'alice', key fingerprint" in out
    status = _ok(alice.run("store", "status"))
    assert status.startswith("Team store postgresql://") and "alice" in status and "tokendesk_admin:" not in status

    ctx = alice.context(monkeypatch)
    assert ctx.store.is_team and ctx.store.member == "alice"
    access = "access-" + "A" * 40
    _add_with_token(ctx, "Helpdesk", access=access, refresh="refresh-" + "R" * 40,
                    expires=datetime.now(UTC) + timedelta(hours=1))

    out = _ok(bob.run("store", "join", pg_url, "--name", "bob"))
    assert "tokendesk store grant bob" in out
    denied = bob.run("token", "Helpdesk")
    assert denied.returncode == 4, denied.stderr
    assert "tokendesk store grant bob" in denied.stderr and access not in denied.stdout + denied.stderr

    members = _ok(alice.run("store", "members"))
    assert "bob" in members and "waiting for a grant" in members and "(you)" in members
    _ok(alice.run("store", "grant", "bob"))
    assert _ok(bob.run("token", "Helpdesk")).strip() == access

    # what the server holds: public keys, wrapped keys and sealed secrets - never a secret or the data key in clear
    held = _every_value(pg_url)
    for secret in (access, "refresh-" + "R" * 40, "client-secret-value-123"):
        assert secret.encode() not in held
    bob_blob = bytes(ctx.store.conn.execute("SELECT wrapped_key FROM member WHERE name = 'bob'").fetchone()[0])
    old_key_id = ctx.vault.key_id

    out = _ok(alice.run("store", "remove", "bob"))
    assert "re-encrypted under a new key" in out
    gone = bob.run("token", "Helpdesk")
    assert gone.returncode == 4 and "not a member" in gone.stderr
    assert "bob" not in _ok(alice.run("store", "members"))

    # the old data key (which bob could still unwrap from a copy he kept) opens nothing written now
    import keyring

    from desktop.store.team_keys import MemberKeyStore, unwrap_data_key
    from desktop.store.vault_crypto import KEY_TABLE, Cipher
    from desktop.store.vault_errors import SecretDamaged
    from tests.support.file_keyring import FileKeyring

    keyring.set_keyring(FileKeyring(bob.keyring_file))
    bob_private = MemberKeyStore(ctx.store.store_id, "bob").load()
    old_key = unwrap_data_key(bob_blob, bob_private, store_id=ctx.store.store_id, member="bob", key_id=old_key_id)
    old = Cipher(old_key, ctx.store.store_id, old_key_id)
    rows = ctx.store.conn.execute("SELECT config_id, field, value FROM config_secret").fetchall()
    assert len(rows) == 3
    for config_id, field, value in rows:
        with pytest.raises(SecretDamaged):
            old.open(KEY_TABLE, config_id, field, value)
    # and alice (still a member) reads them under the new key, in a new process
    assert _ok(alice.run("token", "Helpdesk")).strip() == access
    ctx.close()


def test_join_before_init_and_a_second_init_are_refused_in_words(team, pg_url):
    alice, bob = team("alice", "bob")
    early = bob.run("store", "join", pg_url, "--name", "bob")
    assert early.returncode == 1 and "tokendesk store init URL" in early.stderr
    _ok(alice.run("store", "init", pg_url, "--name", "alice"))
    again = bob.run("store", "init", pg_url, "--name", "bob")
    assert again.returncode == 1 and "set up already" in again.stderr and "join" in again.stderr
    taken = bob.run("store", "join", pg_url, "--name", "alice")
    assert taken.returncode == 1 and "already" in taken.stderr


def test_copy_to_moves_the_local_store_all_or_nothing(team, pg_url, pg_server, monkeypatch):
    (alice,) = team("alice")
    local = alice.context(monkeypatch)
    _add_with_token(local, "Helpdesk", access="access-local-" + "L" * 30, refresh="refresh-local-" + "L" * 30,
                    expires=datetime.now(UTC) + timedelta(hours=1))
    local.store.set_setting("refresh.lead_time_seconds", 420)
    local.close()

    out = _ok(alice.run("store", "copy-to", pg_url, "--name", "alice"))
    assert "1 configuration(s), 3 secret(s)" in out
    assert _ok(alice.run("token", "Helpdesk")).strip() == "access-local-" + "L" * 30
    assert "Team store" in _ok(alice.run("store", "status"))
    listed = _ok(alice.run("list"))
    assert "Helpdesk" in listed
    # a new configuration on the team store gets a fresh id after the copied ones
    team_ctx = alice.context(monkeypatch)
    assert team_ctx.store.get_setting("refresh.lead_time_seconds") == 420
    cfg = team_ctx.templates.require("Generic OAuth2").new_configuration("Second")
    cfg.client_id = "c2"
    for key in ("AuthorizationCode", "TokenByAuthorizationCode", "TokenByRefreshToken"):
        cfg.set_endpoint(key, "https://login.example.org/token")
    assert team_ctx.configurations.add(cfg, "s2").id > team_ctx.store.get("Helpdesk").id
    team_ctx.close()

    # into a store that is not empty: refused, nothing written, the local store still the one opened
    _ok(alice.run("store", "local"))
    second = alice.run("store", "copy-to", pg_url, "--name", "alice2")
    assert second.returncode == 1 and "set up already" in second.stderr
    assert "Local store" in _ok(alice.run("store", "status"))


@pytest.mark.realserver
def test_four_desktops_asking_at_once_refresh_once_and_the_grant_stays_intact(team, pg_url, oauth, monkeypatch):  # noqa: F811
    oauth.configure(refresh_rotation="rotate", reuse_detection=True, access_token_ttl=3600)
    desktops = team("alice", "bob", "carol", "dave")
    alice = desktops[0]
    _ok(alice.run("store", "init", pg_url, "--name", "alice"))
    for other in desktops[1:]:
        _ok(other.run("store", "join", pg_url, "--name", other.name))
        _ok(alice.run("store", "grant", other.name))
    issued = oauth.issue(client_id=oauth.client_id, scope="openid offline_access", ttl=3600)
    ctx = alice.context(monkeypatch)
    saved = _add_with_token(ctx, "Shared", access=issued["access_token"], refresh=issued["refresh_token"],
                            expires=datetime.now(UTC) - timedelta(minutes=1), token_url=oauth.token_endpoint,
                            client_id=oauth.client_id, secret=oauth.client_secret)
    before = oauth.counters

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda d: d.run("token", "Shared", timeout=120), desktops))
    for d, r in zip(desktops, results, strict=True):
        assert r.returncode == 0, f"{d.name}: {r.stderr}"
    tokens = {r.stdout.strip() for r in results}
    assert len(tokens) == 1 and issued["access_token"] not in tokens  # all four got the one refreshed token

    after = oauth.counters
    refreshes = [r for r in oauth.requests("/token") if r.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1, refreshes
    assert after.get("reuse_detected", 0) == before.get("reuse_detected", 0) == 0
    # the grant is intact: the stored refresh token still works (a forced refresh from another desktop)
    _ok(desktops[2].run("refresh", "Shared"))
    state = ctx.store.get_state(saved.id)
    assert state.has_refresh_token and not state.reauthorization_needed
    ctx.close()


def test_a_server_that_is_down_a_wrong_password_and_weak_tls_are_explained(team, pg_server, pg_url):
    (alice,) = team("alice")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = subprocess.run([sys.executable, "-m", "desktop", "list"], cwd=ROOT, text=True, capture_output=True,
                          env=dict(alice.env, TOKENDESK_STORE=f"postgresql://x@127.0.0.1:{port}/db"), timeout=60)
    assert down.returncode == 5 and "cannot be reached" in down.stderr and "Connection refused" in down.stderr

    wrong = pg_url.replace(f":{pg_server.password}@", ":not-the-password@")
    refused = alice.run("store", "init", wrong, "--name", "alice")
    assert refused.returncode == 1 and "refused the database password" in refused.stderr
    assert "not-the-password" not in refused.stderr and pg_server.password not in refused.stderr

    weak = alice.run("store", "join", "postgresql://td@db.example.org/tokendesk?sslmode=require")
    assert weak.returncode == 1 and "sslmode=verify-full" in weak.stderr
    assert "Local store" in _ok(alice.run("store", "status"))  # nothing was remembered


def test_doctor_says_which_team_store_and_whether_you_have_access(team, pg_url):
    alice, bob = team("alice", "bob")
    _ok(alice.run("store", "init", pg_url, "--name", "alice"))
    _ok(bob.run("store", "join", pg_url, "--name", "bob"))
    report = bob.run("doctor").stdout
    assert "you ('bob'): waiting for a grant" in report and "database postgresql://" in report
    assert "[ok] secrets" in alice.run("doctor").stdout


def test_copy_to_that_fails_half_way_leaves_the_team_store_empty(team, pg_url, monkeypatch):
    from desktop.store.repository import Store
    from desktop.store.team_copy import copy_to
    from desktop.store.team_keys import MemberKeyStore
    from desktop.store.vault import VaultInfo
    from desktop.store.vault_errors import SecretDamaged

    (alice,) = team("alice")
    local = alice.context(monkeypatch)
    for n in range(3):
        _add_with_token(local, f"Box {n}", access=f"access-{n}-" + "x" * 20, refresh=f"refresh-{n}-" + "y" * 20,
                        expires=datetime.now(UTC) + timedelta(hours=1))
    # one sealed secret damaged: the copy meets it after the configurations were already written
    local.store.conn.execute("UPDATE config_secret SET value = ? WHERE config_id = (SELECT MAX(config_id) FROM "
                             "config_secret) AND field = 'refresh_token'", (b"\x01" + b"0" * 40,))
    target = Store.open(pg_url)
    try:
        with pytest.raises(SecretDamaged):
            copy_to(local, target, "alice")
        assert target.count() == 0
        assert target.conn.execute("SELECT COUNT(*) FROM member").fetchone()[0] == 0
        assert not VaultInfo.read(target.conn).mode
        assert not MemberKeyStore(target.store_id, "alice").exists()
    finally:
        target.close()
        local.close()
    assert "Local store" in _ok(alice.run("store", "status"))


@pytest.mark.secretservice
def test_with_the_real_secret_service_the_member_key_and_password_live_in_the_keyring(tmp_path, pg_url, pg_server):
    """gnome-keyring on the lane's private D-Bus session: the member key and the database password are keyring items,
    no file of Tokendesk's holds either, and a new process reads a secret through them."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.fail("run under dbus-run-session with an unlocked gnome-keyring (scripts/test-all.sh does)")
    desk = Desktop(tmp_path, "desk", real_keyring=True)
    home = desk.home

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return desk.run(*args, stdin=stdin, timeout=120)
    out = _ok(run("store", "init", pg_url, "--name", "alice"))
    assert "private key in the system keyring" in out
    _ok(run("add", "--template", "Generic OAuth2", "--name", "Box", "--client-id", "c1", "--auth-url",
            "https://login.example.org/a", "--token-url", "https://login.example.org/t", "--client-secret-file", "-",
            stdin="client-secret-in-the-team-store\n"))
    assert "client secret: stored" in _ok(run("show", "Box"))
    status = _ok(run("doctor"))
    assert "you ('alice'): access; your member key: keyring" in status
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert pg_server.password.encode() not in data, path
            assert b"client-secret-in-the-team-store" not in data, path
    import secretstorage

    conn = secretstorage.dbus_init()
    items = secretstorage.get_default_collection(conn).get_all_items()
    services = {item.get_attributes().get("service") for item in items}
    assert "tokendesk-store" in services and any(s and s.startswith("tokendesk-member:") for s in services)


def test_a_team_lock_keeps_a_second_desktop_out_until_released(pg_url):
    from desktop.store.pg import team_lock
    from desktop.store.repository import Store

    one, two = Store.open(pg_url), Store.open(pg_url)
    try:
        with team_lock(one, "alerts", 1, lambda: TimeoutError("busy")):
            started = datetime.now(UTC)
            with pytest.raises(TimeoutError), team_lock(two, "alerts", 0.5, lambda: TimeoutError("busy")):
                pass
            assert (datetime.now(UTC) - started).total_seconds() >= 0.5
            with team_lock(two, "another name", 1, lambda: TimeoutError("busy")):
                pass  # other names are not held
        with team_lock(two, "alerts", 1, lambda: TimeoutError("busy")):
            pass  # released
    finally:
        one.close()
        two.close()


def test_a_server_shutting_down_under_an_open_connection_is_unreachable_not_a_database_error(memory_keyring):
    from desktop.store.pg import StoreUnreachable
    from desktop.store.repository import Store
    from tests.support.pgserver import PgServer

    server = PgServer().start()
    try:
        store = Store.open(server.url(server.create_database()))
        server.pause()  # "terminating connection due to administrator command" (57P01), then the connection is gone
        with pytest.raises(StoreUnreachable, match="cannot be reached"):
            store.count()
        store.close()
    finally:
        server.stop()
