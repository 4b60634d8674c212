"""Team store propagation benchmark (not a test): how long a change made on one desktop takes to show on the others.

    .venv/bin/python bench/bench_team_propagation.py [--windows 5] [--changes 100] [--gap 0.25] [--rows 0]
                                                     [--change add|edit]

Starts a real PostgreSQL server (its own cluster: tests/support/pgserver.py) and ``--windows`` Tokendesk windows as
separate processes (offscreen, each its own data directory and connections: the real ``MainWindow`` with its
``DatabaseWatcher`` - the ``LISTEN`` thread of desktop/store/pg_listen.py, the queued signal, the 100 ms debounce,
the ``data_version`` check, the table's reload - and the notify feature, whose plan follows). This process then
makes ``--changes`` changes as another desktop (adds a configuration through ``ConfigurationService``, ``--gap``
seconds apart) and each window reports when its table holds the new row and the plan has followed. Latency: that
moment minus the writer's call (an upper bound of commit -> seen) and minus its return (a lower bound), wall clock
on one machine. ``--rows`` configurations are in the store before (each change reads them all again).

Then the same with bare listeners (``ChangeListener`` threads in this process, each with its own connection): the
notification's own delivery, without the debounce and the reload.

Prints p50/p95/max per mode (issue 11's design: p95 under 1 s for 5 listening windows). Numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PREFIX = "bench-change-"


def window_child(url: str) -> None:
    """One listening window: prints READY once it listens, then SEEN <name> <time> for each new row."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.app import Application
    from desktop.services import open_context
    from desktop.ui.tasks import TaskRunner

    qapp = QApplication([])
    ctx = open_context(url)
    app = Application(qapp, ctx, tasks=TaskRunner(), features=[])
    from desktop.ui.features.notify import NotifyFeature  # the plan follows every change, as in the app

    app.features["notify"] = NotifyFeature(app, tray_probe=lambda: False, tray_may_appear=lambda: False,
                                           dbus_factory=None)
    window = app.window
    seen: set[str] = set()

    def on_reloaded() -> None:
        now = time.time()
        for cfg, _state in window.configurations_with_state():
            if cfg.name.startswith(PREFIX) and cfg.name not in seen:
                seen.add(cfg.name)
                print(f"SEEN {cfg.name} {now:.6f}", flush=True)

    window.db_watcher.changed.connect(on_reloaded)  # after the window's reload and the notify plan (connected first)
    window.show()

    def ready() -> None:
        listener = window.db_watcher.listener
        if listener is not None and listener.connected:
            print("READY", flush=True)
        else:
            QTimer.singleShot(50, ready)

    QTimer.singleShot(0, ready)
    # the parent closes stdin at the end
    from PySide6.QtCore import QSocketNotifier

    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(lambda *_args: qapp.quit())
    qapp.exec()
    app.shutdown()


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return (f"p50 {statistics.median(values) * 1000:.1f} ms  p95 {p95 * 1000:.1f} ms  "
            f"max {max(values) * 1000:.1f} ms")


def report(label: str, samples: list[tuple[float, float, float]]) -> None:
    """``samples``: (call started, call returned, seen). From the call's start: an upper bound of commit -> seen;
    from its return: a lower bound (negative: seen before the writer had the commit's answer)."""
    print(f"{label}: n={len(samples)}")
    print(f"    from the writer's call:   {percentiles([seen - started for started, _r, seen in samples])}")
    print(f"    from the commit returned: {percentiles([seen - returned for _s, returned, seen in samples])}")


def add_one(ctx, name: str) -> tuple[float, float]:
    """Add ``name`` as the other desktop; the wall-clock times the call started and returned (the commit is
    between: its NOTIFY may arrive before the writer has the server's answer)."""
    cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration(name)
    cfg.client_id = "00000000-0000-0000-0000-000000000001"
    started = time.time()
    ctx.configurations.add(cfg, None)
    return started, time.time()


def rename_one(ctx, old: str, name: str) -> tuple[float, float]:
    """Rename ``old`` to ``name`` as the other desktop (an edit of a configuration every window holds already)."""
    cfg = ctx.store.get(old)
    cfg.name = name
    started = time.time()
    ctx.configurations.update(cfg)
    return started, time.time()


