"""The general reading path: the node graph (explicit tags, merge keys, keys that are not text, ...).

The graph is composed, measured in document order (``measure``: every alias at the full size of what it repeats,
so it stops at the same value as the event reader) and only then built (``construct``).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from desktop.backup.yamlio import limits
from desktop.backup.yamlio.limits import (
    RECURSIVE,
    YamlReadError,
    expands_too_far,
    key_twice,
    text_bytes,
    value_too_long,
)
from desktop.backup.yamlio.loader import FLATTEN_TAGS, MAP_TAG, SEQ_TAG, STR_TAG, CachingLoader, build_scalar, guarded

_PENDING = object()
_BUSY = (-1, -1)


def measure(root: Any) -> None:
    """Count the node graph as the event reader counts its events, in the same (document) order: every
    alias at the full size of what it repeats, a merge key's mappings as written. Refuses it, before any
    value is built, when it is over a limit, has a value over ``limits.MAX_VALUE_CHARS`` or refers to itself."""
    max_nodes, max_chars, max_value = limits.MAX_NODES, limits.MAX_TEXT_BYTES, limits.MAX_VALUE_CHARS
    sizes: dict[int, tuple[int, int]] = {}
    nodes = chars = 0

    def visit(node: Any) -> None:
        nonlocal nodes, chars
        if node.__class__ is ScalarNode:
            size = len(node.value)
            if size > max_value:
                raise value_too_long(size, node.start_mark)
            nodes += 1
            chars += text_bytes(node.value)
        else:
            known = sizes.get(id(node))
            if known is _BUSY:
                raise YamlReadError(RECURSIVE)
            if known is not None:  # an alias: all of it again
                nodes += known[0]
                chars += known[1]
            else:
                sizes[id(node)] = _BUSY
                start_nodes, start_chars = nodes, chars
                nodes += 1
                if nodes > max_nodes:
                    raise expands_too_far(True)
                if node.__class__ is SequenceNode:
                    for child in node.value:
                        visit(child)
                else:
                    for key_node, value_node in node.value:
                        visit(key_node)
                        visit(value_node)
                sizes[id(node)] = (nodes - start_nodes, chars - start_chars)
        if nodes > max_nodes or chars > max_chars:
            raise expands_too_far(nodes > max_nodes)

    visit(root)


_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_SET_TAG = "tag:yaml.org,2002:set"
_PAIR_TAGS = ("tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs")
#: tags whose constructors build containers (generators): a scalar with one goes to construct_object
_CONTAINER_TAGS = frozenset({MAP_TAG, SEQ_TAG, _SET_TAG, *_PAIR_TAGS})


def construct(loader: Any, root: Any) -> Any:
    """Build Python values from the node graph (measured first) with SafeConstructor's per-tag constructors.
    Merge keys are resolved here, not by PyYAML's ``flatten_mapping``: a key written next to ``<<``
    overrides the merged one (as YAML says), but a key twice - written twice, or arriving from two merged
    mappings - is refused."""
    memo: dict[int, Any] = {}
    scalars: dict[tuple[str, str], Any] = {}
    constructors = loader.yaml_constructors

    def key_of(key_node: Any) -> Any:
        if key_node.__class__ is ScalarNode and key_node.tag in (STR_TAG, _VALUE_TAG):  # "=" is a text key
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
                raise key_twice(key, key_node.start_mark, first=next(k for k in mapping if k == key))
            if value_node.__class__ is ScalarNode and value_node.tag == STR_TAG:
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
                        raise key_twice(key, key_node.start_mark, merged=True,
                                         first=next(k for k in merged if k == key))
                    merged[key] = value
        merged.update(mapping)  # keys written out override merged ones, in the merged order (as PyYAML)
        return merged

    def build(node: Any) -> Any:
        cls = node.__class__
        tag = node.tag
        if cls is ScalarNode:
            if tag == STR_TAG:
                return node.value
            key = (tag, node.value)
            if key in scalars:
                return scalars[key]
            constructor = constructors.get(tag)
            if constructor is None or tag in _CONTAINER_TAGS or tag in FLATTEN_TAGS:
                value = loader.construct_object(node, deep=True)  # unknown tags: refused in PyYAML's words
            else:
                value = build_scalar(loader, constructor, node)
            scalars[key] = value
            return value
        nid = id(node)
        if nid in memo:
            value = memo[nid]
            if value is _PENDING:
                raise YamlReadError(RECURSIVE)
            return value
        memo[nid] = _PENDING
        if cls is MappingNode and tag == MAP_TAG:
            value = build_mapping(node)
        elif cls is SequenceNode and tag == SEQ_TAG:
            value = [
                child.value if child.__class__ is ScalarNode and child.tag == STR_TAG else build(child)
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


def load_nodes(text: str) -> Any:
    """The general path: compose the node graph, measure it, then build it."""
    return guarded(_read_nodes, text)


def _read_nodes(text: str) -> Any:
    loader = CachingLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        measure(node)
        return construct(loader, node)
    finally:
        loader.dispose()

