"""Due events per configuration: Znuny's rules, Tokendesk's warnings, refresh-token lifetimes."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from desktop.models.config import INVALID, INVALID_TEMPORARILY
from desktop.models.token import TokenState
from desktop.notify.attention import attention_list
from desktop.notify.events import (
    ACTION_REFRESH,
    ACTION_REQUEST,
    EventKind,
    configuration_events,
    next_change,
    refresh_token_expiry,
)
from tests.notify.helpers import CC, GOOGLE, T0, config, fresh_token

H = timedelta(hours=1)
D = timedelta(days=1)


def kinds(events):
    return sorted(e.kind.value for e in events)


def by_kind(events, kind):
    found = [e for e in events if e.kind is kind]
    assert len(found) == 1, f"expected one {kind} in {kinds(events)}"
    return found[0]


def test_pure_package_imports_no_qt():
    code = (
        "import sys, desktop.notify.scheduler, desktop.notify.events, desktop.notify.log, desktop.notify.attention; "
        "print(sorted(m for m in sys.modules if m.startswith('PySide6')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---- Znuny's rules


def test_never_requested_counts_as_expired_but_notifies_only_where_switched_on():
    cfg = config()  # Microsoft template: expired token 0, expired refresh token 1
    events = configuration_events(cfg, TokenState(config_id=1), T0)
    assert kinds(events) == ["refresh_token_expired"]
    event = events[0]
    assert event.reason == "never_requested"
    assert event.action == ACTION_REQUEST
    assert event.active(T0)
    [item] = attention_list(events, T0)
    assert item.message == ("No token has been requested for 'Support' yet. Request a new token to sign in for the "
                            "first time.")
    assert item.action_label == "Request new token"


def test_never_requested_with_both_types_on_gives_both_events_but_one_attention_entry():
    cfg = config(NotifyOnExpiredToken=1)
    events = configuration_events(cfg, None, T0)
    assert kinds(events) == ["refresh_token_expired", "token_expired"]
    assert len(attention_list(events, T0)) == 1


def test_never_requested_with_both_types_off_is_silent():
    cfg = config(NotifyOnExpiredToken=0, NotifyOnExpiredRefreshToken=0)
    assert configuration_events(cfg, TokenState(config_id=1), T0) == []


@pytest.mark.parametrize("valid_id", [INVALID, INVALID_TEMPORARILY])
def test_only_valid_configurations_notify_or_refresh(valid_id):
    cfg = config(valid_id=valid_id, NotifyOnExpiredToken=1)
    expired = fresh_token(at=T0 - 10 * D)
    assert configuration_events(cfg, expired, T0) == []
    assert configuration_events(cfg, TokenState(config_id=1), T0) == []


def test_expired_token_event_is_due_at_expiry_and_offers_refresh_when_refresh_token_works():
    cfg = config(NotifyOnExpiredToken=1)
    state = fresh_token(at=T0)
    events = configuration_events(cfg, state, T0)
    expired = by_kind(events, EventKind.TOKEN_EXPIRED)
    assert expired.due_at == T0 + H
    assert not expired.active(T0)
    assert expired.active(T0 + H)
    assert expired.action == ACTION_REFRESH


def test_expired_token_with_rejected_refresh_token_needs_request():
    cfg = config(NotifyOnExpiredToken=1)
    state = fresh_token(at=T0 - D)
    state.reauthorization_needed = True
    state.error_message = "invalid_grant"
    events = configuration_events(cfg, state, T0)
    assert kinds(events) == ["refresh_token_expired", "token_expired"]
    assert all(e.action == ACTION_REQUEST for e in events)
    rejected = by_kind(events, EventKind.REFRESH_EXPIRED)
    assert rejected.reason == "rejected"
    assert rejected.due_at == T0 - D  # anchored on the sign-in whose refresh token died
    [item] = attention_list(events, T0)
    assert item.kind is EventKind.REFRESH_EXPIRED
    assert "rejected the refresh token of 'Support'" in item.message


def test_no_refresh_token_after_sign_in_counts_as_expired_refresh_token():
    cfg = config()
    state = fresh_token(at=T0, refresh=False)
    events = configuration_events(cfg, state, T0)
    assert kinds(events) == ["refresh_token_expired"]
    assert events[0].reason == "no_refresh_token"
    assert events[0].due_at == T0


# ---- refresh-token lifetime


def test_microsoft_lifetime_is_90_days_rolling_from_the_last_refresh():
    cfg = config()
    state = fresh_token(at=T0 - 30 * D, refreshed=T0 - H)
    assert refresh_token_expiry(cfg, state) == T0 - H + 90 * D
    events = configuration_events(cfg, state, T0)
    expiring = by_kind(events, EventKind.REFRESH_EXPIRING)
    assert expiring.due_at == T0 - H + 90 * D - 7 * D  # template lead time 10080 min
    assert expiring.until == T0 - H + 90 * D
    assert expiring.action == ACTION_REFRESH  # a refresh renews a rolling lifetime
    assert by_kind(events, EventKind.REFRESH_EXPIRED).due_at == T0 - H + 90 * D


def test_google_testing_app_lifetime_counts_from_sign_in_and_refresh_does_not_renew_it():
    cfg = config(template=GOOGLE)
    cfg.refresh_token_lifetime_days = 7
    state = fresh_token(at=T0, refreshed=T0 + 3 * D)
    assert refresh_token_expiry(cfg, state) == T0 + 7 * D
    events = configuration_events(cfg, state, T0 + 3 * D)
    expiring = by_kind(events, EventKind.REFRESH_EXPIRING)
    assert expiring.due_at == T0 + 6 * D  # Google template lead time: one day
    assert expiring.action == ACTION_REQUEST  # only a new sign-in helps
    item = attention_list([expiring], T0 + 6 * D)[0]
    assert item.title == "Refresh token expires soon"
    assert item.message.startswith("The refresh token of 'Support' expires on ")
    assert "(in 24 h)" in item.message
    assert item.message.endswith("Request a new token (sign in again).")


def test_google_published_app_has_no_refresh_token_expiry():
    cfg = config(template=GOOGLE)
    state = fresh_token(at=T0)
    assert refresh_token_expiry(cfg, state) is None
    assert kinds(configuration_events(cfg, state, T0)) == ["refresh_due"]


def test_providers_refresh_token_expires_in_wins_over_the_configured_lifetime():
    cfg = config()
    state = fresh_token(at=T0, rt_expires=T0 + 2 * D)
    assert refresh_token_expiry(cfg, state) == T0 + 2 * D
    expiring = by_kind(configuration_events(cfg, state, T0), EventKind.REFRESH_EXPIRING)
    assert expiring.active(T0)  # 2 days left, lead time 7 days
    assert expiring.action == ACTION_REQUEST  # a provider-given expiry is not assumed to roll


def test_refresh_token_expired_offers_request_and_stops_automatic_refresh():
    cfg = config()
    state = fresh_token(at=T0 - 100 * D)
    events = configuration_events(cfg, state, T0)
    assert kinds(events) == ["refresh_token_expired"]
    assert events[0].due_at == T0 - 10 * D
    assert events[0].action == ACTION_REQUEST


# ---- automatic refresh


def test_refresh_due_at_expiry_minus_lead_time_setting():
    cfg = config()
    state = fresh_token(at=T0)
    due = by_kind(configuration_events(cfg, state, T0, refresh_lead_seconds=600), EventKind.REFRESH_DUE)
    assert due.due_at == T0 + H - timedelta(seconds=600)
    assert due.action == ACTION_REFRESH


def test_no_refresh_due_without_refresh_token_or_when_reauthorization_is_needed():
    cfg = config()
    no_rt = fresh_token(at=T0, refresh=False)
    assert not [e for e in configuration_events(cfg, no_rt, T0) if e.kind is EventKind.REFRESH_DUE]
    rejected = fresh_token(at=T0)
    rejected.reauthorization_needed = True
    assert not [e for e in configuration_events(cfg, rejected, T0) if e.kind is EventKind.REFRESH_DUE]


def test_client_credentials_have_no_refresh_token_events_but_renew_ahead_of_expiry():
    cfg = config(template=CC, NotifyOnExpiredRefreshToken=1, NotifyOnExpiredToken=1)
    state = fresh_token(at=T0, refresh=False)
    events = configuration_events(cfg, state, T0, refresh_lead_seconds=600)
    assert kinds(events) == ["refresh_due", "token_expired"]
    [due] = [e for e in events if e.kind is EventKind.REFRESH_DUE]
    assert (due.due_at, due.until, due.action) == (T0 + timedelta(minutes=50), None, "refresh")
    # never requested: the admin asks for the first token; nothing is fetched behind their back
    assert kinds(configuration_events(cfg, None, T0)) == ["token_expired"]


# ---- warnings before expiry


def test_token_expiring_window_runs_from_lead_time_to_expiry():
    cfg = config(NotifyBeforeTokenExpiry=1, NotificationLeadTimeMinutes=20)
    state = fresh_token(at=T0)
    events = configuration_events(cfg, state, T0)
    warning = by_kind(events, EventKind.TOKEN_EXPIRING)
    assert warning.due_at == T0 + 40 * timedelta(minutes=1)
    assert not warning.active(T0 + 39 * timedelta(minutes=1))
    assert warning.active(T0 + 40 * timedelta(minutes=1))
    assert not warning.active(T0 + H)
    # after expiry the window is over and the event is no longer produced at all
    assert not [e for e in configuration_events(cfg, state, T0 + 2 * H) if e.kind is EventKind.TOKEN_EXPIRING]


def test_lead_time_zero_means_no_warning():
    cfg = config(NotifyBeforeTokenExpiry=1, NotificationLeadTimeMinutes=0)
    assert not [e for e in configuration_events(cfg, fresh_token(), T0) if e.kind is EventKind.TOKEN_EXPIRING]


def test_next_change_is_the_earliest_future_due_or_end():
    cfg = config(NotifyBeforeTokenExpiry=1, NotificationLeadTimeMinutes=20)
    events = configuration_events(cfg, fresh_token(at=T0), T0, refresh_lead_seconds=300)
    assert next_change(events, T0) == T0 + 40 * timedelta(minutes=1)
    assert next_change(events, T0 + 41 * timedelta(minutes=1)) == T0 + 55 * timedelta(minutes=1)
    assert next_change(events, T0 + 56 * timedelta(minutes=1)) == T0 + H  # the warning's window ends
