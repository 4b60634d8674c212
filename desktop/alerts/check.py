"""``tokendesk check``: the state of every configuration as a monitoring plugin sees it (pure; no Qt, no secret).

Follows the Monitoring Plugins development guidelines: one status line ``TOKENDESK <STATE> - <text>``, performance
data after ``|`` (``'label'=value[UOM];warn;crit;min;max``), further lines with one problem each, and the exit code
0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. What it looks at, per configuration that is valid (``ValidID`` 1):

* CRITICAL - the provider rejected the refresh token or none is stored and a sign-in is needed (never requested,
  no refresh token of an authorization-code flow, or it expired); the client secret expires within ``critical``
  days or has expired; the configuration itself is broken (``validate_configuration``); the last refresh failed
  and the access token has expired too.
* WARNING - the last refresh failed but the access token still works; the refresh token or the client secret
  expires within ``warning`` days.

Configurations switched off (invalid, invalid-temporarily) are counted, not judged. It reads the store only: it
never refreshes, never opens the vault (works while it is locked) and never prints a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from desktop.models.config import TokenConfiguration
from desktop.models.grants import keeps_refresh_token
from desktop.models.token import TokenState
from desktop.models.validation import validate_configuration

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
#: worse first when states are combined (UNKNOWN ranks between WARNING and CRITICAL, as the guidelines' examples)
_RANK = {OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3}

DEFAULT_WARNING_DAYS = 7
DEFAULT_CRITICAL_DAYS = 1


def worst(states: Iterable[int]) -> int:
    return max(states, key=lambda s: _RANK[s], default=OK)


@dataclass
class ConfigCheck:
    name: str
    state: int = OK
    problems: list[tuple[int, str]] = field(default_factory=list)
    enabled: bool = True
    #: days until the refresh token dies (None: unknown or unlimited)
    refresh_token_days: float | None = None
    #: whole days until the client secret's expiry day (None: not entered)
    client_secret_days: int | None = None

    def add(self, state: int, text: str) -> None:
        self.problems.append((state, text))
        self.state = worst([self.state, state])


@dataclass
class CheckResult:
    state: int
    configurations: list[ConfigCheck]
    summary: str
    warning_days: int
    critical_days: int

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]

    def perfdata(self) -> str:
        enabled = [c for c in self.configurations if c.enabled]
        counts = {
            "configurations": len(self.configurations),
            "ok": sum(c.state == OK for c in enabled),
            "warning": sum(c.state == WARNING for c in enabled),
            "critical": sum(c.state == CRITICAL for c in enabled),
            "disabled": sum(not c.enabled for c in self.configurations),
        }
        parts = [f"{label}={value};;;0" for label, value in counts.items()]
        w, c = self.warning_days, self.critical_days
        for check in enabled:
            if check.refresh_token_days is not None:
                parts.append(f"{_label(check.name, 'refresh_token_days')}={check.refresh_token_days:.1f};{w};{c};")
            if check.client_secret_days is not None:
                parts.append(f"{_label(check.name, 'client_secret_days')}={check.client_secret_days};{w};{c};")
        return " ".join(parts)

    def text(self) -> str:
        """The plugin's output: the status line with performance data, then one line per problem."""
        lines = [f"TOKENDESK {self.state_name} - {self.summary} | {self.perfdata()}"]
        for check in self.configurations:
            for state, problem in check.problems:
                lines.append(f"[{STATE_NAMES[state]}] {check.name}: {problem}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state_name,
            "exit_code": self.state,
            "summary": self.summary,
            "warning_days": self.warning_days,
            "critical_days": self.critical_days,
            "configurations": [
                {
                    "name": c.name,
                    "state": STATE_NAMES[c.state] if c.enabled else "DISABLED",
                    "problems": [{"state": STATE_NAMES[s], "text": t} for s, t in c.problems],
                    "refresh_token_days": None if c.refresh_token_days is None else round(c.refresh_token_days, 1),
                    "client_secret_days": c.client_secret_days,
                }
                for c in self.configurations
            ],
        }


def _label(name: str, what: str) -> str:
    """A performance-data label: quoted, a quote in the name doubled (the guidelines' rule), no '=' inside."""
    clean = name.replace("=", "_").replace("'", "''")
    return f"'{clean} {what}'"


def _days(n: float) -> str:
    whole = round(n)
    return f"{whole} day" + ("" if whole == 1 else "s")


