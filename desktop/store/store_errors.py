"""What the store refuses, and why, in words an admin can act on: a name taken, a configuration not found, one
changed meanwhile by someone else, one too large to store."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.models.config import TokenConfiguration


class StoreError(RuntimeError):
    pass


class DuplicateNameError(StoreError):
    def __init__(self, name: str) -> None:
        super().__init__(f"A configuration named '{name}' already exists; choose another name.")
        self.name = name


class NotFoundError(StoreError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No configuration named '{name}'. 'tokendesk list' shows the names.")
        self.name = name


class ChangedMeanwhile(StoreError):
    """The configuration was saved by someone else (another window, a command, an import) since the edit loaded
    it: nothing was written. ``changes`` says what the other save changed, in words (never a secret);
    ``current`` is the stored version."""

    def __init__(self, loaded: TokenConfiguration, current: TokenConfiguration) -> None:
        from desktop.models.changes import describe_changes

        self.loaded = loaded
        self.current = current
        self.changes = describe_changes(loaded, current)
        super().__init__(f"'{loaded.name}' was changed meanwhile (in another window or by a tokendesk command); "
                         f"your changes were not saved. Changed: {'; '.join(self.changes)}.")


#: the most one configuration may take in the database: its Config and its other record keys as JSON
#: (``config_json`` + ``extra_json``; a Microsoft configuration takes about 2.5 KB). Every listing reads
#: these columns, so nothing - an import, an edit, a command - may store more.
MAX_CONFIG_JSON_BYTES = 64 * 1024


class ConfigurationTooLarge(StoreError):
    def __init__(self, name: str, size: int) -> None:
        super().__init__(
            f"The configuration '{name}' is too large to store: {size:,} bytes of settings, at most "
            f"{MAX_CONFIG_JSON_BYTES:,} bytes. Nothing was saved. Remove the values it does not need."
        )
        self.name = name
        self.size = size


def check_size(name: str, config_json: str, extra_json: str) -> None:
    """The last line of defence against a configuration that would slow every listing down."""
    size = len(config_json) + len(extra_json)  # JSON with ensure_ascii: characters are bytes
    if size > MAX_CONFIG_JSON_BYTES:
        raise ConfigurationTooLarge(name, size)
