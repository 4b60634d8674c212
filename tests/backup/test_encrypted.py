"""Encrypted backups (age): the Qt-free module and ``tokendesk export --encrypt`` / ``import``.

pyrage's own encryption costs a second or two per call (scrypt, by design, not adjustable), and
so does decrypting what it wrote. Only the round trip pays for that (one encryption, one
decryption); every other file here comes from ``tests.backup.agefile`` with a low work factor.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from desktop.backup import encrypted
from desktop.backup.encrypted import (
    AGE_MAGIC,
    DAMAGED,
    FOR_AGE_KEY,
    FOR_SSH_KEY,
    WRONG_PASSPHRASE,
    EncryptedBackup,
    EncryptedBackupError,
    NotForPassphrase,
    WrongPassphrase,
    armor,
    dearmor,
    decrypt_bytes,
    encrypted_name,
    looks_encrypted,
    open_backup,
)
from desktop.backup.importer import ParsedImport, read_import_file
from tests.backup.agefile import TEST_PASSPHRASE as PASSPHRASE
from tests.backup.agefile import encrypt_fast
from tests.backup.conftest import snapshot

FIXTURE_SECRETS = ("made-up-app-only-secret", "made-up-microsoft-secret~1", "GOCSPX-made-up-google-secret")


@pytest.fixture
def znuny7(fixtures_dir) -> bytes:
    return (fixtures_dir / "znuny7_export.yml").read_bytes()


@pytest.fixture
def tty(monkeypatch):
    """A terminal that answers getpass with ``answers`` (in order); ``prompts`` records what was asked."""
    import getpass

    from desktop.cli import backup_commands

    answers: list[str] = []
    prompts: list[str] = []

    def fake_getpass(prompt: str = "Password: ", stream=None) -> str:
        prompts.append(prompt)
        if not answers:
            raise EOFError
        return answers.pop(0)

    monkeypatch.setattr(backup_commands, "_have_terminal", lambda: True)
    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    return answers, prompts


# ---- recognising, armor, headers (no passphrase needed)
def test_looks_encrypted_binary_and_armored(fast_file, znuny7):
    data = fast_file.read_bytes()
    assert looks_encrypted(data) and looks_encrypted(b"\n  " + armor(data))
    assert not looks_encrypted(znuny7)
    assert not looks_encrypted(b"-----BEGIN PGP MESSAGE-----\n")
    assert not looks_encrypted(b"# age-encryption.org/v1\n- Name: x\n")


def test_armor_round_trip_and_damaged_armor(fast_file):
    data = fast_file.read_bytes()
    armored = armor(data)
    assert armored.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert max(len(line) for line in armored.splitlines()[1:-1]) == 64
    assert dearmor(armored) == data
    assert dearmor(b"\r\n" + armored.replace(b"\n", b"\r\n") + b"\r\n\r\n") == data  # CRLF, blank lines around
    with pytest.raises(EncryptedBackupError, match="END line is missing"):
        dearmor(armored.rsplit(b"-----END", 1)[0])
    with pytest.raises(EncryptedBackupError, match="not base64"):
        dearmor(armored.replace(b"\n", b"\n#", 1))
    with pytest.raises(EncryptedBackupError, match="does not hold an age file"):
        dearmor(armor(b"just text"))


def test_files_for_keys_are_refused_before_any_passphrase(key_file):
    with pytest.raises(NotForPassphrase) as refused:
        open_backup(key_file)
    assert str(refused.value) == FOR_AGE_KEY == (
        "The file is encrypted for an age key, not a passphrase; decrypt it with age first.")
    ssh = AGE_MAGIC + b"-> ssh-ed25519 abcd efgh\nAAAA\n--- mac\n\x00payload"
    with pytest.raises(NotForPassphrase, match="for an SSH key") as refused:
        encrypted.check_for_passphrase(ssh)
    assert str(refused.value) == FOR_SSH_KEY
    with pytest.raises(EncryptedBackupError, match="header is not valid"):
        encrypted.check_for_passphrase(AGE_MAGIC + b"-> scrypt a 10\nb\n-> X25519 c\nd\n--- mac\n")
    with pytest.raises(EncryptedBackupError, match="header is damaged or incomplete"):
        encrypted.check_for_passphrase(AGE_MAGIC + b"-> scrypt a 10\n")


# ---- decrypting
def test_decrypt_wrong_passphrase_and_changed_files(fast_file, znuny7):
    data = fast_file.read_bytes()
    assert decrypt_bytes(data, PASSPHRASE) == znuny7
    assert decrypt_bytes(armor(data), PASSPHRASE) == znuny7
    with pytest.raises(WrongPassphrase) as wrong:
        decrypt_bytes(data, "Correct horse battery staple")
    assert str(wrong.value) == WRONG_PASSPHRASE == (
        "The passphrase is wrong, or the file was changed; nothing was imported.")
    with pytest.raises(WrongPassphrase):
        decrypt_bytes(data, "")
    changed = data[:-5] + bytes([data[-5] ^ 1]) + data[-4:]
    with pytest.raises(EncryptedBackupError) as damaged:
        decrypt_bytes(changed, PASSPHRASE)
    assert str(damaged.value) == DAMAGED
    with pytest.raises(EncryptedBackupError, match="changed or is incomplete"):
        decrypt_bytes(data[:-40], PASSPHRASE)  # cut short
    for error in (wrong.value, damaged.value):
        assert PASSPHRASE not in str(error) and "made-up" not in str(error)


def test_decrypted_text_meets_the_yaml_limits(tmp_path, monkeypatch):
    with pytest.raises(EncryptedBackupError, match="larger than 0 MiB are refused"):
        decrypt_bytes(encrypt_fast(b"- Name: x\n" * 20, PASSPHRASE), PASSPHRASE, limit=100)
    # what comes out of the file is checked like a plain file: here, binary data
    path = tmp_path / "binary.age"
    path.write_bytes(encrypt_fast(b"\x89PNG\r\n\x1a\n\x00\x00", PASSPHRASE))
    backup = open_backup(path)
    assert isinstance(backup, EncryptedBackup)
    parsed = backup.read(PASSPHRASE)
    assert [str(p) for p in parsed.problems] == [
        "The file contains binary data (NUL bytes), not YAML text. Choose a .yml export file."]
    # and an alias bomb inside an encrypted file is refused as in a plain one
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True))
    path.write_bytes(encrypt_fast(bomb.encode(), PASSPHRASE))
    parsed = open_backup(path).read(PASSPHRASE)
    assert "alias" in str(parsed.problems[0]).lower()


def test_open_backup_plain_file_and_plain_reader_on_an_encrypted_one(fast_file, fixtures_dir):
    plain = open_backup(fixtures_dir / "znuny7_export.yml")
    assert isinstance(plain, ParsedImport) and len(plain.records) == 3
    missing = open_backup(fixtures_dir / "no-such-file.yml")
    assert isinstance(missing, ParsedImport) and "does not exist" in str(missing.problems[0])
    parsed = read_import_file(fast_file)  # the plain reader says what the file is
    assert str(parsed.problems[0]).startswith("The file is an encrypted backup (age).")


def test_encrypted_name():
    assert encrypted_name(Path("/x/backup")) == Path("/x/backup.yml.age")
    assert encrypted_name(Path("/x/backup.yml")) == Path("/x/backup.yml.age")
    assert encrypted_name(Path("/x/backup.yml.age")) == Path("/x/backup.yml.age")
    assert encrypted_name(Path("/x/backup.txt")) == Path("/x/backup.txt.age")


# ---- the command line
def test_cli_round_trip_encrypt_then_import(run, ctx, make_config, tmp_path, tty):
    """The one test that pays for pyrage's real work factor: one encryption, one decryption."""
    answers, prompts = tty
    make_config("Alpha", secret="alpha-secret-\u00e4")
    make_config("Beta", secret="beta-secret")
    make_config("Public", secret=None)
    pw_file = tmp_path / "pw"
    pw_file.write_text(PASSPHRASE + "\nsecond line is not read\n")
    target = tmp_path / "backup.yml.age"
    code, out, err = run("export", "--include-secrets", "--encrypt", "--passphrase-file", str(pw_file),
                         "-o", str(target))
    assert code == 0, err
    assert err == ""  # no clear-text warning: the file is encrypted
    assert out == (f"Exported 3 configurations with 2 client secrets. No client secret is stored for: 'Public'. "
                   f"Encrypted for a passphrase (age). File: {target}\n")
    data = target.read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n-> scrypt ")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    for clear in (b"alpha-secret", b"beta-secret", "alpha-secret-\u00e4".encode(), b"Alpha", b"ClientID",
                  PASSPHRASE.encode()):
        assert clear not in data
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(data)

    for name in ("Alpha", "Beta", "Public"):
        ctx.configurations.delete(name)
    assert ctx.store.names() == []
    answers.append(PASSPHRASE)  # this time from the terminal
    code, out, err = run("import", str(target))
    assert code == 0, err
    assert prompts == ["Passphrase for backup.yml.age: "]
    assert "3 records: 3 new, 0 overwrites, 0 skipped, 0 invalid" in out
    assert "Imported 3 configurations: 3 new, 0 overwritten; 0 skipped." in out
    assert "2 client secrets stored." in out
    secrets = {name: ctx.configurations.client_secret(ctx.store.get(name)) for name in ctx.store.names()}
    assert secrets == {"Alpha": "alpha-secret-\u00e4", "Beta": "beta-secret", "Public": None}
    assert "alpha-secret" not in out + err and "beta-secret" not in out + err


