"""The scheduler with a fake clock: each event once, restart without duplicates, clock jumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from desktop.models.token import TokenState
from desktop.notify.events import EventKind, configuration_events
from desktop.notify.log import MemoryLog, SqliteLog
from desktop.notify.scheduler import Scheduler
from tests.notify.helpers import CC, MS, T0, FakeClock, config, fresh_token

MIN = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


def run_until(scheduler, pairs, clock, end, **kw):
    """Follow ``next_wake`` like the GUI's timer does; returns the plans of every wake-up."""
    plans = []
    while True:
        plan = scheduler.plan(pairs, clock.now(), **kw)
        plans.append(plan)
        if plan.next_wake is None or plan.next_wake > end:
            return plans
        clock.set(plan.next_wake)


def test_warning_then_expiry_each_announced_once_and_timer_follows_due_times():
    cfg = config(NotifyBeforeTokenExpiry=1, NotifyOnExpiredToken=1, NotificationLeadTimeMinutes=20)
    state = fresh_token(at=T0, refresh=False)  # no refresh token: the refresh token event is on too
    pairs = [(cfg, state)]
    clock = FakeClock(T0)
    scheduler = Scheduler(MemoryLog())

    first = scheduler.plan(pairs, clock.now())
    assert [a.title for a in first.announcements] == ["No refresh token"]
    assert first.next_wake == T0 + 40 * MIN

    # a change that does not alter due times (e.g. the table reloaded) re-plans without repeating
    again = scheduler.plan(pairs, clock.advance(minutes=5))
    assert again.announcements == []
    assert [i.title for i in again.attention] == ["No refresh token"]

    clock.set(first.next_wake)
    warning = scheduler.plan(pairs, clock.now())
    # a new event of the same token is news, even though the bar keeps showing the more urgent entry
    assert [a.title for a in warning.announcements] == ["Token expires soon"]
    assert warning.newly_announced == 1
    assert [i.title for i in warning.attention] == ["No refresh token"]
    assert warning.next_wake == T0 + H

    clock.set(warning.next_wake)
    expired = scheduler.plan(pairs, clock.now())
    assert expired.newly_announced == 1
    assert expired.next_wake is None  # nothing left that could become due without a change
    assert scheduler.plan(pairs, clock.advance(hours=5)).newly_announced == 0


def test_warning_message_for_a_token_with_working_refresh_token():
    cfg = config(NotifyBeforeTokenExpiry=1, NotificationLeadTimeMinutes=20)
    state = fresh_token(at=T0)
    scheduler = Scheduler(MemoryLog())
    plan = scheduler.plan([(cfg, state)], T0 + 45 * MIN)
    [note] = plan.announcements
    assert note.title == "Token expires soon"
    assert "(in 15 min)" in note.message
    assert note.message.endswith("Refresh it now.")
    assert (note.name, note.action) == ("Support", "refresh")


def test_refresh_due_is_asked_once_per_due_time_and_again_after_the_token_changed():
    cfg = config()
    state = fresh_token(at=T0)
    scheduler = Scheduler(MemoryLog())
    plan = scheduler.plan([(cfg, state)], T0)
    assert plan.refresh_due == []
    # due at expiry - 5 min; asked up to a minute later, together with any other refresh due by then
    assert plan.next_wake == T0 + H - 5 * MIN + MIN

    due = scheduler.plan([(cfg, state)], plan.next_wake)
    assert [e.config_id for e in due.refresh_due] == [1]
    assert [e.due_at for e in due.refresh_due] == [T0 + H - 5 * MIN]
    # the refresh is running or failed: no second request for the same due time
    assert scheduler.plan([(cfg, state)], plan.next_wake + MIN).refresh_due == []

    refreshed = fresh_token(at=T0, refreshed=T0 + 56 * MIN)  # the oauth feature stored a new token
    after = scheduler.plan([(cfg, refreshed)], T0 + 56 * MIN)
    assert after.refresh_due == []
    assert after.next_wake == T0 + 56 * MIN + H - 5 * MIN + MIN
    assert [e.config_id for e in scheduler.plan([(cfg, refreshed)], after.next_wake).refresh_due] == [1]


