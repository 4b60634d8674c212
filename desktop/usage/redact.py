"""Redaction: what is shown (transcripts, responses, errors) never contains a secret in use.

A ``Redactor`` knows the secrets of one operation - the access token, the SASL strings built from
it, the client secret when there is one - and hides them in every form a server may echo them:

* **forms**: raw; base64 and base64url (padded and not, and at any of the three byte offsets, so
  base64 of "Bearer <token>" or of a whole SASL string gives it away too); URL-encoded (``quote``,
  ``quote_plus``, upper- or lower-case escapes, also of the base64 forms); JSON-escaped (with and
  without ``\\u`` escapes, ``\\/``); HTML-escaped;
* **line wraps**: a text with line breaks (CRLF, LF, CR, and their JSON escapes) is searched as it
  is and once more without them and the blanks that continue a folded line, so a token wrapped at
  76 columns is found (and a secret that itself holds a backslash before an "n" too); the line
  structure of the text stays (each wrapped piece becomes a mark);
* **pieces**: any run of ``MIN_FRAGMENT`` (16) or more characters of a form is redacted wherever it
  appears, so a token cut short, or the part of it left when a line ends, is hidden as well.
  Shorter forms (a short client secret) are redacted whole.

The SASL strings are redacted whole in their raw form (their login and ``auth=Bearer`` are no
secret, so pieces of the raw string are not searched - the token inside is); their base64 form is
searched for pieces like the token's.

Finding pieces is linear in the text: every piece of 16 or more characters contains a run of 8
characters that starts at a multiple of 8 in the text, so the text is looked up in an index of
the forms' 8-character runs only at those positions, and each hit is extended both ways along
its form (once per alignment). Pieces that overlap are merged into one mark, the mark of the
longest piece ("<redacted XOAUTH2 string>" wins over the token inside it).
"""

from __future__ import annotations

import base64
import bisect
import html
import json
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus

TOKEN_MARK = "<redacted access token>"
SASL_MARK = "<redacted {mech} string>"
CLIENT_SECRET_MARK = "<redacted client secret>"

#: the shortest piece of a secret that is redacted wherever it appears (shorter forms: whole only)
MIN_FRAGMENT = 16
#: secrets shorter than this are not redacted at all (they would hide ordinary words)
MIN_SECRET = 4
_RUN = MIN_FRAGMENT // 2  # the index's run length: every 16-character piece holds an aligned 8-run

#: what wraps a long value over lines: a line break (or its JSON escape) and the blanks of a folded line
_BREAK = re.compile(r"(?:\r\n?|\n|\\r\\n|\\n|\\r)[ \t]*")
_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _squeeze(text: str) -> str:
    return _BREAK.sub("", text)


