"""Where Tokendesk keeps its data and finds its resources.

The data directory is ``$TOKENDESK_HOME`` when set (tests, portable use), otherwise the
platform's user data directory (``~/.local/share/tokendesk`` on Linux). Resources and
provider templates are found relative to the package, never the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "TOKENDESK_HOME"
DB_FILENAME = "tokendesk.sqlite3"

_PACKAGE_DIR = Path(__file__).resolve().parent
_PROJECT_ROOT = _PACKAGE_DIR.parent


def data_dir(create: bool = True) -> Path:
    """The directory that holds the database, lock files and logs (mode 0700 when created)."""
    override = os.environ.get(ENV_HOME)
    if override:
        path = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("tokendesk", appauthor=False))
    if create and not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        try:
            path.chmod(0o700)
        except OSError:  # pragma: no cover - e.g. a filesystem without modes
            pass
    return path


def database_path() -> Path:
    return data_dir() / DB_FILENAME


def lock_dir() -> Path:
    path = data_dir() / "locks"
    path.mkdir(exist_ok=True)
    return path


def project_root() -> Path:
    """The directory that holds the package (a source checkout or editable install: README.md, docs/)."""
    return _PROJECT_ROOT


def resources_dir() -> Path:
    """``resources/`` beside the package (editable install or source checkout)."""
    return _PROJECT_ROOT / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def provider_templates_dir() -> Path:
    """Built-in provider templates; ``$TOKENDESK_TEMPLATES`` adds a directory of the admin's own."""
    return _PROJECT_ROOT / "provider_templates"


def extra_template_dirs() -> list[Path]:
    extra = os.environ.get("TOKENDESK_TEMPLATES")
    dirs = [Path(p).expanduser() for p in extra.split(os.pathsep) if p] if extra else []
    user_dir = data_dir(create=False) / "provider_templates"
    if user_dir.is_dir():
        dirs.append(user_dir)
    return dirs
