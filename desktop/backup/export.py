"""Export token configurations to Znuny's YAML format.

One YAML list; each record has ``Name``, ``ValidID``, ``Config``, ``CreateTime``, ``CreateBy``,
``ChangeTime``, ``ChangeBy`` in that order (keys without a value are left out, so Znuny fills
in its own defaults on import), then any other top-level keys an earlier import brought along
(``TokenConfiguration.extra``, sorted by name). ``Config`` is written exactly as stored,
unknown keys included, in its stored key order. Records are ordered by name. The same data
therefore always gives the same bytes: a re-export differs only where timestamps changed.

``Config.ClientSecret`` is written only when the admin asks (``include_secrets``), right after
``ClientID`` as in Znuny's files. Tokens are never part of a configuration and never exported.
"""

from __future__ import annotations

import gc
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop.backup.yamlio.writer import dump_records, forget_scalars
from desktop.models.config import TokenConfiguration
from desktop.store.secrets import CLIENT_SECRET, SecretStoreError

logger = logging.getLogger(__name__)

RECORD_KEYS = ("Name", "ValidID", "Config", "CreateTime", "CreateBy", "ChangeTime", "ChangeBy")
FILENAME_PREFIX = "OAuth2TokenConfigurationExport_"
SECRETS_WARNING = (
    "The export contains client secrets in clear text. Keep the file private (it is saved readable only "
    "by you) and delete it once it is imported."
)


class ExportError(RuntimeError):
    """The export could not be made; nothing was written."""


@dataclass
class ExportResult:
    text: str
    names: list[str]
    #: configurations whose client secret is in the file
    secrets_included: list[str] = field(default_factory=list)
    #: configurations exported without a client secret although secrets were asked for (none stored)
    secrets_missing: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def has_secrets(self) -> bool:
        return bool(self.secrets_included)

    def summary(self) -> str:
        noun = "configuration" if self.count == 1 else "configurations"
        text = f"Exported {self.count} {noun}"
        if self.secrets_included:
            text += f" with {len(self.secrets_included)} client secret{'s' if len(self.secrets_included) != 1 else ''}"
        else:
            text += " without client secrets"
        text += "."
        if self.secrets_missing:
            text += " No client secret is stored for: " + ", ".join(f"'{n}'" for n in self.secrets_missing) + "."
        return text


def default_export_filename(now: datetime | None = None) -> str:
    """Znuny's name: ``OAuth2TokenConfigurationExport_YYYYMMDD_HHMMSS.yml`` in local time."""
    now = now or datetime.now().astimezone()
    return f"{FILENAME_PREFIX}{now.strftime('%Y%m%d_%H%M%S')}.yml"


def configuration_record(cfg: TokenConfiguration, client_secret: str | None = None) -> dict[str, Any]:
    """The Znuny record for one configuration (``client_secret`` only when it is to be exported)."""
    config = dict(cfg.config)  # the nested values are only read
    config.pop("ClientSecret", None)
    if client_secret:
        ordered: dict[str, Any] = {}
        for key, value in config.items():
            ordered[key] = value
            if key == "ClientID":
                ordered["ClientSecret"] = client_secret
        if "ClientSecret" not in ordered:
            ordered["ClientSecret"] = client_secret
        config = ordered
    record: dict[str, Any] = {
        "Name": cfg.name,
        "ValidID": cfg.valid_id,
        "Config": config,
        "CreateTime": cfg.create_time,
        "CreateBy": cfg.create_by,
        "ChangeTime": cfg.change_time,
        "ChangeBy": cfg.change_by,
    }
    record = {k: v for k, v in record.items() if v is not None}
    for key in sorted(cfg.extra):
        if key not in RECORD_KEYS:
            record[key] = cfg.extra[key]
    return record


