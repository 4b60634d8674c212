"""Lost updates (issue 10, point 11): two windows, or a window and the command line, edit one configuration.

The edit remembers what it loaded (``token_config.revision``/``secret_revision``, schema 7); saving refuses with
``ChangedMeanwhile`` when the stored configuration changed since, and lists what changed in plain words
(secrets never shown: "client secret changed"). Nothing of the later save is written.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.cli import config_commands
from desktop.models.changes import describe_changes, reapply
from desktop.services import ChangedMeanwhile, open_context
from desktop.store import database
from desktop.store.secrets import CLIENT_SECRET

ROOT = Path(__file__).resolve().parent.parent
A = "https://login.example.org"


@pytest.fixture
def billing(ctx, make_config):
    return make_config("Billing", template="Generic OAuth2", secret="secret-one",
                       AuthorizationCode=f"{A}/authorize", TokenByAuthorizationCode=f"{A}/token",
                       TokenByRefreshToken=f"{A}/token")


@pytest.fixture
def other(ctx):
    """A second context on the same database: another process as far as SQLite is concerned."""
    second = open_context(ctx.store.path)
    yield second
    second.close()


def test_the_later_of_two_edits_is_refused_and_told_what_changed(ctx, other, billing):
    mine = ctx.store.get("Billing")
    theirs = other.store.get("Billing")
    theirs_edit = theirs.copy()
    theirs_edit.set_endpoint("TokenByAuthorizationCode", f"{A}/v2/token")
    other.configurations.update(theirs_edit, "secret-two", expected=theirs)

    mine_edit = mine.copy()
    mine_edit.scope = "openid mail"
    with pytest.raises(ChangedMeanwhile) as info:
        ctx.configurations.update(mine_edit, expected=mine)
    exc = info.value
    assert exc.changes == [f"Token endpoint: {A}/token -> {A}/v2/token", "client secret changed"]
    text = str(exc)
    assert text.startswith("'Billing' was changed meanwhile (in another window or by a tokendesk command); "
                           "your changes were not saved.")
    assert f"Token endpoint: {A}/token -> {A}/v2/token" in text
    assert "secret-one" not in text and "secret-two" not in text
    stored = ctx.store.get("Billing")
    assert stored.token_url == f"{A}/v2/token" and stored.scope != "openid mail"  # theirs kept, mine not written
    assert ctx.secrets.get_for(stored.id, CLIENT_SECRET) == "secret-two"


def test_an_edit_based_on_the_stored_version_saves_and_the_next_one_must_reload(ctx, other, billing):
    loaded = ctx.store.get("Billing")
    first = loaded.copy()
    first.scope = "openid one"
    saved = ctx.configurations.update(first, expected=loaded)
    assert saved.revision == loaded.revision + 1
    again = loaded.copy()  # an edit still based on the old version: the first save changed it meanwhile
    again.scope = "openid two"
    with pytest.raises(ChangedMeanwhile) as info:
        ctx.configurations.update(again, expected=loaded)
    [change] = info.value.changes
    assert change.startswith("Scope: ") and change.endswith(" -> openid one")
    ctx.configurations.update(again, expected=saved)  # based on what is stored now: fine
    assert ctx.store.get("Billing").scope == "openid two"


def test_only_the_secret_changed_meanwhile(ctx, other, billing):
    loaded = ctx.store.get("Billing")
    other.configurations.update(other.store.get("Billing"), "secret-two", expected=other.store.get("Billing"))
    with pytest.raises(ChangedMeanwhile) as info:
        ctx.configurations.update(loaded.copy(), expected=loaded)
    assert info.value.changes == ["client secret changed"]
    cleared = other.store.get("Billing")
    other.configurations.update(cleared, "", expected=cleared)
    with pytest.raises(ChangedMeanwhile) as info:
        ctx.configurations.update(loaded.copy(), expected=loaded)
    assert info.value.changes == ["client secret removed"]


def test_an_import_overwriting_it_counts_as_a_change(ctx, billing, tmp_path):
    from desktop.backup.export import export_configurations
    from desktop.backup.importer import apply_import, parse_import, plan_import

    loaded = ctx.store.get("Billing")
    changed = loaded.copy()
    changed.client_id = "from-the-backup"
    ctx.configurations.update(changed)
    text = export_configurations(ctx).text
    ctx.configurations.update(loaded.copy())  # back to the old client id, so the import changes it
    loaded = ctx.store.get("Billing")
    apply_import(ctx, plan_import(ctx, parse_import(text, templates=ctx.templates), True))
    with pytest.raises(ChangedMeanwhile) as info:
        ctx.configurations.update(loaded.copy(), expected=loaded)
    assert "Client ID: client-Billing -> from-the-backup" in info.value.changes


def test_describe_changes_in_plain_words(ctx, billing):
    before = ctx.store.get("Billing")
    after = before.copy()
    after.name = "Billing EU"
    after.valid_id = 2
    after.pkce_enabled = False
    after.notification_lead_time_minutes = 90
    after.config.setdefault("Requests", {}).setdefault("AuthorizationCode", {}).setdefault(
        "Request", {}).setdefault("Parameters", {})["prompt"] = "consent"
    after.config["Unknown"] = {"Kept": "x" * 300}
    words = describe_changes(before, after)
    assert "Name: Billing -> Billing EU" in words
    assert "Validity: valid -> invalid" in words
    assert "PKCE: 1 -> 0" in words
    assert "Warning lead time (minutes): 1440 -> 90" in words
    assert "Config → Requests → AuthorizationCode → Request → Parameters → prompt: (none) -> consent" in words
    long = next(w for w in words if w.startswith("Config → Unknown → Kept"))
    assert len(long) < 200 and long.endswith("...")


def test_reapply_merges_separate_fields_and_names_the_clashes(ctx, billing):
    base = ctx.store.get("Billing")
    theirs = base.copy()
    theirs.set_endpoint("TokenByAuthorizationCode", f"{A}/v2/token")
    mine = base.copy()
    mine.scope = "openid mail"
    merged, clashes = reapply(base, theirs, base, mine)
    assert clashes == []
    assert merged.token_url == f"{A}/v2/token" and merged.scope == "openid mail"
    mine.set_endpoint("TokenByAuthorizationCode", f"{A}/v3/token")
    merged, clashes = reapply(base, theirs, base, mine)
    assert merged is None and clashes == ["Token endpoint"]


def test_schema_7_adds_the_revisions_to_an_old_store(tmp_path):
    db = tmp_path / "old.sqlite3"
    raw = sqlite3.connect(db)
    for statements in database.MIGRATIONS[:6]:
        for statement in statements:
            raw.execute(statement)
    raw.execute("INSERT INTO meta(key, value) VALUES ('store_id', 'feedfacefeedfacefeedfacefeedface')")
    raw.execute("INSERT INTO token_config(id, name, name_key, config_json, create_time, change_time) VALUES "
                "(1, 'Old', 'old', '{}', '2024-01-01 00:00:00', '2024-01-01 00:00:00')")
    raw.execute("PRAGMA user_version = 6")
    raw.commit()
    raw.close()
    ctx = open_context(db)
    try:
        old = ctx.store.get("Old")
        assert (old.revision, old.secret_revision) == (0, 0)
    finally:
        ctx.close()


# ---- the command line



def test_a_cli_edit_racing_a_real_cli_edit_is_refused(shared_keyring, ctx, billing, run, monkeypatch, tmp_path):
    """``tokendesk edit`` reads the configuration, then - between its read and its save - another real
    ``tokendesk edit`` process changes it: the first is refused, the second's change stays."""
    _backend, child_env = shared_keyring
    env = dict(os.environ, TOKENDESK_HOME=str(ctx.store.path.parent), PYTHONPATH=str(ROOT), **child_env)
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("secret-from-the-other-process\n")
    original = config_commands._apply_field_options
    children = []

    def apply_then_race(cfg, args):
        original(cfg, args)
        children.append(subprocess.run(
            [sys.executable, "-m", "desktop", "edit", "Billing", "--token-url", f"{A}/v2/token",
             "--client-secret-file", str(secret_file)],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60))

    monkeypatch.setattr(config_commands, "_apply_field_options", apply_then_race)
    code, out, err = run("edit", "Billing", "--scope", "openid mail")
    assert children and children[0].returncode == 0, children[0].stderr
    assert code == 1 and out == ""
    assert err.startswith("tokendesk: 'Billing' was not changed: it was changed meanwhile (in another window or by "
                          "a tokendesk command):")
    assert f"Token endpoint: {A}/token -> {A}/v2/token" in err and "client secret changed" in err
    assert "Run the command again" in err
    assert "secret-from-the-other-process" not in err
    stored = ctx.store.get("Billing")
    assert stored.token_url == f"{A}/v2/token" and stored.scope != "openid mail"
    monkeypatch.setattr(config_commands, "_apply_field_options", original)
    code, out, err = run("edit", "Billing", "--scope", "openid mail")  # again: based on the current version
    assert code == 0, err
    assert ctx.store.get("Billing").scope == "openid mail"
