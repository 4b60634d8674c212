"""What the three reading paths share: PyYAML's safe loader (libyaml's when built with it) with a cache for
implicit tags, scalars built by ``SafeConstructor``'s own constructors (what they cannot build refused in words),
and the parser's and Python's failures in the project's words."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import ScalarNode

from desktop.backup.yamlio.limits import NESTED, YamlReadError, position

SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
STR_TAG = "tag:yaml.org,2002:str"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
FLATTEN_TAGS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")
#: what a tag's value should have been, for "cannot be read"
_TAG_KINDS = {
    "tag:yaml.org,2002:int": "a whole number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:timestamp": "a date and time",
    "tag:yaml.org,2002:binary": "base64 data",
}


def _unreadable(node: Any, problem: str) -> YamlReadError:
    # the value itself is not shown: it may be a client secret
    return YamlReadError(
        f"The file has a value that cannot be read at {position(node.start_mark)}: it {problem}. "
        "Put it in quotes if it is meant as text. Nothing was imported."
    )


#: numbers beyond about 1,000 digits are no configuration value (and Python cannot print those over 4,300)
_MAX_INT_BITS = 3_322
_CONSTRUCTOR_FAILURES = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)


def build_scalar(loader: Any, constructor: Any, node: Any) -> Any:
    """One scalar by SafeConstructor's constructor for its tag; what it cannot build is refused in words."""
    try:
        value = constructor(loader, node)
    except _CONSTRUCTOR_FAILURES:  # "2024-13-45", "!!int x", "!!bool maybe", 5,000 digits, ...
        raise _unreadable(node, f"is not {_TAG_KINDS.get(node.tag, 'a value of its type')}") from None
    if value.__class__ is int and value.bit_length() > _MAX_INT_BITS:
        raise _unreadable(node, "is a number of more than 1,000 digits")
    return value


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    first = getattr(exc, "context_mark", None)
    if "duplicate anchor" in str(getattr(exc, "context", "")) and first is not None:
        problem = f"an anchor (&name) is defined a second time (the first is at line {first.line + 1})"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"The file is not valid YAML{where}: {problem}. Check the file, or export it again."


def guarded(read: Any, text: str) -> Any:
    """``read(text)`` with the parser's and Python's failures in the project's words."""
    try:
        return read(text)
    except yaml.YAMLError as exc:
        raise YamlReadError(_yaml_problem(exc)) from None
    except RecursionError:
        raise YamlReadError(NESTED) from None
    except MemoryError:
        raise YamlReadError("The file is too large to read into memory.") from None


class CachingLoader(SafeLoader):  # type: ignore[misc, valid-type]
    """The safe loader with a cache for implicit tag resolution (same answers, fewer regexes)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tag_cache: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if not implicit[0]:  # quoted or tagged "!": always a string (SafeLoader has no path resolvers)
                return STR_TAG
            tag = self._tag_cache.get(value)
            if tag is None:
                tag = self._tag_cache[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)

