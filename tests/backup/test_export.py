"""Export: Znuny's shape and key order, secrets only when asked, never tokens, atomic private files."""

from __future__ import annotations

import os
import stat
from datetime import datetime

import pytest
import yaml

from desktop.backup import ExportError, default_export_filename, export_configurations, write_export
from desktop.backup.export import configuration_record
from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN


def test_records_have_znunys_keys_in_order(ctx, make_config):
    make_config("Support mailbox", secret="s3cret")
    text = export_configurations(ctx).text
    assert text.startswith("---\n- Name: Support mailbox\n  ValidID: 1\n  Config:\n    TemplateName: ")
    [record] = yaml.safe_load(text)
    assert list(record) == ["Name", "ValidID", "Config", "CreateTime", "ChangeTime"]  # no CreateBy: none known
    assert record["Config"]["Requests"]["TokenByAuthorizationCode"]["Request"]["URL"] == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    )
    assert isinstance(record["CreateTime"], str)  # quoted: a YAML loader must not turn it into a datetime


def test_all_selected_and_unknown_names(ctx, make_config):
    for name in ("b-second", "A-first", "c-third"):
        make_config(name)
    assert export_configurations(ctx).names == ["A-first", "b-second", "c-third"]
    result = export_configurations(ctx, ["c-third", "a-FIRST"])
    assert result.names == ["A-first", "c-third"]
    assert [r["Name"] for r in yaml.safe_load(result.text)] == ["A-first", "c-third"]
    with pytest.raises(ExportError, match="No configuration named 'nope', 'gone'; nothing was exported"):
        export_configurations(ctx, ["A-first", "nope", "gone"])


def test_no_configurations_is_an_empty_list(ctx):
    result = export_configurations(ctx)
    assert result.text == "--- []\n" and yaml.safe_load(result.text) == []
    assert result.summary() == "Exported 0 configurations without client secrets."


def test_client_secret_only_when_asked_and_tokens_never(ctx, make_config, memory_keyring):
    cfg = make_config("Support mailbox", secret="the-client-secret")
    ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, "the-access-token")
    ctx.secrets.set_for(cfg.id, REFRESH_TOKEN, "the-refresh-token")
    make_config("Public client", secret=None)

    plain = export_configurations(ctx)
    assert "the-client-secret" not in plain.text
    assert all("ClientSecret" not in r["Config"] for r in yaml.safe_load(plain.text))
    assert not plain.has_secrets

    with_secrets = export_configurations(ctx, include_secrets=True)
    records = {r["Name"]: r for r in yaml.safe_load(with_secrets.text)}
    config = records["Support mailbox"]["Config"]
    assert config["ClientSecret"] == "the-client-secret"
    assert list(config).index("ClientSecret") == list(config).index("ClientID") + 1  # where Znuny puts it
    assert "ClientSecret" not in records["Public client"]["Config"]
    assert with_secrets.secrets_included == ["Support mailbox"]
    assert with_secrets.secrets_missing == ["Public client"]
    assert with_secrets.summary() == (
        "Exported 2 configurations with 1 client secret. No client secret is stored for: 'Public client'."
    )
    for text in (plain.text, with_secrets.text):
        assert "the-access-token" not in text and "the-refresh-token" not in text


def test_unreadable_keyring_fails_the_export_with_secrets(ctx, make_config, memory_keyring, monkeypatch):
    from desktop.services import open_context

    make_config("Support mailbox", secret="s3cret")

    def broken(*_args):
        raise RuntimeError("Prompt dismissed: the collection is locked")

    monkeypatch.setattr(memory_keyring, "get_password", broken)
    other = open_context()  # another process: it must read the vault's key from the keyring
    try:
        with pytest.raises(ExportError, match="client secrets could not be read .*the keyring is locked"):
            export_configurations(other, include_secrets=True)
        assert "Support mailbox" in export_configurations(other).text  # without secrets no key is needed
    finally:
        other.close()


def test_unknown_keys_are_exported_again(ctx, make_config):
    cfg = make_config("Support mailbox")
    cfg.config["FutureZnunyKey"] = {"Nested": [1, "two", None]}
    cfg.extra = {"UUID": "1234-5678", "AnotherTopLevel": 3}
    record = configuration_record(cfg)
    assert list(record)[-2:] == ["AnotherTopLevel", "UUID"]
    assert record["Config"]["FutureZnunyKey"] == {"Nested": [1, "two", None]}


def test_same_data_same_bytes(ctx, make_config):
    for i in range(5):
        make_config(f"cfg {i}", secret=f"secret {i}")
    first = export_configurations(ctx, include_secrets=True).text
    second = export_configurations(ctx, include_secrets=True).text
    assert first == second


def test_default_file_name_is_znunys():
    assert default_export_filename(datetime(2024, 5, 31, 14, 5, 9)) == (
        "OAuth2TokenConfigurationExport_20240531_140509.yml"
    )


def test_write_is_atomic_and_private_with_secrets(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "export.yml"
    target.write_text("old content")
    target.chmod(0o644)
    write_export(target, "---\n- Name: x\n", private=True)
    assert target.read_text() == "---\n- Name: x\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(folder) == ["export.yml"]  # no temporary file left behind

    public = tmp_path / "public.yml"
    old_umask = os.umask(0o022)
    try:
        write_export(public, "--- []\n", private=False)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(public.stat().st_mode) == 0o644


def test_write_errors_say_what_happened(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        write_export(tmp_path / "missing-folder" / "x.yml", "x", private=False)
    with pytest.raises(ExportError, match="is a folder"):
        write_export(tmp_path, "x", private=False)
def test_unwritable_folder(tmp_path, monkeypatch):
    import tempfile

    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # root may write anywhere; simulate a read-only folder
    with pytest.raises(ExportError, match=r"Cannot write in .* \(Permission denied\); choose another folder"):
        write_export(tmp_path / "x.yml", "x", private=False)
    assert not (tmp_path / "x.yml").exists()


def test_exported_client_secrets_do_not_stay_in_the_writers_cache(ctx, make_config):
    from desktop.backup.yamlio import writer

    make_config("Cached", secret="cache-me-not-0000")
    text = export_configurations(ctx, include_secrets=True).text
    assert "cache-me-not-0000" in text
    assert "cache-me-not-0000" not in writer._scalar_cache
