"""Web-service invokers: an HTTP request that carries a token configuration's token.

As in Znuny, the token goes where a header value contains the placeholder
``<OTRS_OAUTH2_TOKEN>``; the default header is ``Authorization: Bearer <OTRS_OAUTH2_TOKEN>``.
Plain data and pure functions here; ``desktop.usage.invoke`` sends the request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from desktop.models.validation import FieldError, check_name, check_url
from desktop.usage.runs import LastRun

PLACEHOLDER = "<OTRS_OAUTH2_TOKEN>"
DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (("Authorization", f"Bearer {PLACEHOLDER}"),)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
METHODS_WITH_BODY = ("POST", "PUT", "PATCH", "DELETE")

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token


@dataclass
class WebInvoker:
    name: str
    url: str
    method: str = "GET"
    #: ordered (name, value) pairs; values may contain PLACEHOLDER
    headers: list[tuple[str, str]] = field(default_factory=lambda: list(DEFAULT_HEADERS))
    body: str = ""
    config_id: int | None = None
    config_name: str = ""
    #: PEM file with the CA certificate(s) to trust for a self-hosted service ('' = system CAs)
    ca_file: str = ""
    id: int | None = None
    create_time: str | None = None
    change_time: str | None = None
    #: the last invocation (None: never invoked)
    last_run: LastRun | None = None

    def copy(self, **changes: object) -> WebInvoker:
        return replace(self, headers=list(self.headers), **changes)  # type: ignore[arg-type]

    def describe(self) -> str:
        return f"{self.method} {self.url}"


def parse_header_lines(text: str) -> list[tuple[str, str]]:
    """``Name: value`` lines (blank lines ignored) to pairs; ValueError naming the bad line."""
    headers: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"header line {number} has no ':' (write it as 'Name: value')")
        headers.append((name.strip(), value.strip()))
    return headers


def format_header_lines(headers: list[tuple[str, str]]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers)


def apply_token(headers: list[tuple[str, str]], token: str) -> list[tuple[str, str]]:
    """The headers with every PLACEHOLDER replaced by ``token``."""
    return [(name, value.replace(PLACEHOLDER, token)) for name, value in headers]


def validate_invoker(
    invoker: WebInvoker, *, existing_names: set[str] | None = None, own_name: str | None = None
) -> list[FieldError]:
    errors: list[FieldError] = []
    problem = check_name(invoker.name, existing_names, own_name)
    if problem:
        errors.append(FieldError("Name", problem.replace("configuration", "invoker")))
    if invoker.method not in METHODS:
        errors.append(FieldError("Method", f"must be one of {', '.join(METHODS)}"))
    problem = check_url(invoker.url)
    if problem:
        errors.append(FieldError("URL", problem))
    elif PLACEHOLDER in invoker.url:
        errors.append(FieldError("URL", f"must not contain {PLACEHOLDER}: a token in a URL ends up in server logs; "
                                        "put it in a header"))
    seen_placeholder = False
    for name, value in invoker.headers:
        if not _HEADER_NAME.fullmatch(name or ""):
            errors.append(FieldError("Headers", f"'{name}' is not a valid header name (letters, digits and -)"))
        if any(c in value for c in "\r\n\x00"):
            errors.append(FieldError("Headers", f"the value of '{name}' must be on one line"))
        seen_placeholder = seen_placeholder or PLACEHOLDER in value
    if not seen_placeholder:
        errors.append(FieldError("Headers", f"no header contains {PLACEHOLDER}, so the token would not be sent "
                                            f"(usually: Authorization: Bearer {PLACEHOLDER})"))
    if invoker.body and PLACEHOLDER in invoker.body:
        errors.append(FieldError("Body", f"{PLACEHOLDER} is replaced in headers only"))
    if invoker.body and invoker.method not in METHODS_WITH_BODY:
        errors.append(FieldError("Body", f"a {invoker.method} request has no body; use POST, PUT or PATCH"))
    if invoker.config_id is None and not invoker.config_name:
        errors.append(FieldError("Token configuration", "is required"))
    if invoker.ca_file:
        from desktop.usage.accounts import check_ca_file

        problem = check_ca_file(invoker.ca_file)
        if problem:
            errors.append(FieldError("CA file", problem))
    return errors


def body_content_type(body: str, headers: list[tuple[str, str]]) -> str | None:
    """A Content-Type to add when the headers have none: JSON when the body parses as JSON."""
    if not body or any(name.lower() == "content-type" for name, _ in headers):
        return None
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"


def pretty_body(text: str, content_type: str = "") -> str:
    """JSON pretty-printed (when it is JSON), other text as it is."""
    stripped = text.strip()
    if "json" in content_type.lower() or stripped[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return text