def test_a_timer_waking_for_something_else_asks_a_due_refresh_at_once():
    cfg = config(NotifyBeforeTokenExpiry=1, NotificationLeadTimeMinutes=5)
    scheduler = Scheduler(MemoryLog())
    scheduler.plan([(cfg, fresh_token(at=T0))], T0)
    plan = scheduler.plan(None, T0 + 55 * MIN)  # the warning is due now, and so is the refresh
    assert [a.title for a in plan.announcements] == ["Token expires soon"]
    assert [e.config_id for e in plan.refresh_due] == [1]


def test_refresh_lead_time_setting_moves_the_due_time():
    scheduler = Scheduler(MemoryLog())
    plan = scheduler.plan([(config(), fresh_token(at=T0))], T0, refresh_lead_seconds=1800)
    assert plan.next_wake == T0 + 30 * MIN + MIN


def test_invalid_configuration_never_wakes_the_timer():
    cfg = config(valid_id=2, NotifyOnExpiredToken=1, NotifyBeforeTokenExpiry=1)
    plan = Scheduler(MemoryLog()).plan([(cfg, fresh_token(at=T0))], T0)
    assert plan.next_wake is None
    assert plan.attention == []
    assert plan.announcements == []


def _store_pairs(ctx, states):
    pairs = []
    for cfg in ctx.store.list_configurations():
        changes = states.get(cfg.name)
        if changes:
            ctx.store.update_state(cfg.id, **changes)
    for cfg, state in ctx.store.list_with_state():
        pairs.append((cfg, state))
    return pairs


def test_restart_shows_missed_events_once_as_one_summary_and_never_again(ctx, make_config):
    for i in range(5):
        make_config(f"Mailbox {i}")
    # all five signed in 100 days ago and never refreshed since: refresh tokens died while closed
    old = T0 - 100 * D
    states = {
        f"Mailbox {i}": dict(has_access_token=True, has_refresh_token=True, token_expires_at=old + H,
                             last_requested_at=old)
        for i in range(5)
    }
    pairs = _store_pairs(ctx, states)

    first_run = Scheduler(SqliteLog(ctx.store))
    plan = first_run.plan(pairs, T0)
    assert len(plan.announcements) == 1
    summary = plan.announcements[0]
    assert summary.title == "5 tokens need attention"
    assert summary.count == 5
    assert summary.message == (
        "Mailbox 0: refresh token expired; Mailbox 1: refresh token expired; Mailbox 2: refresh token expired; "
        "and 2 more."
    )
    assert (summary.name, summary.action) == ("Mailbox 0", "request")
    assert len(plan.attention) == 5
    rows = ctx.store.conn.execute("SELECT COUNT(*) FROM notification_log").fetchone()[0]
    assert rows == 5

    # restart: a new scheduler on the same database shows nothing again, but the bar still lists all
    second_run = Scheduler(SqliteLog(ctx.store))
    plan2 = second_run.plan(_store_pairs(ctx, {}), T0 + 2 * H)
    assert plan2.announcements == []
    assert len(plan2.attention) == 5


def test_restart_with_few_missed_events_shows_each(ctx, make_config):
    make_config("A")
    make_config("B")
    old = T0 - 100 * D
    states = {n: dict(has_access_token=True, has_refresh_token=True, token_expires_at=old + H, last_requested_at=old)
              for n in ("A", "B")}
    plan = Scheduler(SqliteLog(ctx.store)).plan(_store_pairs(ctx, states), T0)
    assert [(a.name, a.title) for a in plan.announcements] == [("A", "Refresh token expired"),
                                                               ("B", "Refresh token expired")]


def test_start_forgets_announcements_of_situations_that_are_over(ctx, make_config):
    cfg = make_config("A")
    now = datetime.now(UTC)  # the configuration's creation time is real
    log = SqliteLog(ctx.store)
    Scheduler(log).plan(_store_pairs(ctx, {}), now)  # never requested: announced
    assert ctx.store.conn.execute("SELECT event FROM notification_log").fetchall()[0][0] == "refresh_token_expired"
    # the admin signs in; on the next start the old entry is pruned
    ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True, token_expires_at=now + 2 * H,
                           last_requested_at=now + H)
    plan = Scheduler(log).plan(_store_pairs(ctx, {}), now + H)
    assert plan.announcements == []
    assert ctx.store.conn.execute("SELECT COUNT(*) FROM notification_log").fetchone()[0] == 0


