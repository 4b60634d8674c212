"""The guides the Help menu opens: where the installed documentation is, and the project page otherwise.

The documentation is the README (its "A short tour for a new admin") and ``docs/usage-with-other-programs.md``,
found beside the package (a source checkout or an editable install, as the resources are) or under
``share/doc/tokendesk`` (a packaged install). Without them the Help menu opens the project page named in the
package's metadata (``[project.urls]`` in pyproject.toml). No Qt here.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from desktop.paths import project_root


@dataclass(frozen=True)
class Guide:
    key: str
    title: str
    #: the file, relative to the documentation directory
    path: str
    #: the section of that file shown ('' for all of it): its heading's text
    heading: str = ""


TOUR = Guide("tour", "A short tour for a new admin", "README.md", "A short tour for a new admin")
OTHER_PROGRAMS = Guide("other_programs", "Using the tokens in other programs", "docs/usage-with-other-programs.md")


def documentation_dirs() -> list[Path]:
    return [project_root(), Path(sys.prefix) / "share" / "doc" / "tokendesk", Path("/usr/share/doc/tokendesk")]


def find_guide(guide: Guide, dirs: list[Path] | None = None) -> Path | None:
    """The installed file of ``guide`` (None when no documentation directory has it)."""
    for folder in documentation_dirs() if dirs is None else dirs:
        path = folder / guide.path
        if path.is_file():
            return path
    return None


def section(markdown: str, heading: str) -> str:
    """The part of ``markdown`` from the heading ``heading`` (any level) to the next heading of that level or
    above; the whole text when ``heading`` is '' or not found."""
    if not heading:
        return markdown
    lines = markdown.splitlines()
    for start, line in enumerate(lines):
        match = re.match(r"(#+)\s+(.*?)\s*#*\s*$", line)
        if match and match.group(2) == heading:
            level = len(match.group(1))
            end = next((i for i in range(start + 1, len(lines))
                        if (m := re.match(r"(#+)\s", lines[i])) and len(m.group(1)) <= level), len(lines))
            return "\n".join(lines[start:end]).strip() + "\n"
    return markdown


def read_guide(guide: Guide, dirs: list[Path] | None = None) -> tuple[Path, str] | None:
    """(file, the guide's Markdown) from the installed documentation, or None."""
    path = find_guide(guide, dirs)
    if path is None:
        return None
    try:
        return path, section(path.read_text(encoding="utf-8"), guide.heading)
    except (OSError, UnicodeDecodeError):
        return None


def project_url() -> str:
    """The project page from the installed package's metadata (pyproject's ``[project.urls]``: Documentation,
    then Homepage, then the first one); '' when none is named."""
    from importlib import metadata

    try:
        entries = metadata.metadata("tokendesk").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return ""
    urls = {}
    for entry in entries:
        label, _, url = entry.partition(",")
        if url.strip():
            urls[label.strip().casefold()] = url.strip()
    for label in ("documentation", "homepage", "home", "source"):
        if label in urls:
            return urls[label]
    return next(iter(urls.values()), "")
