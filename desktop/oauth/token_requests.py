"""Requests to a provider's token endpoint (code exchange, refresh, client credentials) and revocation endpoint.

``TokenRequests`` builds the form (Znuny's parameters; ``client_secret_basic`` takes the client out of the body),
sends it through ``desktop.oauth.http`` with bounded retries (connection failures, time-outs and 5xx answers; a code
exchange only when the request never reached the server, because a code is single use) and reads the answer into a
``MappedResponse`` - or a ``TokenError`` in plain words, recorded on the token (``record_failure``) before it is
raised. The answer is checked before anything of it is used (``mapping.token_response_problem``).

``TokenService`` (``desktop.oauth.tokens``) imports this module only when it makes a request, so handing out a
stored token imports neither this nor authlib or httpx.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from desktop.models.config import (
    CLIENT_AUTH_BASIC,
    TOKEN_BY_AUTHORIZATION_CODE,
    TokenConfiguration,
)
from desktop.oauth.errors import (
    DEVICE_WAIT_ERRORS,
    MALFORMED_HINT,
    STAGE_DEVICE,
    STAGE_EXCHANGE,
    STAGE_REFRESH,
    UNUSABLE_ANSWER_HINT,
    AuthorizationPending,
    ConfigurationProblem,
    NetworkError,
    ProviderError,
    ReauthorizationNeeded,
    TokenError,
    hint_for,
    http_error_hint,
    stage_words,
)

if TYPE_CHECKING:
    from desktop.oauth.http import HttpAnswer
    from desktop.oauth.mapping import MappedResponse

logger = logging.getLogger(__name__)

#: records a failure on the token before it is raised: (config id, error, *, error=..., reauthorization_needed=...)
RecordFailure = Callable[..., None]


class TokenRequests:
    """The requests of one ``TokenService``: its time-out, attempts and pauses between them."""

    def __init__(self, *, timeout: float, max_attempts: int, backoff: Sequence[float],
                 sleep: Callable[[float], None], record_failure: RecordFailure) -> None:
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = tuple(backoff)
        self.sleep = sleep
        self.record_failure = record_failure

    def token(self, cfg: TokenConfiguration, key: str, values: dict[str, str | None], stage: str,
              extra: dict[str, str] | None = None, *, redirect_uri: str | None = None) -> MappedResponse:
        """POST to the endpoint of ``key`` (retrying connection failures, time-outs and 5xx - a code exchange only
        when the request never reached the server) and read the answer; a failure is recorded, then raised."""
        from desktop.oauth import http
        from desktop.oauth.flow import endpoint_for
        from desktop.oauth.mapping import build_parameters

        assert cfg.id is not None
        try:
            url = endpoint_for(cfg, key)
        except ConfigurationProblem as exc:
            self.record_failure(cfg.id, exc, error="configuration")
            raise
        params = build_parameters(cfg.static_parameters(key), cfg.autofilled_parameters(key), values)
        if stage == STAGE_REFRESH and "grant_type" not in params:
            params["grant_type"] = "refresh_token"
        params.update(extra or {})
        basic = basic_credentials(cfg, params, cfg.autofilled_parameters(key), values)
        timeout = self.timeout
        answer: HttpAnswer | None = None
        last_error: NetworkError | None = None
        for attempt in range(self.max_attempts):
            if attempt:
                delay = self.backoff[min(attempt - 1, len(self.backoff) - 1)] if self.backoff else 0.0
                logger.info("'%s': retrying the token request in %.1f s (attempt %d of %d)", cfg.name, delay,
                            attempt + 1, self.max_attempts)
                self.sleep(delay)
            try:
                answer = http.post_form(url, params, timeout=timeout, basic=basic)
            except http.ConnectFailed as exc:
                last_error, answer = exc, None
                continue
            except NetworkError as exc:
                last_error, answer = exc, None
                if stage == STAGE_EXCHANGE:
                    break  # the code may be spent: do not send it twice
                continue
            if answer.status >= 500 and stage != STAGE_EXCHANGE:
                last_error = None
                continue
            break
        if answer is None:
            assert last_error is not None
            self.record_failure(cfg.id, last_error)
            raise last_error
        return self._interpret(cfg, answer, stage, url, redirect_uri, key)

    def _interpret(self, cfg: TokenConfiguration, answer: HttpAnswer, stage: str, url: str,
                   redirect_uri: str | None, key: str) -> MappedResponse:
        from desktop.oauth.http import host_of
        from desktop.oauth.mapping import DEFAULT_TOKEN_MAPPING, map_response, token_response_problem

        assert cfg.id is not None
        mapping = cfg.response_mapping(key)
        if stage == STAGE_REFRESH and not mapping:
            mapping = cfg.response_mapping(TOKEN_BY_AUTHORIZATION_CODE)
        host = host_of(url)
        if answer.payload is None:
            if answer.status >= 500:
                exc: TokenError = NetworkError(
                    f"{host} answered HTTP {answer.status} ({answer.reason or 'server error'}).",
                    http_error_hint(answer.status), error="server_error",
                    description=f"HTTP {answer.status} from the token endpoint")
            elif answer.status >= 400:
                exc = ProviderError(f"{host} answered HTTP {answer.status} ({answer.reason}) without an OAuth2 error.",
                                    http_error_hint(answer.status), error="http_error",
                                    description=f"HTTP {answer.status} from the token endpoint")
            else:
                exc = ProviderError(f"{host} did not answer with JSON (HTTP {answer.status}).", MALFORMED_HINT,
                                    error="invalid_response", description="the token endpoint's answer is not JSON")
            self.record_failure(cfg.id, exc)
            raise exc
        mapped = map_response(mapping, answer.payload, DEFAULT_TOKEN_MAPPING)
        mapped.raw = answer.payload
        if mapped.is_error or answer.status >= 400:
            error = mapped.error or ("server_error" if answer.status >= 500 else "invalid_request")
            if stage == STAGE_DEVICE and error in DEVICE_WAIT_ERRORS:
                raise AuthorizationPending(f"waiting for the sign-in ({error})", error=error)  # not a failure
            hint = hint_for(error, mapped.error_code, mapped.error_description, stage=stage, redirect_uri=redirect_uri)
            message = f"The provider refused the {stage_words(stage)}: {mapped.error_description or error}"
            if answer.status >= 500:
                exc = NetworkError(message, hint or http_error_hint(answer.status), error=error,
                                   code=mapped.error_code, description=mapped.error_description)
                self.record_failure(cfg.id, exc)
            elif error == "invalid_grant" and stage == STAGE_REFRESH:
                exc = ReauthorizationNeeded(message, hint, error=error, code=mapped.error_code,
                                            description=mapped.error_description)
                self.record_failure(cfg.id, exc, reauthorization_needed=True)
            else:
                exc = ProviderError(message, hint, error=error, code=mapped.error_code,
                                    description=mapped.error_description)
                self.record_failure(cfg.id, exc)
            logger.warning("'%s': %s failed: %s", cfg.name, stage_words(stage), exc.text)
            raise exc
        # checked before anything is stored: the stored token stays when the answer cannot be used
        problem = token_response_problem(mapped, answer.payload)
        if problem:
            exc = ProviderError(f"{host}'s answer cannot be used: {problem}.", UNUSABLE_ANSWER_HINT,
                                error="invalid_response", description=problem)
            self.record_failure(cfg.id, exc)
            logger.warning("'%s': %s refused: %s", cfg.name, stage_words(stage), problem)
            raise exc
        return mapped

    def revoke(self, cfg: TokenConfiguration, url: str, token: str, hint: str, client_secret: str | None) -> None:
        """RFC 7009: revoke ``token`` at ``url`` (retrying connection failures and 5xx); raises the provider's
        refusal as a ``TokenError``."""
        from desktop.oauth import http

        answer = None
        for attempt in range(self.max_attempts):
            if attempt:
                self.sleep(self.backoff[min(attempt - 1, len(self.backoff) - 1)] if self.backoff else 0.0)
            try:
                answer = http.revoke(url, token, hint, client_id=cfg.client_id, client_secret=client_secret,
                                     timeout=self.timeout, basic=cfg.client_authentication == CLIENT_AUTH_BASIC)
            except http.ConnectFailed:
                if attempt + 1 == self.max_attempts:
                    raise
                continue
            if answer.status >= 500 and attempt + 1 < self.max_attempts:
                continue
            break
        assert answer is not None
        if answer.status == 200:
            return
        payload = answer.payload or {}
        error = str(payload.get("error") or f"http_{answer.status}")
        description = str(payload.get("error_description") or "") or None
        cls: type[TokenError] = NetworkError if answer.status >= 500 else ProviderError
        raise cls(f"The provider refused to revoke the token: {description or error} (HTTP {answer.status}).",
                  hint_for(error, None, description, stage="revoke") or http_error_hint(answer.status),
                  error=error, description=description)


def basic_credentials(cfg: TokenConfiguration, params: dict[str, str], autofilled: Mapping[str, str],
                       values: Mapping[str, str | None]) -> tuple[str, str] | None:
    """For ``client_secret_basic``: take the client id and secret out of the form (RFC 6749 2.3.1: one
    authentication method per request) and return them for the Authorization header. A public client
    (no secret) keeps its client_id in the body."""
    secret = values.get("ClientSecret")
    if cfg.client_authentication != CLIENT_AUTH_BASIC or not secret:
        return None
    for param, source in autofilled.items():
        if source in ("ClientID", "ClientSecret"):
            params.pop(param, None)
    return cfg.client_id, secret

