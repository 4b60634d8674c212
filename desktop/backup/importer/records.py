"""What reading an import file gives: its records (``ImportRecord``), the problems found (``Problem``, each naming
the record and the field as a path into it) and the form labels of those paths."""

from __future__ import annotations

from dataclasses import dataclass, field

from desktop.models.config import TokenConfiguration
from desktop.models.validation import ENDPOINT_LABELS

#: validation labels (desktop.models.validation) -> the field's path in a record
FIELD_PATHS: dict[str, str] = {
    "Name": "Name",
    "Template": "Config.TemplateName",
    "Client ID": "Config.ClientID",
    "Client secret": "Config.ClientSecret",
    "Validity": "ValidID",
    "AuthFlow": "Config.AuthFlow",
    "Redirect URI": "Config.Tokendesk.RedirectURL",
    **{label: f"Config.Requests.{key}.Request.URL" for key, label in ENDPOINT_LABELS.items()},
}
LABELS_BY_PATH = {path: label for label, path in FIELD_PATHS.items() if label not in ("Name", "Validity")}
TEMPLATE_NOTE_START = "template "


@dataclass(frozen=True)
class Problem:
    """One reason a record (or the whole file) cannot be imported."""

    record: int | None  # 1-based position in the file; None: the file as a whole
    name: str  # the record's Name as far as it could be read ('' when it has none)
    field: str  # path in the record, e.g. "Config.ClientID"; '' for the file or the record as a whole
    message: str

    def __str__(self) -> str:
        if self.record is None:
            return self.message
        who = f"record {self.record}" + (f" '{clip(self.name)}'" if self.name else " (no Name)")
        label = LABELS_BY_PATH.get(self.field)
        where = f"{self.field} ({label})" if label else self.field
        return f"{who}: {where}: {self.message}" if where else f"{who}: {self.message}"


@dataclass
class ImportRecord:
    """One record of the file, checked on its own (independent of what is stored)."""

    index: int
    name: str
    configuration: TokenConfiguration | None
    client_secret: str | None = field(default=None, repr=False)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems and self.configuration is not None


@dataclass
class ParsedImport:
    records: list[ImportRecord]
    problems: list[Problem] = field(default_factory=list)  # about the file as a whole
    source: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.valid for r in self.records)



def clip(text: str, limit: int = 80) -> str:
    """Values from the file in messages: short enough to read."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_label(path: str) -> str:
    """The form label of a field path ("Token endpoint" for its URL), '' when it has none."""
    return LABELS_BY_PATH.get(path, "")


def short_text(problem: Problem) -> str:
    label = LABELS_BY_PATH.get(problem.field)
    where = f"{problem.field} ({label})" if label else problem.field
    return f"{where}: {problem.message}" if where else problem.message

