"""TokenService: valid access tokens on demand, code exchange, refresh, client credentials, revoke, forget.

The one place that asks token endpoints (the requests themselves - form, retries, the answer read or refused in
words - are ``desktop.oauth.token_requests``) and writes token secrets and token state:

* ``access_token(name)`` returns a valid access token, refreshing first when it expires within
  the ``refresh.lead_time_seconds`` setting - but never before half its lifetime has passed, so
  5-minute tokens are not renewed on every call (client-credentials configurations request a new
  one). The fast path (a valid stored token) imports neither authlib nor httpx.
* Never two refreshes of one token at once, across threads and processes
  (``desktop.oauth.locks``): whoever waited re-reads the state and uses the other's result.
* A rotated refresh token, the access token and their expiry are stored in one transaction
  (the vault: ``desktop.store.vault``); a response field that is absent keeps the stored value
  (Znuny); ``invalid_grant`` sets ``reauthorization_needed`` and stops further refresh attempts
  until the admin signs in again; connection failures, time-outs and 5xx answers are retried
  with a bounded backoff (a code exchange only when the request never reached the server, because a code is single use).
* Failures are stored on the token in Znuny's form (ErrorMessage, ErrorDescription, ErrorCode)
  and raised as ``TokenError`` subclasses whose ``hint`` says what to do next.
* An answer is checked before anything of it is stored (``mapping.token_response_problem``: lifetimes,
  Bearer, the tokens' text); an unusable one is refused as a whole (ProviderError ``invalid_response``, exit 5)
  and the stored tokens stay - also when it carried a rotated refresh token, which is then lost with it.

Secrets go through ``ctx.secrets`` (the vault), non-secret facts through ``ctx.store.update_state``; the
tokens of one answer and their state are written in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from desktop.models.config import TokenConfiguration
from desktop.models.grants import AUTHORIZATION_CODE_GRANT, DEVICE_GRANT, Grant, keeps_refresh_token, renewal_for
from desktop.models.token import TokenState, utcnow
from desktop.oauth.claims import missing_scopes, token_info
from desktop.oauth.errors import (
    NO_REFRESH_TOKEN_HINT,
    STAGE_CLIENT_CREDENTIALS,
    STAGE_DEVICE,
    STAGE_REFRESH,
    Cancelled,
    ConfigurationProblem,
    NetworkError,
    ProviderError,
    ReauthorizationNeeded,
    StateMismatch,
    TokenError,
    stage_words,
)
from desktop.store import history
from desktop.store.secrets import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN

if TYPE_CHECKING:
    from desktop.oauth.flow import AuthorizationRequest
    from desktop.oauth.grant_drivers.device import DeviceAuthorization
    from desktop.oauth.mapping import MappedResponse
    from desktop.oauth.token_requests import TokenRequests
    from desktop.services import Context

logger = logging.getLogger(__name__)

__all__ = [
    "TokenService",
    "TokenError",
    "ReauthorizationNeeded",
    "ProviderError",
    "NetworkError",
    "ConfigurationProblem",
    "StateMismatch",
    "Cancelled",
]

#: "last used" is written at most this often per token and program (every ``tokendesk token`` call would otherwise
#: write); a different program is written at once
USED_WRITE_INTERVAL = timedelta(seconds=60)

#: pauses between attempts after a connection failure, time-out or 5xx (bounded: max_attempts in all)
DEFAULT_BACKOFF: tuple[float, ...] = (0.5, 1.5)
DEFAULT_MAX_ATTEMPTS = 3


def fingerprint(secret: str | None) -> str:
    """Last four characters, for logs ('' when absent)."""
    return f"...{secret[-4:]}" if secret and len(secret) > 8 else ""


class TokenService:
    """Token operations for one Context. Safe to use from worker threads (the store is per thread)."""

    def __init__(self, ctx: Context, *, clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep, max_attempts: int | None = None,
                 backoff: Sequence[float] | None = None) -> None:
        self.ctx = ctx
        self.clock = clock
        self.sleep = sleep
        self.max_attempts = max(1, DEFAULT_MAX_ATTEMPTS if max_attempts is None else max_attempts)
        self.backoff = tuple(DEFAULT_BACKOFF if backoff is None else backoff)

    # ---- settings
    @property
    def timeout(self) -> float:
        return float(self.ctx.store.get_setting("network.timeout_seconds") or 20)

    @property
    def lead_time(self) -> timedelta:
        return timedelta(seconds=int(self.ctx.store.get_setting("refresh.lead_time_seconds") or 0))

    def _lock_timeout(self) -> float:
        # long enough for the other holder's whole retry sequence
        return self.timeout * self.max_attempts + sum(self.backoff) + 5.0

    # ---- lookups
    def configuration(self, name: str) -> TokenConfiguration:
        return self.ctx.store.get(name)

    def _by_id(self, config_id: int) -> TokenConfiguration:
        cfg = self.ctx.store.get_by_id(config_id)
        if cfg is None:
            raise ConfigurationProblem("The configuration was deleted meanwhile.", "Reload the list.")
        return cfg

    def state(self, name: str) -> TokenState:
        cfg = self.configuration(name)
        assert cfg.id is not None
        return self.ctx.store.get_state(cfg.id)

    @staticmethod
    def _fresh(state: TokenState, now: datetime, lead: timedelta) -> bool:
        """A stored access token that is not yet due for renewal (``TokenState.refresh_due_at``: the lead time,
        but never before half its lifetime); no expiry given counts as fresh."""
        if not state.has_access_token:
            return False
        due = state.refresh_due_at(lead)
        return due is None or due > now

    def is_due(self, state: TokenState, now: datetime | None = None) -> bool:
        """Does this token need renewing now (missing, or expiring within the lead time)?"""
        return not self._fresh(state, now or self.clock(), self.lead_time)

    @staticmethod
    def _usable(state: TokenState, now: datetime) -> bool:
        return state.has_access_token and not state.token_expired(now)

    def _check_usable_configuration(self, cfg: TokenConfiguration) -> None:
        if not cfg.is_valid:
            raise ConfigurationProblem(
                f"'{cfg.name}' is marked {cfg.validity_label}, so Tokendesk does not hand out or renew its token.",
                "Set it to valid in Edit (or with the window) to use it again.",
            )

    # ---- the public entry points
    def access_token(self, name: str, *, mark_used: bool = True) -> str:
        """A valid access token for ``name``, renewed first when it expires within the lead time."""
        return self.access_token_and_state(name, mark_used=mark_used)[0]

    def access_token_and_state(self, name: str, *, mark_used: bool = True,
                               used_by: str = "") -> tuple[str, TokenState]:
        """``access_token`` plus the token's state. ``used_by``: the program that asked (its executable,
        ``desktop.procinfo``), kept with "last used" ('' when unknown)."""
        cfg = self.configuration(name)
        assert cfg.id is not None
        self._check_usable_configuration(cfg)
        store, secrets = self.ctx.store, self.ctx.secrets
        state = store.get_state(cfg.id)
        now = self.clock()
        lead = self.lead_time
        if self._fresh(state, now, lead):
            token = secrets.get_for(cfg.id, ACCESS_TOKEN)
            if token:
                return token, self._mark_used(cfg, state, now, mark_used, used_by)
        try:
            state = self._renew(cfg, seen=state, force=False)
        except (NetworkError, ReauthorizationNeeded) as exc:
            # the stored token still works for a while: hand it out, the failure is recorded on the token
            if self._usable(state, now):
                token = secrets.get_for(cfg.id, ACCESS_TOKEN)
                if token:
                    logger.warning("'%s': renewing the token failed (%s); the current token is still valid until %s",
                                   cfg.name, exc, state.token_expires_at)
                    return token, self._mark_used(cfg, state, now, mark_used, used_by)
            raise
        token = secrets.get_for(cfg.id, ACCESS_TOKEN)
        if not token:
            raise ReauthorizationNeeded(f"No access token is stored for '{cfg.name}'.",
                                        "Request a new token (tokendesk authorize, or the window).")
        return token, self._mark_used(cfg, state, self.clock(), mark_used, used_by)

    def refresh(self, name: str) -> TokenState:
        """Renew now (refresh token, or a new client-credentials token), unless another process just did."""
        cfg = self.configuration(name)
        assert cfg.id is not None
        self._check_usable_configuration(cfg)
        return self._renew(cfg, seen=self.ctx.store.get_state(cfg.id), force=True)

    def refresh_by_id(self, config_id: int, *, only_if_due: bool = False) -> TokenState:
        """For the GUI scheduler: renew ``config_id``; with ``only_if_due`` skip tokens outside the lead time."""
        cfg = self._by_id(config_id)
        self._check_usable_configuration(cfg)
        state = self.ctx.store.get_state(config_id)
        if only_if_due and self._fresh(state, self.clock(), self.lead_time):
            return state
        return self._renew(cfg, seen=state, force=not only_if_due)

    def revoke(self, name: str) -> None:
        """RFC 7009 at the configuration's revocation endpoint, then forget the tokens locally."""
        cfg = self.configuration(name)
        assert cfg.id is not None
        url = cfg.revocation_url
        if not url:
            raise ConfigurationProblem(
                f"'{cfg.name}' has no revocation endpoint.",
                "Use \"Forget token\" to delete it here, and remove the app's access in the provider's account "
                "settings (Microsoft has no revocation endpoint).",
            )
        from desktop.oauth.flow import check_endpoint

        check_endpoint(url, "Revocation endpoint")
        with self._lock(cfg.id):
            secrets = self.ctx.secrets
            refresh_token = secrets.get_for(cfg.id, REFRESH_TOKEN)
            access_token = secrets.get_for(cfg.id, ACCESS_TOKEN)
            pairs = [(t, h) for t, h in ((refresh_token, "refresh_token"), (access_token, "access_token")) if t]
            for index, (token, hint) in enumerate(pairs):
                try:
                    self._revoke_one(cfg, url, token, hint)
                except TokenError:
                    if index == 0:
                        raise
                    # the refresh token is revoked (which takes the grant's access tokens with it at RFC 7009
                    # servers); a failure revoking the access token as well is not worth keeping it for
                    logger.warning("'%s': revoking the access token as well failed", cfg.name, exc_info=True)
            self._forget_locked(cfg.id, cfg.name, history.REVOKE)
        logger.info("'%s': token revoked and forgotten", cfg.name)

    def forget(self, name: str) -> None:
        """Delete the stored access and refresh token (no network). The configuration stays."""
        cfg = self.configuration(name)
        assert cfg.id is not None
        with self._lock(cfg.id):
            self._forget_locked(cfg.id, cfg.name, history.FORGET)
        logger.info("'%s': token forgotten", cfg.name)

    def record_failure(self, config_id: int, exc: TokenError) -> None:
        """Store a failure seen outside this service (e.g. a provider's error page in the login dialog)."""
        self._store_error(config_id, exc)

    # ---- sign-ins: each grant's driver (desktop/oauth/grant_drivers/)
    def begin_authorization(self, name: str, *, redirect_uri: str | None = None) -> AuthorizationRequest:
        """Authorization code: a new single-use request (URL with state and PKCE); ``redirect_uri`` None: settings."""
        return self._driver(AUTHORIZATION_CODE_GRANT).begin(self, name, redirect_uri)

    def complete_authorization(self, request: AuthorizationRequest, callback_url: str) -> TokenState:
        """Authorization code: check the redirect (state, single use), exchange the code and store the tokens."""
        return self._driver(AUTHORIZATION_CODE_GRANT).complete(self, request, callback_url)

    def exchange_code(self, request: AuthorizationRequest, code: str) -> TokenState:
        return self._driver(AUTHORIZATION_CODE_GRANT).exchange(self, request, code)

    def start_device_authorization(self, name: str) -> DeviceAuthorization:
        """Device grant (RFC 8628): a user code and the address to enter it at."""
        return self._driver(DEVICE_GRANT).start(self, name)  # type: ignore[no-any-return]

    def poll_device(self, auth: DeviceAuthorization) -> TokenState | None:
        """Device grant: one poll of the token endpoint; None while the person has not finished."""
        return self._driver(DEVICE_GRANT).poll(self, auth)  # type: ignore[no-any-return]

    def wait_for_device(self, auth: DeviceAuthorization, *,
                        cancelled: Callable[[], bool] = lambda: False) -> TokenState:
        """Device grant: poll at the provider's pace until the token is stored (``Cancelled`` when ``cancelled()``)."""
        return self._driver(DEVICE_GRANT).wait(self, auth, cancelled=cancelled, sleep=self.sleep)  # type: ignore

    @staticmethod
    def _driver(grant: Grant) -> Any:
        from desktop.oauth.grant_drivers import driver_for

        return driver_for(grant)

    def _ask_who_signed_in(self, cfg: TokenConfiguration, access_token: str, state: TokenState) -> TokenState:
        """When the tokens name no account and discovery named a userinfo endpoint, ask it (the sign-in is
        done and stays done whatever happens here: ``desktop.oauth.userinfo``)."""
        assert cfg.id is not None
        if state.token_info.get("account") or not cfg.userinfo_url:
            return state
        from desktop.oauth.userinfo import ask_userinfo

        try:
            found = ask_userinfo(cfg.userinfo_url, access_token, subject=state.token_info.get("subject", ""),
                                 timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001 - the token is stored: nothing here may fail the sign-in
            logger.warning("'%s': asking the userinfo endpoint failed (%s)", cfg.name, type(exc).__name__)
            return state
        if not found.account and not found.subject:
            return state
        current = self.ctx.store.get_state(cfg.id)
        if current.token_info.get("account"):
            return current  # a refresh meanwhile named it
        info = dict(current.token_info)
        if found.account:
            info["account"] = found.account
        info.setdefault("subject", found.subject)
        return self.ctx.store.update_state(cfg.id, token_info={k: v for k, v in info.items() if v})

    # ---- internals: renewal
    def _lock(self, config_id: int):  # noqa: ANN202 - a context manager
        from desktop.oauth.locks import store_token_lock

        return store_token_lock(self.ctx.store, config_id, self._lock_timeout())

    def _prepare_secrets(self) -> None:
        """Open (or make) the vault before a request: a token the provider issued - maybe rotating the refresh
        token away - must never wait on a locked vault or a keyring prompt to be stored."""
        self.ctx.secrets.prepare_write()

    def _renew(self, cfg: TokenConfiguration, *, seen: TokenState, force: bool) -> TokenState:
        assert cfg.id is not None
        self._prepare_secrets()
        with self._lock(cfg.id):
            current = self.ctx.store.get_state(cfg.id)
            now = self.clock()
            # someone else renewed it between our look at the state and getting the lock
            if self._fresh(current, now, self.lead_time) and (not force or _changed(seen, current)):
                logger.info("'%s': token was renewed meanwhile by another refresh; using it", cfg.name)
                return current
            return self._driver(renewal_for(cfg)).renew(self, cfg, current)  # type: ignore[no-any-return]

    def _values(self, cfg: TokenConfiguration, **extra: str | None) -> dict[str, str | None]:
        assert cfg.id is not None
        secret = self.ctx.secrets.get_for(cfg.id, CLIENT_SECRET) if cfg.has_client_secret else None
        return {"ClientID": cfg.client_id, "ClientSecret": secret, "Scope": cfg.scope, **extra}

    def _requests(self) -> TokenRequests:
        """The endpoint requests with this service's time-out, attempts and pauses (``desktop.oauth.token_requests``,
        imported only now: a stored token is handed out without it)."""
        from desktop.oauth.token_requests import TokenRequests

        return TokenRequests(timeout=self.timeout, max_attempts=self.max_attempts, backoff=self.backoff,
                             sleep=self.sleep, record_failure=self._store_error)

    def _token_request(self, cfg: TokenConfiguration, key: str, values: dict[str, str | None], stage: str,
                       extra: dict[str, str] | None = None, *, redirect_uri: str | None = None) -> MappedResponse:
        return self._requests().token(cfg, key, values, stage, extra, redirect_uri=redirect_uri)

    # ---- internals: storing
    def _store_tokens(self, cfg: TokenConfiguration, mapped: MappedResponse, stage: str,
                      previous: TokenState | None = None) -> TokenState:
        """``previous``: the state read under the lock before a refresh (its token facts are kept where the
        answer is silent)."""
        assert cfg.id is not None and mapped.token
        secrets, store = self.ctx.secrets, self.ctx.store
        now = self.clock()
        new_refresh = mapped.refresh_token if stage != STAGE_CLIENT_CREDENTIALS else None
        changes: dict[str, Any] = {
            "has_access_token": True,
            # a new token without expires_in has an unknown expiry: the old date belonged to the old token
            "token_expires_at": mapped.expires_at("TokenExpirationDate", now),
            "error_message": None,
            "error_description": None,
            "error_code": None,
            "reauthorization_needed": False,
        }
        info = token_info(mapped.raw, mapped.token)
        if stage == STAGE_REFRESH:
            changes["last_refreshed_at"] = now
            # a refresh answer without "scope" has not taken the grant away: absent fields keep their value - but
            # the token type is the new token's own (not stated: None, taken as Bearer)
            merged = {**(previous.token_info if previous else {}), **info}
            if "token_type" not in info:
                merged.pop("token_type", None)
            changes["token_info"] = merged
        else:
            changes["last_requested_at"] = now
            changes["token_info"] = info  # a new sign-in may be another account
        lifetime = cfg.refresh_token_lifetime_days
        if new_refresh:
            changes["has_refresh_token"] = True
            if mapped.has("RefreshTokenExpirationDate"):
                changes["refresh_token_expires_at"] = mapped.expires_at("RefreshTokenExpirationDate", now)
            else:
                changes["refresh_token_expires_at"] = now + timedelta(days=lifetime) if lifetime else None
        elif mapped.has("RefreshTokenExpirationDate") and stage != STAGE_CLIENT_CREDENTIALS:
            changes["refresh_token_expires_at"] = mapped.expires_at("RefreshTokenExpirationDate", now)
        elif stage == STAGE_REFRESH and lifetime and cfg.refresh_token_lifetime_rolling:
            changes["refresh_token_expires_at"] = now + timedelta(days=lifetime)
        # one transaction: a rotated refresh token, the access token and the expiry commit together or not at all
        # (the vault was opened before the request: _prepare_secrets)
        with store.transaction():
            action, detail = _history_of(stage, previous or store.get_state(cfg.id), bool(new_refresh))
            if new_refresh:
                secrets.set_for(cfg.id, REFRESH_TOKEN, new_refresh)
            secrets.set_for(cfg.id, ACCESS_TOKEN, mapped.token)
            state = store.update_state(cfg.id, **changes)
            history.record(store, cfg.id, cfg.name, action, detail, when=now)
        logger.info("'%s': %s stored token %s (refresh token %s)", cfg.name, stage_words(stage),
                    fingerprint(mapped.token), "rotated" if new_refresh and stage == STAGE_REFRESH else "kept")
        return state

    def _store_error(self, config_id: int | None, exc: TokenError, *, error: str | None = None,
                     reauthorization_needed: bool | None = None) -> None:
        if config_id is None:
            return
        changes: dict[str, Any] = {
            "error_message": exc.error or error or "error",
            "error_description": exc.description or str(exc),
            "error_code": exc.code,
        }
        if reauthorization_needed is not None:
            changes["reauthorization_needed"] = reauthorization_needed
        try:
            self.ctx.store.update_state(config_id, **changes)
        except Exception:  # the original failure matters more than this one
            logger.exception("could not record the token error")

    def _forget_locked(self, config_id: int, name: str, action: str) -> None:
        secrets = self.ctx.secrets
        with self.ctx.store.transaction():
            history.record(self.ctx.store, config_id, name, action, when=self.clock())
            secrets.delete_for(config_id, ACCESS_TOKEN)
            secrets.delete_for(config_id, REFRESH_TOKEN)
            self.ctx.store.update_state(
                config_id, has_access_token=False, has_refresh_token=False, token_expires_at=None,
                refresh_token_expires_at=None, reauthorization_needed=False, error_message=None,
                error_description=None, error_code=None, token_info={},
            )

    def _mark_used(self, cfg: TokenConfiguration, state: TokenState, now: datetime, mark_used: bool,
                   used_by: str = "") -> TokenState:
        """Record when (and by which program) the token was handed out: at most once a minute for the same
        program, at once when another program asks; the history gets a row in the same transaction for a program
        not recorded within the last hour (``history.HANDED_OUT_INTERVAL``)."""
        if not mark_used:
            return state
        same_program = used_by == state.last_used_by
        if same_program and state.last_used_at is not None and now - state.last_used_at < USED_WRITE_INTERVAL:
            return state
        assert cfg.id is not None
        store = self.ctx.store
        try:
            with store.transaction():
                marked = store.update_state(cfg.id, last_used_at=now, last_used_by=used_by)
                history.record_handed_out(store, cfg.id, cfg.name, used_by, when=now)
            return marked
        except Exception:  # a busy database must not cost the caller its token
            logger.warning("could not record when the token was used", exc_info=True)
            return state

    def _revoke_one(self, cfg: TokenConfiguration, url: str, token: str, hint: str) -> None:
        assert cfg.id is not None
        secret = self.ctx.secrets.get_for(cfg.id, CLIENT_SECRET) if cfg.has_client_secret else None
        self._requests().revoke(cfg, url, token, hint, secret)


def _history_of(stage: str, before: TokenState, rotated: bool) -> tuple[str, str]:
    """The history's action and words for tokens stored at ``stage`` (never a token)."""
    if stage == STAGE_REFRESH:
        return history.REFRESH, "refresh token rotated" if rotated else ""
    if stage == STAGE_CLIENT_CREDENTIALS:  # the first token (or the first after a forget) is the sign-in
        return (history.REFRESH if before.has_access_token else history.SIGN_IN), "client credentials"
    return history.SIGN_IN, "device code" if stage == STAGE_DEVICE else "authorization code"


def _changed(before: TokenState, after: TokenState) -> bool:
    return (before.last_refreshed_at, before.last_requested_at, before.token_expires_at) != (
        after.last_refreshed_at, after.last_requested_at, after.token_expires_at)


def warnings_for(cfg: TokenConfiguration, state: TokenState) -> list[str]:
    """Advice that is not an error (shown in the details pane and by the CLI after a sign-in)."""
    notes: list[str] = []
    if keeps_refresh_token(cfg) and state.has_access_token and not state.has_refresh_token:
        notes.append(NO_REFRESH_TOKEN_HINT)
    if state.has_access_token and state.token_expires_at is None:
        notes.append("The provider gave no expiry for this token; Tokendesk treats it as valid until a refresh "
                     "or until a server refuses it.")
    if state.has_access_token:
        missing = missing_scopes(cfg.scope, state.token_info.get("granted_scope", ""))
        if missing:
            notes.append(f"The provider granted less than was asked: {', '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} missing (at the consent screen the permission may "
                         "have been unticked). Request a new token and allow everything asked for.")
    return notes
