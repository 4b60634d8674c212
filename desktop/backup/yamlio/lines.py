"""The line reader: files in the plain block style the writer (and PyYAML's ``safe_dump``) writes, line by line."""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from desktop.backup.yamlio import limits
from desktop.backup.yamlio.limits import MAX_DEPTH, YamlReadError, text_bytes
from desktop.backup.yamlio.loader import FLATTEN_TAGS, STR_TAG, CachingLoader, SafeLoader, build_scalar, guarded


class NotBlockLines(Exception):
    """The text is not in the plain block style ``load_block_lines`` reads; the event reader takes it."""


#: printable characters other than ASCII (YAML 1.1 and libyaml), without the byte-order mark and the
#: line and paragraph separators (line breaks in YAML 1.1)
_NON_ASCII = "\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff"
_SCALAR_CHAR = "\x21-\x39\x3b-\x7e" + _NON_ASCII  # printable, no space, no ':'
#: a one-line plain scalar that ends where the line ends: no indicator first, ':' only before a non-space,
#: spaces only between words and never before '#' (a comment), no control characters or tabs
_PLAIN_LINE = re.compile(
    rf"[$()+./0-9;<=A-Z\\^_a-z~{_NON_ASCII}]"
    rf"(?:[{_SCALAR_CHAR}]|:(?=[{_SCALAR_CHAR}:])| +(?=[\x21\x22\x24-\x7e{_NON_ASCII}]))*"
)
_SINGLE_QUOTED = re.compile(rf"'(?:[\x20-\x26\x28-\x7e{_NON_ASCII}]|'')*'")
_DOUBLE_QUOTED = re.compile(rf'"(?:[\x20\x21\x23-\x5b\x5d-\x7e{_NON_ASCII}]|\\[\x21-\x7e])*"')
#: YAML allows implicit keys of up to 1024 characters
_MAX_KEY_CHARS = 1000
_PENDING_VALUE = object()  # "key:" at the end of its line: the value is on the next lines, or null
_EMPTY_MAPPING = object()  # "{}"
_EMPTY_LIST = object()  # "[]"


def load_block_lines(text: str) -> Any:
    """Read a document of the block style our writer (and PyYAML's ``safe_dump``) writes, line by line:
    mappings and lists by indentation, one-line plain, single- or double-quoted scalars, ``{}`` and ``[]``.
    About four times as fast as the parser's events, because the lines of a backup repeat: each distinct
    line is split and its scalars resolved once. Anything else (comments, blank lines, flow collections,
    multi-line or block scalars, anchors, aliases, tags, directives, several documents, tabs, control
    characters, non-text keys) raises ``NotBlockLines`` and the general readers take the file. What it
    accepts it reads exactly as ``yaml.safe_load`` does: plain scalars are resolved and constructed by
    SafeLoader's own resolver and constructors (tests compare the two on generated and damaged files).

    It refuses nothing itself: a file it cannot prove inside the limits (more lines than ``limits.MAX_NODES``
    allows, more text than ``limits.MAX_TEXT_BYTES``), a value over ``limits.MAX_VALUE_CHARS``, a key twice in one
    mapping, a value the constructors cannot build - all go to the event reader, which counts, finds
    and words them (with their line)."""
    loader = CachingLoader("")
    try:
        return guarded(lambda text: _read_block_lines(text, loader), text)
    finally:
        loader.dispose()


