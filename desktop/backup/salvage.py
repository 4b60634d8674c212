"""``tokendesk export --salvage``: what a damaged database still holds, as an ordinary export.

A damaged page (a failing disk, a bad copy) makes every query that touches it fail with SQLite's
"database disk image is malformed", so the ordinary export stops at the first such row. The salvage
reads row by row instead:

1. the ids, from the name index (both directions) and from the table itself (both directions, by id);
   each walk stops at the damage, the two directions meet it from either side; ids between what the two
   table walks reached are tried one by one;
2. each configuration by its id, skipped when its row, its JSON or its overflow pages cannot be read;
3. with secrets, each client secret through the vault (``get_for``), skipped when its row or its
   ciphertext is damaged. A locked vault or a missing keyring is still an error: nothing is written.

The result is written exactly like an export (``desktop.backup.export``), so ``tokendesk import`` reads it.
What could not be read is named: by name where the name index still has it (lower case: that is how the
index keeps names), else by record id.
"""

from __future__ import annotations

import gc
import json
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from desktop.backup.export import ExportError, ExportResult, configuration_record
from desktop.backup.yamlio.writer import dump_records, forget_scalars
from desktop.models.config import TokenConfiguration
from desktop.store.secrets import CLIENT_SECRET, SecretStoreError

logger = logging.getLogger(__name__)

#: ids between the two ends of a damaged table walk are tried one by one, at most this many
MAX_PROBES = 200_000

_COLUMNS = (
    "id, name, valid_id, template_name, config_json, extra_json, has_client_secret, "
    "create_time, change_time, create_by, change_by"
)
_NAME_INDEX = "sqlite_autoindex_token_config_1"  # UNIQUE(name_key)


@dataclass
class SalvageResult(ExportResult):
    #: configurations that could not be read at all (names where known, else record ids)
    unreadable: list[str] = field(default_factory=list)
    #: configurations written without their client secret because it could not be read
    secrets_unreadable: list[str] = field(default_factory=list)
    #: how many configurations the database seems to hold (read + unreadable)
    total: int = 0

    def summary(self) -> str:
        """Like "Salvaged 190 of 200 configurations with 190 client secrets." (the export's words after the count)."""
        rest = super().summary().split(" ", 3)[3]
        return f"Salvaged {self.count} of {self.total} configurations {rest}"

    def problem_lines(self) -> list[str]:
        lines = []
        if self.unreadable:
            n = len(self.unreadable)
            lines.append(f"{n} configuration{'s' if n != 1 else ''} could not be read: "
                         + ", ".join(self.unreadable) + ".")
        if self.secrets_unreadable:
            n = len(self.secrets_unreadable)
            lines.append(f"{n} client secret{'s' if n != 1 else ''} could not be read (exported without "
                         f"{'them' if n != 1 else 'it'}): "
                         + ", ".join(f"'{name}'" for name in self.secrets_unreadable) + ".")
        return lines


def _walk(conn: sqlite3.Connection, sql: str) -> tuple[list[tuple[Any, ...]], bool]:
    """The rows of ``sql`` up to the first damaged page; True when it got to the end."""
    rows: list[tuple[Any, ...]] = []
    try:
        for row in conn.execute(sql):
            rows.append(tuple(row))
    except sqlite3.DatabaseError:
        return rows, False
    return rows, True


def readable_ids(conn: sqlite3.Connection) -> tuple[list[int], dict[int, str], bool]:
    """Every id that may hold a configuration, the names the name index still knows (lower case), and
    whether the index was read completely."""
    names: dict[int, str] = {}
    index_complete = True
    for order in ("ASC", "DESC"):
        rows, complete = _walk(conn, f"SELECT id, name_key FROM token_config INDEXED BY {_NAME_INDEX} "
                                     f"ORDER BY name_key {order}")
        names.update((int(i), str(k)) for i, k in rows)
        if complete:
            break
        index_complete = False
    ids = set(names)
    forward, complete = _walk(conn, "SELECT id FROM token_config NOT INDEXED ORDER BY id ASC")
    ids.update(int(r[0]) for r in forward)
    if not complete:
        backward, _ = _walk(conn, "SELECT id FROM token_config NOT INDEXED ORDER BY id DESC")
        ids.update(int(r[0]) for r in backward)
        low = max((int(r[0]) for r in forward), default=0)
        high = min((int(r[0]) for r in backward), default=max(ids, default=0) + 1)
        ids.update(range(low + 1, min(high, low + 1 + MAX_PROBES)))
    return sorted(ids), names, index_complete


