"""Import Znuny-format YAML: read, validate every record, plan, then apply all or nothing.

Steps, each usable on its own (the import preview re-plans live when "overwrite" changes):

1. ``parse_import(data)`` reads the file safely (``desktop.backup.yamlio``) and checks every
   record on its own: types, required fields, URLs (``desktop.models.validation``), names that
   occur twice in the file. Every problem names the record (1-based index and Name) and the
   field as a path into the record (``Config.Requests.TokenByRefreshToken.Request.URL``).
2. ``plan_import(ctx, parsed, overwrite)`` decides per record: *new*, *overwrites* (same name,
   overwrite on), *skipped* (same name, overwrite off) or *invalid* (why).
3. ``apply_import(ctx, plan)`` refuses a plan with any invalid record, then writes everything in
   one database transaction; client secrets are sealed into the vault inside that transaction,
   so configurations and their secrets commit together or not at all (a killed import too).

Decisions (documented for admins in ``desktop/backup/__init__.py``):

* Top level: a list of records (Znuny's export). A mapping with ``Name`` or ``Config`` is one
  record, as Znuny's own import treats it. Any other mapping (for example ``{Name: Config}``)
  is refused with an explanation, because it cannot be told apart from a broken record.
* ``ValidID`` may be absent (then 1, valid, as in Znuny) or ``'1'`` as a string.
* ``CreateTime``/``ChangeTime`` may be text or a YAML timestamp; a new configuration keeps the
  file's ``CreateTime`` and ``CreateBy``; ``ChangeTime`` becomes the time of the import.
* Any ``TemplateName`` is accepted: Znuny files carry their own endpoints and parameters. A
  name that is not installed here is reported as a note; the endpoints the flow needs must
  then be in the record (checked like any other).
* Overwriting keeps the configuration's id, so its token, token state and mail accounts stay
  attached; the stored ``TemplateName`` is kept (it is permanent) and, when the record has
  no ``ClientSecret``, so is the stored client secret.
* Unless an endpoint moves to another origin (``desktop.models.origins``): then the stored
  tokens are forgotten, and the stored client secret is removed unless the plan keeps it
  (``keep_client_secret``: the preview's checkbox, the CLI's ``--send-client-secret-to-new-hosts``),
  in the import's transaction, holding those tokens' refresh locks.
* Unknown keys anywhere are kept and exported again; values must be plain YAML scalars,
  lists and mappings with text keys (dates and binary values are refused: quote them).
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from desktop.backup.yamlio.limits import MAX_VALUE_CHARS, YamlReadError
from desktop.backup.yamlio.reader import load_yaml, read_limited
from desktop.models.config import (
    AUTOFILL_SOURCES,
    BROWSER_EMBEDDED,
    BROWSER_SYSTEM,
    CLIENT_AUTH_METHODS,
    REQUEST_KEYS,
    RESPONSE_TARGETS,
    VALIDITY_LABELS,
    TokenConfiguration,
)
from desktop.models.origins import EndpointMove, describe_moves, endpoint_moves
from desktop.models.templates import TemplateCatalog
from desktop.models.validation import ENDPOINT_LABELS, check_url, validate_configuration
from desktop.store.repository import MAX_CONFIG_JSON_BYTES
from desktop.store.secrets import CLIENT_SECRET

logger = logging.getLogger(__name__)

KNOWN_RECORD_KEYS = ("Name", "ValidID", "Config", "CreateTime", "CreateBy", "ChangeTime", "ChangeBy")
#: the keys of Config that Tokendesk reads; others (and other Requests) are kept and exported again
KNOWN_CONFIG_KEYS = frozenset(
    {"TemplateName", "AuthFlow", "ClientID", "ClientSecret", "Scope", "Notifications", "Requests", "Tokendesk"}
)
_KNOWN_REQUESTS = frozenset(REQUEST_KEYS)
#: the most a record may keep of keys Tokendesk does not use (as JSON, as the store writes them)
MAX_UNKNOWN_BYTES = 16 * 1024
MAX_DEPTH = 32
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
_TEXT = frozenset({str})
MAX_KEY_LENGTH = 256
#: problems and notes listed per record; then one line says there are more
MAX_PROBLEMS = 20
MAX_NOTES = 20

#: validation labels (desktop.models.validation) -> the field's path in a record
FIELD_PATHS: dict[str, str] = {
    "Name": "Name",
    "Template": "Config.TemplateName",
    "Client ID": "Config.ClientID",
    "Client secret": "Config.ClientSecret",
    "Validity": "ValidID",
    "AuthFlow": "Config.AuthFlow",
    "Redirect URI": "Config.Tokendesk.RedirectURL",
    **{label: f"Config.Requests.{key}.Request.URL" for key, label in ENDPOINT_LABELS.items()},
}
_LABELS_BY_PATH = {path: label for label, path in FIELD_PATHS.items() if label not in ("Name", "Validity")}

_NOTIFICATION_FLAGS = (
    "NotifyOnExpiredToken",
    "NotifyOnExpiredRefreshToken",
    "NotifyBeforeTokenExpiry",
    "NotifyBeforeRefreshTokenExpiry",
)
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_ZNUNY_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


class Action(StrEnum):
    NEW = "new"
    OVERWRITE = "overwrites"
    SKIP = "skipped"
    INVALID = "invalid"


@dataclass(frozen=True)
class Problem:
    """One reason a record (or the whole file) cannot be imported."""

    record: int | None  # 1-based position in the file; None: the file as a whole
    name: str  # the record's Name as far as it could be read ('' when it has none)
    field: str  # path in the record, e.g. "Config.ClientID"; '' for the file or the record as a whole
    message: str

    def __str__(self) -> str:
        if self.record is None:
            return self.message
        who = f"record {self.record}" + (f" '{_clip(self.name)}'" if self.name else " (no Name)")
        label = _LABELS_BY_PATH.get(self.field)
        where = f"{self.field} ({label})" if label else self.field
        return f"{who}: {where}: {self.message}" if where else f"{who}: {self.message}"


@dataclass
class ImportRecord:
    """One record of the file, checked on its own (independent of what is stored)."""

    index: int
    name: str
    configuration: TokenConfiguration | None
    client_secret: str | None = field(default=None, repr=False)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems and self.configuration is not None


@dataclass
class ParsedImport:
    records: list[ImportRecord]
    problems: list[Problem] = field(default_factory=list)  # about the file as a whole
    source: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.valid for r in self.records)


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
            return "; ".join(_short(p) for p in self.problems)
        if self.action is Action.OVERWRITE:
            text = f"replaces the stored '{self.existing_name}'"
        elif self.action is Action.SKIP:
            text = f"'{self.existing_name}' exists; tick overwrite to replace it"
        else:
            text = "will be added"
        notes = self.notes + self.move_notes()
        return text + ("; " + "; ".join(notes) if notes else "")


def _clip(text: str, limit: int = 80) -> str:
    """Values from the file in messages: short enough to read."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_label(path: str) -> str:
    """The form label of a field path ("Token endpoint" for its URL), '' when it has none."""
    return _LABELS_BY_PATH.get(path, "")


