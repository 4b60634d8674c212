"""Issue 16, point 11: right after an import the tray message said "3 tokens need attention" while the bar said 4.

Why: the bar lists everything that needs attention now (``Plan.attention``); the summary message counted only the
events never announced before (the log keeps one announcement per event, across restarts) - a configuration whose
trouble was announced before the import was in the bar but not in the message's count. Both now take the count
from the plan's attention list; the message's text still names only what is new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from desktop.notify.attention import AttentionItem, summary_announcement
from desktop.notify.events import EventKind

D = timedelta(days=1)
H = timedelta(hours=1)


def expired_long_ago(ctx, cfg, now):
    return ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True,
                                  token_expires_at=now - 100 * D + H, last_requested_at=now - 100 * D)


def test_after_an_import_the_tray_message_and_the_bar_give_one_count(app, ctx, make_config, clock, install_notify):
    expired_long_ago(ctx, make_config("Known trouble"), clock.now())
    feature = install_notify(tray=True)
    assert len(feature.delivered) == 1 and feature.bar.title.text() == "1 token needs attention"  # told at start
    feature.delivered.clear()
    for name in ("Imported 1", "Imported 2", "Imported 3"):  # what an import brings in, all in trouble
        expired_long_ago(ctx, make_config(name), clock.now())
    app.hub.configurations_changed.emit()
    assert feature.bar.title.text() == "4 tokens need attention"
    assert [n.title for _s, n in feature.delivered] == ["4 tokens need attention"]
    message = feature.delivered[0][1].message
    assert "Imported 1" in message and "Known trouble" not in message  # the text says what is new
    assert "1 known before" in message
    assert feature.tray.icon.toolTip().endswith("4 tokens need attention")


def test_the_summary_counts_what_needs_attention_not_only_what_is_new():
    now = datetime.now(UTC)
    items = [AttentionItem(config_id=i, name=f"T{i}", kind=EventKind.TOKEN_EXPIRED, title="Token expired",
                           message="", action="request", due_at=now) for i in range(3)]
    assert summary_announcement(items).title == "3 tokens need attention"
    note = summary_announcement(items, total=5)
    assert note.title == "5 tokens need attention" and note.count == 5 and "2 known before" in note.message


def test_a_new_list_in_the_bar_is_never_drawn_over_the_old_rows(app, ctx, make_config, clock, install_notify):
    import shiboken6

    expired_long_ago(ctx, make_config("First"), clock.now())
    feature = install_notify(tray=True)
    old_rows = list(feature.bar.rows)
    expired_long_ago(ctx, make_config("Second"), clock.now())
    app.hub.configurations_changed.emit()
    assert len(feature.bar.rows) == 2
    # the replaced rows wait for the event loop to delete them: until then they must not be drawn
    assert all(not shiboken6.isValid(r) or r.isHidden() for r in old_rows)
