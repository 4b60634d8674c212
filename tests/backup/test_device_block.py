"""Requests.DeviceAuthorization (issue 12, point 6) in export and import: Znuny's request shape, kept as it is."""

from __future__ import annotations

import copy

import yaml

from desktop.backup import export_configurations, import_file
from desktop.models.config import DEVICE_AUTHORIZATION

TEMPLATE = "Microsoft Exchange Online (device code)"


def test_export_keeps_the_device_block_in_znunys_shape_and_import_reads_it_back(ctx, tmp_path):
    cfg = ctx.templates.require(TEMPLATE).new_configuration("Server over SSH")
    cfg.client_id = "11111111-2222-3333-4444-555555555555"
    ctx.configurations.add(cfg, None)
    [exported] = yaml.safe_load(export_configurations(ctx).text)
    block = exported["Config"]["Requests"][DEVICE_AUTHORIZATION]
    assert block == {
        "Request": {"URL": "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode", "Parameters": {},
                    "AutofilledParametersMapping": {"client_id": "ClientID", "scope": "Scope"}},
        "Response": {"ParametersMapping": {
            "device_code": "DeviceCode", "user_code": "UserCode", "verification_uri": "VerificationURI",
            "expires_in": "ExpiresIn", "interval": "Interval", "error": "ErrorMessage",
            "error_description": "ErrorDescription", "error_codes": "ErrorCode"}},
    }
    assert exported["Config"]["AuthFlow"] == "AuthorizationCode"  # what Znuny knows; it ignores the block
    exported["Name"] = "Server over SSH copy"
    path = tmp_path / "in.yml"
    path.write_text(yaml.safe_dump([exported]), encoding="utf-8")
    plan, summary = import_file(ctx, path)
    assert plan.ok and summary is not None
    assert not [str(p) for p in plan.problems]
    report = "\n".join(plan.report_lines())
    assert "DeviceAuthorization" not in report, report  # no "not used" or "unknown field" note for the block
    assert ctx.store.get("Server over SSH copy").request(DEVICE_AUTHORIZATION) == block


def test_an_unknown_name_in_the_device_mapping_is_kept_with_a_note(ctx, tmp_path):
    cfg = ctx.templates.require(TEMPLATE).new_configuration("Odd mapping")
    cfg.client_id = "11111111-2222-3333-4444-555555555555"
    record = {"Name": cfg.name, "ValidID": 1, "Config": copy.deepcopy(cfg.config)}
    record["Config"]["Requests"][DEVICE_AUTHORIZATION]["Response"]["ParametersMapping"]["message"] = "Message"
    path = tmp_path / "in.yml"
    path.write_text(yaml.safe_dump([record]), encoding="utf-8")
    plan, summary = import_file(ctx, path)
    assert plan.ok and summary is not None
    report = "\n".join(plan.report_lines())
    assert "DeviceAuthorization.Response.ParametersMapping" in report and "kept, ignored" in report, report
    stored = ctx.store.get(cfg.name).request(DEVICE_AUTHORIZATION)
    assert stored["Response"]["ParametersMapping"]["message"] == "Message"