def test_cli_wrong_passphrase_imports_nothing(run, ctx, make_config, fast_file, tmp_path, memory_keyring, tty):
    answers, prompts = tty
    make_config("Existing")
    before = snapshot(ctx, memory_keyring)
    answers.append("not the passphrase")
    code, out, err = run("import", str(fast_file), "--overwrite")
    assert (code, out) == (1, "")
    assert err == "tokendesk: The passphrase is wrong, or the file was changed; nothing was imported.\n"
    assert snapshot(ctx, memory_keyring) == before
    code, out, err = run("import", str(fast_file))  # nothing typed (Ctrl+D)
    assert (code, err) == (1, "tokendesk: no passphrase was entered; nothing was imported\n")
    assert snapshot(ctx, memory_keyring) == before


def test_cli_armored_file_dry_run_with_a_passphrase_file(run, ctx, fast_file, tmp_path, memory_keyring):
    armored = tmp_path / "backup.yml.asc"
    armored.write_bytes(b"\n" + armor(fast_file.read_bytes()))
    pw_file = tmp_path / "pw"
    pw_file.write_bytes(PASSPHRASE.encode() + b"\r\n")
    before = snapshot(ctx, memory_keyring)
    code, out, err = run("import", str(armored), "--dry-run", "--passphrase-file", str(pw_file))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "   1  new         'Exchange Online support mailbox': will be added"
    assert lines[-1] == "Dry run: nothing was changed."
    assert not any(secret in out for secret in FIXTURE_SECRETS)
    assert snapshot(ctx, memory_keyring) == before