def _read_block_lines(text: str, loader: Any) -> Any:
    constructors = loader.yaml_constructors
    resolve = loader.resolve
    scalars: dict[str, Any] = {}
    max_value = limits.MAX_VALUE_CHARS

    def scalar(token: str) -> Any:
        """The value of one scalar token: plain, quoted, ``{}`` or ``[]`` (markers for new containers)."""
        if token in scalars:
            return scalars[token]
        if len(token) > max_value:  # (a quoted one may be shorter: the event reader measures exactly)
            raise NotBlockLines
        first = token[:1]
        if first == "'":
            if not _SINGLE_QUOTED.fullmatch(token):
                raise NotBlockLines
            value = token[1:-1].replace("''", "'")
        elif first == '"':
            if not _DOUBLE_QUOTED.fullmatch(token):
                raise NotBlockLines
            try:  # the escapes, exactly as YAML reads them
                value = yaml.load(token, Loader=SafeLoader)
            except yaml.YAMLError:
                raise NotBlockLines from None
            if value.__class__ is not str:
                raise NotBlockLines
        elif token == "{}":
            value = _EMPTY_MAPPING
        elif token == "[]":
            value = _EMPTY_LIST
        else:
            if not _PLAIN_LINE.fullmatch(token):
                raise NotBlockLines
            tag = resolve(ScalarNode, token, (True, False))
            if tag == STR_TAG:
                value = token
            else:
                constructor = constructors.get(tag)
                if constructor is None or tag in FLATTEN_TAGS:
                    raise NotBlockLines
                try:
                    value = build_scalar(loader, constructor, ScalarNode(tag, token))
                except YamlReadError:
                    raise NotBlockLines from None  # refused with its line by the event reader
        scalars[token] = value
        return value

    def key_of(token: str) -> str:
        if len(token) > _MAX_KEY_CHARS or token == "{}" or token == "[]":
            raise NotBlockLines
        key = scalar(token)
        if key.__class__ is not str:
            raise NotBlockLines  # null, numbers, dates as keys: the general readers decide
        return key  # type: ignore[no-any-return]

    def split_line(line: str) -> tuple[int, int, str | None, Any]:
        """(column, number of leading "- ", key or None, value or marker)."""
        content = line.lstrip(" ")
        column = len(line) - len(content)
        dashes = 0
        while content[:2] == "- ":
            dashes += 1
            content = content[2:]
        if not content or content[0] == " ":
            raise NotBlockLines
        first = content[0]
        if first == "'" or first == '"':
            match = (_SINGLE_QUOTED if first == "'" else _DOUBLE_QUOTED).match(content)
            if match is None:
                raise NotBlockLines
            end = match.end()
            rest = content[end:]
            if not rest:
                return column, dashes, None, scalar(content)
            if rest == ":":
                return column, dashes, key_of(content[:end]), _PENDING_VALUE
            if rest[:2] == ": ":
                return column, dashes, key_of(content[:end]), scalar(rest[2:])
            raise NotBlockLines
        colon = content.find(": ")  # a plain key cannot contain ": "
        if colon >= 0:
            return column, dashes, key_of(content[:colon]), scalar(content[colon + 2:])
        if content[-1] == ":":
            return column, dashes, key_of(content[:-1]), _PENDING_VALUE
        return column, dashes, None, scalar(content)

    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if lines and lines[0] == "---":
        del lines[0]
    if not lines:
        raise NotBlockLines
    # A line makes at most 2 values (key and value) plus one per leading "- " (a list or a mapping as its
    # item), and the scalars' text is shorter than the file's: within these bounds no count is needed.
    dash_budget = limits.MAX_NODES - 2 * len(lines) - 1  # for the leading dashes, counted where they are read
    if dash_budget < 0 or (len(text) > limits.MAX_TEXT_BYTES // 4 and text_bytes(text) > limits.MAX_TEXT_BYTES):
        raise NotBlockLines
    split: dict[str, tuple[int, int, str | None, Any]] = {}
    known = split.get
    # the open containers, innermost last: [container, is a mapping, column, pending key or None]
    stack: list[list[Any]] = []
    root: list[Any] = []
    outside: list[Any] = [None, False, -1, None]
    top = outside
    top_column = -1
    top_mapping: Any = None  # top[0] when it is a mapping
    for line in lines:
        entry = known(line)
        if entry is None:
            entry = split[line] = split_line(line)
        column, dashes, key, value = entry
        if column == top_column and top_mapping is not None and not dashes and key is not None:
            # the usual line: the next key of the current mapping
            if key in top_mapping:
                raise NotBlockLines  # a key twice: refused with its line by the event reader
            if value is _PENDING_VALUE:
                top_mapping[key] = None
                top[3] = key
            else:
                if value is _EMPTY_MAPPING:
                    value = {}
                elif value is _EMPTY_LIST:
                    value = []
                top_mapping[key] = value
                top[3] = None
            continue
        while column < top_column:  # containers that ended
            stack.pop()
            top = stack[-1] if stack else outside
            top_column = top[2]
        if dashes:
            dash_budget -= dashes
            if dash_budget < 0:
                raise NotBlockLines
            if top_column == column:
                if top[1]:  # PyYAML's list at its key's indentation: "key:" then "- item" in the same column
                    if top[3] is None:
                        raise NotBlockLines
                    items: list[Any] = []
                    top[0][top[3]] = items
                    top[3] = None
                    top = [items, False, column, None]
                    stack.append(top)
            elif top[3] is not None:  # more indented: the value of the pending key
                items = []
                top[0][top[3]] = items
                top[3] = None
                top = [items, False, column, None]
                stack.append(top)
            elif top is outside and not root:
                items = []
                root.append(items)
                top = [items, False, column, None]
                stack.append(top)
            else:
                raise NotBlockLines
            for _ in range(dashes - 1):  # "- - x": a list in a list
                column += 2
                items = []
                top[0].append(items)
                top = [items, False, column, None]
                stack.append(top)
            if len(stack) > MAX_DEPTH:
                raise RecursionError
            column += 2
            if key is None:
                if value is _PENDING_VALUE:
                    raise NotBlockLines
                if value is _EMPTY_MAPPING:
                    value = {}
                elif value is _EMPTY_LIST:
                    value = []
                top[0].append(value)
                top_column = top[2]
                top_mapping = None
                continue
            mapping: dict[Any, Any] = {}  # "- key: value": a mapping as the list item
            top[0].append(mapping)
            top = [mapping, True, column, None]
            stack.append(top)
        elif key is None:
            raise NotBlockLines  # a scalar on its own line: a continued or multi-line scalar, a comment, ...
        elif top_column == column:
            if not top[1]:  # a key after a list at its key's indentation: the list has ended
                stack.pop()
                top = stack[-1] if stack else outside
                if top[2] != column or not top[1]:
                    raise NotBlockLines
        elif top[3] is not None and top_column < column:  # more indented: the value of the pending key
            mapping = {}
            top[0][top[3]] = mapping
            top[3] = None
            top = [mapping, True, column, None]
            stack.append(top)
        elif top is outside and not root:
            mapping = {}
            root.append(mapping)
            top = [mapping, True, column, None]
            stack.append(top)
        else:
            raise NotBlockLines
        if len(stack) > MAX_DEPTH:
            raise RecursionError
        top_column = top[2]
        top_mapping = top[0]
        if key in top_mapping:
            raise NotBlockLines
        if value is _PENDING_VALUE:
            top_mapping[key] = None
            top[3] = key
        else:
            if value is _EMPTY_MAPPING:
                value = {}
            elif value is _EMPTY_LIST:
                value = []
            top_mapping[key] = value
            top[3] = None
    return root[0]