def _short(problem: Problem) -> str:
    label = _LABELS_BY_PATH.get(problem.field)
    where = f"{problem.field} ({label})" if label else problem.field
    return f"{where}: {problem.message}" if where else problem.message


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
            name = f"'{_clip(planned.name)}'" if planned.name else "(no Name)"
            if planned.action is Action.INVALID:
                lines.append(f"{planned.index:>4}  invalid     {name}")
                lines.extend(f"        {_short(p)}" for p in planned.problems)
            else:
                lines.append(f"{planned.index:>4}  {planned.action.value:<10}  {name}: {planned.reason}")
        lines.extend(f"note: {w}" for w in self.warnings)
        if self.records or not self.parsed.problems:
            lines.append(self.counts_text())
        return lines


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


# ---- step 1: read and check
def read_import_file(path: Path | str, templates: TemplateCatalog | None = None) -> ParsedImport:
    """Read and check a file (size checked before reading)."""
    try:
        data = read_limited(path)
    except YamlReadError as exc:
        return ParsedImport(records=[], problems=[Problem(None, "", "", str(exc))], source=str(path))
    return parse_import(data, templates=templates, source=str(path))


def parse_import(data: bytes | str, *, templates: TemplateCatalog | None = None, source: str = "") -> ParsedImport:
    """Check every record; never raises for bad input (problems are in the result)."""
    try:
        document = load_yaml(data)
    except YamlReadError as exc:
        return ParsedImport(records=[], problems=[Problem(None, "", "", str(exc))], source=source)
    if document is None:
        return _file_problem(
            "The file is empty: it contains no YAML data. Choose an export file (a list of token configurations).",
            source,
        )
    if isinstance(document, dict):
        if "Name" in document or "Config" in document:
            raw_records: list[Any] = [document]  # one record, as Znuny's import treats a mapping
        else:
            keys = ", ".join(str(k) for k in list(document)[:3])
            return _file_problem(
                f"The file is a mapping (keys {keys}) without Name and Config. Expected a list of token "
                "configurations (Znuny's export format) or a single configuration with Name and Config.",
                source,
            )
    elif isinstance(document, list):
        raw_records = document
    else:
        kind = "text" if isinstance(document, str) else f"a single {type(document).__name__} value"
        return _file_problem(
            f"The file contains {kind}, not a list of token configurations. Is it a Znuny or Tokendesk export?",
            source,
        )
    gc_was_enabled = gc.isenabled()
    gc.disable()  # thousands of records checked: the collector would rescan the whole document again and again
    try:
        memo: dict[Any, Any] = {}
        records = [_check_record(i, raw, templates, memo) for i, raw in enumerate(raw_records, start=1)]
    finally:
        if gc_was_enabled:
            gc.enable()
    _check_duplicates(records)
    return ParsedImport(records=records, source=source)


