"""``tokendesk store copy-to URL``: this workstation's local store into a new team store, all or nothing.

One transaction on the team store: it is set up (``team.init_store``, this admin its first member), then every
table is copied row by row with its ids, every secret opened with the local data key and sealed again with the
team store's (its associated data names the team store), and the id sequences moved past the copied ids. Any
failure rolls all of it back (and the member key made for it is deleted); the local file is only read. Qt-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop.services import Context
    from desktop.store.repository import Store

#: tables copied as they are, in an order their foreign keys allow (config_secret is re-sealed on its own)
PLAIN_TABLES = ("setting", "token_config", "token_state", "mail_account", "web_invoker", "notification_log",
                "relay_device", "relay_log", "history")


def copy_to(source: Context, target: Store, member: str, *, passphrase: str | None = None) -> str:
    """Copy ``source`` into the empty team store ``target``; a summary in words."""
    from desktop.store import team
    from desktop.store.pg import ID_TABLES  # tables whose ``id`` the database assigns: moved past the copied ids
    from desktop.store.team_keys import MemberKeyStore
    from desktop.store.vault import VaultInfo
    from desktop.store.vault_crypto import KEY_TABLE, Cipher

    local = source.store
    has_secrets = bool(local.conn.execute("SELECT COUNT(*) FROM config_secret").fetchone()[0])
    old = source.vault.cipher() if has_secrets and source.vault is not None else None  # may ask the passphrase
    counts: dict[str, int] = {}
    try:
        with target.transaction() as conn:
            team.init_store(target, member, passphrase=passphrase)
            info = VaultInfo.read(conn)
            new = Cipher(team.data_key(target, info.key_id, lambda _purpose: passphrase), target.store_id,
                         info.key_id)
            for table in PLAIN_TABLES:
                counts[table] = _copy_table(local.conn, conn, table)
            secrets = 0
            for config_id, field, value in local.conn.execute("SELECT config_id, field, value FROM config_secret"):
                assert old is not None
                plain = old.open(KEY_TABLE, config_id, field, value)
                conn.execute("INSERT INTO config_secret(config_id, field, value) VALUES (?,?,?)",
                             (config_id, field, new.seal(KEY_TABLE, config_id, field, plain)))
                secrets += 1
            for table in sorted(ID_TABLES):
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")
    except BaseException:
        MemberKeyStore(target.store_id, member).delete()
        raise
    return (f"{counts['token_config']} configuration(s), {secrets} secret(s), {counts['mail_account']} mail "
            f"account(s), {counts['web_invoker']} web service(s), {counts['relay_device']} relay device(s)")


def _copy_table(source: Any, target: Any, table: str) -> int:
    rows = source.execute(f"SELECT * FROM {table}").fetchall()
    if not rows:
        return 0
    columns = list(rows[0].keys())
    sql = f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    target.executemany(sql, [tuple(r) for r in rows])
    return len(rows)
