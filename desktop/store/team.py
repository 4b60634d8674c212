"""The team store's members: who may open the shared vault (issue 11).

A team store's vault is in *team mode* (``vault.mode = team``): one random data key, as in a local store, but it
lives nowhere in clear - it is wrapped for each member with that member's X25519 public key
(``desktop/store/team_keys.py``) in the ``member`` table; a member's private key stays on their workstation
(keyring or a passphrase file: ``MemberKeyStore``). The server sees public keys and wrapped blobs only.

* ``init_store``: the schema, the vault and the first member (this admin), one transaction.
* ``join_store``: this admin's public key, no access yet (commands needing a secret exit 4 until a grant).
* ``grant``: a member with access wraps the open data key for a joined member.
* ``remove``: the member row goes and the vault is re-keyed in the same transaction: every secret re-sealed under a
  new data key, wrapped for the remaining members with access - nothing written afterwards opens with the old key.

Every change of the member list holds the transaction-level advisory lock ``TEAM_LOCK``. Qt-free.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop.store.vault import MODE_TEAM, _now
from desktop.store.vault_errors import MemberKeyMissing, NotGranted, VaultError

if TYPE_CHECKING:
    from desktop.store.repository import Store
    from desktop.store.vault import Vault

logger = logging.getLogger(__name__)

TEAM_LOCK = 0x7D0C_7EA0  # pg_advisory_xact_lock key of member changes and re-keying


class TeamError(VaultError):
    """A team store operation that cannot be done, in words with what to do."""


@dataclass(frozen=True)
class Member:
    name: str
    public_key: str
    fingerprint: str
    has_access: bool
    added_by: str
    create_time: str


def check_member_name(name: str) -> str:
    """'' when ``name`` can be a member's name, else what is wrong (the rule of ``tokendesk store`` and of File >
    Team store)."""
    if not name.strip():
        return "Enter your member name: how the other members see you (for example you@your-workstation)."
    if len(name.strip()) > 200 or any(ord(c) < 32 for c in name):
        return "A member name is 1 to 200 printable characters."
    return ""


def _lock(conn: Any) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(?)", (TEAM_LOCK,))


def members(store: Store) -> list[Member]:
    from desktop.store.team_keys import public_key_fingerprint
    from desktop.store.vault import VaultInfo

    key_id = VaultInfo.read(store.conn).key_id
    rows = store.conn.execute(
        "SELECT name, public_key, wrapped_key, key_id, added_by, create_time FROM member ORDER BY name").fetchall()
    return [Member(name=r[0], public_key=r[1], fingerprint=public_key_fingerprint(r[1]),
                   has_access=r[2] is not None and r[3] == key_id, added_by=r[4], create_time=r[5]) for r in rows]


def _require_team(store: Store) -> None:
    if not store.is_team:
        raise TeamError("This is the local store, not a team store.",
                        "Set TOKENDESK_STORE to the team store's postgresql:// address, or use 'tokendesk store "
                        "init URL' / 'tokendesk store join URL'.")


def init_store(store: Store, member: str, *, passphrase: str | None = None) -> str:
    """Make ``store`` (a new, empty team store) this admin's with ``member`` as its first member: the vault in team
    mode and the member key saved on this workstation (keyring, else a passphrase file). Returns where the
    member key went."""
    from desktop.store.team_keys import MemberKeyStore, generate_member_key, wrap_data_key
    from desktop.store.vault import VaultInfo, _write_meta
    from desktop.store.vault_crypto import KEY_BYTES, Cipher

    _require_team(store)
    pair = generate_member_key()
    keys = MemberKeyStore(store.store_id, member)
    key, key_id = os.urandom(KEY_BYTES), os.urandom(8).hex()
    cipher = Cipher(key, store.store_id, key_id)
    with store.transaction() as conn:
        _lock(conn)
        if VaultInfo.read(conn).mode or conn.execute("SELECT COUNT(*) FROM member").fetchone()[0]:
            raise TeamError(f"The team store {store.location} is set up already.",
                            "Join it instead: 'tokendesk store join URL', then ask a member to grant you access.")
        if store.count():
            raise TeamError(f"The database {store.location} already holds configurations of a store without a "
                            "vault.", "Use an empty database for a new team store.")
        where = keys.save(pair.private, passphrase)  # before the commit: a member without a key is useless
        try:
            _write_meta(conn, {"mode": MODE_TEAM, "key_id": key_id, "check": cipher.seal("vault", 0, "check", key_id),
                               "created_at": _now(), "reason": "team store"})
            conn.execute("INSERT INTO member(name, public_key, wrapped_key, key_id, added_by, create_time, "
                         "change_time) VALUES (?,?,?,?,?,?,?)",
                         (member, pair.public_text, wrap_data_key(key, pair.public_text, store_id=store.store_id,
                                                                  member=member, key_id=key_id),
                          key_id, member, _now(), _now()))
        except BaseException:
            keys.delete()
            raise
    store.member = member
    logger.info("team store set up; first member %s", member)
    return where


def join_store(store: Store, member: str, *, passphrase: str | None = None) -> str:
    """Register this admin's public key as ``member`` (no access until a grant). Returns where the member key went."""
    from desktop.store.team_keys import MemberKeyStore, generate_member_key
    from desktop.store.vault import VaultInfo

    _require_team(store)
    keys = MemberKeyStore(store.store_id, member)
    with store.transaction() as conn:
        _lock(conn)
        if VaultInfo.read(conn).mode != MODE_TEAM:
            raise TeamError(f"{store.location} is not set up as a team store yet.",
                            "The first admin runs 'tokendesk store init URL'.")
        if conn.execute("SELECT 1 FROM member WHERE name = ?", (member,)).fetchone():
            raise TeamError(f"The team store has a member named '{member}' already.",
                            "Choose another name with --name, or ask a member to remove the old one first.")
        pair = generate_member_key()
        where = keys.save(pair.private, passphrase)
        try:
            conn.execute("INSERT INTO member(name, public_key, wrapped_key, key_id, added_by, create_time, "
                         "change_time) VALUES (?,?,NULL,'',?,?,?)", (member, pair.public_text, member, _now(), _now()))
        except BaseException:
            keys.delete()
            raise
    store.member = member
    return where


