"""Redaction of every secret in use, in every form a server may echo it: raw, base64 (at any offset),
base64url, URL-encoded, JSON-escaped, wrapped over lines, cut short. Nothing of 16 characters or more
of a secret's forms may be left in what is shown; text without secrets is shown unchanged."""

from __future__ import annotations

import base64
import json
import re
import time
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from desktop.usage.redact import CLIENT_SECRET_MARK, TOKEN_MARK, Redactor
from desktop.usage.sasl import oauthbearer_string, xoauth2_base64, xoauth2_string
from desktop.usage.transcript import Transcript

FRAGMENT = 16  # the brief: no piece of 16 characters or more of a secret may be shown
JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdXBwb3J0QGV4YW1wbGUub3JnIiwiZXhwIjoxNzAwMDAwMDAwfQ."
       "Q2hhbmdlZC1zaWduYXR1cmUtd2l0aC1tYW55LWJ5dGVzLTAxMjM0NTY3ODktYWJjZGVmZ2hpams_bG1ub3BxcnN0dXZ3eHl6")
OPAQUE = "EwBwA8l6BAAU+7/kOe1ngz+Lw0SxQ6dk=AZ/9x&y%z bearer/ünï"  # +, /, =, &, %, space, non-ASCII
# ---- the oracle: written apart from desktop/usage/redact.py, from the brief's list of forms


def _b64_at(secret: bytes, shift: int, alphabet: str) -> str:
    """The characters of base64(<shift bytes> + secret + ...) that only the secret decides."""
    enc = base64.b64encode(b"\0" * shift + secret).decode().rstrip("=")
    if alphabet == "url":
        enc = enc.translate(str.maketrans("+/", "-_"))
    first = -(-8 * shift // 6)  # ceil
    last = 8 * (shift + len(secret)) // 6
    return enc[first:last]


def oracle_forms(secret: str) -> dict[str, str]:
    raw = secret.encode()
    forms = {
        "raw": secret,
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "quote": quote(secret, safe=""),
        "quote/": quote(secret),
        "quote_plus": quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
        "json_ascii_off": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json_slash": json.dumps(secret)[1:-1].replace("/", "\\/"),
    }
    for shift in (1, 2):
        forms[f"base64+{shift}"] = _b64_at(raw, shift, "std")
        forms[f"base64url+{shift}"] = _b64_at(raw, shift, "url")
    return forms


def squeeze(text: str) -> str:
    """Undo line wrapping (CRLF, LF, folded continuation lines)."""
    return re.sub(r"(\r\n?|\n)[ \t]*", "", text)


def leaks(text: str, *secrets: str) -> list[tuple[str, str]]:
    """(form, piece) for every piece of FRAGMENT characters of a secret's forms found in ``text``."""
    found = []
    flat = squeeze(text)
    for secret in secrets:
        for name, form in oracle_forms(secret).items():
            form = squeeze(form)
            if len(form) < FRAGMENT:
                if form in flat:
                    found.append((name, form))
                continue
            for i in range(len(form) - FRAGMENT + 1):
                if form[i:i + FRAGMENT] in flat:
                    found.append((name, form[i:i + FRAGMENT]))
                    break
    return found


def wrap(text: str, width: int, sep: str) -> str:
    return sep.join(text[i:i + width] for i in range(0, len(text), width))


def redactor_for(*tokens: str) -> Redactor:
    redactor = Redactor()
    for token in tokens:
        redactor.add_token(token)
    return redactor


# ---- every form, whole, cut short, wrapped
@pytest.mark.parametrize("secret", [JWT, OPAQUE], ids=["jwt", "opaque"])
@pytest.mark.parametrize("form", list(oracle_forms(JWT)))
def test_every_form_of_the_token_is_redacted(secret, form):
    echoed = oracle_forms(secret)[form]
    out = redactor_for(secret).redact(f"NO [AUTH] token {echoed} rejected")
    assert leaks(out, secret) == []
    assert out.startswith("NO [AUTH] token <redacted") and out.endswith(" rejected")


@pytest.mark.parametrize("secret", [JWT, OPAQUE], ids=["jwt", "opaque"])
@pytest.mark.parametrize(("start", "stop"), [(0, 40), (len(OPAQUE) - 20, None), (7, 7 + FRAGMENT), (3, -3)])
def test_a_token_cut_short_is_redacted(secret, start, stop):
    for name, form in oracle_forms(secret).items():
        piece = form[start:stop]
        if len(piece) < FRAGMENT:
            continue
        out = redactor_for(secret).redact(f"error: '{piece}' is not valid")
        assert out == f"error: '{TOKEN_MARK}' is not valid", name


@pytest.mark.parametrize("sep", ["\r\n", "\n", "\r\n ", "\n\t"])
@pytest.mark.parametrize("width", [76, 64, 20])
def test_a_token_wrapped_over_lines_is_redacted_and_the_lines_stay(sep, width):
    b64 = base64.b64encode(JWT.encode()).decode()
    wrapped = wrap(b64, width, sep)
    out = redactor_for(JWT).redact(f"Content-Transfer-Encoding: base64\r\n\r\n{wrapped}\r\n-- end")
    assert leaks(out, JWT) == []
    assert out.count("\n") == wrapped.count("\n") + 3  # the line structure stays: one mark per line
    body = out.split("\r\n\r\n", 1)[1].rsplit("\r\n-- end", 1)[0]
    assert set(re.split(r"\r?\n[ \t]*", body)) == {TOKEN_MARK}


def test_a_token_inside_base64_of_something_else_is_redacted_at_any_offset():
    for prefix in ("", "B", "Be", "Bearer ", "user=a@b.c\x01auth=Bearer "):
        blob = base64.b64encode(f"{prefix}{JWT}\x01\x01".encode()).decode()
        out = redactor_for(JWT).redact(f"334 {blob}")
        assert leaks(out, JWT) == [], prefix


def test_json_escaped_and_url_encoded_base64_of_the_token():
    b64 = base64.b64encode(OPAQUE.encode()).decode()
    lower_hex = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(b64, safe=""))
    for echoed in (quote(b64, safe=""), b64.replace("/", "\\/"), lower_hex):
        out = redactor_for(OPAQUE).redact(f'{{"seen": "{echoed}"}}')
        assert leaks(out, OPAQUE) == [] and f'"seen": "{TOKEN_MARK}' in out, echoed


