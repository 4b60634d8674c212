"""What changed between two versions of a configuration, in plain words, and putting one edit on top of another.

Used when a save is refused because the stored configuration changed since the edit loaded it
(``desktop.store.repository.ChangedMeanwhile``): the window and ``tokendesk edit`` say what the other save
changed ("Token endpoint: https://a -> https://b"; a client secret only as "client secret changed"), and the
Edit dialog can put the admin's own changes on top of the stored version when the two touch different fields.

A configuration is compared as its leaves: ``Name``, ``ValidID`` and every scalar (or list) inside ``Config``,
addressed by path. Fields the dialog shows have their label; anything else is named by its path
("Config → Requests → AuthorizationCode → Request → Parameters → prompt"). Pure: no store, no Qt.
"""

from __future__ import annotations

from typing import Any

from desktop.models.config import REQUEST_KEYS, VALIDITY_LABELS, TokenConfiguration
from desktop.models.validation import ENDPOINT_LABELS

Path = tuple[str, ...]

#: a value is cut to this many characters in the description
MAX_VALUE_CHARS = 80

_ABSENT = object()

_LABELS: dict[Path, str] = {
    ("Name",): "Name",
    ("ValidID",): "Validity",
    ("Config", "ClientID"): "Client ID",
    ("Config", "Scope"): "Scope",
    ("Config", "AuthFlow"): "Flow",
    ("Config", "Tokendesk", "PKCE"): "PKCE",
    ("Config", "Tokendesk", "Browser"): "Log in with",
    ("Config", "Tokendesk", "RedirectURL"): "Redirect URI",
    ("Config", "Tokendesk", "ClientAuthentication"): "Client authentication",
    ("Config", "Tokendesk", "RefreshTokenLifetimeDays"): "Refresh-token lifetime (days)",
    ("Config", "Tokendesk", "RefreshTokenLifetimeRolling"): "Refresh-token lifetime renewed by every refresh",
    ("Config", "Tokendesk", "DiscoveryURL"): "Issuer (discovery)",
    ("Config", "Tokendesk", "Issuer"): "Confirmed issuer",
    ("Config", "Tokendesk", "IssParameterSupported"): "Issuer sent with sign-in answers",
    ("Config", "Notifications", "NotifyOnExpiredToken"): "Notify when the access token has expired",
    ("Config", "Notifications", "NotifyOnExpiredRefreshToken"): "Notify when the refresh token has expired",
    ("Config", "Notifications", "NotifyBeforeTokenExpiry"): "Notify before the access token expires",
    ("Config", "Notifications", "NotifyBeforeRefreshTokenExpiry"): "Notify before the refresh token expires",
    ("Config", "Notifications", "NotificationLeadTimeMinutes"): "Warning lead time (minutes)",
}
_LABELS.update({("Config", "Requests", key, "Request", "URL"): ENDPOINT_LABELS[key] for key in REQUEST_KEYS})


def label(path: Path) -> str:
    return _LABELS.get(path) or " → ".join(path)


def leaves(cfg: TokenConfiguration) -> dict[Path, Any]:
    """``Name``, ``ValidID`` and every leaf of ``Config`` (without a client secret) by path."""
    out: dict[Path, Any] = {("Name",): cfg.name, ("ValidID",): cfg.valid_id}

    def walk(prefix: Path, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk((*prefix, str(key)), item)
        else:
            out[prefix] = value

    config = {k: v for k, v in cfg.config.items() if k != "ClientSecret"}
    walk(("Config",), config)
    return out


def _shown(path: Path, value: Any) -> str:
    if value is _ABSENT or value is None:
        return "(none)"
    if path == ("ValidID",):
        return VALIDITY_LABELS.get(value, str(value))
    text = str(value) if not isinstance(value, str) else value
    if text == "":
        return "(empty)"
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def changed_paths(before: dict[Path, Any], after: dict[Path, Any]) -> list[Path]:
    """Paths whose value differs, in ``after``'s order, then the removed ones."""
    paths = [p for p in after if before.get(p, _ABSENT) != after[p]]
    paths += [p for p in before if p not in after]
    return paths


def describe_changes(before: TokenConfiguration, after: TokenConfiguration) -> list[str]:
    """What changed from ``before`` to ``after``, one line each: "Token endpoint: https://a -> https://b",
    then the client secret ("client secret changed" / "added" / "removed"; never its value)."""
    old, new = leaves(before), leaves(after)
    words = [f"{label(p)}: {_shown(p, old.get(p, _ABSENT))} -> {_shown(p, new.get(p, _ABSENT))}"
             for p in changed_paths(old, new)]
    if before.secret_revision != after.secret_revision or before.has_client_secret != after.has_client_secret:
        if before.has_client_secret and not after.has_client_secret:
            words.append("client secret removed")
        elif after.has_client_secret and not before.has_client_secret:
            words.append("client secret added")
        else:
            words.append("client secret changed")
    if not words and before.revision != after.revision:
        words.append("saved again without a visible change")
    return words


def reapply(base: TokenConfiguration, theirs: TokenConfiguration, untouched: TokenConfiguration,
            mine: TokenConfiguration) -> tuple[TokenConfiguration | None, list[str]]:
    """Put the admin's edit on top of a version saved meanwhile.

    ``base`` is what the edit loaded, ``theirs`` what is stored now, ``untouched`` the edit's form before the
    admin typed anything (the dialog writes some defaults out: they are not the admin's changes), ``mine`` the
    form now. Returns ``theirs`` with the admin's changed fields set (ids, times and revisions of ``theirs``),
    or None and the labels of the fields both changed to different values."""
    mine_leaves, untouched_leaves = leaves(mine), leaves(untouched)
    base_leaves, their_leaves = leaves(base), leaves(theirs)
    mine_changed = changed_paths(untouched_leaves, mine_leaves)
    their_changed = set(changed_paths(base_leaves, their_leaves))
    clashes = []
    for path in mine_changed:
        if _touches(path, their_changed) and mine_leaves.get(path, _ABSENT) != their_leaves.get(path, _ABSENT):
            clashes.append(label(path))
    if clashes:
        return None, list(dict.fromkeys(clashes))
    merged = theirs.copy()
    for path in mine_changed:
        value = mine_leaves.get(path, _ABSENT)
        if path == ("Name",):
            merged.name = value
        elif path == ("ValidID",):
            merged.valid_id = value
        elif path == ("Config",):  # the whole Config was empty on one side
            merged.config = dict(value) if isinstance(value, dict) else {}
        else:
            _set(merged.config, path[1:], value)
    return merged, []


def _touches(path: Path, others: set[Path]) -> bool:
    """``path`` or a path above or below it changed in ``others`` (a value replaced by a mapping counts)."""
    return any(o[: len(path)] == path or path[: len(o)] == o for o in others)


def _set(config: dict[str, Any], path: Path, value: Any) -> None:
    node = config
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            if value is _ABSENT:
                return
            child = node[key] = {}
        node = child
    if value is _ABSENT:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
