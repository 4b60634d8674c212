"""Provider templates: one YAML file per provider, in Znuny's template shape.

A template file is a mapping::

    Name: Google Mail                 # shown in the picker, becomes Config.TemplateName
    Description: one line for the picker
    Help: |                           # shown in the add dialog (setup mistakes to avoid)
      ...
    Discovery: 0|1                    # 1 shows "Discover" (OpenID Connect .well-known)
    ClientSecretRequired: 0|1         # 1: the provider wants a client secret (Save waits for one)
    ClientIDPattern: '^...$'          # the client IDs the provider issues (a regular expression): another
    ClientIDShape: ...                #   shape is a warning in the add dialog, naming this shape, never a block
    Config:                           # the token configuration's Config, as in an export
      ClientID: ''
      Scope: ...
      Notifications: {...}
      Requests: {...}

A new provider is a new file; no code changes. Files that do not parse are reported by
``load_templates`` (with the file and the reason) and skipped, never fatal.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from desktop.models.config import TokenConfiguration


class TemplateError(ValueError):
    pass


@dataclass
class ProviderTemplate:
    name: str
    config: dict[str, Any]
    description: str = ""
    help: str = ""
    discovery: bool = False
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    client_secret_required: bool = False
    client_id_pattern: str = ""
    client_id_shape: str = ""

    def client_id_warning(self, client_id: str) -> str | None:
        """Why ``client_id`` does not look like this provider's client IDs (None: it does, or nothing is known
        or typed). A warning only: providers change their formats."""
        client_id = client_id.strip()
        if not client_id or not self.client_id_pattern or re.fullmatch(self.client_id_pattern, client_id):
            return None
        shape = self.client_id_shape or "the provider's format"
        return f"does not look like a {self.name} client ID ({shape}): check that you copied the whole ID"

    def new_configuration(self, name: str = "") -> TokenConfiguration:
        config = copy.deepcopy(self.config)
        config.pop("ClientSecret", None)
        config["TemplateName"] = self.name
        return TokenConfiguration(name=name, config=config)


def parse_template(data: Any, source: str = "<template>") -> ProviderTemplate:
    if not isinstance(data, dict):
        raise TemplateError(f"{source}: a template must be a YAML mapping with Name and Config")
    name = data.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise TemplateError(f"{source}: 'Name' is missing or empty")
    config = data.get("Config")
    if not isinstance(config, dict):
        raise TemplateError(f"{source}: 'Config' must be a mapping")
    requests = config.get("Requests", {})
    if not isinstance(requests, dict):
        raise TemplateError(f"{source}: 'Config.Requests' must be a mapping")
    pattern = str(data.get("ClientIDPattern") or "")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise TemplateError(f"{source}: 'ClientIDPattern' is not a regular expression ({exc})") from None
    known = {"Name", "Config", "Description", "Help", "Discovery", "ClientSecretRequired", "ClientIDPattern",
             "ClientIDShape"}
    return ProviderTemplate(
        name=name.strip(),
        config=config,
        description=str(data.get("Description") or ""),
        help=str(data.get("Help") or ""),
        discovery=bool(data.get("Discovery")),
        extra={k: v for k, v in data.items() if k not in known},
        client_secret_required=bool(data.get("ClientSecretRequired")),
        client_id_pattern=pattern,
        client_id_shape=str(data.get("ClientIDShape") or ""),
    )


def load_template_file(path: Path) -> ProviderTemplate:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path.name}: cannot be read as YAML ({exc.__class__.__name__})") from None
    template = parse_template(data, path.name)
    template.path = path
    return template


@dataclass
class TemplateCatalog:
    templates: list[ProviderTemplate]
    problems: list[str]

    def names(self) -> list[str]:
        return [t.name for t in self.templates]

    def get(self, name: str) -> ProviderTemplate | None:
        for template in self.templates:
            if template.name == name:
                return template
        lowered = name.strip().lower()
        for template in self.templates:
            if template.name.lower() == lowered or (template.path and template.path.stem.lower() == lowered):
                return template
        return None

    def require(self, name: str) -> ProviderTemplate:
        template = self.get(name)
        if template is None:
            known = ", ".join(self.names()) or "none"
            raise TemplateError(f"unknown template '{name}' (known templates: {known})")
        return template


def load_templates(dirs: list[Path] | None = None) -> TemplateCatalog:
    """Load every ``*.yml``/``*.yaml`` file; later directories override same-name templates."""
    if dirs is None:
        from desktop.paths import extra_template_dirs, provider_templates_dir

        dirs = [provider_templates_dir(), *extra_template_dirs()]
    by_name: dict[str, ProviderTemplate] = {}
    problems: list[str] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]):
            try:
                template = load_template_file(path)
            except TemplateError as exc:
                problems.append(str(exc))
                continue
            by_name[template.name] = template
    return TemplateCatalog(templates=list(by_name.values()), problems=problems)
