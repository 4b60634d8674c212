"""Redaction: what is shown (transcripts, responses, errors) never contains a token.

A ``Redactor`` knows the secrets of one operation (the access token and the SASL strings
built from it, plain and base64) and replaces each of them wherever it appears, longest
first, so a base64 string is replaced whole rather than around an inner match.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

TOKEN_MARK = "<redacted access token>"
SASL_MARK = "<redacted {mech} string>"


class Redactor:
    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}

    def add(self, secret: str | None, mark: str = TOKEN_MARK) -> None:
        """Redact ``secret`` (and its base64 form) as ``mark``; short or empty values are ignored."""
        if not secret or len(secret) < 4:
            return
        self._secrets[secret] = mark
        b64 = base64.b64encode(secret.encode("utf-8")).decode("ascii")
        self._secrets.setdefault(b64, mark)

    def add_token(self, token: str | None) -> None:
        self.add(token, TOKEN_MARK)

    def add_sasl(self, mechanism: str, raw: str, b64: str) -> None:
        mark = SASL_MARK.format(mech=mechanism)
        self._secrets[raw] = mark
        self._secrets[b64] = mark

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        if not text or not self._secrets:
            return text
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, self._secrets[secret])
        return text

    def redact_all(self, texts: Iterable[str]) -> list[str]:
        return [self.redact(t) for t in texts]

    def redact_bytes(self, data: bytes) -> str:
        """Decode ``data`` for display (invalid UTF-8 shown with replacement marks), then redact."""
        return self.redact(data.decode("utf-8", "replace"))