def select_configurations(ctx: Any, names: Sequence[str] | None = None) -> list[TokenConfiguration]:
    """All configurations (``names`` None or empty) or the named ones, in the store's order."""
    configurations = ctx.store.list_configurations()
    if not names:
        return configurations
    wanted = {n.casefold() for n in names}
    chosen = [c for c in configurations if c.name.casefold() in wanted]
    found = {c.name.casefold() for c in chosen}
    missing = []
    for name in names:
        if name.casefold() not in found and name not in missing:
            missing.append(name)
    if missing:
        listed = ", ".join(f"'{n}'" for n in missing)
        raise ExportError(
            f"No configuration named {listed}; nothing was exported. 'tokendesk list' shows the names."
        )
    return chosen


def read_client_secrets(ctx: Any, config_ids: list[Any]) -> dict[int, str]:
    """The client secrets of ``config_ids`` (one query and one vault opening for all of them)."""
    get_many = getattr(ctx.secrets, "get_many", None)
    if get_many is not None:
        return dict(get_many(CLIENT_SECRET, config_ids))
    found = {cid: ctx.secrets.get_for(cid, CLIENT_SECRET) for cid in config_ids}
    return {cid: value for cid, value in found.items() if value}


def export_configurations(
    ctx: Any, names: Sequence[str] | None = None, *, include_secrets: bool = False
) -> ExportResult:
    """Build the export text. Raises ``ExportError`` (unknown names, unreadable keyring)."""
    configurations = select_configurations(ctx, names)
    records = []
    included: list[str] = []
    missing: list[str] = []
    secrets: dict[int, str] = {}
    if include_secrets:
        try:
            secrets = read_client_secrets(ctx, [c.id for c in configurations if c.has_client_secret])
        except SecretStoreError as exc:
            raise ExportError(
                f"The client secrets could not be read ({exc}); nothing was exported. "
                "Unlock the vault, or export without client secrets."
            ) from None
    gc_was_enabled = gc.isenabled()
    gc.disable()  # every stored Config parsed: hundreds of thousands of small containers, no cycles
    try:
        for cfg in configurations:
            secret = secrets.get(cfg.id) if include_secrets and cfg.id is not None else None
            if include_secrets:
                (included if secret else missing).append(cfg.name)
            records.append(configuration_record(cfg, secret))
        text = dump_records(records)
    finally:
        forget_scalars(secrets.values())  # the writer caches scalar texts; secrets must not stay there
        if gc_was_enabled:
            gc.enable()
    _record_export(ctx, configurations, include_secrets, set(included))
    logger.info("export: %d configurations, %d client secrets", len(records), len(included))
    return ExportResult(text=text, names=[c.name for c in configurations], secrets_included=included,
                        secrets_missing=missing)


def _record_export(ctx: Any, configurations: list[TokenConfiguration], include_secrets: bool,
                   included: set[str]) -> None:
    """One history row per exported configuration (``desktop.store.history``), saying whether its client secret
    went into the file. Written once the export text exists: the secrets have left the vault by then."""
    from desktop.store import history

    def detail(cfg: TokenConfiguration) -> str:
        if cfg.name in included:
            return "with its client secret"
        if include_secrets:
            return "client secret asked for, none stored"
        return "without client secret"

    history.record_many(ctx.store, [(c.id, c.name, history.EXPORT, detail(c)) for c in configurations])


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_export(path: Path | str, text: str | bytes, *, private: bool) -> Path:
    """Write atomically (a temporary file in the same folder, then a rename).

    ``text`` is the YAML, or the bytes of an encrypted export (``desktop.backup.encrypted``).
    ``private`` (the file holds secrets): mode 0600 from the first byte on. Otherwise the
    usual mode for new files (0666 less the umask).
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ExportError(f"{path} is a folder; choose a file name.")
    if not folder.is_dir():
        raise ExportError(f"The folder {folder} does not exist; nothing was written.")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)  # mode 0600
    except OSError as exc:
        raise ExportError(f"Cannot write in {folder} ({exc.strerror}); choose another folder.") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o600 if private else 0o666 & ~_umask())
        os.replace(tmp_name, path)
    except OSError as exc:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise ExportError(f"Cannot write {path} ({exc.strerror}); nothing was written.") from None
    return path
