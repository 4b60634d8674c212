"""The YAML reader's limits and its refusals in words (``YamlReadError``).

The limits are read from this module each time a reader starts (tests lower them); every reading path refuses
in the same words, built here.
"""

from __future__ import annotations

from typing import Any

MAX_FILE_BYTES = 32 * 1024 * 1024
#: values (keys, texts, numbers, lists, mappings) in the document, every alias counted at the full size of
#: what it repeats; a 10,000-record export has 1.6 million, a 32 MiB file of them about 1.9 million
MAX_NODES = 4_000_000
#: text in the document (keys and values) in UTF-8 bytes - the file limit's unit - counted the same way; no
#: plain file under MAX_FILE_BYTES can have more, a 10,000-record export has about 18.7 million
MAX_TEXT_BYTES = 32 * 1024 * 1024
#: characters in one value (client ids, secrets, URLs and scopes are far shorter)
MAX_VALUE_CHARS = 16_384
#: deeper than this is no configuration backup (the node path would hit Python's recursion limit)
MAX_DEPTH = 500


class YamlReadError(ValueError):
    """The data cannot be read as a YAML backup; the message says why and what to do."""


def too_big(size: int, limit: int) -> str:
    return (
        f"The file is {size / 1048576:.1f} MiB; backups larger than {limit // 1048576} MiB are refused. "
        "Split it into several files."
    )


def position(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown position"


def _limit_text(limit: int, unit: str) -> str:
    if unit == "text" and limit >= 1048576 and limit % 1048576 == 0:
        return f"{limit // 1048576} MiB of text"
    return f"{limit:,} bytes of text" if unit == "text" else f"{limit:,} values"


def text_bytes(text: str) -> int:
    """UTF-8 bytes of a text (the reader's unit for expansion: a character takes up to 4)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def expands_too_far(nodes_over: bool) -> YamlReadError:
    limit = _limit_text(MAX_NODES, "values") if nodes_over else _limit_text(MAX_TEXT_BYTES, "text")
    return YamlReadError(
        f"The file would expand to more than {limit} (every alias *name counted at the full size of what it "
        "repeats): too large for a backup, or an alias bomb. Nothing was imported. Split the file, or write "
        "repeated parts out instead of using anchors (&) and aliases (*)."
    )


def value_too_long(size: int, mark: Any) -> YamlReadError:
    return YamlReadError(
        f"The file has a value of {size:,} characters at {position(mark)}; values longer than "
        f"{MAX_VALUE_CHARS:,} characters are refused. Nothing was imported. Shorten or remove that value."
    )


def key_twice(key: Any, mark: Any, merged: bool = False, first: Any = None) -> YamlReadError:
    def shown(value: Any) -> str:
        text = value if isinstance(value, str) else str(value)
        return text if len(text) <= 60 else text[:57] + "..."

    via = ", through a << merge key" if merged else ""
    if first is not None and repr(first) != repr(key):  # 1 and true, 1 and 1.0: one key to Python and JSON
        via += f"; '{shown(key)}' and '{shown(first)}' are the same key here"
    return YamlReadError(
        f"The file has the key '{shown(key)}' twice in the same mapping (at {position(mark)}{via}); YAML would "
        "keep only the last value without a word. Nothing was imported. Remove or rename one of them."
    )


RECURSIVE = (
    "The file contains a recursive structure (an alias inside its own anchor). Nothing was imported. "
    "Write the values out instead."
)
NESTED = "The file is nested too deeply to be a configuration backup."