def test_sasl_strings_keep_their_marks_and_the_login_stays_visible():
    redactor = redactor_for(JWT)
    raw = xoauth2_string("support@example.org", JWT)
    redactor.add_sasl("XOAUTH2", raw, xoauth2_base64("support@example.org", JWT))
    b64 = xoauth2_base64("support@example.org", JWT)
    out = redactor.redact(f"C: A1 AUTHENTICATE XOAUTH2 {b64}\nS: A1 NO [{b64[:50]}] bad\n"
                          "S: * Signed in as support@example.org\nS: Bearer " + JWT[:60])
    assert out.splitlines() == ["C: A1 AUTHENTICATE XOAUTH2 <redacted XOAUTH2 string>",
                                "S: A1 NO [<redacted XOAUTH2 string>] bad",
                                "S: * Signed in as support@example.org",  # the login is no secret
                                f"S: Bearer {TOKEN_MARK}"]
    bearer = oauthbearer_string("support@example.org", JWT, "mail.example.org", 993)
    redactor.add_sasl("OAUTHBEARER", bearer, base64.b64encode(bearer.encode()).decode())
    assert redactor.redact(bearer) == "<redacted OAUTHBEARER string>"


def test_the_client_secret_is_redacted_in_its_forms_too():
    secret = "Ab3~dEf.Gh1-jkL_mn0~pQr.sT2-uvW_xy4"
    redactor = Redactor()
    redactor.add_client_secret(secret)
    for echoed in (secret, quote_plus(secret), base64.b64encode(secret.encode()).decode(), secret[5:30]):
        assert redactor.redact(f"invalid_client ({echoed})") == f"invalid_client ({CLIENT_SECRET_MARK})"
    redactor.add_client_secret("s3cret")  # a short one: whole only
    assert redactor.redact("client_secret=s3cret") == f"client_secret={CLIENT_SECRET_MARK}"


def test_redact_lines_follows_a_token_from_one_line_into_the_next():
    b64 = base64.b64encode(JWT.encode()).decode()
    lines = [f"secret {b64[:70]}", b64[70:140], b64[140:150], "next line"]
    assert redactor_for(JWT).redact_lines(lines) == [f"secret {TOKEN_MARK}", TOKEN_MARK, TOKEN_MARK, "next line"]


def test_the_transcript_redacts_a_token_the_server_wraps_over_a_multiline_reply():
    b64 = base64.b64encode(JWT.encode()).decode()
    transcript = Transcript(redactor_for(JWT))
    transcript.client("AUTH XOAUTH2 xyz\r\n")
    pieces = wrap(b64, 50, "\n").split("\n")
    for i, piece in enumerate(pieces):  # what _SMTPRecorder records for a multi-line reply
        transcript.server(piece, prefix=f"535{'-' if i < len(pieces) - 1 else ' '}5.7.8 ")
    transcript.note("Authentication failed")
    lines = [str(line) for line in transcript.finish()]
    assert leaks("\n".join(lines), JWT) == []
    assert lines[1:-1] == [f"S: 535-5.7.8 {TOKEN_MARK}"] * (len(pieces) - 1) + [f"S: 535 5.7.8 {TOKEN_MARK}"]
    assert lines[0] == "C: AUTH XOAUTH2 xyz" and lines[-1] == "*: Authentication failed"


