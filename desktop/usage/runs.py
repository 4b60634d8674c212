"""The outcome of the last connection test or invocation, kept with the account or invoker.

One line for the "Last test" / "Last call" columns and ``tokendesk mail list``: whether it
worked, a short text ("OK, 3 messages", "failed (authenticate)", "200 OK", "cancelled") and
when (UTC). Stored as JSON in the row (schema 4); a value that cannot be read counts as "never".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class LastRun:
    ok: bool
    text: str
    at: datetime

    def to_json(self) -> str:
        return json.dumps({"ok": self.ok, "text": self.text, "at": self.at.astimezone(UTC).isoformat()})

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "text": self.text, "at": self.at.astimezone(UTC).isoformat()}

    @classmethod
    def from_json(cls, text: str | None) -> LastRun | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            at = datetime.fromisoformat(data["at"])
            return cls(bool(data["ok"]), str(data["text"]), at if at.tzinfo else at.replace(tzinfo=UTC))
        except (ValueError, TypeError, KeyError):
            return None
