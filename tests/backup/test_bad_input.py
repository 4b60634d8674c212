"""Every bad input of issue 5 gets a message naming the record and the field, and changes nothing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from desktop.backup import (
    MAX_FILE_BYTES,
    ImportBlocked,
    PlanChanged,
    apply_import,
    import_file,
    parse_import,
    plan_import,
    read_import_file,
)
from desktop.store.secrets import CLIENT_SECRET, SecretStoreError


def good_record(ctx, name: str = "Imported", template: str = "Microsoft Exchange Online") -> dict[str, Any]:
    cfg = ctx.templates.require(template).new_configuration(name)
    cfg.client_id = f"id-{name}"
    return {"Name": name, "ValidID": 1, "Config": copy.deepcopy(cfg.config)}


def dump(records: Any) -> str:
    return yaml.safe_dump(records, sort_keys=False)


@pytest.fixture
def existing(make_config):
    """One stored configuration (with a secret) that a bad import must leave alone."""
    return make_config("Existing", secret="existing-secret")


def assert_refused(ctx, state, tmp_path: Path, data: bytes | str, *expected: str) -> list[str]:
    """Import with overwrite: refused, each expected text in one problem, nothing changed."""
    before = state()
    path = tmp_path / "bad.yml"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    plan, summary = import_file(ctx, path, overwrite=True)
    assert summary is None and not plan.ok
    problems = [str(p) for p in plan.problems]
    for text in expected:
        assert any(text in p for p in problems), (text, problems)
    with pytest.raises(ImportBlocked):
        apply_import(ctx, plan)
    assert state() == before
    return problems


# ---- the file as a whole
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Name: [unclosed\n", "not valid YAML at line 2"),
        ("- Name: a\n  Config: {x: 1\n", "not valid YAML"),
        ("\tName: tab-indented\n", "not valid YAML at line 1"),
        ("just a sentence, not a backup\n", "contains text, not a list of token configurations"),
        ("42\n", "contains a single int value"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        (b"\xff\xd8\xff\xe0 JFIF-ish \xfa\xfb", "not UTF-8 text"),
        (b"", "The file is empty"),
        ("   \n# only a comment\n", "The file is empty"),
        ("---\n...\n", "The file is empty"),
        ("Support: {TemplateName: x}\nOther: {TemplateName: y}\n", "mapping (keys Support, Other) without Name"),
        ("- !!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
    ],
)
def test_file_level_problems(ctx, state, existing, tmp_path, data, expected):
    problems = assert_refused(ctx, state, tmp_path, data, expected)
    assert len(problems) == 1


def test_alias_bomb_is_refused(ctx, state, existing, tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    assert_refused(ctx, state, tmp_path, "\n".join(lines) + "\n", "would expand to more than 4,000,000 values",
                   "Nothing was imported")


def test_merge_key_bomb_is_refused(ctx, state, existing, tmp_path):
    lines = ["- &a {k0: v, k1: v}"]
    names = ["a"]
    for i in range(1, 26):
        name = f"m{i}"
        lines.append(f"- &{name} {{<<: [*{names[-1]}, *{names[-1]}, *{names[-1]}], x{i}: v}}")
        names.append(name)
    assert_refused(ctx, state, tmp_path, "\n".join(lines) + "\n", "would expand to more than 4,000,000 values",
                   "Nothing was imported")


def test_recursive_alias_is_refused(ctx, state, existing, tmp_path):
    assert_refused(ctx, state, tmp_path, "- &r {Name: loop, Config: *r}\n", "recursive")


def test_small_aliases_are_fine(ctx, state, tmp_path):
    # anchors and merge keys written by hand are normal YAML: allowed while small
    record = good_record(ctx, "Anchored")
    text = dump([record]).replace("- Name: Anchored\n", "- &first\n  Name: Anchored\n", 1)
    text += "- <<: *first\n  Name: Anchored copy\n"
    parsed = parse_import(text, templates=ctx.templates)
    assert parsed.ok, [str(p) for r in parsed.records for p in r.problems]
    assert [r.name for r in parsed.records] == ["Anchored", "Anchored copy"]


def test_file_over_the_size_limit_is_refused_before_reading(ctx, state, existing, tmp_path):
    path = tmp_path / "huge.yml"
    with path.open("wb") as fh:  # sparse: no 32 MiB written
        fh.truncate(MAX_FILE_BYTES + 1)
    before = state()
    plan, summary = import_file(ctx, path, overwrite=True)
    assert summary is None
    [problem] = plan.problems
    assert "larger than 32 MiB are refused" in str(problem)
    assert state() == before


def test_text_over_the_size_limit_is_refused():
    parsed = parse_import(b"#" * (MAX_FILE_BYTES + 1))
    assert "larger than 32 MiB" in str(parsed.problems[0])


def test_missing_or_unreadable_file(ctx, tmp_path):
    plan, _ = import_file(ctx, tmp_path / "nope.yml")
    assert "does not exist" in str(plan.problems[0])
    plan, _ = import_file(ctx, tmp_path)
    assert "is a folder" in str(plan.problems[0])


# ---- single records
class _Delete:
    pass


_DELETE = _Delete()


def _date():
    import datetime

    return datetime.date(2024, 1, 1)


def _mutations() -> list[tuple[str, Any, str, str]]:
    """(id, mutate(record) -> record, field path, message part)."""

    def setter(path: str, value: Any):
        def mutate(record):
            target = record
            keys = path.split(".")
            for key in keys[:-1]:
                target = target[key]
            if value is _DELETE:
                del target[keys[-1]]
            else:
                target[keys[-1]] = value
            return record

        return mutate

    token_url = "Config.Requests.TokenByAuthorizationCode.Request.URL"
    return [
        ("name-number", setter("Name", 2024), "Name", "must be text, not a number"),
        ("name-missing", setter("Name", _DELETE), "Name", "is missing"),
        ("name-spaces", setter("Name", " padded "), "Name", "must not start or end with spaces"),
        ("name-control", setter("Name", "bell\x07"), "Name", "control characters"),
        ("validid-text", setter("ValidID", "valid"), "ValidID", "must be 1 (valid), 2 (invalid) or 3"),
        ("validid-range", setter("ValidID", 7), "ValidID", "not 7"),
        ("validid-bool", setter("ValidID", True), "ValidID", "must be 1"),
        ("config-missing", setter("Config", _DELETE), "Config", "is missing"),
        ("config-text", setter("Config", "TemplateName=x"), "Config", "must be a mapping, not text"),
        ("template-missing", setter("Config.TemplateName", _DELETE), "Config.TemplateName", "is missing"),
        ("template-list", setter("Config.TemplateName", ["a"]), "Config.TemplateName", "must be text, not a list"),
        ("clientid-missing", setter("Config.ClientID", _DELETE), "Config.ClientID", "is missing"),
        ("clientid-mapping", setter("Config.ClientID", {"a": 1}), "Config.ClientID", "must be text, not a mapping"),
        ("scope-list", setter("Config.Scope", ["a", "b"]), "Config.Scope", "must be text, not a list"),
        ("authflow", setter("Config.AuthFlow", "Implicit"), "Config.AuthFlow", "must be AuthorizationCode"),
        ("requests-list", setter("Config.Requests", ["x"]), "Config.Requests", "must be a mapping, not a list"),
        ("request-text", setter("Config.Requests.TokenByRefreshToken", "x"),
         "Config.Requests.TokenByRefreshToken", "must be a mapping with Request and Response"),
        ("url-number", setter(token_url, 443), token_url, "must be text, not a number"),
        ("url-missing", setter(token_url, _DELETE), token_url, "is required"),
        ("url-http", setter(token_url, "http://login.example.com/token"), token_url, "must use https"),
        ("url-ftp", setter(token_url, "ftp://login.example.com/token"), token_url, "must start with https://"),
        ("url-garbage", setter(token_url, "not a url"), token_url, "must not contain spaces"),
        ("url-nohost", setter(token_url, "https:///token"), token_url, "has no host name"),
        ("url-port", setter(token_url, "https://example.com:99999/t"), token_url, "is not a valid URL"),
        ("unused-url-http", setter("Config.Requests.TokenRevocation", {"Request": {"URL": "http://x.example/r"}}),
         "Config.Requests.TokenRevocation.Request.URL", "must use https"),
        ("params-list", setter("Config.Requests.AuthorizationCode.Request.Parameters.prompt", ["a"]),
         "Config.Requests.AuthorizationCode.Request.Parameters.prompt", "must be a single value"),
        ("autofill-number", setter("Config.Requests.AuthorizationCode.Request.AutofilledParametersMapping.scope", 1),
         "Config.Requests.AuthorizationCode.Request.AutofilledParametersMapping.scope", "must name a value"),
        ("notify-text", setter("Config.Notifications.NotifyOnExpiredToken", "sometimes"),
         "Config.Notifications.NotifyOnExpiredToken", "must be 0 or 1"),
        ("notify-lead", setter("Config.Notifications.NotificationLeadTimeMinutes", -5),
         "Config.Notifications.NotificationLeadTimeMinutes", "whole number"),
        ("browser", setter("Config.Tokendesk.Browser", "lynx"), "Config.Tokendesk.Browser",
         "must be embedded or system"),
        ("client-auth", setter("Config.Tokendesk.ClientAuthentication", "private_key_jwt"),
         "Config.Tokendesk.ClientAuthentication", "must be client_secret_post or client_secret_basic"),
        ("redirect-http", setter("Config.Tokendesk.RedirectURL", "http://example.com/cb"),
         "Config.Tokendesk.RedirectURL", "must use https"),
        ("date-value", setter("Config.Requests.AuthorizationCode.Request.Parameters.since", _date()),
         "Config.Requests.AuthorizationCode.Request.Parameters.since", "is a date"),
        ("createtime", setter("CreateTime", "last tuesday"), "CreateTime", "must be a date and time"),
        ("createby", setter("CreateBy", "admin"), "CreateBy", "must be a user id"),
    ]


MUTATIONS = _mutations()


@pytest.mark.parametrize(("mutation_id", "mutate", "field", "message"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_record_problems_name_record_and_field(ctx, state, existing, tmp_path, mutation_id, mutate, field, message):
    records = [good_record(ctx, "First fine"), mutate(good_record(ctx, "Broken one")), good_record(ctx, "Existing")]
    problems = assert_refused(ctx, state, tmp_path, dump(records), field, message)
    name_part = "record 2 'Broken one'" if mutation_id not in ("name-missing",) else "record 2 (no Name)"
    if mutation_id == "name-number":
        name_part = "record 2 '2024'"
    if mutation_id == "name-spaces":
        name_part = "record 2 ' padded '"
    if mutation_id == "name-control":
        name_part = "record 2 'bell"
    assert any(name_part in p and field in p and message in p for p in problems), (mutation_id, problems)
    # only the broken record is invalid: the others are planned normally (and still not applied)
    plan = plan_import(ctx, parse_import(dump(records), templates=ctx.templates), overwrite=True)
    assert [p.action.value for p in plan.records] == ["new", "invalid", "overwrites"]


def test_record_that_is_not_a_mapping(ctx, state, existing, tmp_path):
    assert_refused(ctx, state, tmp_path, dump([good_record(ctx), "just text"]),
                   "record 2 (no Name): must be a mapping with Name and Config, not text")


def test_non_text_keys(ctx, state, existing, tmp_path):
    text = dump([good_record(ctx, "Keys")]).replace("    ClientID:", "    7: seven\n    ClientID:", 1)
    assert_refused(ctx, state, tmp_path, text, "record 1 'Keys': Config.7: the key is a number")


def test_deeply_nested_values(ctx, state, existing, tmp_path):
    record = good_record(ctx, "Deep")
    deep: Any = "bottom"
    for _ in range(40):
        deep = {"down": deep}
    record["Config"]["Extra"] = deep
    assert_refused(ctx, state, tmp_path, dump([record]), "record 1 'Deep': Config.Extra" + ".down" * 31,
                   "is nested more than 32 levels deep")


def test_duplicate_names_in_the_file(ctx, state, existing, tmp_path):
    records = [good_record(ctx, "Twice"), good_record(ctx, "Other"), good_record(ctx, "twice")]
    problems = assert_refused(ctx, state, tmp_path, dump(records),
                              "record 1 'Twice': Name: 'Twice' occurs 2 times in the file (records 1, 3)",
                              "record 3 'twice': Name: 'twice' occurs 2 times in the file (records 1, 3)")
    assert not any("'Other'" in p for p in problems)


def test_unknown_template_without_its_own_endpoints(ctx, state, existing, tmp_path):
    record = good_record(ctx, "Custom provider")
    record["Config"]["TemplateName"] = "Some Znuny Template"
    del record["Config"]["Requests"]
    assert_refused(ctx, state, tmp_path, dump([record]),
                   "record 1 'Custom provider': Config.Requests.AuthorizationCode.Request.URL "
                   "(Authorization endpoint): is required")
    plan = plan_import(ctx, parse_import(dump([record]), templates=ctx.templates))
    assert any("template 'Some Znuny Template' is not installed here" in n for n in plan.records[0].notes)


def test_unknown_template_with_its_endpoints_is_accepted(ctx):
    record = good_record(ctx, "Custom provider")
    record["Config"]["TemplateName"] = "Some Znuny Template"
    plan = plan_import(ctx, parse_import(dump([record]), templates=ctx.templates))
    assert plan.ok
    assert plan.records[0].action.value == "new"


def test_secrets_never_appear_in_problems(ctx, tmp_path):
    record = good_record(ctx, "Leaky")
    record["Config"]["ClientSecret"] = ["super-secret-value"]
    other = good_record(ctx, "Also broken")
    other["Config"]["ClientSecret"] = "another-secret-value"
    other["ValidID"] = 9
    parsed = parse_import(dump([record, other]), templates=ctx.templates)
    report = "\n".join(plan_import(ctx, parsed).report_lines())
    assert "Config.ClientSecret (Client secret): must be text, not a list" in report
    assert "secret-value" not in report
    assert "secret-value" not in repr(parsed)


def test_a_failure_midway_rolls_everything_back(ctx, state, make_config, monkeypatch):
    """Rows and client secrets are one transaction: a failure at the third secret leaves nothing behind."""
    make_config("Existing", secret="old-secret")
    records = [good_record(ctx, "Existing"), good_record(ctx, "New one"), good_record(ctx, "New two")]
    for i, record in enumerate(records):
        record["Config"]["ClientSecret"] = f"file-secret-{i}"
    plan = plan_import(ctx, parse_import(dump(records), templates=ctx.templates), overwrite=True)
    assert plan.ok
    before = state()
    calls = {"n": 0}
    real_set = ctx.secrets.set_for

    def flaky_set(config_id, kind, value):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SecretStoreError("the disk is full (simulated)")
        real_set(config_id, kind, value)

    monkeypatch.setattr(ctx.secrets, "set_for", flaky_set)
    with pytest.raises(SecretStoreError):
        apply_import(ctx, plan)
    assert calls["n"] == 3
    assert state() == before  # rows and sealed secrets rolled back together
    existing = ctx.store.get("Existing")
    assert ctx.secrets.get_for(existing.id, CLIENT_SECRET) == "old-secret"


def test_store_changed_since_the_preview(ctx, state, make_config):
    plan = plan_import(ctx, parse_import(dump([good_record(ctx, "Late")]), templates=ctx.templates))
    assert plan.records[0].action.value == "new"
    make_config("Late")  # another window adds the same name meanwhile
    before = state()
    with pytest.raises(PlanChanged, match="changed since the preview"):
        apply_import(ctx, plan)
    assert state() == before


def test_read_import_file_reports_the_path(ctx, tmp_path):
    path = tmp_path / "empty.yml"
    path.write_text("")
    parsed = read_import_file(path, ctx.templates)
    assert parsed.source == str(path) and not parsed.ok


def test_every_problem_of_a_record_at_once(ctx, state, existing, tmp_path):
    record = good_record(ctx, "Many problems")
    del record["Config"]["ClientID"]
    record["ValidID"] = 0
    del record["Config"]["Requests"]["AuthorizationCode"]["Request"]["URL"]
    record["Config"]["Requests"]["TokenByRefreshToken"] = ["not", "a", "mapping"]
    problems = assert_refused(ctx, state, tmp_path, dump([record]),
                              "record 1 'Many problems': ValidID: must be 1 (valid)",
                              "record 1 'Many problems': Config.ClientID (Client ID): is missing",
                              "Config.Requests.AuthorizationCode.Request.URL (Authorization endpoint): is required",
                              "Config.Requests.TokenByRefreshToken: must be a mapping with Request and Response")
    # no follow-up noise about the URL inside the broken TokenByRefreshToken entry
    assert len(problems) == 4, problems


def test_a_top_level_mapping_is_one_record(ctx):
    """Znuny's own import treats a mapping as a single record; so does Tokendesk."""
    record = good_record(ctx, "Single")
    parsed = parse_import(yaml.safe_dump(record), templates=ctx.templates)
    assert parsed.ok and [r.name for r in parsed.records] == ["Single"]
    summary = apply_import(ctx, plan_import(ctx, parsed))
    assert summary.added == ["Single"]


def test_long_values_are_clipped_in_messages(ctx):
    record = good_record(ctx, "x" * 5000)
    record["ValidID"] = "y" * 5000
    report = plan_import(ctx, parse_import(dump([record]), templates=ctx.templates)).report_lines()
    assert all(len(line) < 400 for line in report), max(report, key=len)
    assert any("Name: is longer than 200 characters" in line for line in report)
