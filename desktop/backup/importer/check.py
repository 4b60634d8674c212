"""Step 1 of an import: read the file safely (``desktop.backup.yamlio``) and check every record on its own - types,
required fields, URLs (``desktop.models.validation``), names that occur twice in the file. Never raises for bad
input: the problems are in the result."""

from __future__ import annotations

import functools
import gc
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from desktop.backup.importer.records import (
    FIELD_PATHS,
    TEMPLATE_NOTE_START,
    ImportRecord,
    ParsedImport,
    Problem,
    clip,
)
from desktop.backup.importer.store_size import check_sizes
from desktop.backup.yamlio.limits import YamlReadError
from desktop.backup.yamlio.reader import load_yaml, read_limited
from desktop.models.config import (
    AUTOFILL_SOURCES,
    BROWSER_EMBEDDED,
    BROWSER_SYSTEM,
    CLIENT_AUTH_METHODS,
    DEVICE_AUTHORIZATION,
    DEVICE_RESPONSE_TARGETS,
    REQUEST_KEYS,
    RESPONSE_TARGETS,
    VALIDITY_LABELS,
    TokenConfiguration,
)
from desktop.models.templates import TemplateCatalog
from desktop.models.validation import check_url, validate_configuration

KNOWN_RECORD_KEYS = ("Name", "ValidID", "Config", "CreateTime", "CreateBy", "ChangeTime", "ChangeBy")
MAX_DEPTH = 32
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
_TEXT = frozenset({str})
MAX_KEY_LENGTH = 256
#: problems and notes listed per record; then one line says there are more
MAX_PROBLEMS = 20
MAX_NOTES = 20

_NOTIFICATION_FLAGS = (
    "NotifyOnExpiredToken",
    "NotifyOnExpiredRefreshToken",
    "NotifyBeforeTokenExpiry",
    "NotifyBeforeRefreshTokenExpiry",
)
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_ZNUNY_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


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


class RecordChecker:
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
    """True when ``RecordChecker.walk`` would report nothing below ``value`` at ``level``. A mapping equal to
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
    check = RecordChecker(index, name, memo)
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
        shown = clip(repr(raw_valid)) if isinstance(raw_valid, str | int | float) else _type_name(raw_valid)
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
    check_sizes(check, config, extra)

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


def _time_field(check: RecordChecker, raw: dict[str, Any], key: str) -> str | None:
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


def _user_field(check: RecordChecker, raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    check.add(key, "must be a user id (a whole number)")
    return None


def _check_config(check: RecordChecker, config: dict[str, Any], templates: TemplateCatalog | None) -> None:
    template_name = check.text(config, "TemplateName", "Config.TemplateName", required=True)
    if template_name is not None and templates is not None and templates.get(template_name) is None:
        check.note(
            f"{TEMPLATE_NOTE_START}'{template_name}' is not installed here; "
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


_CLEAN_REQUESTS = "clean Config.Requests"
_FLAG_TEXTS = ("0", "1", "", "true", "false", "yes", "no", "on", "off")


@functools.lru_cache(maxsize=4096)
def _url_problem(url: str) -> str | None:
    """``check_url`` for a non-empty URL, cached: a file repeats the same endpoints many times."""
    return check_url(url)


def _check_request(check: RecordChecker, entry: dict[str, Any], base: str) -> None:
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
        targets = DEVICE_RESPONSE_TARGETS if base.endswith(DEVICE_AUTHORIZATION) else RESPONSE_TARGETS
        _check_names(check, response, f"{base}.Response", "ParametersMapping", targets,
                     "a token field", "is not a token field Tokendesk knows (kept, ignored)")


def _check_names(check: RecordChecker, parent: dict[str, Any], base: str, key: str, known: tuple[str, ...],
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

