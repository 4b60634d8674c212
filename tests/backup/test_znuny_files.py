"""Znuny 6.x and 7.x exports import as they are, and come out again with their unknown keys."""

from __future__ import annotations

import yaml

from desktop.backup import Action, apply_import, export_configurations, plan_import, read_import_file
from desktop.store.secrets import CLIENT_SECRET


def test_znuny7_export_imports_as_it_is(ctx, fixtures_dir):
    parsed = read_import_file(fixtures_dir / "znuny7_export.yml", ctx.templates)
    plan = plan_import(ctx, parsed)
    assert plan.ok, plan.report_lines()
    assert [(p.name, p.action) for p in plan.records] == [
        ("Exchange Online support mailbox", Action.NEW),
        ("Exchange app-only", Action.NEW),
        ("Gmail helpdesk", Action.NEW),
    ]
    # "Google" and "... (Client Credentials)" are Znuny's template names, not installed here: a note, not a block
    gmail = plan.records[2]
    assert any("template 'Google' is not installed here" in n for n in gmail.notes)

    summary = apply_import(ctx, plan)
    assert summary.added == ["Exchange Online support mailbox", "Exchange app-only", "Gmail helpdesk"]
    assert summary.secrets_stored == 3 and summary.without_secret == []

    mail = ctx.store.get("Exchange Online support mailbox")
    assert mail.template_name == "Microsoft Exchange Online"
    assert mail.valid_id == 1
    assert mail.create_time == "2023-11-02 16:40:07"  # a YAML timestamp in the file, kept as Znuny's text
    assert mail.create_by == 1 and mail.change_by == 2
    assert mail.scope.endswith("https://outlook.office.com/SMTP.Send offline_access")  # folded line joined
    assert "ClientSecret" not in mail.config  # the secret is in the keyring, not the database
    assert mail.has_client_secret
    assert ctx.secrets.get_for(mail.id, CLIENT_SECRET) == "made-up-microsoft-secret~1"

    app_only = ctx.store.get("Exchange app-only")
    assert app_only.auth_flow == "ClientCredentials" and app_only.valid_id == 2
    assert app_only.client_credentials_url.startswith("https://login.microsoftonline.com/3f2504e0")


def test_znuny6_export_with_quoted_numbers_and_unknown_keys(ctx, fixtures_dir):
    parsed = read_import_file(fixtures_dir / "znuny6_export.yml", ctx.templates)
    plan = plan_import(ctx, parsed)
    assert plan.ok, plan.report_lines()
    apply_import(ctx, plan)
    cfg = ctx.store.get("Contoso IMAP")
    assert cfg.auth_flow == "AuthorizationCode"  # absent in 6.x
    assert cfg.valid_id == 1 and cfg.create_by == 1  # '1' in the file
    assert cfg.notify_on_expired_refresh_token is True and cfg.notify_on_expired_token is False
    assert cfg.config["SomeLaterZnunyKey"] == {"Enabled": 1}

    exported = yaml.safe_load(export_configurations(ctx).text)
    assert exported[0]["Config"]["SomeLaterZnunyKey"] == {"Enabled": 1}
    assert exported[0]["Config"]["Notifications"]["NotifyOnExpiredToken"] == "0"  # as stored: exactly as given


def test_znuny_export_reexports_and_imports_again_unchanged(ctx, fixtures_dir, tmp_path):
    from desktop.services import open_context
    from desktop.store.secrets import MemorySecrets

    apply_import(ctx, plan_import(ctx, read_import_file(fixtures_dir / "znuny7_export.yml", ctx.templates)))
    first = export_configurations(ctx, include_secrets=True).text
    other = open_context(tmp_path / "other.sqlite3", MemorySecrets())
    try:
        apply_import(other, plan_import(other, read_import_file_text(first, other)))
        second = export_configurations(other, include_secrets=True).text
    finally:
        other.close()
    assert _without_change_times(first) == _without_change_times(second)
    records = yaml.safe_load(second)
    original = yaml.safe_load((fixtures_dir / "znuny7_export.yml").read_text())
    by_name = {r["Name"]: r for r in records}
    for record in original:
        again = by_name[record["Name"]]
        assert again["Config"] == record["Config"]  # every key and value, the secret included
        assert again["ValidID"] == record["ValidID"]


def read_import_file_text(text, ctx):
    from desktop.backup import parse_import

    return parse_import(text, templates=ctx.templates)


def _without_change_times(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("ChangeTime:"))
