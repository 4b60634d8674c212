"""The real Secret Service (gnome-keyring over D-Bus): secrets round-trip through it and never reach the database.

Run (private HOME, private session bus, unlocked gnome-keyring; needs Debian gnome-keyring and dbus-x11)::

    HOME="$(mktemp -d)" dbus-run-session -- sh -c 'eval "$(printf pw | gnome-keyring-daemon --unlock \
        --components=secrets)"; .venv/bin/pytest tests/test_secret_service.py -m secretservice -q'
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.secretservice


@pytest.fixture(autouse=True)
def _session_bus():
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.fail("no D-Bus session bus: run this lane under dbus-run-session with gnome-keyring (see the docstring)")


def database_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            data += extra.read_bytes()
    return data


def test_the_secret_service_is_usable():
    from desktop.store.secrets import probe_keyring

    probe = probe_keyring()
    assert probe.usable, probe.reason
    assert "SecretService" in probe.backend


def test_keyrings_own_choice_is_the_secret_service():
    """No override anywhere: what keyring picks on this session is what Tokendesk uses."""
    import keyring

    backend = keyring.get_keyring()
    assert f"{type(backend).__module__}.{type(backend).__name__}" == "keyring.backends.SecretService.Keyring"


def test_secrets_round_trip_through_the_real_keyring_and_never_reach_the_database(tokendesk_home):
    import keyring

    from desktop.services import open_context
    from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, KeyringSecrets

    secret = f"client-{uuid.uuid4().hex}"
    access = f"access-{uuid.uuid4().hex}"
    refresh = f"refresh-{uuid.uuid4().hex}"
    ctx = open_context()
    try:
        assert isinstance(ctx.secrets, KeyringSecrets)
        assert "SecretService" in ctx.secrets.description
        service = f"tokendesk:{ctx.store.store_id}"
        assert ctx.secrets.service == service

        cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration("Real keyring")
        cfg.client_id = "real-keyring-client"
        saved = ctx.configurations.add(cfg, secret)
        ctx.secrets.set_for(saved.id, ACCESS_TOKEN, access)
        ctx.secrets.set_for(saved.id, REFRESH_TOKEN, refresh)
        ctx.store.update_state(saved.id, has_access_token=True, has_refresh_token=True)

        # straight from the Secret Service, not through Tokendesk
        assert keyring.get_password(service, f"config-{saved.id}/client_secret") == secret
        assert keyring.get_password(service, f"config-{saved.id}/access_token") == access
        assert keyring.get_password(service, f"config-{saved.id}/refresh_token") == refresh
        assert ctx.configurations.client_secret(saved) == secret

        raw = database_bytes(ctx.store.path)
        assert b"real-keyring-client" in raw  # reading the right file
        for value in (secret, access, refresh):
            assert value.encode() not in raw
        assert ctx.store.conn.execute("SELECT COUNT(*) FROM fallback_secret").fetchone()[0] == 0

        # a second process-like context on the same data directory finds the same secrets
        other = open_context()
        try:
            assert other.secrets.get_for(saved.id, CLIENT_SECRET) == secret
        finally:
            other.close()

        ctx.configurations.delete("Real keyring")
        for kind in ("client_secret", "access_token", "refresh_token"):
            assert keyring.get_password(service, f"config-{saved.id}/{kind}") is None
        assert ctx.store.find("Real keyring") is None
    finally:
        ctx.close()


def test_update_replaces_the_secret_in_the_keyring(tokendesk_home):
    import keyring

    from desktop.services import open_context

    ctx = open_context()
    try:
        cfg = ctx.templates.require("Google Mail").new_configuration("Rotating")
        cfg.client_id = "rotating"
        saved = ctx.configurations.add(cfg, "first-secret")
        ctx.configurations.update(saved, "second-secret")
        name = f"config-{saved.id}/client_secret"
        assert keyring.get_password(ctx.secrets.service, name) == "second-secret"
        ctx.configurations.update(saved, "")
        assert keyring.get_password(ctx.secrets.service, name) is None
        ctx.configurations.delete("Rotating")
    finally:
        ctx.close()
