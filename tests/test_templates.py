"""Provider templates: the built-in files carry PROVIDERS.md's facts; broken files are reported and skipped;
a new provider is a new file (no code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.models.config import (
    AUTHORIZATION_CODE,
    AUTOFILL_SOURCES,
    BROWSER_EMBEDDED,
    BROWSER_SYSTEM,
    DEVICE_AUTHORIZATION,
    DEVICE_RESPONSE_TARGETS,
    FLOW_AUTHORIZATION_CODE,
    FLOW_CLIENT_CREDENTIALS,
    RESPONSE_TARGETS,
    TOKEN_BY_AUTHORIZATION_CODE,
    TOKEN_BY_CLIENT_CREDENTIALS,
    TOKEN_BY_REFRESH_TOKEN,
)
from desktop.models.templates import TemplateError, load_template_file, load_templates
from desktop.models.validation import validate_configuration
from desktop.paths import provider_templates_dir

GOOGLE = "Google Mail"
MICROSOFT = "Microsoft Exchange Online"
MICROSOFT_CC = "Microsoft Exchange Online (client credentials)"
MICROSOFT_DEVICE = "Microsoft Exchange Online (device code)"
GENERIC = "Generic OAuth2"
OIDC = "Generic OpenID Connect"
BUILT_IN = {GOOGLE, MICROSOFT, MICROSOFT_CC, MICROSOFT_DEVICE, GENERIC, OIDC}

NEW_PROVIDER = """\
Name: Example IdP
Description: A provider added by the admin, without code.
Help: Register http://127.0.0.1:8765/oauth2/callback.
Discovery: 1
Config:
  ClientID: ''
  Scope: openid offline_access
  Requests:
    AuthorizationCode:
      Request:
        URL: https://idp.example.org/authorize
    TokenByAuthorizationCode:
      Request:
        URL: https://idp.example.org/token
    TokenByRefreshToken:
      Request:
        URL: https://idp.example.org/token
