"""Whether a record fits the store: at most ``MAX_CONFIG_JSON_BYTES`` of JSON as the store keeps it, and at most
``MAX_UNKNOWN_BYTES`` of keys Tokendesk does not use - measured in bounded memory, without encoding when a bound
settles it (a few KB of YAML can alias into hundreds of MB)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from desktop.backup.yamlio.limits import MAX_VALUE_CHARS
from desktop.models.config import REQUEST_KEYS
from desktop.store.repository import MAX_CONFIG_JSON_BYTES

if TYPE_CHECKING:
    from desktop.backup.importer.check import RecordChecker

#: the keys of Config that Tokendesk reads; others (and other Requests) are kept and exported again
KNOWN_CONFIG_KEYS = frozenset(
    {"TemplateName", "AuthFlow", "ClientID", "ClientSecret", "Scope", "Notifications", "Requests", "Tokendesk"}
)
_KNOWN_REQUESTS = frozenset(REQUEST_KEYS)
#: the most a record may keep of keys Tokendesk does not use (as JSON, as the store writes them)
MAX_UNKNOWN_BYTES = 16 * 1024

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


def check_sizes(check: RecordChecker, config: dict[str, Any], extra: dict[str, Any]) -> None:
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


