"""A running window keeps serving the tokens it holds while the team store cannot be reached (issue 11, point 8):
the token agent (desktop/agent.py) answers from the tokens it handed out, until they expire; what it does not hold
is refused in words. A real PostgreSQL server of the test's own, stopped and started again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from desktop import agent
from desktop.models.token import utcnow
from desktop.store.secrets import ACCESS_TOKEN

pytestmark = pytest.mark.postgres

TOKEN = "eyJhbGciOiJSUzI1NiJ9." + "t" * 300 + ".sig-team-held"


@pytest.fixture
def own_server():
    from tests.support.pgserver import PgServer

    server = PgServer().start()
    yield server
    server.stop()


def _with_token(ctx, name: str, token: str, expires_in: timedelta):
    cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration(name)
    cfg.client_id = "00000000-0000-0000-0000-000000000001"
    cfg = ctx.configurations.add(cfg, "s3cret")
    with ctx.store.transaction():
        ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, token)
        ctx.store.update_state(cfg.id, has_access_token=True, token_expires_at=utcnow() + expires_in,
                               last_requested_at=utcnow() - timedelta(minutes=5),
                               token_info={"account": "support@example.org"})
    return cfg


def test_held_tokens_are_served_while_the_team_store_is_away(own_server, memory_keyring, monkeypatch, caplog):
    from desktop.services import open_context
    from desktop.store.team import init_store

    monkeypatch.setenv("TOKENDESK_MEMBER", "alice@helpdesk")
    ctx = open_context(own_server.url(own_server.create_database()))
    try:
        init_store(ctx.store, "alice@helpdesk")
        _with_token(ctx, "Support mailbox", TOKEN, timedelta(hours=1))
        _with_token(ctx, "Billing", TOKEN + "-billing", timedelta(hours=1))
        _with_token(ctx, "Short lived", TOKEN + "-short", timedelta(seconds=2))
        handle = agent.TokenAgent(ctx, program_for=lambda _pid: "/usr/bin/msmtp")
        first = handle({"op": "token", "name": "Support mailbox"}, 1234)
        assert first["ok"] and first["token"] == TOKEN
        assert handle({"op": "token", "name": "Short lived"}, 1234)["ok"]

        own_server.pause()
        again = handle({"op": "token", "name": "support MAILBOX"}, 1234)  # names are case-insensitive
        assert again == first  # the same answer, from the window's memory
        never_asked = handle({"op": "token", "name": "Billing"}, 1234)
        assert not never_asked["ok"] and never_asked["exit"] == 1
        assert "cannot be reached" in never_asked["message"] and TOKEN not in str(never_asked)
        refresh = handle({"op": "refresh", "name": "Support mailbox"}, 1234)
        assert not refresh["ok"] and "cannot be reached" in refresh["message"]
        import time

        time.sleep(2.1)
        expired = handle({"op": "token", "name": "Short lived"}, 1234)  # held, but expired: not handed out
        assert not expired["ok"] and "cannot be reached" in expired["message"]
        assert TOKEN not in caplog.text  # no token in the log

        own_server.resume()
        ctx.store.close()  # the window does this when its listener is back (db_watcher): new connections
        back = handle({"op": "token", "name": "Billing"}, 1234)
        assert back["ok"] and back["token"] == TOKEN + "-billing"
    finally:
        ctx.close()
