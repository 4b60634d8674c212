"""Safe, bounded YAML reading and a deterministic YAML writer for the backup files.

Reading (``load_yaml``) is PyYAML's *safe* loading only - libyaml's ``CSafeLoader`` when
PyYAML was built with it, the pure-Python ``SafeLoader`` otherwise - with these guards, each
checked before the data reaches the rest of the program:

* size: at most ``MAX_FILE_BYTES`` (32 MiB), checked before parsing (and, for files, before
  reading: see ``read_limited``). 10,000 configurations of the Microsoft template are about
  28 MB; Znuny exports are usually a few KB.
* binary data: NUL bytes, or bytes that are not UTF-8 (a UTF-8 byte-order mark is allowed).
* expansion ("billion laughs" alias bombs, however spelled: block or flow, ``"k":*a``, aliases as
  keys, ``<<`` merge keys, anchored long texts): every value is counted while it is read, an alias
  at the full size of what it repeats, and the file is refused at the first value past
  ``MAX_NODES`` values or ``MAX_TEXT_BYTES`` bytes of text; an alias inside its own anchor is
  refused too. The limits admit any plain file under the size limit.
* one value longer than ``MAX_VALUE_CHARS`` characters, a number over about 1,000 digits, and a
  value SafeLoader's constructors cannot build ("2024-13-45", "!!int x") are refused with their line.
* a key twice in one mapping (also ``'URL'`` and ``URL``, or two ``<<`` merged mappings that both
  have it) is refused with its line: YAML would silently keep the last one. A key written next to
  ``<<`` still overrides the merged one, as YAML defines.
* nesting: libyaml refuses more than 1000 levels; anything that still exhausts Python's
  recursion is reported as "nested too deeply".

There are three reading paths and each keeps every guard, in the same words: ``_load_block_lines``
(plain block style, line by line; it reads only files it can prove inside the limits and hands
anything to refuse to the next path, which names the line), ``_load_events`` (the parser's events)
and ``_load_nodes`` (the node graph, for explicit tags, merge keys and keys that are not text; it
measures the graph in document order before building anything, so both stop at the same value).

The values are built by ``SafeConstructor``'s own per-tag constructors through a flat builder
(tests check it gives exactly what ``yaml.safe_load`` gives, apart from the refusals above); with the
garbage collector paused and resolved tags cached it is about twice as fast as ``yaml.safe_load`` on
large files. Files in the plain block style this module writes (and ``yaml.safe_dump`` writes) are
read line by line (each distinct line split once, about four times as fast again).

Writing (``dump_records``) emits block-style YAML in a fixed key order chosen by the caller,
so the same data always gives the same bytes. Plain scalars are used where they read back as
the same string; everything else is quoted the way PyYAML quotes it.
"""

from __future__ import annotations

import gc
import logging
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 32 * 1024 * 1024
#: values (keys, texts, numbers, lists, mappings) in the document, every alias counted at the full size of
#: what it repeats; a 10,000-record export has 1.6 million, a 32 MiB file of them about 1.9 million
MAX_NODES = 4_000_000
#: text in the document (keys and values) in UTF-8 bytes - the file limit's unit - counted the same way; no
#: plain file under MAX_FILE_BYTES can have more, a 10,000-record export has about 18.7 million
MAX_TEXT_BYTES = 32 * 1024 * 1024
#: characters in one value (client ids, secrets, URLs and scopes are far shorter)
MAX_VALUE_CHARS = 16_384

SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_FLATTEN_TAGS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")


class YamlReadError(ValueError):
    """The data cannot be read as a YAML backup; the message says why and what to do."""


