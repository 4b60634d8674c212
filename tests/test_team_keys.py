"""The team store's member keys (issue 11, point 3): the data key wrapped for each member's X25519 public key, and
where this admin's private key lives on the workstation (keyring item, else a passphrase file).

The secretservice test runs against a real gnome-keyring::

    /tmp/sslane.sh .venv/bin/python -m pytest -q -p no:cacheprovider -m secretservice tests/test_team_keys.py
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from keyring.backends import fail, null

from desktop.store import team_keys
from desktop.store.team_keys import (
    BadPublicKey,
    MemberKeyStore,
    generate_member_key,
    public_key_fingerprint,
    public_text_of,
    unwrap_data_key,
    wrap_data_key,
)
from desktop.store.vault_errors import (
    KeyringGone,
    MemberKeyMissing,
    NoKeyring,
    NotGranted,
    VaultError,
    VaultLocked,
    WrongPassphrase,
)
from tests.support.memory_keyring import LockedKeyring, MemoryKeyring

ROOT = Path(__file__).resolve().parents[1]
STORE, MEMBER, KEY_ID = "3f2a9c0e-team", "alice@desk1", "a1b2c3d4e5f60718"
PASSPHRASE = "correct horse battery"


def encodings(secret: bytes) -> list[bytes]:
    """The forms a leaked key could take in a message or a file."""
    return [secret, secret.hex().encode(), base64.b64encode(secret), base64.urlsafe_b64encode(secret).rstrip(b"=")]


def assert_no_secret(text: str | bytes, *secrets: bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in secrets:
        for form in encodings(secret):
            assert form not in data


@pytest.fixture
def alice():
    return generate_member_key()


@pytest.fixture
def data_key():
    return os.urandom(32)


# ---- the key pair and its fingerprint
def test_a_member_key_pair_is_32_raw_bytes_each_and_its_repr_hides_the_private_key(alice):
    assert len(alice.private) == 32 and len(alice.public) == 32
    assert base64.b64decode(alice.public_text, validate=True) == alice.public
    assert public_text_of(alice.private) == alice.public_text
    assert_no_secret(repr(alice), alice.private)
    assert generate_member_key().private != alice.private


def test_fingerprints_are_stable_short_and_differ_per_key(alice):
    bob = generate_member_key()
    fingerprint = public_key_fingerprint(alice.public_text)
    assert re.fullmatch(r"[0-9a-f]{4}( [0-9a-f]{4}){4}", fingerprint)
    assert public_key_fingerprint(alice.public_text) == fingerprint
    assert public_key_fingerprint(f"  {alice.public_text}\n") == fingerprint  # pasted with white space
    assert public_key_fingerprint(bob.public_text) != fingerprint
    import hashlib

    assert fingerprint.replace(" ", "") == hashlib.sha256(alice.public).hexdigest()[:20]


# ---- wrapping the data key
def test_a_data_key_wrapped_for_a_member_opens_with_their_private_key(alice, data_key):
    blob = wrap_data_key(data_key, alice.public_text, store_id=STORE, member=MEMBER, key_id=KEY_ID)
    assert unwrap_data_key(blob, alice.private, store_id=STORE, member=MEMBER, key_id=KEY_ID) == data_key
    # version | ephemeral public | nonce | ciphertext + tag
    assert len(blob) == 1 + 32 + 12 + 32 + 16 and blob[0] == 1
    assert_no_secret(blob, data_key, alice.private)
    again = wrap_data_key(data_key, alice.public_text, store_id=STORE, member=MEMBER, key_id=KEY_ID)
    assert again[1:33] != blob[1:33]  # a new ephemeral key each time


@pytest.mark.parametrize("where", [{"member": "bob@desk2"}, {"store_id": "another-store"},
                                   {"key_id": "0000000000000000"}],
                         ids=["other member", "other store", "other key id"])
def test_a_wrapped_key_copied_to_another_member_store_or_key_id_does_not_open(alice, data_key, where):
    blob = wrap_data_key(data_key, alice.public_text, store_id=STORE, member=MEMBER, key_id=KEY_ID)
    place = dict(store_id=STORE, member=MEMBER, key_id=KEY_ID) | where
    with pytest.raises(NotGranted) as caught:
        unwrap_data_key(blob, alice.private, **place)
    message = str(caught.value)
    assert "not wrapped for you" in message and "grant you access again" in message
    assert place["member"] in message
    assert_no_secret(message, data_key, alice.private)
    assert isinstance(caught.value, VaultLocked)  # the CLI's exit 4, like a locked vault


def test_another_members_private_key_does_not_open_it(alice, data_key):
    bob = generate_member_key()
    blob = wrap_data_key(data_key, alice.public_text, store_id=STORE, member=MEMBER, key_id=KEY_ID)
    with pytest.raises(NotGranted, match="(?i)ask a member"):
        unwrap_data_key(blob, bob.private, store_id=STORE, member=MEMBER, key_id=KEY_ID)


@pytest.mark.parametrize("damage", ["version", "ephemeral", "nonce", "ciphertext", "tag", "truncated", "empty",
                                    "low-order ephemeral"])
def test_a_tampered_blob_does_not_open(alice, data_key, damage):
    blob = bytearray(wrap_data_key(data_key, alice.public_text, store_id=STORE, member=MEMBER, key_id=KEY_ID))
    offsets = {"version": 0, "ephemeral": 5, "nonce": 40, "ciphertext": 50, "tag": len(blob) - 1}
    if damage in offsets:
        blob[offsets[damage]] ^= 0x01
    elif damage == "truncated":
        del blob[-10:]
    elif damage == "empty":
        blob = bytearray()
    else:
        blob[1:33] = bytes(32)  # an all-zero point: no shared secret
    with pytest.raises(NotGranted) as caught:
        unwrap_data_key(bytes(blob), alice.private, store_id=STORE, member=MEMBER, key_id=KEY_ID)
    assert "damaged" in str(caught.value)
    assert_no_secret(str(caught.value), data_key, alice.private)


@pytest.mark.parametrize("public_text, words", [
    ("not base64 at all!", "not base64"),
    (base64.b64encode(bytes(range(31))).decode(), "31 bytes"),
    (base64.b64encode(bytes(range(33))).decode(), "33 bytes"),
    ("", "empty"),
    (base64.b64encode(bytes(32)).decode(), "not a usable X25519 key"),
])
def test_a_bad_public_key_is_refused_naming_the_member(data_key, public_text, words):
    with pytest.raises(BadPublicKey) as caught:
        wrap_data_key(data_key, public_text, store_id=STORE, member="bob@desk2", key_id=KEY_ID)
    assert isinstance(caught.value, ValueError)
    assert "bob@desk2" in str(caught.value) and words in str(caught.value)
    assert "tokendesk store join" in str(caught.value)
    with pytest.raises(BadPublicKey):
        public_key_fingerprint(public_text)


def test_only_a_32_byte_data_key_is_wrapped(alice):
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_data_key(b"short", alice.public_text, store_id=STORE, member=MEMBER, key_id=KEY_ID)


def test_a_damaged_private_key_says_so(alice, data_key):
    blob = wrap_data_key(data_key, alice.public_text, store_id=STORE, member=MEMBER, key_id=KEY_ID)
    with pytest.raises(VaultError, match="member key .* is damaged"):
        unwrap_data_key(blob, alice.private[:31], store_id=STORE, member=MEMBER, key_id=KEY_ID)


# ---- where this admin's private key lives
def test_the_member_key_is_one_keyring_item_when_the_keyring_works(alice, memory_keyring, tokendesk_home):
    keys = MemberKeyStore(STORE, MEMBER)
    assert not keys.exists() and keys.location() == ""
    assert keys.save(alice.private) == "keyring"
    assert list(memory_keyring.passwords) == [(f"tokendesk-member:{STORE}", f"member-key/{MEMBER}")]
    assert keys.exists() and keys.location() == "keyring"
    assert MemberKeyStore(STORE, MEMBER).load() == alice.private
    assert not (tokendesk_home / "team").exists() or not list((tokendesk_home / "team").iterdir())
    assert not MemberKeyStore(STORE, "bob@desk2").exists()
    keys.delete()
    assert not keys.exists() and memory_keyring.passwords == {}


def test_a_missing_member_key_says_how_to_make_one():
    with pytest.raises(MemberKeyMissing) as caught:
        MemberKeyStore(STORE, MEMBER).load()
    message = str(caught.value)
    assert f"no member key for the team store {STORE}" in message and MEMBER in message
    assert "tokendesk store join URL" in message


@pytest.mark.parametrize("backend", [null.Keyring(), fail.Keyring()], ids=["null", "fail"])
def test_without_a_usable_keyring_the_key_goes_to_a_passphrase_file(alice, tokendesk_home, backend):
    import keyring

    keyring.set_keyring(backend)
    keys = MemberKeyStore(STORE, MEMBER)
    with pytest.raises(NoKeyring) as caught:
        keys.save(alice.private)
    assert "passphrase" in str(caught.value) and "vault passphrase" not in str(caught.value)
    assert not keys.exists()
    with pytest.raises(MemberKeyMissing):  # not "the keyring is broken": there is none
        keys.load()

    where = keys.save(alice.private, PASSPHRASE)
    path = tokendesk_home / "team" / f"{STORE}.member-key"
    assert where == str(path) == keys.location()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    raw = path.read_bytes()
    assert_no_secret(raw, alice.private)
    document = json.loads(raw)
    assert document["kdf"]["alg"] == "argon2id" and document["public_key"] == alice.public_text
    asked = []
    assert MemberKeyStore(STORE, MEMBER).load(lambda purpose: asked.append(purpose) or PASSPHRASE) == alice.private
    assert asked == ["member-key"]


def test_a_wrong_passphrase_for_the_file_is_wrong_passphrase(alice, tokendesk_home):
    keys = MemberKeyStore(STORE, MEMBER)
    keys.save(alice.private, PASSPHRASE)
    with pytest.raises(WrongPassphrase) as caught:
        keys.load(lambda _purpose: "Correct horse battery")
    assert "passphrase" in str(caught.value) and STORE in str(caught.value)
    with pytest.raises(VaultLocked, match="passphrase"):  # nobody to ask
        keys.load()
    with pytest.raises(VaultLocked):
        keys.load(lambda _purpose: None)
    assert keys.load(lambda _purpose: PASSPHRASE) == alice.private


def test_a_weak_passphrase_is_refused_and_nothing_is_written(alice, tokendesk_home):
    keys = MemberKeyStore(STORE, MEMBER)
    with pytest.raises(VaultError, match="at least 8 characters"):
        keys.save(alice.private, "short")
    assert not keys.exists() and not (tokendesk_home / "team" / f"{STORE}.member-key").exists()


def test_asking_for_the_file_while_the_keyring_works_and_moving_back(alice, memory_keyring, tokendesk_home):
    keys = MemberKeyStore(STORE, MEMBER)
    assert keys.save(alice.private) == "keyring"
    path = keys.save(alice.private, PASSPHRASE)  # the caller asked for the passphrase file
    assert Path(path).exists() and memory_keyring.passwords == {}  # one place only
    assert keys.load(lambda _purpose: PASSPHRASE) == alice.private
    assert keys.save(alice.private) == "keyring"
    assert not Path(path).exists() and keys.load() == alice.private
    keys.save(alice.private, PASSPHRASE)
    keys.delete()
    assert not keys.exists() and not Path(path).exists() and memory_keyring.passwords == {}


def test_a_member_key_file_of_another_store_or_member_is_refused_in_words(alice, tokendesk_home):
    MemberKeyStore(STORE, MEMBER).save(alice.private, PASSPHRASE)
    other = MemberKeyStore("other-store", MEMBER)
    (tokendesk_home / "team" / "other-store.member-key").write_bytes(
        (tokendesk_home / "team" / f"{STORE}.member-key").read_bytes())
    with pytest.raises(VaultError, match=f"belongs to the team store {STORE}"):
        other.load(lambda _purpose: PASSPHRASE)
    with pytest.raises(VaultError, match="belongs to the member alice@desk1"):
        MemberKeyStore(STORE, "bob@desk2").load(lambda _purpose: PASSPHRASE)


def test_a_damaged_member_key_file_says_what_to_do(alice, tokendesk_home):
    keys = MemberKeyStore(STORE, MEMBER)
    keys.save(alice.private, PASSPHRASE)
    Path(keys.location()).write_text("{ not json")
    with pytest.raises(VaultError, match="damaged.*tokendesk store join"):
        keys.load(lambda _purpose: PASSPHRASE)


def test_no_key_reaches_the_log(alice, data_key, caplog, tokendesk_home):
    import logging

    caplog.set_level(logging.DEBUG)
    blob = wrap_data_key(data_key, alice.public_text, store_id=STORE, member=MEMBER, key_id=KEY_ID)
    with pytest.raises(NotGranted):
        unwrap_data_key(blob, generate_member_key().private, store_id=STORE, member=MEMBER, key_id=KEY_ID)
    keys = MemberKeyStore(STORE, MEMBER)
    keys.save(alice.private)
    keys.load()
    keys.save(alice.private, PASSPHRASE)
    keys.load(lambda _purpose: PASSPHRASE)
    assert "kept in a passphrase file" in caplog.text
    assert_no_secret(caplog.text, alice.private, data_key, PASSPHRASE.encode())


class UnreadableKeyring(MemoryKeyring):
    """A keyring that is there but cannot be read now (a locked collection, a gone session bus)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown: the bus is gone")


