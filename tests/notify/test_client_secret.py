"""Client secret expiry (issue 13, point 1): the date rules - warnings 30, 7 and 1 days ahead and on the day, at
local midnight, each announced once - their words, validation, and the CLI's --client-secret-expires."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from desktop.models.validation import validate_configuration
from desktop.notify.attention import attention_list
from desktop.notify.events import ACTION_EDIT, EventKind, configuration_events
from desktop.notify.log import MemoryLog
from desktop.notify.scheduler import Scheduler
from tests.notify.helpers import T0, FakeClock, config, fresh_token, invalid

BERLIN = ZoneInfo("Europe/Berlin")
D = timedelta(days=1)


def secret_events(events):
    return [e for e in events if e.kind in (EventKind.CLIENT_SECRET_EXPIRING, EventKind.CLIENT_SECRET_EXPIRED)]


def secret_config(day: str, **kw):
    cfg = config(**kw)
    cfg.set_client_secret_expires_text(day)
    return cfg


def midnight(y, m, d):
    return datetime(y, m, d, tzinfo=BERLIN)


def test_warnings_are_due_30_7_1_days_ahead_and_on_the_day_at_local_midnight(berlin):
    cfg = secret_config("2026-04-10")
    events = secret_events(configuration_events(cfg, fresh_token(), T0))
    assert [(e.kind.value, e.due_at, e.until) for e in events] == [
        ("client_secret_expiring", midnight(2026, 3, 11), midnight(2026, 4, 3)),
        ("client_secret_expiring", midnight(2026, 4, 3), midnight(2026, 4, 9)),
        ("client_secret_expiring", midnight(2026, 4, 9), midnight(2026, 4, 10)),
        ("client_secret_expired", midnight(2026, 4, 10), None),
    ]
    # local midnight across the change to summer time: +01:00 before, +02:00 after
    assert [e.due_at.utcoffset() for e in events] == [timedelta(hours=1)] + [timedelta(hours=2)] * 3
    assert {e.action for e in events} == {ACTION_EDIT}


def test_each_warning_is_announced_once_across_the_weeks_and_a_restart(berlin):
    cfg = secret_config("2026-04-10")
    pairs = [(cfg, fresh_token(rt_expires=T0 + 400 * D))]
    clock = FakeClock(T0)
    log = MemoryLog()
    scheduler = Scheduler(log)
    shown: list[tuple[datetime, str, str]] = []
    end = midnight(2026, 4, 20)
    while True:
        plan = scheduler.plan(pairs, clock.now())
        shown += [(clock.now(), a.title, a.message) for a in plan.announcements if "client secret" in a.message]
        if plan.next_wake is None or plan.next_wake > end:
            break
        clock.set(plan.next_wake)
    assert [(when, title) for when, title, _ in shown] == [
        (midnight(2026, 3, 11), "Client secret expires soon"),
        (midnight(2026, 4, 3), "Client secret expires soon"),
        (midnight(2026, 4, 9), "Client secret expires soon"),
        (midnight(2026, 4, 10), "Client secret expires today"),
    ]
    assert shown[0][2] == ("The client secret of 'Support' expires on 2026-04-10 (in 30 days). Make a new client "
                           "secret at the provider (Entra: App registrations > Certificates & secrets), then enter "
                           "it and its expiry date with Edit.")
    assert "expires on 2026-04-10 (in 7 days)" in shown[1][2]
    assert "expires on 2026-04-10 (tomorrow)" in shown[2][2]
    # the window starts again on 2026-04-15: nothing is shown twice, the bar still lists it
    again = Scheduler(log).plan(pairs, midnight(2026, 4, 15))
    assert [a for a in again.announcements if "client secret" in a.message] == []
    [item] = [i for i in again.attention if i.kind is EventKind.CLIENT_SECRET_EXPIRED]
    assert (item.title, item.action_label) == ("Client secret expired", "Edit")
    assert item.summary == "The client secret of 'Support' expired on 2026-04-10: the provider refuses it."


def test_a_date_entered_late_announces_only_the_warning_that_is_due_now(berlin):
    cfg = secret_config("2026-03-06")  # 4 days after T0: the 30-day warning is over, the 7-day one is due
    events = secret_events(configuration_events(cfg, fresh_token(), T0))
    assert [e.due_at for e in events] == [midnight(2026, 2, 27), midnight(2026, 3, 5), midnight(2026, 3, 6)]
    plan = Scheduler(MemoryLog()).plan([(cfg, fresh_token(rt_expires=T0 + 400 * D))], T0)
    assert [a.message.split(". ")[0] for a in plan.announcements] == [
        "The client secret of 'Support' expires on 2026-03-06 (in 4 days)"]


def test_a_changed_date_starts_its_own_warnings(berlin):
    log = MemoryLog()
    pairs = [(secret_config("2026-03-06"), fresh_token(rt_expires=T0 + 400 * D))]
    assert len(Scheduler(log).plan(pairs, T0).announcements) == 1
    # the admin entered a new secret, valid until 2028: nothing is due now, nothing listed
    pairs = [(secret_config("2028-02-01"), fresh_token(rt_expires=T0 + 400 * D))]
    scheduler = Scheduler(log)
    plan = scheduler.plan(pairs, T0)
    assert (plan.announcements, plan.attention) == ([], [])
    assert min(e.due_at for e in secret_events(scheduler.events())) == midnight(2028, 1, 2)


def test_invalid_configurations_and_no_date_give_no_client_secret_events(berlin):
    assert secret_events(configuration_events(invalid(secret_config("2026-03-03")), fresh_token(), T0)) == []
    assert secret_events(configuration_events(config(), fresh_token(), T0)) == []


def test_a_text_that_is_no_date_is_refused_with_what_to_write():
    for text in ("31.05.2027", "2027-02-30", "next year"):
        errors = validate_configuration(secret_config(text))
        assert [(e.field, e.message) for e in errors if "secret" in e.field] == [(
            "Client secret expires", "must be a date written year-month-day, such as 2027-05-31, not "
            f"'{text}'; leave it empty when unknown")]
    assert [e for e in validate_configuration(secret_config("2027-05-31")) if "secret" in e.field] == []


def test_attention_words_on_the_day_and_after(berlin):
    cfg = secret_config("2026-03-02")  # T0's own day
    [item] = attention_list(secret_events(configuration_events(cfg, fresh_token(), T0)), T0)
    assert item.message.startswith("The client secret of 'Support' expires today (2026-03-02).")
    later = T0 + 3 * D
    [item] = attention_list(secret_events(configuration_events(cfg, fresh_token(at=later), later)), later)
    assert item.title == "Client secret expired"


# ---- the command line



def test_add_and_edit_take_the_date_and_show_prints_it(run, ctx):
    code, _, err = run("add", "-t", "Microsoft Exchange Online", "-n", "Helpdesk", "--client-id",
                       "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9", "--client-secret-expires", "2027-05-31")
    assert (code, err) == (0, "")
    assert ctx.store.get("Helpdesk").client_secret_expires == date(2027, 5, 31)
    assert ctx.store.get("Helpdesk").config["Tokendesk"]["ClientSecretExpires"] == "2027-05-31"
    code, out, _ = run("show", "Helpdesk")
    assert "client secret expires: 2027-05-31" in out.splitlines()
    assert run("edit", "Helpdesk", "--client-secret-expires", "2028-01-15")[0] == 0
    assert ctx.store.get("Helpdesk").client_secret_expires == date(2028, 1, 15)
    assert run("edit", "Helpdesk", "--client-secret-expires", "none")[0] == 0
    assert "ClientSecretExpires" not in ctx.store.get("Helpdesk").config["Tokendesk"]


def test_a_bad_date_on_the_command_line_saves_nothing(run, ctx):
    assert run("add", "-t", "Microsoft Exchange Online", "-n", "Helpdesk", "--client-id",
               "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9", "--client-secret-expires", "2027-05-31")[0] == 0
    code, out, err = run("edit", "Helpdesk", "--client-secret-expires", "31.05.2028")
    assert (code, out) == (2, "")
    assert "--client-secret-expires must be a date written year-month-day, such as 2027-05-31, not '31.05.2028'" \
        in err
    assert ctx.store.get("Helpdesk").client_secret_expires == date(2027, 5, 31)