# ---- reading
def read_limited(path: Path | str, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a file, refusing one over ``limit`` bytes before reading it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > limit:
            raise YamlReadError(_too_big(size, limit))
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except IsADirectoryError:
        raise YamlReadError(f"{path} is a folder, not a file.") from None
    except FileNotFoundError:
        raise YamlReadError(f"{path} does not exist.") from None
    except PermissionError:
        raise YamlReadError(f"{path} cannot be read (permission denied).") from None
    except OSError as exc:
        raise YamlReadError(f"{path} cannot be read ({exc.strerror or exc.__class__.__name__}).") from None
    if len(data) > limit:  # grew while we read it, or a special file
        raise YamlReadError(_too_big(len(data), limit))
    return data


def _too_big(size: int, limit: int) -> str:
    return (
        f"The file is {size / 1048576:.1f} MiB; backups larger than {limit // 1048576} MiB are refused. "
        "Split it into several files."
    )


def decode_text(data: bytes | str, limit: int = MAX_FILE_BYTES) -> str:
    """Bytes to text with the size and binary checks."""
    if isinstance(data, str):
        if len(data) > limit:
            raise YamlReadError(_too_big(len(data.encode("utf-8", "surrogatepass")), limit))
        text = data
    else:
        if len(data) > limit:
            raise YamlReadError(_too_big(len(data), limit))
        _refuse_encrypted(data)
        if b"\x00" in data:
            raise YamlReadError(
                "The file contains binary data (NUL bytes), not YAML text. Choose a .yml export file."
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise YamlReadError(
                f"The file is not UTF-8 text (invalid byte at offset {exc.start}); it looks like binary data. "
                "Choose a .yml export file, or save it as UTF-8."
            ) from None
    if "\x00" in text:
        raise YamlReadError("The file contains binary data (NUL characters), not YAML text.")
    return text


def _refuse_encrypted(data: bytes) -> None:
    """An age-encrypted backup read as plain YAML: say what it is instead of "binary data"."""
    from desktop.backup.encrypted import looks_encrypted  # here: encrypted.py imports this module

    if looks_encrypted(data):
        raise YamlReadError(
            "The file is an encrypted backup (age). Import it with 'tokendesk import FILE' or File > Import, "
            "which ask for its passphrase."
        )


# ---- the limits and their messages
def _position(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown position"


def _limit_text(limit: int, unit: str) -> str:
    if unit == "text" and limit >= 1048576 and limit % 1048576 == 0:
        return f"{limit // 1048576} MiB of text"
    return f"{limit:,} bytes of text" if unit == "text" else f"{limit:,} values"


def _text_bytes(text: str) -> int:
    """UTF-8 bytes of a text (the reader's unit for expansion: a character takes up to 4)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _expands_too_far(nodes_over: bool) -> YamlReadError:
    limit = _limit_text(MAX_NODES, "values") if nodes_over else _limit_text(MAX_TEXT_BYTES, "text")
    return YamlReadError(
        f"The file would expand to more than {limit} (every alias *name counted at the full size of what it "
        "repeats): too large for a backup, or an alias bomb. Nothing was imported. Split the file, or write "
        "repeated parts out instead of using anchors (&) and aliases (*)."
    )


def _value_too_long(size: int, mark: Any) -> YamlReadError:
    return YamlReadError(
        f"The file has a value of {size:,} characters at {_position(mark)}; values longer than "
        f"{MAX_VALUE_CHARS:,} characters are refused. Nothing was imported. Shorten or remove that value."
    )


def _key_twice(key: Any, mark: Any, merged: bool = False, first: Any = None) -> YamlReadError:
    def shown(value: Any) -> str:
        text = value if isinstance(value, str) else str(value)
        return text if len(text) <= 60 else text[:57] + "..."

    via = ", through a << merge key" if merged else ""
    if first is not None and repr(first) != repr(key):  # 1 and true, 1 and 1.0: one key to Python and JSON
        via += f"; '{shown(key)}' and '{shown(first)}' are the same key here"
    return YamlReadError(
        f"The file has the key '{shown(key)}' twice in the same mapping (at {_position(mark)}{via}); YAML would "
        "keep only the last value without a word. Nothing was imported. Remove or rename one of them."
    )


_RECURSIVE = (
    "The file contains a recursive structure (an alias inside its own anchor). Nothing was imported. "
    "Write the values out instead."
)
_NESTED = "The file is nested too deeply to be a configuration backup."
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
        f"The file has a value that cannot be read at {_position(node.start_mark)}: it {problem}. "
        "Put it in quotes if it is meant as text. Nothing was imported."
    )


#: numbers beyond about 1,000 digits are no configuration value (and Python cannot print those over 4,300)
_MAX_INT_BITS = 3_322
_CONSTRUCTOR_FAILURES = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)


def _build_scalar(loader: Any, constructor: Any, node: Any) -> Any:
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


def _guarded(read: Any, text: str) -> Any:
    """``read(text)`` with the parser's and Python's failures in the project's words."""
    try:
        return read(text)
    except yaml.YAMLError as exc:
        raise YamlReadError(_yaml_problem(exc)) from None
    except RecursionError:
        raise YamlReadError(_NESTED) from None
    except MemoryError:
        raise YamlReadError("The file is too large to read into memory.") from None


class _Loader(SafeLoader):  # type: ignore[misc, valid-type]
    """The safe loader with a cache for implicit tag resolution (same answers, fewer regexes)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tag_cache: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if not implicit[0]:  # quoted or tagged "!": always a string (SafeLoader has no path resolvers)
                return _STR_TAG
            tag = self._tag_cache.get(value)
            if tag is None:
                tag = self._tag_cache[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


# ---- the node graph: explicit tags, merge keys, keys that are not text, ...
_PENDING = object()
_BUSY = (-1, -1)


def _measure(root: Any) -> None:
    """Count the node graph as the event reader counts its events, in the same (document) order: every
    alias at the full size of what it repeats, a merge key's mappings as written. Refuses it, before any
    value is built, when it is over a limit, has a value over ``MAX_VALUE_CHARS`` or refers to itself."""
    max_nodes, max_chars, max_value = MAX_NODES, MAX_TEXT_BYTES, MAX_VALUE_CHARS
    sizes: dict[int, tuple[int, int]] = {}
    nodes = chars = 0

    def visit(node: Any) -> None:
        nonlocal nodes, chars
        if node.__class__ is ScalarNode:
            size = len(node.value)
            if size > max_value:
                raise _value_too_long(size, node.start_mark)
            nodes += 1
            chars += _text_bytes(node.value)
        else:
            known = sizes.get(id(node))
            if known is _BUSY:
                raise YamlReadError(_RECURSIVE)
            if known is not None:  # an alias: all of it again
                nodes += known[0]
                chars += known[1]
            else:
                sizes[id(node)] = _BUSY
                start_nodes, start_chars = nodes, chars
                nodes += 1
                if nodes > max_nodes:
                    raise _expands_too_far(True)
                if node.__class__ is SequenceNode:
                    for child in node.value:
                        visit(child)
                else:
                    for key_node, value_node in node.value:
                        visit(key_node)
                        visit(value_node)
                sizes[id(node)] = (nodes - start_nodes, chars - start_chars)
        if nodes > max_nodes or chars > max_chars:
            raise _expands_too_far(nodes > max_nodes)

    visit(root)


_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_SET_TAG = "tag:yaml.org,2002:set"
_PAIR_TAGS = ("tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs")
#: tags whose constructors build containers (generators): a scalar with one goes to construct_object
_CONTAINER_TAGS = frozenset({_MAP_TAG, _SEQ_TAG, _SET_TAG, *_PAIR_TAGS})


def _construct(loader: Any, root: Any) -> Any:
    """Build Python values from the node graph (measured first) with SafeConstructor's per-tag constructors.
    Merge keys are resolved here, not by PyYAML's ``flatten_mapping``: a key written next to ``<<``
    overrides the merged one (as YAML says), but a key twice - written twice, or arriving from two merged
    mappings - is refused."""
    memo: dict[int, Any] = {}
    scalars: dict[tuple[str, str], Any] = {}
    constructors = loader.yaml_constructors

    def key_of(key_node: Any) -> Any:
        if key_node.__class__ is ScalarNode and key_node.tag in (_STR_TAG, _VALUE_TAG):  # "=" is a text key
            return key_node.value
        key = build(key_node)
        try:
            hash(key)
        except TypeError:
            raise YamlReadError(
                f"The file uses a {type(key).__name__} as a mapping key at line "
                f"{key_node.start_mark.line + 1}; keys must be plain text."
            ) from None
        return key

    def build_mapping(node: Any) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        merges = None
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges = [] if merges is None else merges
                merges.append((key_node, value_node))
                continue
            key = key_of(key_node)
            if key in mapping:
                raise _key_twice(key, key_node.start_mark, first=next(k for k in mapping if k == key))
            if value_node.__class__ is ScalarNode and value_node.tag == _STR_TAG:
                mapping[key] = value_node.value
            else:
                mapping[key] = build(value_node)
        if merges is None:
            return mapping
        merged: dict[Any, Any] = {}
        for key_node, value_node in merges:
            if value_node.__class__ is MappingNode:
                sources = [value_node]
            elif value_node.__class__ is SequenceNode:
                sources = value_node.value[::-1]  # PyYAML's order: the first mapping listed wins
            else:
                sources = [value_node]
            for source in sources:
                part = build(source) if source.__class__ is MappingNode else None
                if part.__class__ is not dict:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"expected a mapping or list of mappings for merging, but found {source.id}",
                        source.start_mark,
                    )
                for key, value in part.items():
                    if key in merged:
                        raise _key_twice(key, key_node.start_mark, merged=True,
                                         first=next(k for k in merged if k == key))
                    merged[key] = value
        merged.update(mapping)  # keys written out override merged ones, in the merged order (as PyYAML)
        return merged

    def build(node: Any) -> Any:
        cls = node.__class__
        tag = node.tag
        if cls is ScalarNode:
            if tag == _STR_TAG:
                return node.value
            key = (tag, node.value)
            if key in scalars:
                return scalars[key]
            constructor = constructors.get(tag)
            if constructor is None or tag in _CONTAINER_TAGS or tag in _FLATTEN_TAGS:
                value = loader.construct_object(node, deep=True)  # unknown tags: refused in PyYAML's words
            else:
                value = _build_scalar(loader, constructor, node)
            scalars[key] = value
            return value
        nid = id(node)
        if nid in memo:
            value = memo[nid]
            if value is _PENDING:
                raise YamlReadError(_RECURSIVE)
            return value
        memo[nid] = _PENDING
        if cls is MappingNode and tag == _MAP_TAG:
            value = build_mapping(node)
        elif cls is SequenceNode and tag == _SEQ_TAG:
            value = [
                child.value if child.__class__ is ScalarNode and child.tag == _STR_TAG else build(child)
                for child in node.value
            ]
        elif cls is MappingNode and tag == _SET_TAG:
            value = set(build_mapping(node))
        elif cls is SequenceNode and tag in _PAIR_TAGS and all(
            sub.__class__ is MappingNode and len(sub.value) == 1 for sub in node.value
        ):
            value = [(build(k), build(v)) for sub in node.value for k, v in sub.value]
        else:  # other tags and shapes: SafeConstructor decides, or refuses in its words
            value = loader.construct_object(node, deep=True)
        memo[nid] = value
        return value

    return build(root)


def _load_nodes(text: str) -> Any:
    """The general path: compose the node graph, measure it, then build it."""
    return _guarded(_read_nodes, text)


def _read_nodes(text: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _measure(node)
        return _construct(loader, node)
    finally:
        loader.dispose()


# ---- the parser's events: plain files that are not in the block style of the line reader
class _NeedsNodes(Exception):
    """The document uses something the event reader leaves to the node graph (tags, merge keys, ...)."""


class _KeyTwice(Exception):
    """A mapping got a key it has already (the event reader names the position)."""


#: deeper than this is no configuration backup (the node path would hit Python's recursion limit)
_MAX_DEPTH = 500
_NO_KEY = object()


def _load_events(text: str) -> Any:
    """Build the document straight from the parser's events - no node graph, about twice as fast as
    composing nodes first (10,000 configurations: ~1.9 s instead of ~3.3 s here). Plain files only:
    explicit tags, merge keys, non-text keys, several documents, repeated anchors and undefined aliases
    raise ``_NeedsNodes`` and ``load_yaml`` reads the file the general way. Same values as ``yaml.safe_load``
    (scalars resolved and constructed by SafeLoader's own resolver and constructors; the property tests
    compare the two). Counts every value as it comes, an alias at the full size of its anchor, and stops
    at the first limit passed, exactly where ``_measure`` stops on the node graph."""
    return _guarded(_read_events, text)


def _read_events(text: str) -> Any:
    loader = _Loader(text)
    constructors = loader.yaml_constructors
    resolve = loader.resolve
    max_nodes, max_chars, max_value = MAX_NODES, MAX_TEXT_BYTES, MAX_VALUE_CHARS
    values: dict[tuple[str, str], Any] = {}
    #: anchor -> (value, its values, its characters, where it is); sizes known once its container ended
    anchors: dict[str, tuple[Any, int, int, Any]] = {}
    open_anchors: set[str] = set()
    # one entry per open container: [container, pending key (mappings), is mapping, anchor, values and
    # characters counted before it]
    stack: list[list[Any]] = []
    result: list[Any] = []
    documents = 0
    nodes = chars = 0

    def put(value: Any) -> None:
        if not stack:
            result.append(value)
            return
        top = stack[-1]
        if not top[2]:
            top[0].append(value)
        elif top[1] is _NO_KEY:
            if value.__class__ is not str:
                raise _NeedsNodes
            if value in top[0]:
                raise _KeyTwice(value)
            top[1] = value
        else:
            top[0][top[1]] = value
            top[1] = _NO_KEY

    event: Any = None
    try:
        while True:
            event = loader.get_event()
            cls = event.__class__
            if cls is ScalarEvent:
                value = event.value
                size = len(value)
                if size > max_value:
                    raise _value_too_long(size, event.start_mark)
                size = size if value.isascii() else _text_bytes(value)
                nodes += 1
                chars += size
                if nodes > max_nodes or chars > max_chars:
                    raise _expands_too_far(nodes > max_nodes)
                if event.tag is not None and event.tag != "!":
                    raise _NeedsNodes
                if event.implicit[0]:  # plain: its type comes from the resolver (null, bool, int, ...)
                    tag = resolve(ScalarNode, value, (True, False))
                    if tag != _STR_TAG:
                        key = (tag, value)
                        if key in values:
                            value = values[key]
                        else:
                            constructor = constructors.get(tag)
                            if constructor is None or tag in _FLATTEN_TAGS:
                                raise _NeedsNodes
                            value = values[key] = _build_scalar(
                                loader, constructor, ScalarNode(tag, value, event.start_mark, event.end_mark))
                if event.anchor is not None:
                    if event.anchor in anchors:
                        raise _NeedsNodes  # the composer refuses a repeated anchor in its words
                    anchors[event.anchor] = (value, 1, size, event.start_mark)
                put(value)
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                is_mapping = cls is MappingStartEvent
                if event.tag is not None and event.tag not in ("!", _MAP_TAG if is_mapping else _SEQ_TAG):
                    raise _NeedsNodes
                nodes += 1
                if nodes > max_nodes:
                    raise _expands_too_far(True)
                container: Any = {} if is_mapping else []
                put(container)
                if event.anchor is not None:
                    if event.anchor in anchors:
                        raise _NeedsNodes
                    anchors[event.anchor] = (container, 0, 0, event.start_mark)
                    open_anchors.add(event.anchor)
                stack.append([container, _NO_KEY, is_mapping, event.anchor, nodes - 1, chars])
                if len(stack) > _MAX_DEPTH:
                    raise RecursionError
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                entry = stack.pop()
                anchor = entry[3]
                if anchor is not None:
                    open_anchors.discard(anchor)
                    anchors[anchor] = (entry[0], nodes - entry[4], chars - entry[5], anchors[anchor][3])
            elif cls is AliasEvent:
                if event.anchor in open_anchors:
                    raise YamlReadError(_RECURSIVE)
                known = anchors.get(event.anchor)
                if known is None:
                    raise _NeedsNodes  # the composer words that error
                nodes += known[1]
                chars += known[2]
                if nodes > max_nodes or chars > max_chars:
                    raise _expands_too_far(nodes > max_nodes)
                put(known[0])
            elif cls is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _NeedsNodes  # the composer refuses a second document in its words
            elif cls is StreamEndEvent:
                break
    except _KeyTwice as exc:
        # an alias as the key: where its anchor is, as the node graph knows it
        mark = anchors[event.anchor][3] if event.__class__ is AliasEvent else event.start_mark
        raise _key_twice(exc.args[0], mark) from None
    finally:
        loader.dispose()
    return result[0] if result else None


class _NotBlockLines(Exception):
    """The text is not in the plain block style ``_load_block_lines`` reads; the event reader takes it."""


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


def _load_block_lines(text: str) -> Any:
    """Read a document of the block style our writer (and PyYAML's ``safe_dump``) writes, line by line:
    mappings and lists by indentation, one-line plain, single- or double-quoted scalars, ``{}`` and ``[]``.
    About four times as fast as the parser's events, because the lines of a backup repeat: each distinct
    line is split and its scalars resolved once. Anything else (comments, blank lines, flow collections,
    multi-line or block scalars, anchors, aliases, tags, directives, several documents, tabs, control
    characters, non-text keys) raises ``_NotBlockLines`` and the general readers take the file. What it
    accepts it reads exactly as ``yaml.safe_load`` does: plain scalars are resolved and constructed by
    SafeLoader's own resolver and constructors (tests compare the two on generated and damaged files).

    It refuses nothing itself: a file it cannot prove inside the limits (more lines than ``MAX_NODES``
    allows, more text than ``MAX_TEXT_BYTES``), a value over ``MAX_VALUE_CHARS``, a key twice in one
    mapping, a value the constructors cannot build - all go to the event reader, which counts, finds
    and words them (with their line)."""
    loader = _Loader("")
    try:
        return _guarded(lambda text: _read_block_lines(text, loader), text)
    finally:
        loader.dispose()


def _read_block_lines(text: str, loader: Any) -> Any:
    constructors = loader.yaml_constructors
    resolve = loader.resolve
    scalars: dict[str, Any] = {}
    max_value = MAX_VALUE_CHARS

    def scalar(token: str) -> Any:
        """The value of one scalar token: plain, quoted, ``{}`` or ``[]`` (markers for new containers)."""
        if token in scalars:
            return scalars[token]
        if len(token) > max_value:  # (a quoted one may be shorter: the event reader measures exactly)
            raise _NotBlockLines
        first = token[:1]
        if first == "'":
            if not _SINGLE_QUOTED.fullmatch(token):
                raise _NotBlockLines
            value = token[1:-1].replace("''", "'")
        elif first == '"':
            if not _DOUBLE_QUOTED.fullmatch(token):
                raise _NotBlockLines
            try:  # the escapes, exactly as YAML reads them
                value = yaml.load(token, Loader=SafeLoader)
            except yaml.YAMLError:
                raise _NotBlockLines from None
            if value.__class__ is not str:
                raise _NotBlockLines
        elif token == "{}":
            value = _EMPTY_MAPPING
        elif token == "[]":
            value = _EMPTY_LIST
        else:
            if not _PLAIN_LINE.fullmatch(token):
                raise _NotBlockLines
            tag = resolve(ScalarNode, token, (True, False))
            if tag == _STR_TAG:
                value = token
            else:
                constructor = constructors.get(tag)
                if constructor is None or tag in _FLATTEN_TAGS:
                    raise _NotBlockLines
                try:
                    value = _build_scalar(loader, constructor, ScalarNode(tag, token))
                except YamlReadError:
                    raise _NotBlockLines from None  # refused with its line by the event reader
        scalars[token] = value
        return value

    def key_of(token: str) -> str:
        if len(token) > _MAX_KEY_CHARS or token == "{}" or token == "[]":
            raise _NotBlockLines
        key = scalar(token)
        if key.__class__ is not str:
            raise _NotBlockLines  # null, numbers, dates as keys: the general readers decide
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
            raise _NotBlockLines
        first = content[0]
        if first == "'" or first == '"':
            match = (_SINGLE_QUOTED if first == "'" else _DOUBLE_QUOTED).match(content)
            if match is None:
                raise _NotBlockLines
            end = match.end()
            rest = content[end:]
            if not rest:
                return column, dashes, None, scalar(content)
            if rest == ":":
                return column, dashes, key_of(content[:end]), _PENDING_VALUE
            if rest[:2] == ": ":
                return column, dashes, key_of(content[:end]), scalar(rest[2:])
            raise _NotBlockLines
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
        raise _NotBlockLines
    # A line makes at most 2 values (key and value) plus one per leading "- " (a list or a mapping as its
    # item), and the scalars' text is shorter than the file's: within these bounds no count is needed.
    dash_budget = MAX_NODES - 2 * len(lines) - 1  # for the leading dashes, counted where they are read
    if dash_budget < 0 or (len(text) > MAX_TEXT_BYTES // 4 and _text_bytes(text) > MAX_TEXT_BYTES):
        raise _NotBlockLines
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
                raise _NotBlockLines  # a key twice: refused with its line by the event reader
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
                raise _NotBlockLines
            if top_column == column:
                if top[1]:  # PyYAML's list at its key's indentation: "key:" then "- item" in the same column
                    if top[3] is None:
                        raise _NotBlockLines
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
                raise _NotBlockLines
            for _ in range(dashes - 1):  # "- - x": a list in a list
                column += 2
                items = []
                top[0].append(items)
                top = [items, False, column, None]
                stack.append(top)
            if len(stack) > _MAX_DEPTH:
                raise RecursionError
            column += 2
            if key is None:
                if value is _PENDING_VALUE:
                    raise _NotBlockLines
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
            raise _NotBlockLines  # a scalar on its own line: a continued or multi-line scalar, a comment, ...
        elif top_column == column:
            if not top[1]:  # a key after a list at its key's indentation: the list has ended
                stack.pop()
                top = stack[-1] if stack else outside
                if top[2] != column or not top[1]:
                    raise _NotBlockLines
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
            raise _NotBlockLines
        if len(stack) > _MAX_DEPTH:
            raise RecursionError
        top_column = top[2]
        top_mapping = top[0]
        if key in top_mapping:
            raise _NotBlockLines
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


def load_yaml(data: bytes | str, limit: int = MAX_FILE_BYTES) -> Any:
    """Parse one YAML document safely with every guard; None for an empty document."""
    text = decode_text(data, limit)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # building millions of small containers: the collector would rescan them all
    try:
        try:
            return _load_block_lines(text)
        except _NotBlockLines:
            pass
        try:
            return _load_events(text)
        except _NeedsNodes:
            pass
        return _load_nodes(text)
    finally:
        if gc_was_enabled:
            gc.enable()


# ---- writing
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
                and _resolver.resolve(ScalarNode, value, (True, False)) == _STR_TAG
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