def _configuration(row: sqlite3.Row | tuple[Any, ...]) -> TokenConfiguration:
    """A configuration from its row, its JSON parsed now (a damaged value raises here, not while writing)."""
    (cid, name, valid_id, template_name, config_json, extra_json, has_secret,
     create_time, change_time, create_by, change_by) = tuple(row)
    config = json.loads(config_json)
    extra = json.loads(extra_json or "{}")
    if not isinstance(name, str) or not name or not isinstance(config, dict) or not isinstance(extra, dict):
        raise ValueError("damaged record")
    cfg = TokenConfiguration(name=name, config=config, valid_id=int(valid_id), id=int(cid),
                             create_time=create_time, change_time=change_time, create_by=create_by,
                             change_by=change_by, extra=extra)
    cfg.has_client_secret = bool(has_secret)
    return cfg


def salvage_configurations(conn: sqlite3.Connection, secrets: Any = None, *,
                           include_secrets: bool = False) -> SalvageResult:
    """Read what can be read of ``conn``'s configurations (and, with ``include_secrets``, their client
    secrets from ``secrets``, the store's secret store) and render them as an export."""
    ids, names, index_complete = readable_ids(conn)
    configurations: list[TokenConfiguration] = []
    unreadable: list[str] = []
    for cid in ids:
        try:
            row = conn.execute(f"SELECT {_COLUMNS} FROM token_config WHERE id = ?", (cid,)).fetchone()
            if row is None:
                continue  # an id tried between the walks that holds nothing
            configurations.append(_configuration(row))
        except (sqlite3.DatabaseError, ValueError, TypeError):
            if cid in names:
                unreadable.append(f"'{names[cid]}'")
            elif not index_complete:
                unreadable.append(f"record id {cid} (its name cannot be read)")
            # else: the complete name index does not know this id, so no configuration was lost there
    configurations.sort(key=lambda c: c.name.casefold())

    found: dict[int, str] = {}
    included: list[str] = []
    missing: list[str] = []
    secrets_unreadable: list[str] = []
    if include_secrets:
        from desktop.store.vault_errors import SecretDamaged

        if secrets is None:
            secrets_unreadable = [c.name for c in configurations if c.has_client_secret]
        for cfg in configurations if secrets is not None else ():
            assert cfg.id is not None
            if not cfg.has_client_secret:
                missing.append(cfg.name)
                continue
            try:
                value = secrets.get_for(cfg.id, CLIENT_SECRET)
            except (sqlite3.DatabaseError, SecretDamaged):
                secrets_unreadable.append(cfg.name)
                continue
            except SecretStoreError as exc:
                raise ExportError(
                    f"The client secrets could not be read ({exc}); nothing was exported. Unlock the vault, "
                    "or salvage without --include-secrets."
                ) from None
            if value:
                found[cfg.id] = value
                included.append(cfg.name)
            else:
                missing.append(cfg.name)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        records = [configuration_record(c, found.get(c.id) if c.id is not None else None) for c in configurations]
        text = dump_records(records)
    finally:
        forget_scalars(found.values())  # the writer caches scalar texts; secrets must not stay there
        if gc_was_enabled:
            gc.enable()
    logger.info("salvage: %d configurations read, %d unreadable, %d client secrets, %d secrets unreadable",
                   len(configurations), len(unreadable), len(included), len(secrets_unreadable))
    return SalvageResult(text=text, names=[c.name for c in configurations], secrets_included=included,
                         secrets_missing=missing, unreadable=unreadable, secrets_unreadable=secrets_unreadable,
                         total=len(configurations) + len(unreadable))
