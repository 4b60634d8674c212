"""Builders for notification tests: configurations from the real templates, states, a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from desktop.models.config import INVALID, TokenConfiguration
from desktop.models.templates import TemplateCatalog, load_templates
from desktop.models.token import TokenState

MS = "Microsoft Exchange Online"
GOOGLE = "Google Mail"
CC = "Microsoft Exchange Online (client credentials)"

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


@cache
def catalog() -> TemplateCatalog:
    return load_templates()


def config(name: str = "Support", template: str = MS, cid: int = 1, *, valid_id: int = 1, created: datetime = T0,
           **notifications: object) -> TokenConfiguration:
    cfg = catalog().require(template).new_configuration(name)
    cfg.id = cid
    cfg.valid_id = valid_id
    cfg.create_time = created.strftime("%Y-%m-%d %H:%M:%S")
    for key, value in notifications.items():
        cfg.config.setdefault("Notifications", {})[key] = value
    return cfg


def invalid(cfg: TokenConfiguration) -> TokenConfiguration:
    cfg.valid_id = INVALID
    return cfg


def fresh_token(cid: int = 1, at: datetime = T0, lifetime: timedelta = timedelta(hours=1), *, refresh: bool = True,
                refreshed: datetime | None = None, rt_expires: datetime | None = None) -> TokenState:
    """A token obtained by signing in at ``at`` (and refreshed at ``refreshed``)."""
    issued = refreshed or at
    return TokenState(
        config_id=cid,
        has_access_token=True,
        has_refresh_token=refresh,
        token_expires_at=issued + lifetime,
        refresh_token_expires_at=rt_expires,
        last_requested_at=at,
        last_refreshed_at=refreshed,
    )


class FakeClock:
    """Wall clock for tests: ``now()`` returns what the test set; ``advance`` moves it."""

    def __init__(self, start: datetime = T0) -> None:
        self.value = start

    def now(self) -> datetime:
        return self.value

    def advance(self, **kwargs: float) -> datetime:
        self.value += timedelta(**kwargs)
        return self.value

    def set(self, value: datetime) -> None:
        self.value = value


def shots_dir(fallback):
    """docs/screenshots when TOKENDESK_SCREENSHOTS=1 (refreshing the committed pictures), else ``fallback``."""
    import os
    from pathlib import Path

    if os.environ.get("TOKENDESK_SCREENSHOTS") == "1":
        path = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    else:
        path = Path(fallback)
    path.mkdir(parents=True, exist_ok=True)
    return path
