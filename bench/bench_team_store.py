"""Team store benchmark (not a test): the same 10,000 configurations in the local SQLite store and in a team store
on a real PostgreSQL server (its own cluster, started here: tests/support/pgserver.py), read the same ways.

    .venv/bin/python bench/bench_team_store.py [--rows 10000] [--repeat 5]

Prints, median of --repeat (issue 11's design figures in brackets):
* ``tokendesk list`` as a process, SQLite and PostgreSQL (PostgreSQL under 1 s);
* the window's start offscreen (process start -> first paint, SHOWN; and until SETTLED: the rows in the table),
  PostgreSQL against SQLite (at most 1.5x), the bare PySide6 window beside them for scale.
Propagation of a change to listening windows is ``bench/bench_team_propagation.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def populate(location: str, rows: int) -> None:
    from desktop.models.templates import load_templates
    from desktop.models.token import utcnow
    from desktop.store.repository import Store

    store = Store.open(location)
    templates = load_templates().templates
    now = utcnow()
    batch = []
    for i in range(rows):
        cfg = templates[i % len(templates)].new_configuration(f"mailbox-{i:05d}")
        cfg.client_id = f"client-{i}"
        batch.append((cfg, True))
    ids = store.insert_many(batch)
    with store.transaction():
        for n, config_id in enumerate(ids):
            if n % 3:
                store.update_state(config_id, has_access_token=True, has_refresh_token=False,
                                   token_expires_at=now + timedelta(minutes=(n % 180) - 60))
    store.close()


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=120)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from bench_startup import BARE, start_once

    from tests.support.pgserver import PgServer

    server = PgServer().start()
    pycache = tempfile.mkdtemp(prefix="tokendesk-bench-pycache-")
    try:
        url = server.url(server.create_database())
        with tempfile.TemporaryDirectory() as sqlite_home, tempfile.TemporaryDirectory() as team_home:
            t0 = time.perf_counter()
            populate(str(Path(sqlite_home) / "tokendesk.sqlite3"), args.rows)
            t1 = time.perf_counter()
            populate(url, args.rows)
            t2 = time.perf_counter()
            print(f"Filled {args.rows} configurations: SQLite {t1 - t0:.1f} s, PostgreSQL {t2 - t1:.1f} s")
            base = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
                        PYTHONPYCACHEPREFIX=pycache, QT_QPA_PLATFORM="offscreen", TOKENDESK_EXIT_WHEN_SHOWN="1")
            base.pop("PYTHONDONTWRITEBYTECODE", None)
            base.pop("TOKENDESK_STORE", None)
            sqlite_env = dict(base, TOKENDESK_HOME=sqlite_home)
            team_env = dict(base, TOKENDESK_HOME=team_home, TOKENDESK_STORE=url)
            py = sys.executable
            listing = [py, "-m", "desktop", "list"]
            for env in (sqlite_env, team_env):
                timed(listing, env)  # warm-up: bytecode, file cache, server cache
            lists = {"sqlite": [], "pg": []}
            for _ in range(args.repeat):
                lists["sqlite"].append(timed(listing, sqlite_env))
                lists["pg"].append(timed(listing, team_env))
            s, p = statistics.median(lists["sqlite"]), statistics.median(lists["pg"])
            print(f"tokendesk list ({args.rows} configurations), median of {args.repeat}:")
            print(f"  SQLite      {s * 1000:6.0f} ms")
            print(f"  PostgreSQL  {p * 1000:6.0f} ms   (design: under 1 s)   ratio to SQLite {p / s:.2f}x")

            cases = [("bare PySide6 window", [py, "-c", BARE], base),
                     ("Tokendesk, SQLite", [py, "-m", "desktop"], sqlite_env),
                     ("Tokendesk, PostgreSQL", [py, "-m", "desktop"], team_env)]
            for _label, cmd, env in cases:
                start_once(cmd, env)
            runs: list[list] = [[] for _ in cases]
            for _ in range(args.repeat):
                for n, (_label, cmd, env) in enumerate(cases):
                    runs[n].append(start_once(cmd, env))
            print(f"Window start offscreen, {args.rows} configurations, median of {args.repeat} "
                  "(first paint / settled):")
            shown = [statistics.median(r.window for r in case) for case in runs]
            settled = [statistics.median(r.settled for r in case) for case in runs]
            for n, (label, _cmd, _env) in enumerate(cases):
                print(f"  {label:24} {shown[n] * 1000:6.0f} ms / {settled[n] * 1000:6.0f} ms")
            print(f"  PostgreSQL / SQLite: first paint {shown[2] / shown[1]:.2f}x, "
                  f"settled {settled[2] / settled[1]:.2f}x (design: at most 1.5x)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