def test_deleting_a_configuration_drops_its_log_rows_and_a_late_record_is_harmless(ctx, make_config):
    cfg = make_config("A")
    log = SqliteLog(ctx.store)
    Scheduler(log).plan(_store_pairs(ctx, {}), datetime.now(UTC))
    assert ctx.store.conn.execute("SELECT COUNT(*) FROM notification_log").fetchone()[0] == 1
    ctx.configurations.delete("A")
    assert ctx.store.conn.execute("SELECT COUNT(*) FROM notification_log").fetchone()[0] == 0
    log.record([(cfg.id, "token_expired", "2026-03-02T09:00:00+00:00")], T0)  # raced with the delete
    assert ctx.store.conn.execute("SELECT COUNT(*) FROM notification_log").fetchone()[0] == 0


def test_clock_jump_forward_announces_what_is_due_now_not_the_skipped_windows():
    cfg = config(NotifyBeforeTokenExpiry=1, NotifyOnExpiredToken=1, NotificationLeadTimeMinutes=20)
    state = fresh_token(at=T0)
    scheduler = Scheduler(MemoryLog())
    assert scheduler.plan([(cfg, state)], T0).next_wake == T0 + 40 * MIN
    # the wall clock jumps two hours ahead (or the machine slept): the warning window is over
    plan = scheduler.plan([(cfg, state)], T0 + 2 * H)
    assert [a.title for a in plan.announcements] == ["Token expired"]
    assert plan.newly_announced == 1
    assert [e.kind for e in plan.refresh_due] == [EventKind.REFRESH_DUE]  # overdue refresh asked at once


def test_clock_jump_backward_repeats_nothing_and_rearms_for_the_future():
    cfg = config(NotifyOnExpiredToken=1)
    state = fresh_token(at=T0)
    scheduler = Scheduler(MemoryLog())
    late = scheduler.plan([(cfg, state)], T0 + 2 * H)
    assert late.newly_announced == 1
    early = scheduler.plan([(cfg, state)], T0 + 10 * MIN)  # the clock was set back
    assert early.announcements == []
    assert early.next_wake == T0 + 56 * MIN  # the refresh (due at 55 min, asked by 56 min)
    back = scheduler.plan([(cfg, state)], T0 + H)
    assert back.announcements == []  # same event, same due time: already announced


def test_a_day_of_wake_ups_equals_the_due_instants():
    cfgs = [config(f"C{i}", cid=i + 1, NotifyBeforeTokenExpiry=1, NotifyOnExpiredToken=1,
                   NotificationLeadTimeMinutes=10) for i in range(4)]
    states = [fresh_token(i + 1, at=T0 + i * 7 * MIN, refresh=False) for i in range(4)]
    pairs = list(zip(cfgs, states, strict=True))
    clock = FakeClock(T0 + 30 * MIN)
    scheduler = Scheduler(MemoryLog())
    plans = run_until(scheduler, pairs, clock, T0 + D)
    # each token: warning at +50 min, expiry at +60 min (the warning's end is the same instant)
    wakes = [p.now for p in plans[1:]]
    expected = sorted({T0 + i * 7 * MIN + m * MIN for i in range(4) for m in (50, 60)})
    assert wakes == expected
    assert sum(p.newly_announced for p in plans) == 4 + 4 + 4  # no refresh token x4, warning x4, expiry x4


def test_many_configurations_due_together_become_one_summary_while_running():
    cfgs = [config(f"C{i}", cid=i + 1, NotifyOnExpiredToken=1) for i in range(4)]
    states = [fresh_token(i + 1, at=T0) for i in range(4)]
    pairs = list(zip(cfgs, states, strict=True))
    scheduler = Scheduler(MemoryLog())
    scheduler.plan(pairs, T0)
    plan = scheduler.plan(pairs, T0 + H)
    assert [a.title for a in plan.announcements] == ["4 tokens need attention"]
    assert plan.newly_announced == 4


def test_state_none_is_treated_as_never_requested():
    plan = Scheduler(MemoryLog()).plan([(config(template=MS), None)], T0)
    assert [i.title for i in plan.attention] == ["No token yet"]


