"""What the table and the CLI say about a token: status kinds, texts, urgency order, relative times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desktop.models.status import (
    RefreshStatus,
    TokenStatus,
    format_local,
    refresh_status,
    relative_time,
    token_status,
)
from desktop.models.token import TokenState, format_error_text

NOW = datetime(2030, 1, 15, 12, 0, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


# ---- relative times


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (12 * MIN, "in 12 min"),
        (-3 * H, "3 h ago"),
        (2 * D, "in 2 days"),
        (-timedelta(seconds=10), "just now"),
        (timedelta(0), "in a few seconds"),
        (timedelta(seconds=30), "in a few seconds"),
        (timedelta(seconds=50), "in 1 min"),
        (-MIN, "1 min ago"),
        (89 * MIN, "in 89 min"),
        (2 * H, "in 2 h"),
        (-30 * H, "30 h ago"),
        (-3 * D, "3 days ago"),
        (59 * D, "in 59 days"),
        (90 * D, "in 3 months"),
        (-365 * D, "12 months ago"),
    ],
)
def test_relative_time_wording(offset: timedelta, text: str):
    assert relative_time(NOW + offset, NOW) == text


def test_format_local_uses_the_machine_time_zone(berlin):
    assert format_local(datetime(2030, 1, 15, 12, 0, tzinfo=UTC)) == "2030-01-15 13:00"
    assert format_local(datetime(2030, 7, 15, 12, 0, tzinfo=UTC)) == "2030-07-15 14:00"


# ---- token status


def st(**fields) -> TokenState:
    return TokenState(config_id=1, **fields)


def test_no_state_or_never_requested():
    for state in (None, st()):
        status = token_status(state, NOW)
        assert status.kind is TokenStatus.NONE
        assert status.text == "no token requested yet"


def test_requested_but_nothing_stored():
    status = token_status(st(last_requested_at=NOW - H), NOW)
    assert (status.kind, status.text) == (TokenStatus.NONE, "no token stored")


def test_valid_token(berlin):
    status = token_status(st(has_access_token=True, token_expires_at=NOW + 12 * MIN), NOW)
    assert status.kind is TokenStatus.VALID
    assert status.text == "valid until 2030-01-15 13:12 (in 12 min)"
    assert status.sort_key == 12 * 60


def test_expiring_token_inside_the_lead_time():
    state = st(has_access_token=True, token_expires_at=NOW + 4 * MIN)
    assert token_status(state, NOW, lead=5 * MIN).kind is TokenStatus.EXPIRING
    assert token_status(state, NOW, lead=3 * MIN).kind is TokenStatus.VALID
    assert token_status(state, NOW).kind is TokenStatus.VALID


def test_expired_token(berlin):
    status = token_status(st(has_access_token=True, token_expires_at=NOW - 3 * H), NOW)
    assert status.kind is TokenStatus.EXPIRED
    assert status.text == "expired on 2030-01-15 10:00 (3 h ago)"
    assert status.sort_key < 0


def test_token_without_expiry():
    status = token_status(st(has_access_token=True), NOW)
    assert (status.kind, status.text) == (TokenStatus.VALID, "valid (no expiry given)")


def test_failed_request_znuny_error_text():
    state = st(error_message="invalid_client", error_code="7000215",
               error_description="Invalid client secret provided.", last_requested_at=NOW)
    status = token_status(state, NOW)
    assert status.kind is TokenStatus.FAILED
    assert status.text == "last request failed: invalid_client (error code 7000215): Invalid client secret provided."


def test_failed_refresh_while_a_token_is_still_stored_reports_the_failure():
    state = st(has_access_token=True, token_expires_at=NOW + H, error_message="server_error")
    status = token_status(state, NOW)
    assert (status.kind, status.text) == (TokenStatus.FAILED, "last request failed: server_error")


def test_reauthorization_needed_wins():
    state = st(has_access_token=True, token_expires_at=NOW + H, error_message="invalid_grant",
               error_description="AADSTS70008: The refresh token has expired.", reauthorization_needed=True)
    status = token_status(state, NOW)
    assert status.kind is TokenStatus.REAUTH
    assert status.text == "re-authorization needed: invalid_grant: AADSTS70008: The refresh token has expired."


def test_token_sort_keys_follow_urgency():
    states = {
        "reauth": st(error_message="invalid_grant", reauthorization_needed=True),
        "failed": st(error_message="server_error", last_requested_at=NOW),
        "expired": st(has_access_token=True, token_expires_at=NOW - D),
        "soon": st(has_access_token=True, token_expires_at=NOW + MIN),
        "later": st(has_access_token=True, token_expires_at=NOW + D),
        "no expiry": st(has_access_token=True),
        "never": st(),
    }
    ordered = sorted(states, key=lambda k: token_status(states[k], NOW).sort_key)
    assert ordered == ["reauth", "failed", "expired", "soon", "later", "no expiry", "never"]


# ---- refresh-token status


def test_refresh_status_kinds(berlin):
    assert refresh_status(None, NOW).kind is RefreshStatus.NONE
    none = refresh_status(st(has_access_token=True), NOW)
    assert (none.kind, none.text) == (RefreshStatus.NONE, "none")
    no_expiry = refresh_status(st(has_refresh_token=True), NOW)
    assert (no_expiry.kind, no_expiry.text) == (RefreshStatus.NO_EXPIRY, "valid (no expiry known)")
    valid = refresh_status(st(has_refresh_token=True, refresh_token_expires_at=NOW + 2 * D), NOW, lead=D)
    assert (valid.kind, valid.text) == (RefreshStatus.VALID, "valid until 2030-01-17 13:00 (in 2 days)")
    expiring = refresh_status(st(has_refresh_token=True, refresh_token_expires_at=NOW + 20 * H), NOW, lead=D)
    assert (expiring.kind, expiring.text) == (RefreshStatus.EXPIRING, "valid until 2030-01-16 09:00 (in 20 h)")
    expired = refresh_status(st(has_refresh_token=True, refresh_token_expires_at=NOW - 3 * D), NOW)
    assert (expired.kind, expired.text) == (RefreshStatus.EXPIRED, "expired on 2030-01-12 13:00 (3 days ago)")
    assert expired.sort_key < valid.sort_key < no_expiry.sort_key < none.sort_key


# ---- token state helpers


def test_token_state_expiry_helpers():
    assert st().token_expired(NOW) and st().refresh_token_expired(NOW)
    assert not st(has_access_token=True).token_expired(NOW)
    assert st(has_access_token=True, token_expires_at=NOW).token_expired(NOW)
    assert not st(has_access_token=True, token_expires_at=NOW + MIN).token_expired(NOW)
    assert not st(has_refresh_token=True, refresh_token_expires_at=NOW + D).refresh_token_expired(NOW)
    assert st(has_refresh_token=True, refresh_token_expires_at=NOW - D).refresh_token_expired(NOW)


def test_error_text_formats():
    assert format_error_text("invalid_grant", None, None) == "invalid_grant"
    assert format_error_text(None, "50011", None) == "error (error code 50011)"
    assert format_error_text("invalid_request", "50011, 90014", "AADSTS50011: redirect URI mismatch") == (
        "invalid_request (error code 50011, 90014): AADSTS50011: redirect URI mismatch")
    assert not st().has_error and st(error_code="1").has_error
