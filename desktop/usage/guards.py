"""Delete guard: a token configuration that a mail account or invoker uses cannot be deleted.

The composition roots (``desktop/app.py`` for the window, ``desktop/cli/common.py``'s
``default_context_factory`` for the CLI) call ``install_delete_guards`` on the context they open;
``ConfigurationService.delete`` refuses with the names the guards return. (``desktop.services``
does not know this module: no import circle.) The database refuses too (``ON DELETE RESTRICT``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.models.config import TokenConfiguration

if TYPE_CHECKING:
    from desktop.services import Context


def install_delete_guards(ctx: Context) -> None:
    """Register the usage rooms' delete guards on ``ctx`` (once per context)."""
    if usage_delete_guard not in ctx.delete_guards:
        ctx.delete_guards.append(usage_delete_guard)


def usage_delete_guard(ctx: Context, cfg: TokenConfiguration) -> list[str]:
    """``["mail account 'Support IMAP'", "invoker 'Ticket API'"]`` (empty: not in use)."""
    if cfg.id is None:
        return []
    # imported here, at the first delete: ``tokendesk token`` must start fast
    from desktop.usage.repository import UsageRepository

    return UsageRepository(ctx.store).users_of(cfg.id)