def test_tolerance_treats_a_slightly_early_timer_as_on_time():
    cfg = config(NotifyOnExpiredToken=1)
    state = TokenState(config_id=1, has_access_token=True, has_refresh_token=False, token_expires_at=T0 + H,
                       last_requested_at=T0)
    scheduler = Scheduler(MemoryLog(), summary_threshold=5)
    scheduler.plan([(cfg, state)], T0)
    plan = scheduler.plan([(cfg, state)], T0 + H - timedelta(milliseconds=400))
    assert [a.title for a in plan.announcements] == ["Token expired"]


def test_update_of_one_configuration_reports_its_next_change_or_now():
    a, b = config("A", cid=1), config("B", cid=2)
    scheduler = Scheduler(MemoryLog())
    scheduler.load([(a, fresh_token(1, at=T0)), (b, fresh_token(2, at=T0 + 10 * MIN))], T0)
    assert scheduler.next_wake(T0) == T0 + 56 * MIN
    # B refreshed: its next change is later, the overall next wake is still A's
    assert scheduler.update(b, fresh_token(2, at=T0, refreshed=T0 + 20 * MIN), T0 + 20 * MIN) == T0 + 76 * MIN
    assert scheduler.next_wake(T0 + 20 * MIN) == T0 + 56 * MIN
    # A's refresh token is rejected: something is due now (the bar and a notification)
    rejected = fresh_token(1, at=T0)
    rejected.reauthorization_needed = True
    assert scheduler.update(a, rejected, T0 + 21 * MIN) == T0 + 21 * MIN
    plan = scheduler.plan(None, T0 + 21 * MIN)
    assert [(n.name, n.title) for n in plan.announcements] == [("A", "Sign-in needed")]
    scheduler.remove(1)
    assert scheduler.plan(None, T0 + 22 * MIN).attention == []
    assert scheduler.next_wake(T0 + 22 * MIN) == T0 + 76 * MIN


def test_due_now_counts_what_became_true_or_ended_at_this_instant():
    cfg = config(NotifyBeforeTokenExpiry=1, NotifyOnExpiredToken=1, NotificationLeadTimeMinutes=5)
    scheduler = Scheduler(MemoryLog())
    plan = scheduler.plan([(cfg, fresh_token(at=T0))], T0 + 55 * MIN)  # refresh due and warning at once
    assert plan.due_now == 2
    assert [e.config_id for e in plan.refresh_due] == [1]


def test_refreshes_due_within_a_minute_share_one_wake_up():
    cfgs = [config(f"C{i}", cid=i + 1) for i in range(3)]
    # refreshes due at +55:00, +55:30 and +57:00
    states = [fresh_token(1, at=T0), fresh_token(2, at=T0 + timedelta(seconds=30)), fresh_token(3, at=T0 + 2 * MIN)]
    pairs = list(zip(cfgs, states, strict=True))
    scheduler = Scheduler(MemoryLog())
    assert scheduler.plan(pairs, T0).next_wake == T0 + 56 * MIN
    first = scheduler.plan(None, T0 + 56 * MIN)
    assert sorted(e.config_id for e in first.refresh_due) == [1, 2]  # never before their due time
    assert first.next_wake == T0 + 58 * MIN
    assert [e.config_id for e in scheduler.plan(None, T0 + 58 * MIN).refresh_due] == [3]


def test_refresh_coalescing_waits_at_most_half_the_lead_time():
    scheduler = Scheduler(MemoryLog(), refresh_lead_seconds=40)
    assert scheduler.coalesce_window() == timedelta(seconds=20)
    cfgs = [config("A", cid=1), config("B", cid=2)]
    states = [fresh_token(1, at=T0), fresh_token(2, at=T0 + timedelta(seconds=30))]
    first = scheduler.plan(list(zip(cfgs, states, strict=True)), T0)
    assert first.next_wake == T0 + H - timedelta(seconds=20)  # A due at -40 s, asked by -20 s
    plan = scheduler.plan(None, first.next_wake)
    assert [e.config_id for e in plan.refresh_due] == [1]  # B is due at -10 s: not yet
    assert plan.next_wake == T0 + H + timedelta(seconds=10)  # B asked 20 s before its token expires


def failed_refresh(state: TokenState) -> TokenState:
    """The state after an automatic refresh failed on the network: same token, an error stored."""
    return state.replace(error_message="The token endpoint could not be reached")