def check_configuration(cfg: TokenConfiguration, state: TokenState | None, now: datetime, *, warning_days: int,
                        critical_days: int, secret_required: bool = False) -> ConfigCheck:
    """One configuration's findings; ``secret_required``: its template says the provider wants a client secret."""
    from desktop.notify.events import refresh_token_expiry  # pure; kept lazy for the check's start-up

    result = ConfigCheck(cfg.name, enabled=cfg.is_valid)
    if not cfg.is_valid:
        return result
    state = state or TokenState(config_id=cfg.id or 0)
    client_credentials = not keeps_refresh_token(cfg)  # renewed by asking again with the client secret
    for error in validate_configuration(cfg, has_client_secret=cfg.has_client_secret if client_credentials
                                        else None):
        result.add(CRITICAL, f"the configuration is not usable: {error.field} {error.message} (fix it with Edit "
                             "or 'tokendesk edit')")
    if secret_required and not client_credentials and not cfg.has_client_secret:
        result.add(CRITICAL, f"no client secret, and {cfg.template_name} needs one: sign-ins and refreshes fail until "
                             f"it is entered with Edit or: tokendesk edit {_quote(cfg.name)} --client-secret-file FILE")
    day = cfg.client_secret_expires
    if day is not None:
        left = (day - now.astimezone().date()).days
        result.client_secret_days = left
        if left < 0:
            result.add(CRITICAL, f"the client secret expired on {day.isoformat()}: make a new one at the provider "
                                 "and enter it with Edit (and its expiry day)")
        elif left <= critical_days or left <= warning_days:
            when = "today" if left == 0 else f"on {day.isoformat()} (in {_days(left)})"
            result.add(CRITICAL if left <= critical_days else WARNING,
                       f"the client secret expires {when}: make a new one at the provider and enter it with Edit")
    if state.reauthorization_needed:
        result.add(CRITICAL, f"sign-in needed: the provider rejected the refresh token ({state.error_text}); sign "
                             f"in with: tokendesk authorize {_quote(cfg.name)} (or Request new token in the window)")
        return result
    if state.never_requested():
        result.add(CRITICAL, "sign-in needed: no token was ever requested; sign in with: "
                             f"tokendesk authorize {_quote(cfg.name)} (or Request new token in the window)")
        return result
    token_valid = state.has_access_token and (state.token_expires_at is None or state.token_expires_at > now)
    if state.has_error:
        result.add(WARNING if token_valid else CRITICAL,
                   f"the last refresh failed: {state.error_text}" + ("; the access token still works"
                                                                     if token_valid else
                                                                     "; no working access token is left"))
    if client_credentials:
        return result
    if not state.has_refresh_token:
        result.add(CRITICAL if not token_valid else WARNING,
                   "no refresh token is stored, so the access token cannot be renewed: sign in again with: "
                   f"tokendesk authorize {_quote(cfg.name)}")
        return result
    expiry = refresh_token_expiry(cfg, state)
    if expiry is not None:
        left_days = (expiry - now).total_seconds() / 86400
        result.refresh_token_days = max(left_days, 0.0)
        if left_days <= 0:
            result.add(CRITICAL, f"sign-in needed: the refresh token expired on {_stamp(expiry)}; sign in with: "
                                 f"tokendesk authorize {_quote(cfg.name)}")
        elif left_days <= warning_days:
            result.add(CRITICAL if left_days <= critical_days else WARNING,
                       f"the refresh token expires on {_stamp(expiry)} (in {_days(left_days)}): sign in again "
                       "before then")
    return result


def _stamp(dt: datetime) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M")


def _quote(name: str) -> str:
    import shlex

    return shlex.quote(name)


def check_all(pairs: Iterable[tuple[TokenConfiguration, TokenState | None]], now: datetime, *,
              warning_days: int = DEFAULT_WARNING_DAYS, critical_days: int = DEFAULT_CRITICAL_DAYS,
              secret_required: Callable[[TokenConfiguration], bool] | None = None) -> CheckResult:
    checks = [check_configuration(cfg, st, now, warning_days=warning_days, critical_days=critical_days,
                                  secret_required=bool(secret_required and secret_required(cfg)))
              for cfg, st in pairs]
    enabled = [c for c in checks if c.enabled]
    if not checks:
        return CheckResult(UNKNOWN, [], "no token configurations to check (is TOKENDESK_HOME the right data "
                                        "directory for this user?)", warning_days, critical_days)
    state = worst(c.state for c in enabled)
    bad = [c for c in enabled if c.state != OK]
    if not bad:
        off = len(checks) - len(enabled)
        summary = f"{len(enabled)} configuration{'s' if len(enabled) != 1 else ''} fine" + \
            (f", {off} switched off" if off else "")
    else:
        counts = []
        for s in (CRITICAL, WARNING):
            n = sum(c.state == s for c in enabled)
            if n:
                counts.append(f"{n} {STATE_NAMES[s].lower()}")
        first = sorted(bad, key=lambda c: (-_RANK[c.state], c.name.casefold()))
        named = "; ".join(f"{c.name}: {max(c.problems, key=lambda p: _RANK[p[0]])[1].split(': ')[0]}"
                          for c in first[:3])
        more = f"; and {len(first) - 3} more" if len(first) > 3 else ""
        summary = f"{', '.join(counts)} of {len(enabled)}: {named}{more}"
    return CheckResult(state, checks, summary, warning_days, critical_days)
