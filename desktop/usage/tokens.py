"""Where usage gets its tokens: a thin seam over the oauth helper's ``TokenService``.

``TokenSource`` is any callable ``(configuration name) -> access token``. The default one
(``token_source(ctx)``) asks ``desktop.oauth.tokens.TokenService(ctx).access_token``, which
refreshes an expired token first. Tests and benchmarks may pass their own callable.
Failures become ``TokenUnavailable`` with a plain message and a ``kind`` that tells the
caller what to do next ("reauth": request a new token; "network": provider unreachable;
"token": anything else).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.services import Context

logger = logging.getLogger(__name__)

TokenSource = Callable[[str], str]

KIND_REAUTH = "reauth"
KIND_NETWORK = "network"
KIND_TOKEN = "token"


class TokenUnavailable(RuntimeError):
    def __init__(self, message: str, kind: str = KIND_TOKEN) -> None:
        super().__init__(message)
        self.kind = kind


def token_source(ctx: Context) -> TokenSource:
    """The application's token source (fresh tokens from the oauth package)."""
    try:
        from desktop.oauth.tokens import TokenService
    except ImportError:
        def unavailable(name: str) -> str:
            raise TokenUnavailable("this Tokendesk build cannot fetch tokens (the oauth package is missing)")

        return unavailable
    service = TokenService(ctx)
    return service.access_token


def fetch_token(source: TokenSource, config_name: str) -> str:
    """``source(config_name)``, with every failure turned into ``TokenUnavailable``."""
    try:
        token = source(config_name)
    except TokenUnavailable:
        raise
    except Exception as exc:
        raise _classify(exc, config_name) from None
    if not token:
        raise TokenUnavailable(
            f"'{config_name}' has no access token yet. Request one first (Request new token in the window, "
            f"or 'tokendesk authorize \"{config_name}\"').",
            KIND_REAUTH,
        )
    return token


def _classify(exc: Exception, config_name: str) -> TokenUnavailable:
    """Map the oauth package's exceptions (by name, so this module does not need it) to a kind."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = (str(exc) or type(exc).__name__).strip()
    hint = str(getattr(exc, "hint", "") or "").strip()
    if "ReauthorizationNeeded" in names:
        return TokenUnavailable(_join(text, hint or "Request a new token for it (Request new token)."), KIND_REAUTH)
    if "NetworkError" in names or isinstance(exc, OSError | TimeoutError):
        return TokenUnavailable(_join(f"The provider of '{config_name}' could not be reached: {text}", hint),
                                KIND_NETWORK)
    if "KeyError" in names or "NotFoundError" in names:
        return TokenUnavailable(f"There is no token configuration named '{config_name}'.", KIND_TOKEN)
    logger.debug("token for %s unavailable: %s", config_name, type(exc).__name__)
    return TokenUnavailable(_join(f"No token for '{config_name}': {text}", hint), KIND_TOKEN)


def _join(message: str, hint: str) -> str:
    if not hint:
        return message
    return f"{message.rstrip('.')}. {hint}" if not message.endswith((".", "!", "?")) else f"{message} {hint}"