def test_cli_import_refusals(run, key_file, fast_file, fixtures_dir, tmp_path, tty, monkeypatch):
    answers, prompts = tty
    code, out, err = run("import", str(key_file))
    assert (code, out) == (1, "")
    assert err == f"tokendesk: {FOR_AGE_KEY}\n"
    assert prompts == []  # not asked: no passphrase opens it
    empty = tmp_path / "empty"
    empty.write_text("\n")
    code, _out, err = run("import", str(fast_file), "--passphrase-file", str(empty))
    assert (code, err) == (1, f"tokendesk: the passphrase file {empty} is empty (its first line is the passphrase)\n")
    code, out, err = run("import", str(fixtures_dir / "znuny6_export.yml"), "--dry-run", "--passphrase-file",
                         str(empty))
    assert code == 0 and err == "tokendesk: note: the file is not encrypted; the passphrase file was not read\n"
    from desktop.cli import backup_commands

    monkeypatch.setattr(backup_commands, "_have_terminal", lambda: False)
    code, _out, err = run("import", str(fast_file))
    assert (code, err) == (2, "tokendesk: there is no terminal to ask the passphrase on; use --passphrase-file FILE\n")


def test_cli_export_encrypt_refusals(run, make_config, tmp_path, tty, monkeypatch):
    answers, prompts = tty
    make_config("Alpha", secret="alpha-secret")
    monkeypatch.chdir(tmp_path)
    answers.extend(["one passphrase", "another one"])
    code, out, err = run("export", "--include-secrets", "--encrypt")
    assert (code, out) == (1, "")
    assert err == "tokendesk: the two passphrases differ; nothing was exported\n"
    assert prompts == ["Passphrase for the encrypted backup: ", "The same passphrase again: "]
    answers.extend([""])
    code, _out, err = run("export", "--encrypt")
    assert (code, err) == (1, "tokendesk: no passphrase was entered; nothing was exported\n")
    code, _out, err = run("export", "--passphrase-file", "pw")
    assert (code, err) == (2, "tokendesk: --passphrase-file is only used with --encrypt\n")
    import sys

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, _out, err = run("export", "--encrypt", "-o", "-")
    assert code == 2 and "refusing to write encrypted (binary) data to the terminal; use -o FILE" in err
    assert [p.name for p in tmp_path.iterdir()] == ["home"]  # nothing was written (home: TOKENDESK_HOME)


def test_cli_help_mentions_encryption(run):
    code, out, _err = run("export", "--help")
    assert code == 0 and "--encrypt" in out and "--passphrase-file" in out and ".yml.age" in out
    code, out, _err = run("import", "--help")
    assert code == 0 and "--passphrase-file" in out and "encrypted" in out
