"""The deterministic YAML writer of the backup files: block style, keys in the caller's order, the same bytes for
the same data. Plain scalars where they read back as the same string; everything else quoted as PyYAML quotes it."""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterable
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from desktop.backup.yamlio.loader import STR_TAG

#: strings written without quotes when they also resolve to a string (checked below)
_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_ ./:@=+()?&%,;'~$!-]*")
#: looks like a number to some YAML loader (1.1 or 1.2): always quoted
_NUMBERISH = re.compile(r"[-+.]?[0-9][0-9a-fA-FxXoObB_.:eE+-]*")
_resolver = yaml.resolver.Resolver()
_scalar_cache: dict[Any, str] = {}
_SCALAR_CACHE_MAX = 200_000


def _pyyaml_scalar(value: Any, quote: bool = False) -> str:
    """How PyYAML writes ``value`` as a flow item, on one line (``quote``: never plain)."""
    style = "'" if quote else None
    if isinstance(value, str) and any(c in value for c in "\n\r\x85\u2028\u2029"):
        style = '"'
    text = yaml.dump(
        [value], Dumper=yaml.SafeDumper, default_flow_style=True, default_style=style, allow_unicode=True,
        width=math.inf,
    ).strip()
    if not (text.startswith("[") and text.endswith("]")):  # pragma: no cover - PyYAML always gives [x]
        raise ValueError(f"cannot write a value of type {type(value).__name__}")
    return text[1:-1]


def scalar_text(value: Any) -> str:
    """YAML text for one scalar, read back as the same value by any YAML 1.1 loader."""
    cls = value.__class__
    if cls is str:
        cached = _scalar_cache.get(value)
        if cached is not None:
            return cached
        if _PLAIN_SAFE.fullmatch(value):
            if (
                not value.endswith((" ", ":"))
                and ": " not in value
                and " #" not in value
                and not _NUMBERISH.fullmatch(value)
                and _resolver.resolve(ScalarNode, value, (True, False)) == STR_TAG
            ):
                text = value
            else:  # printable ASCII on one line: PyYAML single-quotes it (tests compare); no PyYAML call
                text = "'" + value.replace("'", "''") + "'"
        elif _NUMBERISH.fullmatch(value):  # e.g. a client id: quoted, as PyYAML quotes it
            text = "'" + value + "'"
        else:
            text = _pyyaml_scalar(value)
        if len(_scalar_cache) < _SCALAR_CACHE_MAX:
            _scalar_cache[value] = text
        return text
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return str(value)
    if value is None:
        return "null"
    return _pyyaml_scalar(value)


def _emit_mapping(mapping: dict[Any, Any], indent: str, out: list[str]) -> None:
    """Append the lines of a non-empty mapping at ``indent`` (the caller wrote the parent key)."""
    cache = _scalar_cache
    append = out.append
    deeper = indent + "  "
    for key, item in mapping.items():
        head = cache.get(key) if key.__class__ is str else None
        head = indent + (head if head is not None else scalar_text(key)) + ":"
        cls = item.__class__
        if cls is str:
            text = cache.get(item)
            append(head + " " + (text if text is not None else scalar_text(item)))
        elif cls is dict:
            if item:
                append(head)
                _emit_mapping(item, deeper, out)
            else:
                append(head + " {}")
        elif cls is list:
            if item:
                append(head)
                _emit_list(item, indent, out)  # PyYAML's style: list items at the key's indentation
            else:
                append(head + " []")
        else:
            append(head + " " + scalar_text(item))


def _emit_list(items: list[Any], indent: str, out: list[str]) -> None:
    """Append the lines of a non-empty list at ``indent``: "- item", and a mapping or list as the item
    starts on the dash's line ("- first: x", the other keys aligned under "first")."""
    cache = _scalar_cache
    append = out.append
    deeper = indent + "  "
    dash = indent + "-"
    cut = len(indent) + 1
    for item in items:
        cls = item.__class__
        if cls is dict or cls is list:
            if not item:
                append(dash + (" {}" if cls is dict else " []"))
                continue
            first = len(out)
            if cls is dict:
                _emit_mapping(item, deeper, out)
            else:
                _emit_list(item, deeper, out)
            out[first] = dash + out[first][cut:]  # "  first: x" -> "- first: x"
        elif cls is str:
            text = cache.get(item)
            append(dash + " " + (text if text is not None else scalar_text(item)))
        else:
            append(dash + " " + scalar_text(item))


def forget_scalars(values: Iterable[str]) -> None:
    """Drop ``values`` from the writer's scalar cache (client secrets must not outlive their export)."""
    for value in values:
        _scalar_cache.pop(value, None)


def dump_records(records: Iterable[dict[str, Any]]) -> str:
    """A YAML list of mappings, block style, keys in the mappings' own order."""
    items = list(records)
    if not items:
        return "--- []\n"
    out: list[str] = ["---"]
    gc_was_enabled = gc.isenabled()
    gc.disable()  # only strings are made here, but the records may be many: no collector passes over them
    try:
        _emit_list(items, "", out)
    finally:
        if gc_was_enabled:
            gc.enable()
    return "\n".join(out) + "\n"