def run_windows(url: str, writer, windows: int, changes: int, gap: float,
                start: int, change: str = "add") -> list[tuple[float, float, float]]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    procs = []
    homes = []
    for _ in range(windows):
        home = tempfile.mkdtemp(prefix="tokendesk-bench-window-")
        homes.append(home)
        procs.append(subprocess.Popen([sys.executable, __file__, "--child", url], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, env=dict(env, TOKENDESK_HOME=home)))
    lines: dict[int, list[str]] = {i: [] for i in range(windows)}
    lock = threading.Lock()

    def read(i: int, proc: subprocess.Popen) -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            with lock:
                lines[i].append(line.strip())

    readers = [threading.Thread(target=read, args=(i, p), daemon=True) for i, p in enumerate(procs)]
    for r in readers:
        r.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with lock:
            if all("READY" in lines[i] for i in lines):
                break
        time.sleep(0.05)
    else:
        raise SystemExit("the windows did not start listening within 120 s")
    committed: dict[str, tuple[float, float]] = {}
    for n in range(changes):
        name = f"{PREFIX}{start + n:04d}"
        committed[name] = add_one(writer, name) if change == "add" else rename_one(writer, f"base-{n:04d}", name)
        time.sleep(gap)
    deadline = time.monotonic() + 60  # until every window showed every change (a loaded machine lags behind)
    while time.monotonic() < deadline:
        with lock:
            if all(sum(line.startswith("SEEN ") for line in lines[i]) >= changes for i in lines):
                break
        time.sleep(0.1)
    for p in procs:
        p.stdin.close()  # type: ignore[union-attr]
    for p in procs:
        p.wait(timeout=30)
    latencies = []
    missing = 0
    for i in lines:
        seen = {}
        for line in lines[i]:
            if line.startswith("SEEN "):
                _word, name, when = line.split()
                seen[name] = float(when)
        for name, (started, returned) in committed.items():
            if name in seen:
                latencies.append((started, returned, seen[name]))
            else:
                missing += 1
    if missing:
        print(f"  ({missing} changes never shown in a window)")
    return latencies


def run_listeners(store_url: str, writer, listeners: int, changes: int, gap: float,
                  start: int) -> list[tuple[float, float, float]]:
    from desktop.store.pg_listen import ChangeListener
    from desktop.store.repository import Store

    stores = [Store.open(store_url) for _ in range(listeners)]
    arrivals: list[list[float]] = [[] for _ in range(listeners)]
    made = []
    for i, store in enumerate(stores):
        made.append(ChangeListener(store, lambda lines, i=i: arrivals[i].append(time.time())
                                   if "token_config:" in lines else None))
        made[-1].start()
    while not all(m.connected for m in made):
        time.sleep(0.02)
    latencies = []
    for n in range(changes):
        before = [len(a) for a in arrivals]
        started, returned = add_one(writer, f"{PREFIX}{start + n:04d}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(len(a) == b for a, b in zip(arrivals, before, strict=True)):
            select.select([], [], [], 0.001)
        latencies.extend((started, returned, a[b]) for a, b in zip(arrivals, before, strict=True) if len(a) > b)
        time.sleep(gap)
    for m in made:
        m.stop()
    for s in stores:
        s.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between two changes")
    parser.add_argument("--rows", type=int, default=0, help="configurations in the store before")
    parser.add_argument("--change", choices=("add", "edit"), default="add",
                        help="add a configuration (every window reads all rows again) or edit one every window holds "
                        "(only that row is read again: NOTIFY token_config:<id>)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        window_child(args.child)
        return

    os.environ.setdefault("TOKENDESK_HOME", tempfile.mkdtemp(prefix="tokendesk-bench-writer-"))
    os.environ["TOKENDESK_MEMBER"] = "writer@bench"
    from desktop.services import open_context
    from tests.support.pgserver import PgServer

    server = PgServer().start()
    try:
        url = server.url(server.create_database())
        writer = open_context(url)
        if args.rows:
            batch = []
            template = writer.templates.require("Microsoft Exchange Online")
            for i in range(args.rows):
                cfg = template.new_configuration(f"mailbox-{i:05d}")
                cfg.client_id = f"client-{i}"
                batch.append((cfg, False))
            writer.store.insert_many(batch)
        if args.change == "edit":
            batch = []
            for n in range(args.changes):
                cfg = writer.templates.require("Microsoft Exchange Online").new_configuration(f"base-{n:04d}")
                cfg.client_id = "00000000-0000-0000-0000-000000000001"
                batch.append((cfg, False))
            writer.store.insert_many(batch)
        print(f"PostgreSQL {server.bin.parent.name}, {args.rows} configurations before, {args.changes} changes "
              f"{args.gap * 1000:.0f} ms apart; machine: {os.cpu_count()} CPUs")
        t0 = time.perf_counter()
        windows = run_windows(url, writer, args.windows, args.changes, args.gap, 0, args.change)
        took = time.perf_counter() - t0
        report(f"{args.windows} windows, change: {args.change} (processes; commit -> the row in each table, the plan "
               "followed) "
               f"[{took:.0f} s]", windows)
        listeners = run_listeners(url, writer, args.windows, args.changes, args.gap, args.changes)
        report(f"{args.windows} bare listeners (threads; commit -> the notification)", listeners)
        writer.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
