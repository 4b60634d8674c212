"""Property-based tests (hypothesis): the reader never crashes, the writer and reader agree with PyYAML,
and export -> import into an empty store -> export gives the same YAML apart from change times."""

from __future__ import annotations

import copy
import math
import string
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from desktop.backup import apply_import, export_configurations, parse_import, plan_import
from desktop.backup.yamlio.reader import load_yaml
from desktop.backup.yamlio.writer import dump_records
from desktop.models.templates import load_templates
from desktop.services import Context
from desktop.store.repository import Store
from desktop.store.secrets import MemorySecrets

TEMPLATES = load_templates()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- strategies
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["yes", "No", "on", "~", "null", "1e3", "0x1F", "1:20", "2024-01-01", "2024-01-01 10:00:00",
                     "- x", "a: b", "#c", " lead", "trail ", "'q'", '"d"', "&a", "*a", "!t", "%p", "@x", "`x",
                     "<<", "=", "multi\nline", "\t", "\x85", "\u2028", "\ufeff", "", "|", ">", "? x", "{", "[",
                     "https://example.com/a?b=c&d=e#f", "\\", "\x00x", "\x1b[0m"]),
)
keys = st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(["<<", "? x", "- y", "a: b", "1", "true", ""]))
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=25,
)


def fresh_context() -> Context:
    return Context(store=Store.open(":memory:"), secrets=MemorySecrets(), _templates=TEMPLATES)


# ---- the writer
@SETTINGS
@given(st.lists(st.dictionaries(keys, values, max_size=6), max_size=4))
def test_writer_output_reads_back_identically(records):
    text = dump_records(records)
    assert yaml.safe_load(text) == records
    assert load_yaml(text) == records
    assert dump_records(records) == text  # deterministic


# ---- the reader agrees with yaml.safe_load
@SETTINGS
@given(values, st.sampled_from([True, False]), st.sampled_from([None, '"', "'"]))
def test_reader_agrees_with_safe_load(value, flow, style):
    text = yaml.safe_dump(value, default_flow_style=flow, default_style=style, allow_unicode=True)
    assert load_yaml(text) == yaml.safe_load(text)


@SETTINGS
@given(st.lists(values, min_size=1, max_size=4))
def test_reader_agrees_with_safe_load_on_shared_values(items):
    # PyYAML writes anchors and aliases for objects used twice
    document = {"first": items, "again": items, "nested": [items, {"x": items}]}
    text = yaml.safe_dump(document)
    assert load_yaml(text) == yaml.safe_load(text) == document


# ---- the importer never crashes: a clear problem or a plan
def _check_result(parsed) -> None:
    for problem in parsed.problems:
        assert problem.record is None and problem.message
    for record in parsed.records:
        assert record.index >= 1
        for problem in record.problems:
            assert problem.record == record.index and problem.message
            assert str(problem).startswith(f"record {record.index} ")
        assert record.valid == (not record.problems)


def _plan(parsed) -> None:
    ctx = fresh_context()
    try:
        for overwrite in (False, True):
            plan = plan_import(ctx, parsed, overwrite)
            assert plan.ok == parsed.ok
            assert plan.report_lines()
    finally:
        ctx.close()


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_give_a_problem_or_a_plan(data):
    parsed = parse_import(data, templates=TEMPLATES)
    _check_result(parsed)
    _plan(parsed)


@SETTINGS
@given(st.text(alphabet=string.printable + "&*!|>%@`[]{}-?:#'\"\u00e9\u2028", max_size=300))
def test_any_text_gives_a_problem_or_a_plan(text):
    parsed = parse_import(text, templates=TEMPLATES)
    _check_result(parsed)
    _plan(parsed)


@SETTINGS
@given(values)
def test_any_yaml_structure_gives_a_problem_or_a_plan(value):
    parsed = parse_import(yaml.safe_dump(value), templates=TEMPLATES)
    _check_result(parsed)
    _plan(parsed)


BASE_RECORD = {
    "Name": "Base",
    "ValidID": 1,
    "Config": {**copy.deepcopy(TEMPLATES.require("Microsoft Exchange Online").config), "ClientID": "base-id"},
}


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    return found


ALL_PATHS = [p for p in _paths(BASE_RECORD) if p]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), st.one_of(values, st.just(KeyError))), min_size=1, max_size=4))
def test_damaged_records_name_record_and_field(changes):
    record = copy.deepcopy(BASE_RECORD)
    for path, new_value in changes:
        target = record
        for key in path[:-1]:
            if not isinstance(target, dict) or key not in target:
                break
            target = target[key]
        else:
            if isinstance(target, dict):
                if new_value is KeyError:
                    target.pop(path[-1], None)
                else:
                    target[path[-1]] = new_value
    parsed = parse_import(yaml.safe_dump([record, BASE_RECORD | {"Name": "Other"}]), templates=TEMPLATES)
    _check_result(parsed)
    assert parsed.records[1].valid
    first = parsed.records[0]
    for problem in first.problems:
        assert problem.record == 1
        assert problem.field == "" or problem.field.split(".")[0].split("[")[0] in record or problem.field in (
            "Name", "Config", "ValidID")
    _plan(parsed)