def _file_problem(message: str, source: str) -> ParsedImport:
    return ParsedImport(records=[], problems=[Problem(None, "", "", message)], source=source)


def _type_name(value: Any) -> str:
    """The kind of a YAML value, with its article: "a number", "text", "a list"."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, datetime | date):
        return "a date"
    if isinstance(value, bytes):
        return "a binary value"
    return f"a {type(value).__name__} value"


class _RecordChecker:
    def __init__(self, index: int, name: str, memo: dict[Any, Any] | None = None) -> None:
        self.index = index
        self.name = name
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self._fields: set[str] = set()
        #: shared by the records of one file: parts found clean before (records repeat their Requests)
        self.memo: dict[Any, Any] = {} if memo is None else memo
        self.full = False  # MAX_PROBLEMS reported: the rest are not looked for
        self.noted = 0  # notes made, also those past MAX_NOTES

    def note(self, text: str) -> None:
        self.noted += 1
        if self.noted <= MAX_NOTES:
            self.notes.append(text)
        elif self.noted == MAX_NOTES + 1:
            self.notes.append(f"more notes; only the first {MAX_NOTES} are listed")

    def add(self, path: str, message: str) -> None:
        if path in self._fields or self.full:  # one problem per field is enough
            return
        if len(self.problems) >= MAX_PROBLEMS:  # e.g. one bad value that aliases repeat a million times
            self.full = True
            self.problems.append(Problem(self.index, self.name, "", f"has more problems; only the first "
                                         f"{MAX_PROBLEMS} are listed. Fix them and import the file again"))
            return
        self._fields.add(path)
        self.problems.append(Problem(self.index, self.name, path, message))

    def covers(self, path: str) -> bool:
        """A problem was reported for ``path`` or a field containing it (no follow-up noise)."""
        return any(path == f or path.startswith(f + ".") for f in self._fields)

    # -- generic shape checks (every value must survive JSON and YAML unchanged)
    def walk(self, value: Any, path: str, depth: int = 0) -> None:
        """Check the types below ``value``: text keys, plain scalars, not too deep (iterative: fast)."""
        if _clean(value, depth, self.memo):
            return  # nothing to report (the usual case): no paths to build
        stack = [(value, path, depth)]
        while stack and not self.full:
            node, where, level = stack.pop()
            kind = type(node)
            if kind is dict:
                if level > MAX_DEPTH:
                    self.add(where, f"is nested more than {MAX_DEPTH} levels deep")
                    continue
                if node and _TEXT.issuperset(map(type, node)) and max(map(len, node)) <= MAX_KEY_LENGTH:
                    # the keys are fine (checked in C): look only for values to go into
                    if not _SCALAR_TYPES.issuperset(map(type, node.values())):
                        for key, item in node.items():
                            if type(item) not in _SCALAR_TYPES:
                                stack.append((item, f"{where}.{key}", level + 1))
                    continue
                for key, item in node.items():
                    if type(key) is not str:
                        self.add(f"{where}.{key}", f"the key is {_type_name(key)}; keys must be text (quote it)")
                    elif len(key) > MAX_KEY_LENGTH:
                        self.add(f"{where}.{key[:40]}...", f"the key is longer than {MAX_KEY_LENGTH} characters")
                    elif type(item) not in _SCALAR_TYPES:
                        stack.append((item, f"{where}.{key}", level + 1))
            elif kind is list:
                if level > MAX_DEPTH:
                    self.add(where, f"is nested more than {MAX_DEPTH} levels deep")
                    continue
                if _SCALAR_TYPES.issuperset(map(type, node)):
                    continue
                for i, item in enumerate(node):
                    if type(item) not in _SCALAR_TYPES:
                        stack.append((item, f"{where}[{i}]", level + 1))
            elif kind not in _SCALAR_TYPES:
                self.add(where, f"is {_type_name(node)}, which a configuration cannot hold; put the value in quotes")

    def mapping(self, parent: dict[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any] | None:
        value = parent.get(key)
        if value is None:
            if required:
                self.add(path, "is missing")
            return None
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping, not {_type_name(value)}")
            return None
        return value

    def text(self, parent: dict[str, Any], key: str, path: str, *, required: bool = False,
             allow_number: bool = False) -> str | None:
        value = parent.get(key)
        if value is None or value == "":
            if required:
                self.add(path, "is missing" if value is None else "is empty")
            return None
        if isinstance(value, str):
            return value
        if allow_number and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        self.add(path, f"must be text, not {_type_name(value)}")
        return None



def _clean(value: Any, level: int, memo: dict[Any, Any]) -> bool:
    """True when ``_RecordChecker.walk`` would report nothing below ``value`` at ``level``. A mapping equal to
    one found clean before at the same level under the same key is clean too (compared in C: YAML gives
    only text, numbers, booleans, null, dates, lists and mappings, and nothing of another kind compares
    equal to a text, number, list or mapping)."""
    kind = type(value)
    if kind is dict:
        if level > MAX_DEPTH:
            return False
        if not value:
            return True
        if not (_TEXT.issuperset(map(type, value)) and max(map(len, value)) <= MAX_KEY_LENGTH):
            return False
        if _SCALAR_TYPES.issuperset(map(type, value.values())):
            return True
        for key, item in value.items():
            if type(item) is dict:
                slot = (level + 1, key)
                seen = memo.get(slot)
                if seen is not None and seen == item:
                    continue
                if not _clean(item, level + 1, memo):
                    return False
                memo[slot] = item
            elif type(item) not in _SCALAR_TYPES and not _clean(item, level + 1, memo):
                return False
        return True
    if kind is list:
        if level > MAX_DEPTH:
            return False
        return _SCALAR_TYPES.issuperset(map(type, value)) or all(_clean(item, level + 1, memo) for item in value)
    return kind in _SCALAR_TYPES


def _check_record(index: int, raw: Any, templates: TemplateCatalog | None,
                  memo: dict[Any, Any] | None = None) -> ImportRecord:
    raw_name = raw.get("Name") if isinstance(raw, dict) else None
    name = raw_name if isinstance(raw_name, str) else ("" if raw_name is None else str(raw_name))
    check = _RecordChecker(index, name, memo)
    if not isinstance(raw, dict):
        check.add("", f"must be a mapping with Name and Config, not {_type_name(raw)}")
        return ImportRecord(index, name, None, problems=check.problems)

    # Name
    if raw_name is None:
        check.add("Name", "is missing")
    elif not isinstance(raw_name, str):
        check.add("Name", f"must be text, not {_type_name(raw_name)} (put it in quotes)")

    # ValidID (absent: valid, as Znuny's import)
    valid_id = 1
    raw_valid = raw.get("ValidID", 1)
    if isinstance(raw_valid, str) and raw_valid.strip().isdigit():
        raw_valid = int(raw_valid.strip())
    if isinstance(raw_valid, bool) or not isinstance(raw_valid, int) or raw_valid not in VALIDITY_LABELS:
        shown = _clip(repr(raw_valid)) if isinstance(raw_valid, str | int | float) else _type_name(raw_valid)
        check.add("ValidID", f"must be 1 (valid), 2 (invalid) or 3 (invalid-temporarily), not {shown}")
    else:
        valid_id = raw_valid

    create_time = _time_field(check, raw, "CreateTime")
    change_time = _time_field(check, raw, "ChangeTime")
    create_by = _user_field(check, raw, "CreateBy")
    change_by = _user_field(check, raw, "ChangeBy")

    extra = {k: v for k, v in raw.items() if k not in KNOWN_RECORD_KEYS}
    for key, value in extra.items():
        if not isinstance(key, str):
            check.add(str(key), f"the key is {_type_name(key)}; keys must be text")
        else:
            check.walk(value, key, 1)

    config = check.mapping(raw, "Config", "Config", required=True)
    client_secret: str | None = None
    if config is not None:
        check.walk(config, "Config", 1)
        config = dict(config)
        secret_value = config.pop("ClientSecret", None)
        if secret_value is not None and secret_value != "":
            if isinstance(secret_value, str) or (isinstance(secret_value, int) and not isinstance(secret_value, bool)):
                client_secret = str(secret_value)
            else:  # never show the value: it is a secret
                check.add("Config.ClientSecret", f"must be text, not {_type_name(secret_value)}")
        _check_config(check, config, templates)

    if config is None:
        return ImportRecord(index, name, None, problems=check.problems, notes=check.notes)
    _check_sizes(check, config, extra)

    cfg = TokenConfiguration(
        name=name,
        config=config,
        valid_id=valid_id,
        create_time=create_time,
        change_time=change_time,
        create_by=create_by,
        change_by=change_by,
        extra=extra,
    )
    # the field rules of the add/edit dialog, also when the types had problems: all problems at once
    for error in validate_configuration(cfg, has_client_secret=None):
        path = FIELD_PATHS.get(error.field, error.field)
        if not check.covers(path):
            check.add(path, error.message)
    if check.problems:
        return ImportRecord(index, name, None, problems=check.problems, notes=check.notes)
    return ImportRecord(index, name, cfg, client_secret=client_secret, notes=check.notes)


_JSON_TEXT = json.encoder.encode_basestring_ascii  # one text as json.dumps writes it, quotes included
_SIZE_MEMO = "stored size"
_MEMO_MIN = 256  # smaller mappings are measured again rather than compared
#: an upper bound up to this is measured exactly in one go (a few MB for a moment at most); beyond it the
#: JSON is produced piece by piece and the measuring stops at the limit
_EXACT_AT_ONCE = 8 * 1024 * 1024


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


_STREAM = json.JSONEncoder(check_circular=False, default=_not_json).iterencode  # json.dumps's output, in pieces
if json.encoder.c_make_encoder is not None:  # json.dumps's own C encoder, made once (json.dumps makes one per call)
    _C_ENCODER = json.encoder.c_make_encoder(None, _not_json, _JSON_TEXT, None, ": ", ", ", False, False, True)

    def _json_size(value: Any) -> int:
        """``len(json.dumps(value))``."""
        return len("".join(_C_ENCODER(value, 0)))
else:  # pragma: no cover - CPython has the C encoder
    _JSON_ENCODE = json.JSONEncoder(check_circular=False, default=_not_json).encode

    def _json_size(value: Any) -> int:
        return len(_JSON_ENCODE(value))


def _json_bound(value: Any, limit: int) -> tuple[int, bool]:
    """An upper bound of ``len(json.dumps(value))``, found without encoding: the walk stops as soon as it passes
    ``limit`` (so a value that aliases made huge costs next to nothing). Also whether only text, null, lists
    and mappings are inside: a value equal to such a one has the same JSON (1 == True == 1.0 would not)."""
    total = 0
    text_only = True
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str:  # quotes, and at most \\u0001 (6) for ASCII, \\ud83d\\ude00 (12) for one other character
            total += (6 if item.isascii() else 12) * len(item) + 2
        elif kind is dict:
            total += 2 + 4 * len(item)  # {}, ": " and ", "
            pending.extend(item.keys())
            pending.extend(item.values())
        elif kind is list:
            total += 2 + 2 * len(item)
            pending.extend(item)
        elif item is None:
            total += 6  # null, quoted as a key
        else:
            text_only = False
            if kind is bool:
                total += 7
            elif kind is int:
                total += item.bit_length() // 3 + 4  # digits, sign, quotes as a key
            elif kind is float:
                total += 26  # -1.7976931348623157e+308, quoted as a key
            else:
                raise TypeError(f"{kind.__name__} is not JSON")
        if total > limit:
            break
    return total, text_only


_SCALARS = frozenset({str, int, float, bool, type(None)})
_SHALLOW = _SCALARS | {dict}
#: a mapping of at most this many values, all scalars or mappings of scalars, is encoded at once: the reader
#: keeps every text under MAX_VALUE_CHARS, so its JSON is at most a few MB however it was written
_SHALLOW_VALUES = _EXACT_AT_ONCE // (12 * MAX_VALUE_CHARS + 32)


def _shallow(mapping: dict[Any, Any]) -> bool:
    if not _SHALLOW.issuperset(map(type, mapping.values())):
        return False
    count = len(mapping)
    for value in mapping.values():
        if type(value) is dict:
            if not _SCALARS.issuperset(map(type, value.values())):
                return False
            count += len(value)
    return count <= _SHALLOW_VALUES


def _exact_size(value: Any, cap: int) -> int:
    """``len(json.dumps(value))`` when it is at most ``cap``, else ``cap + 1``; memory stays small either way."""
    if _json_bound(value, _EXACT_AT_ONCE)[0] <= _EXACT_AT_ONCE:
        size = _json_size(value)
        return size if size <= cap else cap + 1
    size = 0
    for piece in _STREAM(value):
        size += len(piece)
        if size > cap:
            return cap + 1
    return size


def _within(value: Any, cap: int) -> bool:
    """``len(json.dumps(value)) <= cap``, encoding only when the bound does not settle it."""
    return _json_bound(value, cap)[0] <= cap or _exact_size(value, cap) <= cap


def _fits_store(config: dict[str, Any], extra: dict[str, Any], memo: dict[Any, Any], cap: int) -> bool:
    """``len(json.dumps(config without ClientSecret)) + len(json.dumps(extra)) <= cap``: what the store would
    keep (``MAX_CONFIG_JSON_BYTES``). Bounded first without encoding; a large mapping equal to one measured
    before in this file under the same key counts with its known size (records of one template repeat their
    Requests). Encodes only when the bound is over ``cap``. The property tests compare it with json.dumps."""
    if "ClientSecret" in config:
        config = {key: value for key, value in config.items() if key != "ClientSecret"}
    seen: dict[Any, Any] = memo.setdefault(_SIZE_MEMO, {})
    rest: dict[Any, Any] = {}
    bound = reused = 0
    for key, value in config.items():
        known = seen.get(key) if type(value) is dict and type(key) is str else False
        if known is False:  # not a mapping, or this key's mappings are small or hold numbers
            rest[key] = value
            continue
        part = next((n for earlier, n in known if earlier == value), -1) if known else -1
        if part < 0:
            part, text_only = _json_bound(value, _EXACT_AT_ONCE)
            if text_only and part <= _EXACT_AT_ONCE:
                part = _json_size(value)
            if not text_only or part < _MEMO_MIN or part > cap:
                seen[key] = False
                rest[key] = value
                continue
            seen[key] = [(value, part), *(known or [])][:4]  # a few templates at a time
        bound += len(_JSON_TEXT(key)) + 4 + part  # '"key": value, '
        reused += 1
    if _shallow(rest):  # the usual rest (texts, Notifications, Tokendesk): encoding it is quicker than the walk
        bound += _json_size(rest)
    else:
        bound += _json_bound(rest, cap)[0]
    bound -= 2 if reused and not rest else 0  # (no ", " after the last one then)
    bound += _json_bound(extra, cap)[0] if extra else 2
    if bound <= cap:
        return True
    size = _exact_size(config, cap)
    return size + _exact_size(extra, cap - size) <= cap if size <= cap else False


def _check_sizes(check: _RecordChecker, config: dict[str, Any], extra: dict[str, Any]) -> None:
    """The record must fit the store (``MAX_CONFIG_JSON_BYTES``), and what it keeps of keys Tokendesk does
    not use must stay under ``MAX_UNKNOWN_BYTES``."""
    try:
        if not _fits_store(config, extra, check.memo, MAX_CONFIG_JSON_BYTES):
            check.add("", f"would take more than the {MAX_CONFIG_JSON_BYTES // 1024} KiB a configuration may take "
                          "in the store: remove the values it does not need")
            return
        requests = config.get("Requests")
        if not extra and KNOWN_CONFIG_KEYS.issuperset(config) and (
                type(requests) is not dict or _KNOWN_REQUESTS.issuperset(requests)):
            return  # nothing unknown (the usual record)
        unknown = dict(extra)
        unknown.update((f"Config.{key}", value) for key, value in config.items() if key not in KNOWN_CONFIG_KEYS)
        if type(requests) is dict:
            unknown.update((f"Config.Requests.{key}", value) for key, value in requests.items()
                           if key not in _KNOWN_REQUESTS)
        if unknown and not _within(unknown, MAX_UNKNOWN_BYTES):
            names = ", ".join(str(key) for key in list(unknown)[:5]) + (", ..." if len(unknown) > 5 else "")
            check.add("", f"keeps more than {MAX_UNKNOWN_BYTES // 1024} KiB of keys Tokendesk does not use "
                          f"({names}): remove or shorten them")
    except (TypeError, ValueError, RecursionError):
        return  # values JSON cannot hold (dates, ...): reported by walk() already


def _time_field(check: _RecordChecker, raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.strftime(_TIME_FORMAT)
    if isinstance(value, str) and _ZNUNY_TIME.fullmatch(value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed.strftime(_TIME_FORMAT)
    check.add(key, "must be a date and time like 2024-05-31 14:05:00")
    return None


def _user_field(check: _RecordChecker, raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    check.add(key, "must be a user id (a whole number)")
    return None


def _check_config(check: _RecordChecker, config: dict[str, Any], templates: TemplateCatalog | None) -> None:
    template_name = check.text(config, "TemplateName", "Config.TemplateName", required=True)
    if template_name is not None and templates is not None and templates.get(template_name) is None:
        check.note(
            f"{_TEMPLATE_NOTE_START}'{template_name}' is not installed here; "
            "the record's own endpoints and parameters are used"
        )
    check.text(config, "AuthFlow", "Config.AuthFlow")
    check.text(config, "ClientID", "Config.ClientID", required=True, allow_number=True)
    if config.get("Scope") is not None:
        check.text(config, "Scope", "Config.Scope")

    notifications = check.mapping(config, "Notifications", "Config.Notifications")
    if notifications is not None:
        for flag in _NOTIFICATION_FLAGS:
            value = notifications.get(flag)
            if value is not None and not (
                isinstance(value, bool | int) or (isinstance(value, str) and value.strip().lower() in _FLAG_TEXTS)
            ):
                check.add(f"Config.Notifications.{flag}", "must be 0 or 1")
        lead = notifications.get("NotificationLeadTimeMinutes")
        if lead is not None and (isinstance(lead, bool) or not isinstance(lead, int) or lead < 0):
            check.add("Config.Notifications.NotificationLeadTimeMinutes", "must be a whole number of minutes")

    requests = check.mapping(config, "Requests", "Config.Requests")
    clean_requests = check.memo.get(_CLEAN_REQUESTS)
    if requests is not None and not (clean_requests is not None and clean_requests == requests):
        notes_before = check.noted
        for key, entry in requests.items():
            base = f"Config.Requests.{key}"
            if not isinstance(key, str):
                continue  # reported by walk()
            if key not in REQUEST_KEYS:
                check.note(f"{base} is not used by Tokendesk (kept as it is)")
            if entry is None:
                continue
            if not isinstance(entry, dict):
                check.add(base, f"must be a mapping with Request and Response, not {_type_name(entry)}")
                continue
            _check_request(check, entry, base)
        if not check.problems and check.noted == notes_before:
            # nothing to say about these Requests, whatever record has them (the next one likely has the same)
            check.memo[_CLEAN_REQUESTS] = requests

    tokendesk = check.mapping(config, "Tokendesk", "Config.Tokendesk")
    if tokendesk is not None:
        browser = tokendesk.get("Browser")
        if browser is not None and browser not in (BROWSER_EMBEDDED, BROWSER_SYSTEM):
            check.add("Config.Tokendesk.Browser", f"must be {BROWSER_EMBEDDED} or {BROWSER_SYSTEM}")
        method = tokendesk.get("ClientAuthentication")
        if method is not None and method not in CLIENT_AUTH_METHODS:
            check.add("Config.Tokendesk.ClientAuthentication", f"must be {' or '.join(CLIENT_AUTH_METHODS)}")
        pkce = tokendesk.get("PKCE")
        if pkce is not None and not (
            isinstance(pkce, bool | int) or (isinstance(pkce, str) and pkce.strip().lower() in _FLAG_TEXTS)
        ):
            check.add("Config.Tokendesk.PKCE", "must be 0 or 1")
        days = tokendesk.get("RefreshTokenLifetimeDays")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
            check.add("Config.Tokendesk.RefreshTokenLifetimeDays", "must be a whole number of days")
        for key in ("RedirectURL", "DiscoveryURL"):
            url = check.text(tokendesk, key, f"Config.Tokendesk.{key}")
            if url is not None and key == "DiscoveryURL" and (msg := check_url(url, required=False)):
                check.add(f"Config.Tokendesk.{key}", msg)


_TEMPLATE_NOTE_START = "template "
_CLEAN_REQUESTS = "clean Config.Requests"
_FLAG_TEXTS = ("0", "1", "", "true", "false", "yes", "no", "on", "off")


@functools.lru_cache(maxsize=4096)
def _url_problem(url: str) -> str | None:
    """``check_url`` for a non-empty URL, cached: a file repeats the same endpoints many times."""
    return check_url(url)


def _check_request(check: _RecordChecker, entry: dict[str, Any], base: str) -> None:
    request = check.mapping(entry, "Request", f"{base}.Request")
    if request is not None:
        url = request.get("URL")
        if url is not None and not isinstance(url, str):
            check.add(f"{base}.Request.URL", f"must be text, not {_type_name(url)}")
        elif isinstance(url, str) and url.strip() and (msg := _url_problem(url)):
            check.add(f"{base}.Request.URL", msg)  # also for endpoints this flow does not use
        params = check.mapping(request, "Parameters", f"{base}.Request.Parameters")
        if params is not None:
            for key, value in params.items():
                if isinstance(value, dict | list):
                    check.add(f"{base}.Request.Parameters.{key}", "must be a single value, not a list or mapping")
        _check_names(check, request, f"{base}.Request", "AutofilledParametersMapping", AUTOFILL_SOURCES,
                     "a value", "is not a value Tokendesk fills in (kept, not sent)")
    response = check.mapping(entry, "Response", f"{base}.Response")
    if response is not None:
        _check_names(check, response, f"{base}.Response", "ParametersMapping", RESPONSE_TARGETS,
                     "a token field", "is not a token field Tokendesk knows (kept, ignored)")


def _check_names(check: _RecordChecker, parent: dict[str, Any], base: str, key: str, known: tuple[str, ...],
                 what: str, unknown: str) -> None:
    """Each value of the mapping ``parent[key]`` must be text; a name not in ``known`` is kept with a note."""
    mapping = check.mapping(parent, key, f"{base}.{key}")
    if mapping is None:
        return
    for name, value in mapping.items():
        if value.__class__ is str and value in known:
            continue
        path = f"{base}.{key}.{name}"
        if not isinstance(value, str):
            check.add(path, f"must name {what} ({', '.join(known)})")
        elif value not in known:
            check.note(f"{path}: '{value}' {unknown}")


def _check_duplicates(records: list[ImportRecord]) -> None:
    by_key: dict[str, list[ImportRecord]] = {}
    for record in records:
        if record.name:
            by_key.setdefault(record.name.casefold(), []).append(record)
    for group in by_key.values():
        if len(group) < 2:
            continue
        positions = ", ".join(str(r.index) for r in group)
        for record in group:
            record.problems.append(
                Problem(record.index, record.name, "Name",
                        f"'{record.name}' occurs {len(group)} times in the file (records {positions}); "
                        "names must be unique")
            )
            record.configuration = None
            record.client_secret = None


# ---- step 2: plan against the store
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
            notes = [n for n in notes if not n.startswith(_TEMPLATE_NOTE_START)]  # the stored one is used
            notes.append(f"keeps the stored template name '{stored.template_name}' (it is permanent)")
        moves = endpoint_moves(stored, record.configuration)
        if not record.client_secret and not (moves and stored.has_client_secret):  # else: move_notes()
            notes.append("keeps the stored client secret" if stored.has_client_secret else "no client secret")
        planned.append(PlannedRecord(record, Action.OVERWRITE, stored.id, stored.name, notes, moves,
                                     stored.has_client_secret))
    warnings: list[str] = []
    return ImportPlan(parsed=parsed, overwrite=overwrite, records=planned, warnings=warnings,
                      keep_client_secret=keep_client_secret)


# ---- step 3: apply all or nothing
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
                    saved = store.update(replace(cfg, id=planned.existing_id),
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


def import_file(ctx: Any, path: Path | str, *, overwrite: bool = False, dry_run: bool = False
                ) -> tuple[ImportPlan, ImportSummary | None]:
    """Read, plan and (unless ``dry_run`` or invalid) apply: the CLI's one call."""
    parsed = read_import_file(path, ctx.templates)
    plan = plan_import(ctx, parsed, overwrite)
    if dry_run or not plan.ok:
        return plan, None
    return plan, apply_import(ctx, plan)