def data_key(store: Store, key_id: str, passphrase_provider: Any = None) -> bytes:
    """This member's copy of the data key ``key_id`` (``Vault.open`` in team mode)."""
    from desktop.store.team_keys import MemberKeyStore, unwrap_data_key

    row = store.conn.execute("SELECT wrapped_key, key_id FROM member WHERE name = ?", (store.member,)).fetchone()
    if row is None:
        raise NotGranted(f"'{store.member}' is not a member of the team store {store.location}.",
                         "Join it with 'tokendesk store join URL', then ask a member to grant you access.")
    if row[0] is None or row[1] != key_id:
        raise NotGranted(f"'{store.member}' has joined the team store but has no access to its secrets yet.",
                         f"Ask a member to run 'tokendesk store grant {store.member}' (or File > Team store > Grant).")
    keys = MemberKeyStore(store.store_id, store.member)
    if not keys.exists():
        raise MemberKeyMissing(f"This workstation has no member key for '{store.member}' in the team store.",
                               "Join again from here ('tokendesk store join URL --name NEW-NAME') and ask for a grant.")
    return unwrap_data_key(bytes(row[0]), keys.load(passphrase_provider), store_id=store.store_id,
                           member=store.member, key_id=key_id)


def grant(store: Store, vault: Vault, member: str) -> Member:
    """Give ``member`` (joined) access: the open data key wrapped for their public key."""
    from desktop.store.team_keys import wrap_data_key

    _require_team(store)
    cipher = vault.cipher()
    with store.transaction() as conn:
        _lock(conn)
        row = conn.execute("SELECT public_key, wrapped_key, key_id FROM member WHERE name = ?", (member,)).fetchone()
        if row is None:
            raise TeamError(f"No member named '{member}' has joined the team store.",
                            "They run 'tokendesk store join URL' first; 'tokendesk store members' lists who has.")
        if row[1] is not None and row[2] == cipher.key_id:
            raise TeamError(f"'{member}' has access already.")
        blob = wrap_data_key(cipher._key, row[0], store_id=store.store_id, member=member, key_id=cipher.key_id)
        conn.execute("UPDATE member SET wrapped_key = ?, key_id = ?, added_by = ?, change_time = ? WHERE name = ?",
                     (blob, cipher.key_id, store.member, _now(), member))
    return next(m for m in members(store) if m.name == member)


def remove(store: Store, vault: Vault, member: str) -> int:
    """Take ``member`` out and re-key: every secret re-sealed under a new data key wrapped only for the members left
    with access, one transaction. Returns how many secrets were re-sealed."""
    return rekey(store, vault, without=member)


def rekey(store: Store, vault: Vault, *, without: str | None = None) -> int:
    """A new data key for the team store (``without``: that member is removed in the same transaction): every
    secret re-sealed, the key wrapped for each member with access. Returns how many secrets were re-sealed."""
    from desktop.store.team_keys import wrap_data_key
    from desktop.store.vault import VaultInfo, _write_meta, reseal_all
    from desktop.store.vault_crypto import KEY_BYTES, Cipher

    _require_team(store)
    old = vault.cipher()
    with store.transaction() as conn:
        _lock(conn)
        info = VaultInfo.read(conn)
        if info.key_id != old.key_id:
            raise TeamError("Another member changed the team store's key a moment ago.", "Try again.")
        if without is not None and not conn.execute("SELECT 1 FROM member WHERE name = ?", (without,)).fetchone():
            raise TeamError(f"No member named '{without}'.", "'tokendesk store members' lists them.")
        keep = [r for r in conn.execute("SELECT name, public_key, wrapped_key, key_id FROM member").fetchall()
                if r[0] != without and r[2] is not None and r[3] == old.key_id]
        if not keep:
            raise TeamError(f"'{without}' is the last member with access; removing them would lock everyone out.",
                            "Grant another member access first.")
        key, key_id = os.urandom(KEY_BYTES), os.urandom(8).hex()
        new = Cipher(key, store.store_id, key_id)
        count = reseal_all(conn, old, new)
        if without is not None:
            conn.execute("DELETE FROM member WHERE name = ?", (without,))
        for name, public, _blob, _kid in keep:
            conn.execute("UPDATE member SET wrapped_key = ?, key_id = ?, change_time = ? WHERE name = ?",
                         (wrap_data_key(key, public, store_id=store.store_id, member=name, key_id=key_id),
                          key_id, _now(), name))
        _write_meta(conn, {"key_id": key_id, "check": new.seal("vault", 0, "check", key_id), "rekeyed_at": _now()})
    vault.install_cipher(new)
    logger.info("team store re-keyed (%s); %d secrets re-sealed", f"{without} removed" if without else "by request",
                count)
    return count
