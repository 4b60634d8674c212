"""The notify plan follows the rows the window read again after another process's or desktop's change
(``NotifyController.follow``, fed by ``DatabaseWatcher.changed``): only what changed is planned again, so one
change in a store of 10,000 configurations does not recompute them all; deleted ones go; warnings follow."""

from __future__ import annotations

from datetime import timedelta

from desktop.models.token import utcnow
from desktop.ui.features.notify_controller import NotifyController
from desktop.ui.hub import Hub


def _add(ctx, name: str):
    cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration(name)
    cfg.client_id = "00000000-0000-0000-0000-000000000001"
    saved = ctx.configurations.add(cfg, None)
    now = utcnow()
    ctx.store.update_state(saved.id, has_access_token=True, has_refresh_token=True, last_requested_at=now,
                           token_expires_at=now + timedelta(hours=1))
    return saved


def test_only_changed_rows_are_planned_again_and_the_warnings_follow(qapp, ctx):
    support, billing, archive = (_add(ctx, n) for n in ("Support", "Billing", "Archive"))
    controller = NotifyController(ctx, Hub())
    controller.reload()
    assert controller.attention == []
    lead = int(ctx.store.get_setting("refresh.lead_time_seconds"))
    updated: list[int] = []
    original = controller.scheduler.update

    def counting(cfg, state, now):
        updated.append(cfg.id)
        return original(cfg, state, now)

    controller.scheduler.update = counting

    # nothing changed (another table, a setting): nothing recomputed
    controller.follow(ctx.store.list_with_state(), lead)
    assert updated == []

    # another desktop: Billing's refresh token was rejected
    ctx.store.update_state(billing.id, reauthorization_needed=True, error_code="invalid_grant")
    controller.follow(ctx.store.list_with_state(), lead)
    assert updated == [billing.id]
    assert [i.name for i in controller.attention] == ["Billing"]

    # renamed there (its revision counts up), and Archive deleted
    cfg = ctx.store.get("Support")
    cfg.name = "Support desk"
    ctx.configurations.update(cfg)
    ctx.configurations.delete("Archive")
    updated.clear()
    controller.follow(ctx.store.list_with_state(), lead)
    assert updated == [support.id]
    assert controller.scheduler.events_of(archive.id) == []
    assert controller.scheduler.events_of(support.id)

    # signed in again there: the warning goes
    ctx.store.update_state(billing.id, reauthorization_needed=False, error_code="",
                           token_expires_at=utcnow() + timedelta(hours=1))
    controller.follow(ctx.store.list_with_state(), lead)
    assert controller.attention == []

    # another refresh lead time: everything is planned again
    updated.clear()
    loads: list[int] = []
    original_load = controller.scheduler.load
    controller.scheduler.load = lambda pairs, now: (loads.append(len(pairs)), original_load(pairs, now))[1]
    ctx.store.set_setting("refresh.lead_time_seconds", lead + 60)
    controller.follow(ctx.store.list_with_state(), lead + 60)
    assert loads == [2] and controller.scheduler.refresh_lead_seconds == lead + 60
