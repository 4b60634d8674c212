"""Several processes and threads opening one new data directory at the same moment (issue 10, point 6).

The schema check and every migration run in one ``BEGIN IMMEDIATE`` transaction that reads the schema
version again once it holds the write lock: the second process waits, then finds the work done.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from desktop.store import database
from desktop.store.database import SCHEMA_VERSION
from desktop.store.repository import Store

ROOT = Path(__file__).resolve().parent.parent

#: a child: wait for the go file, open the store (creating it), add one configuration, say its store id
CHILD = r"""
import os, sys, time
go, db, n = sys.argv[1], sys.argv[2], sys.argv[3]
from desktop.models.config import TokenConfiguration
from desktop.store.repository import Store
open(go + f".ready{n}", "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
store = Store.open(db)
store.insert(TokenConfiguration(name=f"Child {n}", config={"TemplateName": "Generic OAuth2", "ClientID": n}))
print("STORE", store.store_id, flush=True)
store.close()
"""


def _start_together(folder: Path, count: int) -> list[subprocess.CompletedProcess[str]]:
    """``count`` children, each blocked until a go file appears; they are released at one moment."""
    go = folder / "go"
    db = folder / "data" / "tokendesk.sqlite3"  # neither the folder nor the file exist yet
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(go), str(db), str(n)], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(count)
    ]
    deadline = time.monotonic() + 60
    while len(list(folder.glob("go.ready*"))) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return results


@pytest.mark.parametrize("attempt", range(5))
def test_processes_started_together_on_a_new_data_directory_all_open_it(tmp_path: Path, attempt: int):
    count = 12
    results = _start_together(tmp_path, count)
    failures = [r.stderr.strip().splitlines()[-1] for r in results if r.returncode != 0]
    assert failures == [], f"{len(failures)} of {count} failed: {failures[:3]}"
    store_ids = {line.split()[1] for r in results for line in r.stdout.splitlines() if line.startswith("STORE")}
    assert len(store_ids) == 1  # one store, created once, not one per process

    db = tmp_path / "data" / "tokendesk.sqlite3"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    store = Store.open(db)
    try:
        assert database.schema_version(store.conn) == SCHEMA_VERSION
        assert sorted(store.names()) == sorted(f"Child {n}" for n in range(count))
        assert store.conn.execute("SELECT COUNT(*) FROM meta WHERE key = 'store_id'").fetchone()[0] == 1
        assert store.store_id in store_ids
    finally:
        store.close()


def test_threads_opening_a_new_database_together_all_open_it(tmp_path: Path):
    db = tmp_path / "data" / "tokendesk.sqlite3"
    count = 16
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []
    ids: list[str] = []

    def open_it() -> None:
        try:
            barrier.wait(10)
            store = Store.open(db)
            ids.append(store.store_id)
            store.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(ids) == count and len(set(ids)) == 1
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_an_old_schema_opened_by_two_connections_at_once_is_migrated_once(tmp_path: Path):
    """Schema 5 with a stored secret: both connections see version 5; the one that waited for the lock
    finds version 6 and changes nothing (the vault.legacy marker is written once, no duplicate column)."""
    import sqlite3

    db = tmp_path / "tokendesk.sqlite3"
    raw = sqlite3.connect(db)
    for statements in database.MIGRATIONS[:5]:
        for statement in statements:
            raw.execute(statement)
    raw.execute("INSERT INTO meta(key, value) VALUES ('store_id', 'feedfacefeedfacefeedfacefeedface')")
    raw.execute("INSERT INTO token_config(id, name, name_key, config_json, has_client_secret, create_time, "
                "change_time) VALUES (1, 'Old', 'old', '{}', 1, '2024-01-01 00:00:00', '2024-01-01 00:00:00')")
    raw.execute("PRAGMA user_version = 5")
    raw.commit()
    raw.close()

    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock until both have looked and wait for it
    waiting = [threading.Event(), threading.Event()]
    errors: list[BaseException] = []

    def migrate(n: int) -> None:
        conn = sqlite3.connect(db, isolation_level=None, timeout=10, check_same_thread=False)
        conn.set_trace_callback(lambda sql: waiting[n].set() if sql.startswith("BEGIN") else None)
        try:
            database.migrate(conn)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=migrate, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    assert all(w.wait(10) for w in waiting)
    blocker.execute("COMMIT")
    for t in threads:
        t.join(30)
    assert errors == []
    assert database.schema_version(blocker) == SCHEMA_VERSION
    assert blocker.execute("SELECT COUNT(*) FROM meta WHERE key = 'vault.legacy'").fetchone()[0] == 1
    blocker.close()


#: a child: wait for the go file, then run ``tokendesk list`` on a data directory nobody has opened yet
CLI_CHILD = r"""
import os, sys, time
go, n = sys.argv[1], sys.argv[2]
open(go + f".ready{n}", "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
from desktop.cli import main
sys.exit(main(["list", "--json"]))
"""


@pytest.mark.parametrize("attempt", range(3))
def test_tokendesk_commands_started_together_on_a_new_data_directory(tmp_path: Path, attempt: int):
    count = 10
    home = tmp_path / "new-home"  # TOKENDESK_HOME that does not exist yet
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TOKENDESK_HOME=str(home))
    procs = [subprocess.Popen([sys.executable, "-c", CLI_CHILD, str(go), str(n)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(count)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go.ready*"))) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = [(p.wait(120), p.stdout.read(), p.stderr.read()) for p in procs]
    assert [(code, out.strip(), err) for code, out, err in results] == [(0, "[]", "")] * count
    db = home / "tokendesk.sqlite3"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600 and stat.S_IMODE(home.stat().st_mode) == 0o700
