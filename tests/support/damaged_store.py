"""A store with one damaged page in the middle of the file (not its header), as a failing disk leaves it.

``fill_store`` writes many configurations with client secrets through the real services; ``damage_page``
checkpoints the WAL into the file (so the page on disk is the current one), finds a leaf page of a table in
the middle of the file with ``dbstat`` and overwrites its b-tree header and cell pointers with garbage.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

ENDPOINTS = ("AuthorizationCode", "TokenByAuthorizationCode", "TokenByRefreshToken")


def fill_store(ctx: Any, count: int = 200) -> dict[str, str]:
    """``count`` configurations ``Config 000`` ... with a client secret each; returns name -> secret."""
    template = ctx.templates.require("Generic OAuth2")
    secrets = {}
    for i in range(count):
        cfg = template.new_configuration(f"Config {i:03d}")
        cfg.client_id = f"client-{i:03d}"
        cfg.scope = f"openid mail-{i}"
        for key in ENDPOINTS:
            cfg.set_endpoint(key, f"https://login{i}.example.org/{key}")
        secrets[cfg.name] = f"secret-{i:03d}-value"
        ctx.configurations.add(cfg, secrets[cfg.name])
    return secrets


def checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def leaf_pages(path: Path, table: str) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (table,))]
    finally:
        conn.close()


def damage_page(path: Path, table: str = "token_config") -> int:
    """Overwrite the header and cell pointers of a leaf page of ``table`` in the middle; returns its number.
    Every connection to ``path`` must be closed (the WAL is checkpointed into the file first)."""
    checkpoint(path)
    pages = leaf_pages(path, table)
    assert len(pages) >= 3, pages
    page = pages[len(pages) // 2]
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    assert page > 1  # never the header page
    with open(path, "r+b") as fh:
        fh.seek((page - 1) * page_size)
        fh.write(b"\xff" * 40 + b"damaged " * 8)
    return page



def build_damaged(ctx: Any, table: str = "token_config", count: int = 200) -> Any:
    """Fill ``ctx``'s store, close it, damage a leaf page of ``table``; returns what the tests compare with:
    ``path``, ``secrets`` (name -> client secret), ``clean`` (name -> exported record), ``page``. Open a new
    context on ``path`` to see the damage."""
    from types import SimpleNamespace

    import yaml

    from desktop.backup.export import export_configurations

    secrets = fill_store(ctx, count)
    clean = {r["Name"]: r for r in yaml.safe_load(export_configurations(ctx).text)}
    path = ctx.store.path
    ctx.close()
    page = damage_page(path, table)
    return SimpleNamespace(path=path, secrets=secrets, clean=clean, page=page)
