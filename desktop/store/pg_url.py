"""A team store's address: recognised, shown without its password, split from it. Its own module: the window's
start on a team store needs these before its first paint, and ``pg.py`` (the backend) only after it."""

from __future__ import annotations


def is_store_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def split_url(url: str) -> tuple[str, str | None]:
    """``url`` without its password (what may be shown and saved) and the password (None when absent)."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), unquote(parts.password)


def display_url(url: str) -> str:
    """``url`` as shown to the admin: never a password."""
    return split_url(url)[0]
