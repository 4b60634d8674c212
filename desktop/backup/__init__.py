"""Backup and migration: Znuny-compatible YAML export and import (no Qt).

The file format is Znuny's token configuration export (Znuny 6.4 to 7.x): one YAML list of
records ``Name``, ``ValidID``, ``Config``, ``CreateTime``, ``CreateBy``, ``ChangeTime``,
``ChangeBy``. Tokendesk writes exactly that (``export``), and reads it back with these rules
(``importer``):

* **Top level.** A list of records. A mapping that has ``Name`` or ``Config`` is read as one
  record, as Znuny's own import does. Any other mapping - for example ``{name: Config}`` - is
  refused with an explanation: it cannot be told apart from a damaged record, and Znuny does
  not write it. An empty list imports nothing.
* **Limits.** Files over 32 MiB (``yamlio.limits.MAX_FILE_BYTES``; about 11,000 configurations of
  the Microsoft template) are refused before parsing. Only safe YAML loading. Anchors (``&a``),
  aliases (``*a``) and merge keys (``<<: *a``) are allowed, and every alias counts at the full
  size of what it repeats, however it is written: the whole file may expand to at most 4,000,000
  values and 32 MiB of text in UTF-8 (``MAX_NODES``, ``MAX_TEXT_BYTES``; a 10,000-configuration
  export has 1.6 million values and 19 MB of text, so any plain file under the size limit fits).
  One value may have at most 16,384 characters (``MAX_VALUE_CHARS``). Recursive aliases, numbers
  over about 1,000 digits and values YAML cannot build (``2024-13-45``) are refused.
* **Keys.** A mapping may have each key once. A second ``URL:`` - also ``'URL'`` against
  ``URL``, an alias as the key, or the same key from two mappings merged with ``<<`` - refuses
  the file and names its line (YAML loaders keep the last one without a word). A key written next
  to ``<<`` replaces the merged one, as YAML defines.
* **Size of one configuration.** What the store keeps of a record (``Config`` without the client
  secret, plus its other keys, as JSON) may be at most 64 KiB (``MAX_CONFIG_JSON_BYTES``; a
  Microsoft configuration is about 2.5 KB), and of that at most 16 KiB of keys Tokendesk does not
  use (``importer.store_size.MAX_UNKNOWN_BYTES``: top-level keys other than Znuny's, ``Config`` keys other
  than TemplateName, AuthFlow, ClientID, ClientSecret, Scope, Notifications, Requests and
  Tokendesk, and ``Requests`` Tokendesk does not use). The store refuses a larger configuration
  however it arrives (import, edit, command).
* **Records.** Every record is checked on its own; every problem names the record (position
  and Name) and the field (``Config.Requests.TokenByRefreshToken.Request.URL``); at most 20
  problems and 20 notes are listed per record, then one line says there are more. Names must be
  unique in the file (case-insensitively, as in the store). Any ``TemplateName`` is accepted
  (Znuny files carry their own endpoints); unknown keys are kept and exported again.
* **Apply.** Each record is *new*, *overwrites* (same name, overwrite on), *skipped* (same
  name, overwrite off) or *invalid*. One invalid record blocks the whole import; applying is
  one transaction, the client secrets included. Overwriting keeps the configuration's id, so
  its token and the mail accounts that use it stay; without a ``ClientSecret`` in the file the
  stored secret stays too - unless the record moves an endpoint to another origin (scheme,
  host, port): then the stored tokens are forgotten and the stored client secret is removed
  unless the admin keeps it ("Send the stored client secret to the new hosts",
  ``--send-client-secret-to-new-hosts``). A new configuration without one is marked "client
  secret missing".
* **Secrets.** ``ClientSecret`` is exported only when asked, and the file is then written
  with mode 0600. Tokens are never exported.
* **Encryption** (``encrypted``). On request the same YAML is written encrypted for a
  passphrase in the age format (binary age v1, one scrypt recipient; file name ``*.yml.age``),
  so a backup with client secrets can travel; ``age -d`` gives the plain YAML back. The import
  recognises binary and ASCII-armored age files without the passphrase, asks for it, and then
  checks the decrypted text exactly like a plain file (same limits). A file encrypted for an age
  or SSH key is refused with a hint. Plain exports with secrets stay possible (Znuny reads only
  plain YAML) and are warned about.
"""

from desktop.backup.encrypted import (
    EncryptedBackup,
    EncryptedBackupError,
    WrongPassphrase,
    encrypt_text,
    looks_encrypted,
    open_backup,
)
from desktop.backup.export import (
    ExportError,
    ExportResult,
    default_export_filename,
    export_configurations,
    write_export,
)
from desktop.backup.importer import (
    Action,
    ImportBlocked,
    ImportPlan,
    ImportSummary,
    ParsedImport,
    PlanChanged,
    Problem,
    apply_import,
    import_file,
    parse_import,
    plan_import,
    read_import_file,
)
from desktop.backup.yamlio.limits import MAX_FILE_BYTES, YamlReadError

__all__ = [
    "Action",
    "EncryptedBackup",
    "EncryptedBackupError",
    "ExportError",
    "ExportResult",
    "ImportBlocked",
    "ImportPlan",
    "ImportSummary",
    "MAX_FILE_BYTES",
    "ParsedImport",
    "PlanChanged",
    "Problem",
    "WrongPassphrase",
    "YamlReadError",
    "apply_import",
    "default_export_filename",
    "encrypt_text",
    "export_configurations",
    "import_file",
    "looks_encrypted",
    "open_backup",
    "parse_import",
    "plan_import",
    "read_import_file",
    "write_export",
]