def _b64_runs(data: bytes) -> Iterator[str]:
    """The base64 and base64url characters that only ``data`` decides, at each of the three byte offsets
    it may have inside a longer base64 string, plus the padded and unpadded whole encodings."""
    std = base64.b64encode(data).decode("ascii")
    for encoded in (std, std.translate(_URLSAFE)):
        yield encoded
        yield encoded.rstrip("=")
    for shift in (1, 2):
        shifted = base64.b64encode(b"\0" * shift + data).decode("ascii").rstrip("=")
        inner = shifted[-(-8 * shift // 6):8 * (shift + len(data)) // 6]
        yield inner
        yield inner.translate(_URLSAFE)
    # the last character of the offset-0 encoding mixes the data's last bits with what follows it
    tail = 8 * len(data) // 6
    yield std[:tail]
    yield std[:tail].translate(_URLSAFE)


_URLSAFE = str.maketrans("+/", "-_")


def _text_forms(value: str) -> Iterator[str]:
    """``value`` as URL, JSON and HTML text may carry it."""
    yield value
    for encoded in (quote(value, safe=""), quote(value), quote_plus(value), quote_plus(value, safe="/")):
        yield encoded
        yield _ESCAPE.sub(lambda m: m.group().lower(), encoded)
    for escaped in (json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        yield escaped
        yield escaped.replace("/", "\\/")
    yield html.escape(value, quote=True)


def secret_forms(secret: str) -> list[str]:
    """Every form of ``secret`` that is searched for (distinct, as is and without line breaks, longest first)."""
    forms: dict[str, None] = {}
    for b64 in (None, *_b64_runs(secret.encode("utf-8"))):
        for form in _text_forms(secret if b64 is None else b64):
            forms[form] = None
            forms[_squeeze(form)] = None
    return sorted((f for f in forms if len(f) >= MIN_SECRET), key=len, reverse=True)


def _merged(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping spans as one, with the mark of the longest; in order."""
    spans.sort()
    merged: list[tuple[int, int, str]] = []
    best = 0
    for start, end, mark in spans:
        if merged and start < merged[-1][1]:
            last_start, last_end, last_mark = merged[-1]
            if end - start > best:
                best, last_mark = end - start, mark
            merged[-1] = (last_start, max(last_end, end), last_mark)
        else:
            merged.append((start, end, mark))
            best = end - start
    return merged


class Redactor:
    def __init__(self) -> None:
        #: forms searched whole (shorter than a piece, or raw SASL strings): form -> mark
        self._whole: dict[str, str] = {}
        #: forms searched for pieces, their marks, and the index of their 8-character runs
        self._forms: list[str] = []
        self._marks: list[str] = []
        self._known: set[str] = set()
        self._runs: dict[str, list[tuple[int, int]]] = {}

    # ---- what to redact
    def add(self, secret: str | None, mark: str = TOKEN_MARK) -> None:
        """Redact ``secret`` in all its forms, and every piece of them, as ``mark``; values shorter than
        ``MIN_SECRET`` are ignored."""
        if not secret or len(secret) < MIN_SECRET:
            return
        for form in secret_forms(secret):
            self._register(form, mark)

    def add_token(self, token: str | None) -> None:
        self.add(token, TOKEN_MARK)

    def add_client_secret(self, secret: str | None) -> None:
        self.add(secret, CLIENT_SECRET_MARK)

    def add_sasl(self, mechanism: str, raw: str, b64: str) -> None:
        """The SASL initial response: the raw string whole (its login is no secret), base64 in pieces too."""
        mark = SASL_MARK.format(mech=mechanism)
        for text_form in _text_forms(raw):
            for form in (text_form, _squeeze(text_form)):
                if len(form) >= MIN_SECRET:
                    self._whole[form] = mark
        forms = {form for encoded in _b64_runs(raw.encode("utf-8")) for form in _text_forms(encoded)}
        if b64:
            forms.add(b64)
        forms |= {_squeeze(form) for form in forms}
        for form in sorted(forms, key=len, reverse=True):
            self._register(form, mark)

    def _register(self, form: str, mark: str) -> None:
        if len(form) < MIN_SECRET:
            return
        if len(form) < MIN_FRAGMENT:
            self._whole.setdefault(form, mark)
            return
        if form in self._known or any(form in known for known in self._forms):
            return  # its pieces are pieces of a form already searched
        self._known.add(form)
        index = len(self._forms)
        self._forms.append(form)
        self._marks.append(mark)
        for offset in range(len(form) - _RUN + 1):
            self._runs.setdefault(form[offset:offset + _RUN], []).append((index, offset))

    # ---- redacting
    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        if not text or not (self._whole or self._forms):
            return text
        # the text as it is (a secret may itself hold what looks like a line break, e.g. a backslash before
        # an "n"), and, when it has line breaks, the text without them (a secret wrapped over lines)
        found = self._find(text)
        flat, flat_starts, text_starts = self._flatten(text)
        if flat_starts:

            def original(i: int) -> int:
                k = bisect.bisect_right(flat_starts, i) - 1
                return text_starts[k] + (i - flat_starts[k])

            found += [(original(start), original(end - 1) + 1, mark) for start, end, mark in self._find(flat)]
        if not found:
            return text
        out: list[str] = []
        done = 0
        for start, end, mark in _merged(found):
            out.append(text[done:start])
            out.append(self._replace(text[start:end], mark))
            done = end
        out.append(text[done:])
        return "".join(out)

    def redact_lines(self, lines: list[str]) -> list[str]:
        """Redact consecutive lines as one text, so a secret wrapped from one line into the next is found;
        the same number of lines comes back."""
        if any("\n" in line for line in lines):
            return [self.redact(line) for line in lines]
        return self.redact("\n".join(lines)).split("\n")

    def redact_all(self, texts: Iterable[str]) -> list[str]:
        return [self.redact(t) for t in texts]

    def redact_bytes(self, data: bytes) -> str:
        """Decode ``data`` for display (invalid UTF-8 shown with replacement marks), then redact."""
        return self.redact(data.decode("utf-8", "replace"))

    # ---- inside
    @staticmethod
    def _flatten(text: str) -> tuple[str, list[int], list[int]]:
        """``text`` without line breaks, and where each unbroken part starts in both (empty: no breaks)."""
        if _BREAK.search(text) is None:
            return text, [], []
        parts: list[str] = []
        flat_starts, text_starts = [0], [0]
        pos = length = 0
        for m in _BREAK.finditer(text):
            parts.append(text[pos:m.start()])
            length += m.start() - pos
            pos = m.end()
            flat_starts.append(length)
            text_starts.append(pos)
        parts.append(text[pos:])
        return "".join(parts), flat_starts, text_starts

    def _find(self, flat: str) -> list[tuple[int, int, str]]:
        """(start, end, mark) of every whole form and every piece of MIN_FRAGMENT or more in ``flat``."""
        found: list[tuple[int, int, str]] = []
        for form, mark in self._whole.items():
            i = flat.find(form)
            while i >= 0:
                found.append((i, i + len(form), mark))
                i = flat.find(form, i + 1)
        if self._runs:
            runs, forms, n = self._runs, self._forms, len(flat)
            reached: dict[tuple[int, int], int] = {}  # (form, alignment) -> end of the piece found there
            for p in range(0, n - _RUN + 1, _RUN):
                hits = runs.get(flat[p:p + _RUN])
                if not hits:
                    continue
                for index, offset in hits:
                    key = (index, p - offset)
                    if reached.get(key, -1) >= p + _RUN:
                        continue  # inside a piece found from an earlier run
                    form = forms[index]
                    a, f = p, offset
                    while a > 0 and f > 0 and flat[a - 1] == form[f - 1]:
                        a -= 1
                        f -= 1
                    b, g = p + _RUN, offset + _RUN
                    while b < n and g < len(form) and flat[b] == form[g]:
                        b += 1
                        g += 1
                    reached[key] = b
                    if b - a >= MIN_FRAGMENT:
                        found.append((a, b, self._marks[index]))
        return found

    @staticmethod
    def _replace(original: str, mark: str) -> str:
        """``mark`` for each piece of ``original`` between line breaks; the breaks stay."""
        out: list[str] = []
        pos = 0
        for m in _BREAK.finditer(original):
            if m.start() > pos:
                out.append(mark)
            out.append(m.group())
            pos = m.end()
        if pos < len(original):
            out.append(mark)
        return "".join(out)
