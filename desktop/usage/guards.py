"""Delete guard: a token configuration that a mail account or invoker uses cannot be deleted.

``desktop.services._install_default_guards`` registers ``usage_delete_guard`` on every
Context; ``ConfigurationService.delete`` refuses with the names it returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.models.config import TokenConfiguration

if TYPE_CHECKING:
    from desktop.services import Context


def usage_delete_guard(ctx: Context, cfg: TokenConfiguration) -> list[str]:
    """``["mail account 'Support IMAP'", "invoker 'Ticket API'"]`` (empty: not in use)."""
    if cfg.id is None:
        return []
    # imported here: every Context installs this guard, and ``tokendesk token`` must start fast
    from desktop.usage.repository import UsageRepository

    return UsageRepository(ctx.store).users_of(cfg.id)
