"""The team store's change listener (desktop/store/pg_listen.py) on a real PostgreSQL server of the test's own:
notifications of another connection's commits, reconnecting by itself after the server was away (with back-off),
stopping at once - also while the server is away. Qt-free."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.postgres


@pytest.fixture
def own_server():
    from tests.support.pgserver import PgServer

    server = PgServer().start()
    yield server
    server.stop()


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_the_listener_hears_commits_reconnects_by_itself_and_stops_at_once(own_server, memory_keyring):
    from desktop.services import open_context
    from desktop.store.pg_listen import ChangeListener
    from desktop.store.repository import Store

    url = own_server.url(own_server.create_database())
    writer = open_context(url)
    watched = Store.open(url)
    heard: list[tuple[str, float]] = []
    states: list[tuple[bool, str, float]] = []
    # one call per wake-up: the payloads that arrived, a line each - '<table>:<configuration id>' for the rows of
    # configurations, token states and secrets
    listener = ChangeListener(watched, lambda lines: heard.extend((line, time.monotonic()) for line in
                                                                  lines.splitlines()),
                              lambda *state: states.append(state), backoff=(0.2, 0.4))
    try:
        listener.start()
        wait_for(lambda: listener.connected)
        assert states == [(True, "", 0.0)]
        cfg = writer.templates.require("Microsoft Exchange Online").new_configuration("Support mailbox")
        cfg.client_id = "client"
        writer.configurations.add(cfg, None)
        committed = time.monotonic()
        key = writer.store.get("Support mailbox").id
        wait_for(lambda: any(table == f"token_config:{key}" for table, _at in heard), timeout=1.0)
        assert min(at for table, at in heard if table == f"token_config:{key}") - committed < 0.5
        assert listener.received >= 2  # token_config and token_state, one notification each

        own_server.pause()
        wait_for(lambda: not listener.connected)
        lost = [s for s in states if not s[0]]
        assert lost[0][2] == 0.2 and lost[0][1]  # the reason in words, the first try 0.2 s later
        time.sleep(1.0)  # tries again and again while the server is away, backing off
        assert [s[2] for s in states if not s[0]][:3] == [0.2, 0.4, 0.4]
        own_server.resume()
        wait_for(lambda: listener.connected)  # by itself, no retry_now
        writer.store.close()
        heard.clear()
        writer.store.update_state(writer.store.get("Support mailbox").id, error_message="changed elsewhere")
        wait_for(lambda: [t for t, _at in heard] == [f"token_state:{key}"], timeout=1.0)

        own_server.pause()  # stopping while the server is away: at once, no thread left
        wait_for(lambda: not listener.connected)
    finally:
        started = time.monotonic()
        assert listener.stop()
        assert time.monotonic() - started < 1.0
        assert not [t for t in threading.enumerate() if t.name == "tokendesk-listen"]
        watched.close()
        writer.close()
