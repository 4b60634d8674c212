"""Encrypted backups: the Znuny YAML export, encrypted for a passphrase in the age format (no Qt).

age (https://age-encryption.org/v1) is a small, widely available file encryption format; a
passphrase file has one ``scrypt`` recipient. ``pyrage`` does the cryptography and is imported
only when an encrypted file is written or opened (start-up time of the command line). Each
encryption and each decryption costs about a second or two of scrypt work on purpose, so the
window runs them on its task runner.

* ``encrypt_text(text, passphrase)`` gives binary age v1 bytes (the ``.age`` file).
* ``looks_encrypted(data)`` recognises an age file without the passphrase: the binary header
  ``age-encryption.org/v1`` or the ASCII armor ``-----BEGIN AGE ENCRYPTED FILE-----`` (base64
  between the two marker lines, which ``dearmor`` removes).
* ``open_backup(path, templates)`` reads a file for the import: a plain YAML file is read and
  checked as ``read_import_file`` does; an encrypted one comes back as ``EncryptedBackup``,
  after its header was checked to be for a passphrase (a file for an age or SSH key is refused
  before anyone is asked for a passphrase). ``EncryptedBackup.read(passphrase, templates)``
  decrypts and checks it; the decrypted text is subject to the same limits as a plain file.

Every error is an ``EncryptedBackupError`` whose message is meant for the admin; passphrases
and file contents never appear in messages or logs.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.backup.yamlio.limits import MAX_FILE_BYTES, YamlReadError
from desktop.backup.yamlio.reader import read_limited

if TYPE_CHECKING:
    from desktop.backup.importer import ParsedImport
    from desktop.models.templates import TemplateCatalog

logger = logging.getLogger(__name__)

AGE_MAGIC = b"age-encryption.org/v1\n"
ARMOR_BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = b"-----END AGE ENCRYPTED FILE-----"
#: the suffix proposed for encrypted exports (appended to Znuny's ``.yml`` name)
AGE_SUFFIX = ".age"
#: a header longer than this is not one Tokendesk (or age for a passphrase) writes
MAX_HEADER_BYTES = 64 * 1024
#: leading whitespace tolerated before the armor's first line
_MAX_LEADING_SPACE = 1024

WRONG_PASSPHRASE = "The passphrase is wrong, or the file was changed; nothing was imported."
FOR_AGE_KEY = "The file is encrypted for an age key, not a passphrase; decrypt it with age first."
FOR_SSH_KEY = "The file is encrypted for an SSH key, not a passphrase; decrypt it with age first (age -d -i KEY)."
DAMAGED = (
    "The passphrase is right, but the file was changed or is incomplete since it was written; nothing was "
    "imported. Copy it again from where it was saved."
)
CLEAR_TEXT_HINT = (
    "Use --encrypt to protect the file with a passphrase (age); Znuny itself reads only plain YAML."
)


class EncryptedBackupError(ValueError):
    """An encrypted backup cannot be written or read; the message says why (never the passphrase)."""


class WrongPassphrase(EncryptedBackupError):
    """The passphrase does not open the file (or the file's key part was changed): ask again."""

    def __init__(self) -> None:
        super().__init__(WRONG_PASSPHRASE)


class NotForPassphrase(EncryptedBackupError):
    """The file is encrypted for an age or SSH key, not a passphrase."""


def _pyrage() -> Any:
    try:
        import pyrage
    except ImportError:  # pragma: no cover - a dependency; only a broken installation lacks it
        raise EncryptedBackupError(
            "Encrypted backups need the Python package 'pyrage', which is not installed (pip install pyrage)."
        ) from None
    return pyrage


# ---- writing
def encrypt_text(text: str, passphrase: str) -> bytes:
    """The export text encrypted for ``passphrase``: binary age v1 with one scrypt recipient."""
    if not passphrase:
        raise EncryptedBackupError("An empty passphrase protects nothing; enter a passphrase.")
    pyrage = _pyrage()
    try:
        data = pyrage.passphrase.encrypt(text.encode("utf-8"), passphrase)
    except pyrage.EncryptError as exc:
        raise EncryptedBackupError(
            f"The file could not be encrypted ({_first_line(exc)}); nothing was written."
        ) from None
    logger.info("export: encrypted for a passphrase (age, %d bytes)", len(data))
    return data


def armor(data: bytes) -> bytes:
    """ASCII armor (PEM-like, 64 columns of base64), as ``age --armor`` writes it."""
    encoded = base64.b64encode(data)
    lines = [encoded[i:i + 64] for i in range(0, len(encoded), 64)]
    return b"\n".join([ARMOR_BEGIN, *lines, ARMOR_END]) + b"\n"


# ---- recognising
def _is_armored(data: bytes) -> bool:
    return data[:_MAX_LEADING_SPACE + len(ARMOR_BEGIN)].lstrip().startswith(ARMOR_BEGIN)


def looks_encrypted(data: bytes) -> bool:
    """``data`` is an age file (binary or armored); no passphrase is needed to tell."""
    return data.startswith(AGE_MAGIC) or _is_armored(data)


def dearmor(data: bytes) -> bytes:
    """The binary age file inside an ASCII armor (``-----BEGIN AGE ENCRYPTED FILE-----``).

    Whitespace around the armor and CRLF line ends are accepted; between the marker lines
    only base64 (with its padding at the end) may stand.
    """
    lines = data.strip().splitlines()
    if len(lines) < 2 or lines[0].strip() != ARMOR_BEGIN:
        raise EncryptedBackupError(_armor_problem("it does not start with the BEGIN line"))
    if lines[-1].strip() != ARMOR_END:
        raise EncryptedBackupError(_armor_problem("its END line is missing; is the file complete?"))
    body = b"".join(line.strip() for line in lines[1:-1])
    try:
        decoded = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise EncryptedBackupError(_armor_problem("the text between the BEGIN and END lines is not base64")) from None
    if not decoded.startswith(AGE_MAGIC):
        raise EncryptedBackupError(_armor_problem("it does not hold an age file"))
    return decoded


def _armor_problem(why: str) -> str:
    return f"The file looks like an armored age backup, but {why}; nothing was imported."


_STANZA = re.compile(rb"-> (\S+)(?: .*)?")


def recipient_types(data: bytes) -> list[str]:
    """The recipient stanza types in a binary age header (``scrypt``, ``X25519``, ``ssh-ed25519`` ...)."""
    if not data.startswith(AGE_MAGIC):
        raise EncryptedBackupError("The file is not an age file; nothing was imported.")
    head = data[len(AGE_MAGIC):MAX_HEADER_BYTES]
    kinds: list[str] = []
    for line in head.split(b"\n"):
        if line.startswith(b"---"):
            return kinds
        if line.startswith(b"->"):
            match = _STANZA.fullmatch(line)
            if match is None:
                break
            kinds.append(match.group(1).decode("ascii", "replace"))
    raise EncryptedBackupError(
        "The file looks like an age-encrypted backup, but its header is damaged or incomplete; nothing was imported."
    )


def check_for_passphrase(data: bytes) -> None:
    """Raise unless the (binary) age file is encrypted for a passphrase, as Tokendesk writes it."""
    kinds = recipient_types(data)
    if kinds == ["scrypt"]:
        return
    if "scrypt" in kinds or not kinds:  # the age spec allows a scrypt recipient only on its own
        raise EncryptedBackupError(
            "The file looks like an age-encrypted backup, but its header is not valid; nothing was imported."
        )
    if all(k.startswith("ssh-") for k in kinds):
        raise NotForPassphrase(FOR_SSH_KEY)
    if "X25519" in kinds:
        raise NotForPassphrase(FOR_AGE_KEY)
    raise NotForPassphrase(
        f"The file is encrypted for an age key ({', '.join(kinds)}), not a passphrase; decrypt it with age first."
    )


# ---- reading
def decrypt_bytes(data: bytes, passphrase: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """Decrypt an age file (binary or armored) with ``passphrase``; the plain text's bytes.

    Raises ``WrongPassphrase`` (ask again), ``NotForPassphrase`` or ``EncryptedBackupError``.
    """
    if not data.startswith(AGE_MAGIC) and _is_armored(data):
        data = dearmor(data)
    check_for_passphrase(data)
    if not passphrase:
        raise WrongPassphrase()
    pyrage = _pyrage()
    try:
        plain = pyrage.passphrase.decrypt(data, passphrase)
    except pyrage.DecryptError as exc:
        raise _decrypt_error(exc) from None
    if len(plain) > limit:
        raise EncryptedBackupError(
            f"The decrypted backup is {len(plain) / 1048576:.1f} MiB; backups larger than {limit // 1048576} MiB "
            "are refused. Split it into several files."
        )
    logger.info("import: decrypted an age backup (%d bytes)", len(plain))
    return bytes(plain)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else exc.__class__.__name__


def _decrypt_error(exc: BaseException) -> EncryptedBackupError:
    """pyrage's (rage's) messages in plain words. They never contain the passphrase."""
    message = str(exc)
    if message.startswith("Decryption failed"):  # the scrypt stanza did not open: passphrase or header
        return WrongPassphrase()
    if message.startswith(("decryption error", "failed to fill whole buffer")):  # payload changed or cut short
        return EncryptedBackupError(DAMAGED)
    if message.startswith("Excessive work parameter"):
        return EncryptedBackupError(
            "The file asks for more passphrase work than Tokendesk allows (it would take very long to open); "
            "it was not written by Tokendesk. Decrypt it with age first."
        )
    return EncryptedBackupError(f"The file is not a valid age file ({_first_line(exc)}); nothing was imported.")


@dataclass
class EncryptedBackup:
    """An encrypted export, recognised and checked but not yet decrypted."""

    path: Path
    data: bytes = field(repr=False)  # binary age (de-armored)
    armored: bool = False

    @property
    def source(self) -> str:
        return str(self.path)

    def read(self, passphrase: str, templates: TemplateCatalog | None = None) -> ParsedImport:
        """Decrypt and check every record (``parse_import``); raises ``EncryptedBackupError``."""
        from desktop.backup.importer import parse_import

        plain = decrypt_bytes(self.data, passphrase)
        return parse_import(plain, templates=templates, source=self.source)


def load_encrypted(path: Path | str, data: bytes) -> EncryptedBackup:
    """``data`` (the bytes of ``path``, an age file) made ready to decrypt; raises for a key-encrypted file."""
    armored = not data.startswith(AGE_MAGIC)
    binary = dearmor(data) if armored else data
    check_for_passphrase(binary)
    return EncryptedBackup(Path(path), binary, armored)


def open_backup(path: Path | str, templates: TemplateCatalog | None = None) -> ParsedImport | EncryptedBackup:
    """A backup file for the import: plain YAML read and checked, or an ``EncryptedBackup`` to decrypt.

    Problems of a plain file are in the ``ParsedImport`` (as ``read_import_file`` reports them);
    an encrypted file that is not for a passphrase raises ``EncryptedBackupError``.
    """
    from desktop.backup.importer import ParsedImport, Problem, parse_import

    try:
        data = read_limited(path)
    except YamlReadError as exc:
        return ParsedImport(records=[], problems=[Problem(None, "", "", str(exc))], source=str(path))
    if looks_encrypted(data):
        return load_encrypted(path, data)
    return parse_import(data, templates=templates, source=str(path))


def encrypted_name(path: Path) -> Path:
    """The name for an encrypted export: ``.age`` appended (``backup.yml`` -> ``backup.yml.age``)."""
    if path.suffix.lower() == AGE_SUFFIX:
        return path
    if not path.suffix:
        path = path.with_suffix(".yml")
    return path.with_name(path.name + AGE_SUFFIX)