def test_an_unreadable_keyring_is_not_mistaken_for_a_missing_key(alice, tokendesk_home):
    import keyring

    keyring.set_keyring(UnreadableKeyring())
    keys = MemberKeyStore(STORE, MEMBER)
    with pytest.raises(KeyringGone) as caught:
        keys.load()
    assert "may be in the keyring, which cannot be read now" in str(caught.value)
    assert "store join" not in str(caught.value)  # a new key would need a new grant: not the advice here
    keys.save(alice.private, PASSPHRASE)  # the file is read even while the keyring is unreadable
    assert keys.location() == keys.save(alice.private, PASSPHRASE)
    assert keys.load(lambda _purpose: PASSPHRASE) == alice.private


def test_moving_to_the_file_while_the_keyring_refuses_to_delete_changes_nothing(alice, tokendesk_home):
    import keyring

    item = (f"tokendesk-member:{STORE}", f"member-key/{MEMBER}")
    keyring.set_keyring(LockedKeyring({item: base64.b64encode(alice.private).decode()}, refuse_delete=True))
    keys = MemberKeyStore(STORE, MEMBER)
    with pytest.raises(KeyringGone, match="could not be removed, so nothing was changed"):
        keys.save(generate_member_key().private, PASSPHRASE)
    assert not (tokendesk_home / "team" / f"{STORE}.member-key").exists()
    assert not (tokendesk_home / "team" / f"{STORE}.member-key.new").exists()
    assert keys.load() == alice.private and keys.location() == "keyring"


