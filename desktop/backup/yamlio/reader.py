"""Reading a backup: the file read within its size limit, decoded with the binary checks, and parsed by the first
of the three paths that takes it (``lines``, then ``events``, then ``nodes``), with every guard."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from desktop.backup.yamlio.events import NeedsNodes, load_events
from desktop.backup.yamlio.limits import MAX_FILE_BYTES, YamlReadError, too_big
from desktop.backup.yamlio.lines import NotBlockLines, load_block_lines
from desktop.backup.yamlio.nodes import load_nodes


def read_limited(path: Path | str, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a file, refusing one over ``limit`` bytes before reading it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > limit:
            raise YamlReadError(too_big(size, limit))
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
        raise YamlReadError(too_big(len(data), limit))
    return data



def decode_text(data: bytes | str, limit: int = MAX_FILE_BYTES) -> str:
    """Bytes to text with the size and binary checks."""
    if isinstance(data, str):
        if len(data) > limit:
            raise YamlReadError(too_big(len(data.encode("utf-8", "surrogatepass")), limit))
        text = data
    else:
        if len(data) > limit:
            raise YamlReadError(too_big(len(data), limit))
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



def load_yaml(data: bytes | str, limit: int = MAX_FILE_BYTES) -> Any:
    """Parse one YAML document safely with every guard; None for an empty document."""
    text = decode_text(data, limit)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # building millions of small containers: the collector would rescan them all
    try:
        try:
            return load_block_lines(text)
        except NotBlockLines:
            pass
        try:
            return load_events(text)
        except NeedsNodes:
            pass
        return load_nodes(text)
    finally:
        if gc_was_enabled:
            gc.enable()
