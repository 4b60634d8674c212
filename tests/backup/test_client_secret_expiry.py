"""Config.Tokendesk.ClientSecretExpires in export and import (issue 13, point 1)."""

from __future__ import annotations

import copy
from datetime import date

import yaml

from desktop.backup import export_configurations, import_file


def record(ctx, name: str, expires: str) -> dict:
    cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration(name)
    cfg.client_id = f"id-{name}"
    cfg.set_client_secret_expires_text(expires)
    return {"Name": name, "ValidID": 1, "Config": copy.deepcopy(cfg.config)}


def test_export_writes_the_day_and_import_reads_it_back(ctx, make_config, tmp_path):
    cfg = make_config("Helpdesk")
    cfg = ctx.store.get("Helpdesk")
    cfg.client_secret_expires = date(2027, 5, 31)
    ctx.configurations.update(cfg, None)
    [exported] = yaml.safe_load(export_configurations(ctx).text)
    assert exported["Config"]["Tokendesk"]["ClientSecretExpires"] == "2027-05-31"
    exported["Name"] = "Helpdesk copy"
    path = tmp_path / "in.yml"
    path.write_text(yaml.safe_dump([exported]), encoding="utf-8")
    plan, summary = import_file(ctx, path)
    assert plan.ok and summary is not None
    assert ctx.store.get("Helpdesk copy").client_secret_expires == date(2027, 5, 31)


def test_import_of_a_day_that_is_no_date_is_refused_and_names_the_field(ctx, tmp_path):
    path = tmp_path / "in.yml"
    path.write_text(yaml.safe_dump([record(ctx, "Good", "2027-01-01"), record(ctx, "Bad", "31/12/2027")]),
                    encoding="utf-8")
    plan, summary = import_file(ctx, path)
    assert summary is None and not plan.ok
    problems = [str(p) for p in plan.problems]
    assert any("Bad" in p and "Client secret expires" in p and "2027-05-31" in p for p in problems), problems
    assert [c.name for c, _ in ctx.store.list_with_state()] == []