def test_a_save_stopped_between_emptying_the_keyring_and_renaming_the_file_keeps_the_key(alice, tokendesk_home):
    keys = MemberKeyStore(STORE, MEMBER)
    path = Path(keys.save(alice.private, PASSPHRASE))
    path.rename(path.with_name(path.name + ".new"))  # where the stop leaves it
    assert keys.exists() and keys.load(lambda _purpose: PASSPHRASE) == alice.private
    keys.delete()
    assert not keys.exists() and not list(path.parent.iterdir())


@pytest.mark.parametrize("store_id", ["../escape", "a/b", "", ".hidden"])
def test_a_store_id_that_is_no_file_name_is_refused(store_id):
    with pytest.raises(ValueError, match="store id"):
        MemberKeyStore(store_id, MEMBER)


def test_importing_the_modules_loads_neither_qt_nor_cryptography_nor_keyring():
    code = ("import sys, desktop.store.team_keys, desktop.store.team_key_store; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'cryptography', 'keyring')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    from desktop.store import team_key_store

    assert team_keys.MemberKeyStore is team_key_store.MemberKeyStore  # the lead's import path works either way


# ---- the real Secret Service
@pytest.mark.secretservice
def test_the_member_key_in_a_real_gnome_keyring(alice):
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.fail("no D-Bus session bus: run this lane under /tmp/sslane.sh (dbus-run-session + gnome-keyring)")
    import secretstorage

    store_id = f"ss-{os.urandom(4).hex()}"
    keys = MemberKeyStore(store_id, MEMBER)
    try:
        assert keys.save(alice.private) == "keyring"
        conn = secretstorage.dbus_init()
        try:
            items = list(secretstorage.get_default_collection(conn).search_items(
                {"service": f"tokendesk-member:{store_id}"}))
            assert [item.get_attributes().get("username") for item in items] == [f"member-key/{MEMBER}"]
        finally:
            conn.close()
        code = ("import sys; from desktop.store.team_keys import MemberKeyStore, public_text_of; "
                f"print(public_text_of(MemberKeyStore({store_id!r}, {MEMBER!r}).load()))")
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == alice.public_text  # another process reads the same item
    finally:
        keys.delete()
    assert not keys.exists()
