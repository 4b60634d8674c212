"""Step 3 of an import: apply a plan all or nothing - one database transaction, the client secrets sealed into the
vault inside it; overwrites that move endpoints forget their tokens (holding their refresh locks) and, unless the
plan keeps it, the stored client secret."""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop.backup.importer.plan import Action, ImportPlan, plan_import
from desktop.models.config import TokenConfiguration
from desktop.store import history
from desktop.store.secrets import CLIENT_SECRET

logger = logging.getLogger(__name__)


class ImportBlocked(ValueError):
    """Apply was asked for a plan with problems; nothing was changed."""

    def __init__(self, plan: ImportPlan) -> None:
        n = len(plan.problems)
        super().__init__(
            f"Nothing was imported: the file has {n} problem{'s' if n != 1 else ''}. Fix them and import again."
        )
        self.plan = plan


class PlanChanged(RuntimeError):
    """The stored configurations changed between the preview and applying it."""


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    secrets_stored: int = 0
    #: configurations that now have no client secret (the table shows "client secret missing")
    without_secret: list[str] = field(default_factory=list)
    #: overwritten configurations whose endpoints moved to another origin: their tokens were forgotten
    tokens_forgotten: list[str] = field(default_factory=list)
    #: ... and whose stored client secret was removed (not sent to the new hosts)
    secrets_removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.added) + len(self.overwritten)

    def lines(self) -> list[str]:
        lines = [
            f"Imported {self.changed} configuration{'s' if self.changed != 1 else ''}: "
            f"{len(self.added)} new, {len(self.overwritten)} overwritten; {len(self.skipped)} skipped."
        ]
        if self.skipped:
            lines.append("Skipped (same name exists, overwrite was off): " + _names(self.skipped))
        if self.secrets_stored:
            lines.append(f"{self.secrets_stored} client secret{'s' if self.secrets_stored != 1 else ''} stored.")
        if self.tokens_forgotten:
            lines.append(f"Endpoints moved to other hosts for {_names(self.tokens_forgotten)}: the stored tokens "
                         "were forgotten; request new tokens.")
        if self.secrets_removed:
            many = len(self.secrets_removed) > 1
            lines.append(f"Client secret{'s' if many else ''} removed for {_names(self.secrets_removed)} (it was "
                         f"not sent to the new hosts): add {'them' if many else 'it'} with Edit.")
        without = [n for n in self.without_secret if n not in self.secrets_removed]  # said above
        if without:
            lines.append(
                "No client secret for " + _names(without)
                + ": add it with Edit before requesting a token (public clients using PKCE need none)."
            )
        return lines

    def text(self) -> str:
        return "\n".join(self.lines())


def _names(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")

def apply_import(ctx: Any, plan: ImportPlan) -> ImportSummary:
    """Write the plan in one transaction; raises ``ImportBlocked``/``PlanChanged``/store errors.

    Nothing is changed when it raises: the configurations and their client secrets (sealed into the
    vault in the same transaction) commit together or not at all.
    """
    if not plan.ok:
        raise ImportBlocked(plan)
    from desktop.services import forget_tokens, hold_token_locks

    store = ctx.store
    secrets = ctx.secrets
    summary = ImportSummary()
    if any(p.record.client_secret and p.action in (Action.NEW, Action.OVERWRITE) for p in plan.records):
        secrets.prepare_write()  # opens (or makes) the vault before the transaction
    # a renewal against an old host must finish before, and none may start until the commit
    moving = {p.existing_id: p.existing_name or p.name for p in plan.moved if p.existing_id is not None}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # thousands of configuration copies: the collector would rescan them all
    try:
        with hold_token_locks(store, moving), store.transaction():
            fresh = plan_import(ctx, plan.parsed, plan.overwrite, plan.keep_client_secret)
            if [(p.action, p.existing_id, p.moves) for p in fresh.records] != [
                    (p.action, p.existing_id, p.moves) for p in plan.records]:
                raise PlanChanged(
                    "The stored configurations changed since the preview (in another window or by a "
                    "'tokendesk' command). Nothing was imported; look at the preview again."
                )
            new: list[tuple[TokenConfiguration, str | None]] = []
            recorded: list[tuple[int | None, str, str, str]] = []  # the history's rows (who imported what)
            for planned in fresh.records:
                record = planned.record
                cfg = record.configuration
                assert cfg is not None
                secret = record.client_secret or None
                if planned.action is Action.NEW:
                    new.append((cfg, secret))  # inserted together below
                    if not secret:
                        summary.without_secret.append(cfg.name)
                    summary.added.append(cfg.name)
                elif planned.action is Action.OVERWRITE:
                    assert planned.existing_id is not None
                    drop = planned.drops_client_secret
                    saved = store.update(cfg.replace(id=planned.existing_id),
                                         has_client_secret=True if secret else False if drop else None)
                    if secret:
                        secrets.set_for(planned.existing_id, CLIENT_SECRET, secret)
                    else:
                        if drop:
                            secrets.delete_for(planned.existing_id, CLIENT_SECRET)
                            summary.secrets_removed.append(saved.name)
                        stored = store.get_by_id(planned.existing_id)
                        if stored is not None and not stored.has_client_secret:
                            summary.without_secret.append(saved.name)
                    if planned.moves:
                        forget_tokens(store, secrets, planned.existing_id)
                        summary.tokens_forgotten.append(saved.name)
                    recorded.append((planned.existing_id, saved.name, history.EDIT, "import" + (
                        "; endpoints moved to another host: stored tokens forgotten" if planned.moves else "")))
                    summary.overwritten.append(saved.name)
                elif planned.action is Action.SKIP:
                    summary.skipped.append(record.name)
                    continue
                if secret:
                    summary.secrets_stored += 1
            # the new configurations in one statement (the import is their latest change: ChangeTime is now),
            # then their client secrets, sealed into the vault in this same transaction
            ids = store.insert_many([(cfg, bool(secret)) for cfg, secret in new], changed_now=True)
            for config_id, (_cfg, secret) in zip(ids, new, strict=True):
                if secret:
                    secrets.set_for(config_id, CLIENT_SECRET, secret)
            history.record_many(store, recorded + [(config_id, cfg.name, history.ADD, "import")
                                                   for config_id, (cfg, _secret) in zip(ids, new, strict=True)])
    finally:
        if gc_was_enabled:
            gc.enable()
    logger.info(
        "import applied: %d new, %d overwritten, %d skipped, %d client secrets; endpoints moved for %d (tokens "
        "forgotten), %d client secrets removed",
        len(summary.added), len(summary.overwritten), len(summary.skipped), summary.secrets_stored,
        len(summary.tokens_forgotten), len(summary.secrets_removed),
    )
    return summary