"""


@pytest.fixture
def catalog():
    return load_templates([provider_templates_dir()])


def test_the_six_built_in_templates_load_without_problems(catalog):
    assert catalog.problems == []
    assert set(catalog.names()) == BUILT_IN
    for template in catalog.templates:
        assert template.description, template.name
        assert template.help.strip(), template.name
        assert template.path is not None and template.path.parent == provider_templates_dir()
        assert template.config["TemplateName"] == template.name


def test_default_loading_finds_the_built_ins(tokendesk_home, monkeypatch):
    monkeypatch.delenv("TOKENDESK_TEMPLATES", raising=False)
    catalog = load_templates()
    assert catalog.problems == [] and set(catalog.names()) == BUILT_IN


def test_templates_use_only_znuny_mapping_values(catalog):
    for template in catalog.templates:
        cfg = template.new_configuration("x")
        for key in cfg.config.get("Requests", {}):
            for source in cfg.autofilled_parameters(key).values():
                assert source in AUTOFILL_SOURCES, (template.name, key, source)
            for target in cfg.response_mapping(key).values():
                known = DEVICE_RESPONSE_TARGETS if key == DEVICE_AUTHORIZATION else RESPONSE_TARGETS
                assert target in known, (template.name, key, target)


def test_google_mail(catalog):
    cfg = catalog.require(GOOGLE).new_configuration("g")
    assert cfg.authorization_url == "https://accounts.google.com/o/oauth2/v2/auth"
    assert cfg.token_url == cfg.refresh_url == "https://oauth2.googleapis.com/token"
    assert cfg.revocation_url == "https://oauth2.googleapis.com/revoke"
    assert cfg.static_parameters(AUTHORIZATION_CODE) == {
        "access_type": "offline", "response_type": "code", "prompt": "consent"}
    assert cfg.scope == "https://mail.google.com/"
    assert cfg.browser_mode == BROWSER_SYSTEM  # Google refuses embedded browsers
    assert cfg.notify_on_expired_token is False and cfg.notify_on_expired_refresh_token is True
    assert cfg.auth_flow == FLOW_AUTHORIZATION_CODE
    assert cfg.pkce_enabled is True
    assert "scope" not in cfg.autofilled_parameters(TOKEN_BY_AUTHORIZATION_CODE)
    assert cfg.refresh_token_lifetime_rolling is False


def test_microsoft_exchange_online(catalog):
    cfg = catalog.require(MICROSOFT).new_configuration("m")
    base = "https://login.microsoftonline.com/common/oauth2/v2.0"
    assert cfg.authorization_url == f"{base}/authorize"
    assert cfg.token_url == cfg.refresh_url == f"{base}/token"
    assert cfg.static_parameters(AUTHORIZATION_CODE) == {
        "response_mode": "query", "response_type": "code", "prompt": "select_account"}
    scopes = cfg.scope.split()
    assert "offline_access" in scopes  # or Microsoft returns no refresh token
    assert {"https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/POP.AccessAsUser.All",
            "https://outlook.office.com/SMTP.Send"} <= set(scopes)
    # token requests also send the scope
    assert cfg.autofilled_parameters(TOKEN_BY_AUTHORIZATION_CODE)["scope"] == "Scope"
    assert cfg.autofilled_parameters(TOKEN_BY_REFRESH_TOKEN)["scope"] == "Scope"
    assert cfg.refresh_token_lifetime_days == 90
    assert cfg.refresh_token_lifetime_rolling is True
    assert cfg.response_mapping(TOKEN_BY_REFRESH_TOKEN)["error_codes"] == "ErrorCode"
    assert cfg.notify_on_expired_token is False and cfg.notify_on_expired_refresh_token is True
    assert cfg.browser_mode == BROWSER_EMBEDDED
    assert cfg.revocation_url == ""  # Microsoft has no RFC 7009 endpoint


def test_microsoft_client_credentials(catalog):
    cfg = catalog.require(MICROSOFT_CC).new_configuration("cc")
    assert cfg.auth_flow == FLOW_CLIENT_CREDENTIALS
    assert set(cfg.config["Requests"]) == {TOKEN_BY_CLIENT_CREDENTIALS}
    assert cfg.endpoints_in_use() == {TOKEN_BY_CLIENT_CREDENTIALS: cfg.client_credentials_url}
    assert cfg.client_credentials_url.startswith("https://login.microsoftonline.com/")
    assert cfg.client_credentials_url.endswith("/oauth2/v2.0/token")
    assert cfg.scope == "https://outlook.office.com/.default"
    assert cfg.static_parameters(TOKEN_BY_CLIENT_CREDENTIALS) == {"grant_type": "client_credentials"}
    assert cfg.authorization_url == "" and cfg.token_url == "" and cfg.refresh_url == ""


def test_generic_openid_connect_offers_discovery(catalog):
    template = catalog.require(OIDC)
    assert template.discovery is True
    cfg = template.new_configuration("o")
    assert "openid" in cfg.scope.split()
    assert cfg.authorization_url == "" and cfg.token_url == ""


def test_generic_oauth2_has_empty_endpoints_and_no_discovery(catalog):
    template = catalog.require(GENERIC)
    assert template.discovery is False
    cfg = template.new_configuration("g")
    empty = {AUTHORIZATION_CODE: "", TOKEN_BY_AUTHORIZATION_CODE: "", TOKEN_BY_REFRESH_TOKEN: ""}
    assert cfg.endpoints_in_use() == empty


@pytest.mark.parametrize("name", [GOOGLE, MICROSOFT])
def test_provider_templates_need_only_a_name_and_client_id(catalog, name):
    cfg = catalog.require(name).new_configuration("Ready")
    cfg.client_id = "client"
    assert validate_configuration(cfg, existing_names=set()) == []


def test_client_credentials_template_needs_the_tenant_in_its_endpoint(catalog):
    cfg = catalog.require(MICROSOFT_CC).new_configuration("Ready")
    cfg.client_id = "client"
    errors = validate_configuration(cfg, existing_names=set())
    assert [e.field for e in errors] == ["Token endpoint (client credentials)"]
    assert "TENANT-ID" in errors[0].message and "tenant" in errors[0].message
    cfg.set_endpoint("TokenByClientCredentials", cfg.client_credentials_url.replace("TENANT-ID", "contoso.com"))
    assert validate_configuration(cfg, existing_names=set()) == []


def test_new_configuration_is_a_copy_without_a_secret(catalog, tmp_path):
    path = tmp_path / "leaky.yml"
    path.write_text(NEW_PROVIDER.replace("  ClientID: ''", "  ClientID: ''\n  ClientSecret: shipped-secret"))
    template = load_template_file(path)
    cfg = template.new_configuration("Mine")
    assert "ClientSecret" not in cfg.config
    assert cfg.template_name == "Example IdP" and cfg.name == "Mine"
    cfg.set_endpoint(AUTHORIZATION_CODE, "https://changed.example/")
    cfg.scope = "changed"
    assert template.config["Requests"][AUTHORIZATION_CODE]["Request"]["URL"] == "https://idp.example.org/authorize"
    assert template.config["Scope"] == "openid offline_access"


def test_lookup_by_name_case_or_file_stem(catalog):
    assert catalog.get("google mail").name == GOOGLE
    assert catalog.get("microsoft_exchange_online_client_credentials").name == MICROSOFT_CC
    assert catalog.get("Yahoo") is None
    with pytest.raises(TemplateError) as info:
        catalog.require("Yahoo")
    message = str(info.value)
    assert message.startswith("unknown template 'Yahoo' (known templates: ")
    for name in BUILT_IN:
        assert name in message


# ---- the admin's own template directory


def _write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def test_broken_template_files_are_reported_and_skipped(tmp_path, monkeypatch):
    extra = tmp_path / "templates"
    _write(extra, {
        "syntax.yml": "Name: Broken\nConfig: {Requests: [unclosed\n",
        "list.yaml": "- Name: A list\n",
        "noname.yml": "Description: no name\nConfig: {}\n",
        "noconfig.yml": "Name: No config\nConfig: just text\n",
        "badrequests.yml": "Name: Bad requests\nConfig:\n  Requests: [1, 2]\n",
        "notes.txt": "not a template, not even looked at",
    })
    (extra / "binary.yml").write_bytes(b"\xff\xfe\x00garbage")
    monkeypatch.setenv("TOKENDESK_TEMPLATES", str(extra))
    catalog = load_templates()
    assert set(catalog.names()) == BUILT_IN  # the built-ins still work
    problems = "\n".join(catalog.problems)
    assert len(catalog.problems) == 6, problems
    assert "syntax.yml: cannot be read as YAML" in problems
    assert "binary.yml: cannot be read as YAML" in problems
    assert "list.yaml: a template must be a YAML mapping with Name and Config" in problems
    assert "noname.yml: 'Name' is missing or empty" in problems
    assert "noconfig.yml: 'Config' must be a mapping" in problems
    assert "badrequests.yml: 'Config.Requests' must be a mapping" in problems
    assert "notes.txt" not in problems


def test_a_new_provider_file_appears_without_code(tmp_path, monkeypatch, ctx):
    extra = tmp_path / "templates"
    _write(extra, {"example_idp.yml": NEW_PROVIDER})
    monkeypatch.setenv("TOKENDESK_TEMPLATES", str(extra))
    catalog = load_templates()
    assert catalog.problems == []
    template = catalog.require("Example IdP")
    assert template.discovery is True
    assert template.path == extra / "example_idp.yml"
    cfg = template.new_configuration("Via new template")
    cfg.client_id = "abc"
    assert cfg.authorization_url == "https://idp.example.org/authorize"
    assert cfg.auth_flow == FLOW_AUTHORIZATION_CODE
    # the whole app sees it: the service saves a configuration made from it
    saved = ctx.configurations.add(cfg, "s")
    assert ctx.store.get("Via new template").template_name == "Example IdP" == saved.template_name


def test_an_extra_directory_overrides_a_built_in_of_the_same_name(tmp_path, monkeypatch):
    extra = tmp_path / "templates"
    _write(extra, {"my_google.yml": NEW_PROVIDER.replace("Name: Example IdP", f"Name: {GOOGLE}")})
    monkeypatch.setenv("TOKENDESK_TEMPLATES", str(extra))
    catalog = load_templates()
    assert catalog.names().count(GOOGLE) == 1
    assert catalog.require(GOOGLE).path == extra / "my_google.yml"


def test_templates_in_the_data_directory_are_found(tokendesk_home, monkeypatch):
    monkeypatch.delenv("TOKENDESK_TEMPLATES", raising=False)
    _write(tokendesk_home / "provider_templates", {"idp.yml": NEW_PROVIDER})
    assert "Example IdP" in load_templates().names()
