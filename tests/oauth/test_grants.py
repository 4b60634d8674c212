"""Grants as data (issue 12): the descriptors, and no grant-kind comparison outside them and their drivers."""

from __future__ import annotations

import ast
from pathlib import Path

from desktop.models.config import TokenConfiguration
from desktop.models.grants import (
    AUTHORIZATION_CODE_GRANT,
    CLIENT_CREDENTIALS_GRANT,
    DEVICE_GRANT,
    REFRESH_TOKEN_GRANT,
    auth_flow_problem,
    grant_for,
    renewal_for,
    sign_in_grants,
)
from desktop.oauth.grant_drivers import DRIVERS, driver_for

ROOT = Path(__file__).resolve().parents[2] / "desktop"
ALLOWED = {ROOT / "models" / "grants.py", ROOT / "models" / "config.py"}
ALLOWED_DIRS = {ROOT / "oauth" / "grant_drivers"}
FLOW_WORDS = {"AuthorizationCode", "ClientCredentials"}


def _config(flow: str | None = None, device: bool = False) -> TokenConfiguration:
    config: dict = {"Requests": {}}
    if flow:
        config["AuthFlow"] = flow
    if device:
        config["Requests"]["DeviceAuthorization"] = {"Request": {"URL": "https://idp.example/device"}}
    return TokenConfiguration(name="x", config=config)


def test_each_configuration_gets_its_grants_from_the_descriptors():
    assert grant_for(_config()) is AUTHORIZATION_CODE_GRANT
    assert grant_for(_config("ClientCredentials")) is CLIENT_CREDENTIALS_GRANT
    assert renewal_for(_config()) is REFRESH_TOKEN_GRANT
    assert renewal_for(_config("ClientCredentials")) is CLIENT_CREDENTIALS_GRANT
    assert sign_in_grants(_config()) == (AUTHORIZATION_CODE_GRANT,)
    assert sign_in_grants(_config(device=True)) == (AUTHORIZATION_CODE_GRANT, DEVICE_GRANT)
    # the device block works whatever the AuthFlow
    assert sign_in_grants(_config("ClientCredentials", device=True)) == (DEVICE_GRANT,)
    assert auth_flow_problem(_config("Implicit")) == "must be AuthorizationCode or ClientCredentials, not 'Implicit'"
    assert "DeviceAuthorization" in _config(device=True).endpoints_in_use()


def test_every_grant_has_a_driver():
    for grant in (AUTHORIZATION_CODE_GRANT, CLIENT_CREDENTIALS_GRANT, REFRESH_TOKEN_GRANT, DEVICE_GRANT):
        assert driver_for(grant).GRANT is grant
    assert set(DRIVERS) == {"authorization_code", "client_credentials", "refresh_token", "device_code"}


def _offences(path: Path) -> list[str]:
    """``.auth_flow`` or an ``AuthFlow``/``FLOW_*`` value in a comparison, an ``in`` test or a match."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def grant_words(node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and sub.attr == "auth_flow":
                return True
            if isinstance(sub, ast.Name) and sub.id.startswith("FLOW_"):
                return True
            if isinstance(sub, ast.Constant) and sub.value in FLOW_WORDS:
                return True
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and grant_words(node):
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
        elif isinstance(node, ast.Match) and grant_words(node.subject):
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and any(a.name.startswith("FLOW_") for a in node.names):
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} imports {[a.name for a in node.names]}")
    return found


def test_no_grant_kind_comparison_outside_the_descriptors_and_drivers():
    offences = []
    for path in sorted(ROOT.rglob("*.py")):
        if path in ALLOWED or any(d in path.parents for d in ALLOWED_DIRS):
            continue
        offences += _offences(path)
    assert offences == []


def test_the_check_finds_a_comparison(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("if cfg.auth_flow == FLOW_CLIENT_CREDENTIALS:\n    pass\nx = flow in ('ClientCredentials',)\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path  # noqa: PLW0603 - paths are shown relative to ROOT's parent
    try:
        assert len(_offences(sample)) == 2
    finally:
        ROOT = saved