def test_a_refresh_that_failed_on_the_network_is_asked_again_with_growing_pauses():
    cfg = config()
    ok = fresh_token(at=T0)
    scheduler = Scheduler(MemoryLog())
    due_at = T0 + H - 5 * MIN
    first = scheduler.plan([(cfg, ok)], due_at)
    assert [e.config_id for e in first.refresh_due] == [1]

    broken = failed_refresh(ok)
    now = due_at
    asked_at = []
    for _ in range(4):
        retry = scheduler.refresh_failed(cfg, broken, now)
        assert scheduler.retry_at(1) == retry
        # nothing in between: the timer sleeps until the retry (plus the refresh coalescing minute)
        assert scheduler.plan([(cfg, broken)], now).refresh_due == []
        wake = scheduler.next_wake(now)
        assert wake == retry + MIN
        plan = scheduler.plan([(cfg, broken)], wake)
        assert [e.config_id for e in plan.refresh_due] == [1]
        asked_at.append(retry - now)
        now = wake
    assert asked_at == [1 * MIN, 2 * MIN, 5 * MIN, 10 * MIN]


def test_a_retry_is_forgotten_once_a_refresh_works_and_pauses_start_small_again():
    cfg = config()
    scheduler = Scheduler(MemoryLog())
    due_at = T0 + H - 5 * MIN
    scheduler.plan([(cfg, fresh_token(at=T0))], due_at)
    scheduler.refresh_failed(cfg, failed_refresh(fresh_token(at=T0)), due_at)
    scheduler.refresh_failed(cfg, failed_refresh(fresh_token(at=T0)), due_at + 2 * MIN)
    assert scheduler.retry_at(1) == due_at + 4 * MIN

    renewed = fresh_token(at=T0, refreshed=due_at + 5 * MIN)
    scheduler.update(cfg, renewed, due_at + 5 * MIN)
    assert scheduler.retry_at(1) is None
    assert scheduler.next_wake(due_at + 5 * MIN) == due_at + 5 * MIN + H - 5 * MIN + MIN
    # the next failure starts with the shortest pause again
    later = due_at + 5 * MIN + H - 5 * MIN
    scheduler.plan(None, later)
    assert scheduler.refresh_failed(cfg, failed_refresh(renewed), later) == later + MIN


def test_no_retry_once_a_sign_in_is_needed_or_the_refresh_token_is_dead():
    cfg = config()
    scheduler = Scheduler(MemoryLog())
    due_at = T0 + H - 5 * MIN
    scheduler.plan([(cfg, fresh_token(at=T0))], due_at)
    rejected = failed_refresh(fresh_token(at=T0)).replace(reauthorization_needed=True)
    assert scheduler.refresh_failed(cfg, rejected, due_at) is None
    assert scheduler.next_wake(due_at) is None or scheduler.next_wake(due_at) > due_at + D

    # the refresh token dies 30 s from now: a retry a minute later is pointless
    dying = failed_refresh(fresh_token(at=T0, rt_expires=due_at + 30 * timedelta(seconds=1)))
    scheduler = Scheduler(MemoryLog())
    scheduler.plan([(cfg, dying)], due_at)
    assert scheduler.refresh_failed(cfg, dying, due_at) is None


def test_automatic_refresh_text_says_when_or_why_not():
    from desktop.notify.scheduler import automatic_refresh_text

    def text(cfg, state, now=T0, retry=None):
        return automatic_refresh_text(cfg, state, configuration_events(cfg, state, now), retry, now)

    cfg = config()
    assert text(cfg, fresh_token(at=T0)).startswith("next ") and "(in 55 min)" in text(cfg, fresh_token(at=T0))
    assert text(cfg, fresh_token(at=T0), now=T0 + 58 * MIN) == "due now"
    retry_text = text(cfg, failed_refresh(fresh_token(at=T0)), now=T0 + 56 * MIN, retry=T0 + 57 * MIN)
    assert retry_text.startswith("the last attempt failed; next attempt ") and "(in 1 min)" in retry_text
    assert text(cfg, fresh_token(at=T0).replace(reauthorization_needed=True)).startswith("stopped: ")
    assert text(cfg, fresh_token(at=T0, refresh=False)).startswith("not possible: no refresh token")
    assert text(cfg, fresh_token(at=T0).replace(token_expires_at=None)) == "not needed: the provider gave no expiry"
    assert text(config(template=CC), None) == "after the first token is requested"
    assert text(config(valid_id=2), fresh_token(at=T0)) == "off: the configuration is not valid"