def test_redaction_is_fast_on_a_large_body():
    tokens = [JWT, OPAQUE * 40]  # ~2,000 characters, like Microsoft's tokens
    redactor = redactor_for(*tokens)
    body = ("lorem ipsum dolor sit amet " * 8000) + JWT + (" consectetur " * 1000)
    started = time.perf_counter()
    out = redactor.redact(body)
    elapsed = time.perf_counter() - started
    assert TOKEN_MARK in out and leaks(out[-20000:], JWT) == []
    assert elapsed < 1.0, f"{elapsed:.2f} s for {len(body)} characters"


# ---- properties
TOKEN_CHARS = st.characters(min_codepoint=33, max_codepoint=126)
TOKENS = st.text(alphabet=TOKEN_CHARS, min_size=20, max_size=120)
SEPARATORS = st.sampled_from(["\r\n", "\n", "\r\n ", "\n\t"])
FORMS = st.sampled_from(list(oracle_forms("x")))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(token=TOKENS, form=FORMS, before=st.text(max_size=40), after=st.text(max_size=40), data=st.data())
def test_property_a_token_in_any_form_cut_anywhere_and_wrapped_never_shows(token, form, before, after, data):
    echoed = oracle_forms(token)[form]
    start = data.draw(st.integers(0, max(0, len(echoed) - FRAGMENT)), label="start")
    stop = data.draw(st.integers(min(len(echoed), start + FRAGMENT), len(echoed)), label="stop")
    piece = echoed[start:stop]
    if data.draw(st.booleans(), label="wrapped"):
        piece = wrap(piece, data.draw(st.integers(4, 76), label="width"), data.draw(SEPARATORS, label="sep"))
    out = redactor_for(token).redact(before + piece + after)
    assert leaks(out, token) == []


@settings(max_examples=200)
@given(token=TOKENS, text=st.text(max_size=300))
def test_property_text_without_the_token_is_unchanged(token, text):
    assume(leaks(text, token) == [])
    assert redactor_for(token).redact(text) == text


@settings(max_examples=200)
@given(token=TOKENS, lines=st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=60),
                                    max_size=6), at=st.integers(0, 6), width=st.integers(5, 40))
def test_property_redact_lines_keeps_the_lines_and_hides_a_wrapped_token(token, lines, at, width):
    pieces = wrap(base64.b64encode(token.encode()).decode(), width, "\n").split("\n")
    lines = lines[:at] + pieces + lines[at:]
    out = redactor_for(token).redact_lines(lines)
    assert len(out) == len(lines)
    assert leaks("\n".join(out), token) == []


def test_the_transcript_keeps_lines_bounded_and_still_redacts_them():
    from desktop.usage.transcript import MAX_LINE_CHARS, MAX_RAW_LINE_CHARS

    transcript = Transcript(redactor_for(JWT))
    transcript.server(JWT + "x" * (5 * MAX_RAW_LINE_CHARS))
    transcript.server(f"short {JWT} line")
    assert all(len(text) <= MAX_RAW_LINE_CHARS for _, _, text, _ in transcript._said)
    first, second = (str(line) for line in transcript.finish())
    assert first.startswith(f"S: {TOKEN_MARK}xxx") and leaks(first, JWT) == []
    extra = len(TOKEN_MARK) + 5 * MAX_RAW_LINE_CHARS - MAX_LINE_CHARS  # of the redacted line
    assert first.endswith(f" ... ({extra} more characters)")
    assert second == f"S: short {TOKEN_MARK} line"


@pytest.mark.parametrize("secret", ["0000000\\", "abc\\ndefghijklmnopqrstuv", "tok\\r\\nen-0123456789abcdef"])
@pytest.mark.parametrize("after", ["r", "n", "r\\n more", "\r\n next line"])
def test_a_secret_holding_what_looks_like_an_escaped_line_break_is_still_found(secret, after):
    # found by the earlier property test: "\\r" after a secret ending in a backslash read as a JSON line break
    out = redactor_for(secret).redact(f"x {secret}{after}")
    assert secret not in out and out.startswith(f"x {TOKEN_MARK}")
