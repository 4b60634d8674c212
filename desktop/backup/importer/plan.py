"""Step 2 of an import: decide per record - *new*, *overwrites* (same name, overwrite on), *skipped* (same name,
overwrite off) or *invalid* (why) - against what is stored. An overwrite that moves endpoints to another origin
(``desktop.models.origins``) forgets the stored tokens, and the stored client secret unless the plan keeps it
(``keep_client_secret``). Reads the store only."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from desktop.backup.importer.records import TEMPLATE_NOTE_START, ImportRecord, ParsedImport, Problem, clip, short_text
from desktop.models.origins import EndpointMove, describe_moves, endpoint_moves


class Action(StrEnum):
    NEW = "new"
    OVERWRITE = "overwrites"
    SKIP = "skipped"
    INVALID = "invalid"


@dataclass
class PlannedRecord:
    record: ImportRecord
    action: Action
    existing_id: int | None = None
    existing_name: str | None = None
    notes: list[str] = field(default_factory=list)
    #: endpoints an overwrite moves to another origin: the stored tokens are forgotten
    moves: list[EndpointMove] = field(default_factory=list)
    #: the stored configuration has a client secret (overwrites)
    stored_has_secret: bool = False
    #: the plan's choice: the stored client secret goes to the new hosts (``ImportPlan.keep_client_secret``)
    keep_client_secret: bool = False

    @property
    def asks_client_secret(self) -> bool:
        """The endpoints move and the stored client secret would go along unless removed (the file has none)."""
        return bool(self.moves) and self.stored_has_secret and not self.record.client_secret

    @property
    def drops_client_secret(self) -> bool:
        return self.asks_client_secret and not self.keep_client_secret

    def move_notes(self) -> list[str]:
        if not self.moves:
            return []
        notes = [f"{describe_moves(self.moves)}: the stored tokens are forgotten"]
        if self.asks_client_secret:
            notes.append("the stored client secret is kept and sent to the new host" if self.keep_client_secret
                         else "the stored client secret is removed (it is not sent to the new host)")
        return notes

    @property
    def index(self) -> int:
        return self.record.index

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def problems(self) -> list[Problem]:
        return self.record.problems

    @property
    def reason(self) -> str:
        """One line for the preview and the CLI report."""
        if self.action is Action.INVALID:
            return "; ".join(short_text(p) for p in self.problems)
        if self.action is Action.OVERWRITE:
            text = f"replaces the stored '{self.existing_name}'"
        elif self.action is Action.SKIP:
            text = f"'{self.existing_name}' exists; tick overwrite to replace it"
        else:
            text = "will be added"
        notes = self.notes + self.move_notes()
        return text + ("; " + "; ".join(notes) if notes else "")


@dataclass
class ImportPlan:
    parsed: ParsedImport
    overwrite: bool
    records: list[PlannedRecord]
    #: facts about this store that the admin should know before applying (not blocking)
    warnings: list[str] = field(default_factory=list)
    #: overwrites that move endpoints keep the stored client secret (and send it to the new hosts)
    keep_client_secret: bool = False

    def __post_init__(self) -> None:
        self.set_keep_client_secret(self.keep_client_secret)

    def set_keep_client_secret(self, keep: bool) -> None:
        self.keep_client_secret = keep
        for planned in self.records:
            planned.keep_client_secret = keep

    @property
    def asks_client_secret(self) -> bool:
        """Some overwrite moves endpoints of a configuration with a stored client secret (a choice to make)."""
        return any(p.asks_client_secret for p in self.records if p.action is Action.OVERWRITE)

    @property
    def moved(self) -> list[PlannedRecord]:
        return [p for p in self.records if p.action is Action.OVERWRITE and p.moves]

    @property
    def problems(self) -> list[Problem]:
        found = list(self.parsed.problems)
        for planned in self.records:
            found.extend(planned.problems)
        return found

    @property
    def ok(self) -> bool:
        return not self.parsed.problems and all(p.action is not Action.INVALID for p in self.records)

    def count(self, action: Action) -> int:
        return sum(1 for p in self.records if p.action is action)

    def counts_text(self) -> str:
        parts = [f"{self.count(a)} {a.value}" for a in Action]
        return f"{len(self.records)} record{'s' if len(self.records) != 1 else ''}: " + ", ".join(parts)

    def report_lines(self) -> list[str]:
        """The per-record report the CLI prints (and tests read)."""
        lines = [str(p) for p in self.parsed.problems]
        for planned in self.records:
            name = f"'{clip(planned.name)}'" if planned.name else "(no Name)"
            if planned.action is Action.INVALID:
                lines.append(f"{planned.index:>4}  invalid     {name}")
                lines.extend(f"        {short_text(p)}" for p in planned.problems)
            else:
                lines.append(f"{planned.index:>4}  {planned.action.value:<10}  {name}: {planned.reason}")
        lines.extend(f"note: {w}" for w in self.warnings)
        if self.records or not self.parsed.problems:
            lines.append(self.counts_text())
        return lines


def plan_import(ctx: Any, parsed: ParsedImport, overwrite: bool = False, keep_client_secret: bool = False
                ) -> ImportPlan:
    """Decide new / overwrites / skipped / invalid for every record (reads the store only).

    ``keep_client_secret``: overwrites that move endpoints to another origin keep the stored client secret."""
    store = ctx.store
    existing = {name.casefold(): name for name in store.names()}
    planned: list[PlannedRecord] = []
    for record in parsed.records:
        if not record.valid:
            planned.append(PlannedRecord(record, Action.INVALID, notes=list(record.notes)))
            continue
        stored_name = existing.get(record.name.casefold())
        if stored_name is None:
            notes = list(record.notes)
            if not record.client_secret:
                notes.append("no client secret in the file")
            planned.append(PlannedRecord(record, Action.NEW, notes=notes))
            continue
        stored = store.find(stored_name)
        if stored is None:  # deleted a moment ago
            planned.append(PlannedRecord(record, Action.NEW, notes=list(record.notes)))
            continue
        if not overwrite:
            planned.append(PlannedRecord(record, Action.SKIP, stored.id, stored.name, []))
            continue
        notes = list(record.notes)
        assert record.configuration is not None
        if stored.template_name and record.configuration.template_name != stored.template_name:
            notes = [n for n in notes if not n.startswith(TEMPLATE_NOTE_START)]  # the stored one is used
            notes.append(f"keeps the stored template name '{stored.template_name}' (it is permanent)")
        moves = endpoint_moves(stored, record.configuration)
        if not record.client_secret and not (moves and stored.has_client_secret):  # else: move_notes()
            notes.append("keeps the stored client secret" if stored.has_client_secret else "no client secret")
        planned.append(PlannedRecord(record, Action.OVERWRITE, stored.id, stored.name, notes, moves,
                                     stored.has_client_secret))
    warnings: list[str] = []
    return ImportPlan(parsed=parsed, overwrite=overwrite, records=planned, warnings=warnings,
                      keep_client_secret=keep_client_secret)