# ---- round trip through an empty store
names = st.text(alphabet=string.ascii_letters + string.digits + " -_.äöü@'", min_size=1, max_size=30).map(str.strip)
configurations = st.fixed_dictionaries(
    {
        "name": names,
        "template": st.sampled_from(TEMPLATES.names()),
        "client_id": st.text(min_size=1, max_size=40).filter(lambda s: s.strip()),
        "secret": st.one_of(st.none(), st.text(min_size=1, max_size=40)),
        "valid_id": st.sampled_from([1, 2, 3]),
        "scope": st.text(max_size=60),
        "extra_config": st.dictionaries(st.text(alphabet=string.ascii_letters, min_size=1, max_size=8).map(
            lambda k: "X" + k), values, max_size=2),
        "extra_top": st.dictionaries(st.sampled_from(["UUID", "ID", "Comment"]), values, max_size=2),
    }
)


def _fill(ctx: Context, spec: dict[str, Any]) -> None:
    template = ctx.templates.require(spec["template"])
    cfg = template.new_configuration(spec["name"])
    cfg.client_id = spec["client_id"]
    cfg.scope = spec["scope"]
    cfg.valid_id = spec["valid_id"]
    for key, url in cfg.endpoints_in_use().items():
        if not url or "TENANT-ID" in url:  # the generic templates leave them to the admin
            cfg.set_endpoint(key, f"https://login.example.com/{key}")
    cfg.config.update(spec["extra_config"])
    cfg.extra = dict(spec["extra_top"])
    ctx.configurations.add(cfg, spec["secret"])


def _without_change_times(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("  ChangeTime: "))


@SETTINGS
@given(st.lists(configurations, max_size=5, unique_by=lambda s: s["name"].casefold()), st.booleans())
def test_round_trip_export_import_export(specs, include_secrets):
    assume(all(s["name"] for s in specs))
    source, target = fresh_context(), fresh_context()
    try:
        for spec in specs:
            _fill(source, spec)
        first = export_configurations(source, include_secrets=include_secrets)
        plan = plan_import(target, parse_import(first.text, templates=target.templates))
        assert plan.ok, plan.report_lines()
        summary = apply_import(target, plan)
        assert len(summary.added) == len(specs)
        second = export_configurations(target, include_secrets=include_secrets)
        assert _without_change_times(second.text) == _without_change_times(first.text)
        for cfg in target.store.list_configurations():
            spec = next(s for s in specs if s["name"] == cfg.name)
            stored_secret = target.configurations.client_secret(cfg) if cfg.has_client_secret else None
            assert stored_secret == (spec["secret"] if include_secrets else None)
    finally:
        source.close()
        target.close()


def test_floats_survive(tmp_path):
    record = {"Name": "f", "X": [0.1, -0.0, 1e300, math.inf, -math.inf, 5e-324]}
    assert yaml.safe_load(dump_records([record])) == [record]


@pytest.mark.parametrize("value", ["\ufeffbom", "nel\x85x", "ls\u2028x", "cr\rx", "crlf\r\nx", "\x7f", "\U0001f600"])
def test_awkward_strings_survive(value):
    assert yaml.safe_load(dump_records([{"k": value}])) == [{"k": value}]


# ---- the fast (event) reader and its way back to the node graph
FALLBACK_CASES = [
    "base: &b {a: 1}\nderived:\n  <<: *b\n  c: 2\n",  # merge key
    "a: !!str 123\nb: !!int '7'\n",  # explicit tags
    "2: two\ntrue: yes\nnull: nothing\n",  # keys that are not text (1 and true would be one key: refused)
    "a: !!binary aGVsbG8=\n",
    "a: 2001-12-14t21:59:43.10-05:00\nb: 1e3\nc: .inf\nd: 0o17\ne: ~\nf: ''\n",  # resolved scalars, no fallback
]


@pytest.mark.parametrize("text", FALLBACK_CASES)
def test_event_reader_and_fallback_agree_with_safe_load(text):
    assert load_yaml(text) == yaml.safe_load(text)


def test_plain_files_never_build_the_node_graph(monkeypatch):
    from desktop.backup.yamlio import nodes

    def no_nodes(*_args):
        raise AssertionError("the node path was used")

    monkeypatch.setattr(nodes, "construct", no_nodes)
    text = dump_records([BASE_RECORD, {**BASE_RECORD, "Name": "Second"}])
    assert load_yaml(text) == yaml.safe_load(text)


@pytest.mark.parametrize(("text", "words"), [
    ("- &r {Name: loop, Config: *r}\n", "recursive structure"),
    ("a: *nowhere\n", "found undefined alias"),
    ("a: 1\n---\nb: 2\n", "found another document"),
    ("? [complex, key]\n: value\n", "keys must be plain text"),
    ("a: [1, 2\n", "not valid YAML"),
])
def test_event_reader_errors_read_like_the_node_readers(text, words):
    from desktop.backup.yamlio.limits import YamlReadError

    with pytest.raises(YamlReadError) as info:
        load_yaml(text)
    assert words in str(info.value)


def test_deep_nesting_is_refused_not_a_crash():
    from desktop.backup.yamlio.limits import YamlReadError

    with pytest.raises(YamlReadError, match="nested too deeply"):
        load_yaml("a: " + "[" * 600 + "]" * 600 + "\n")
