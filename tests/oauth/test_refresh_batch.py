"""The start-up's plan asks for hundreds of due refreshes at once (``Hub.refreshes_coming``, then ``refresh_due``
for each): the oauth feature reads their rows in one query and the vault's state once, not two queries and a vault
read per signal (~2.4 s of a 10,000-configuration team store's start). What each refresh_due decides stays the same."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtWidgets import QApplication

from desktop.app import Application
from desktop.models.token import utcnow
from desktop.ui.tasks import InlineTaskRunner
from tests.support.window import window_features


def test_due_refreshes_announced_together_are_checked_with_one_read(qapp, ctx, make_config, monkeypatch):
    now = utcnow()
    due = [make_config(f"Mailbox {i}") for i in range(4)]
    for cfg in due:
        ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True,
                               token_expires_at=now + timedelta(minutes=1), last_requested_at=now - timedelta(hours=1))
    ctx.store.update_state(due[1].id, reauthorization_needed=True)  # no more attempts until a sign-in
    ctx.store.update_state(due[2].id, has_refresh_token=False)  # nothing to refresh with
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features("desktop.ui.features.oauth"))
    oauth = app.features["oauth"]
    refreshed: list[int] = []
    monkeypatch.setattr(oauth.service, "refresh_by_id", lambda cid, **kw: refreshed.append(cid))
    monkeypatch.setattr(oauth, "_changed", lambda cid: None)  # the window reading the refreshed row: not counted
    reads: list[str] = []
    store = ctx.store
    for name in ("list_with_state_for", "get_by_id", "get_state"):
        original = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *a, _o=original, _n=name, **k: reads.append(_n) or _o(*a, **k))
    vault_reads: list[bool] = []
    secrets_type = type(ctx.secrets)
    monkeypatch.setattr(secrets_type, "locked", property(lambda self: vault_reads.append(True) or False),
                        raising=False)
    try:
        ids = [cfg.id for cfg in due]
        app.hub.refreshes_coming.emit(ids)
        for config_id in ids:
            app.hub.refresh_due.emit(config_id)
        assert refreshed == [due[0].id, due[3].id]
        assert reads == ["list_with_state_for"] and len(vault_reads) == 1
        # a signal on its own still reads its row (one query) and decides the same way
        reads.clear()
        app.hub.refresh_due.emit(due[1].id)
        assert reads == ["list_with_state_for"] and refreshed == [due[0].id, due[3].id]
    finally:
        app.window._quitting = True
        app.window.deleteLater()
        QApplication.processEvents()
