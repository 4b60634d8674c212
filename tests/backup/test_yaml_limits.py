"""Issue 10: the YAML reader's bounds hold however a file is spelled.

* Alias expansion is counted while reading - every alias at the full size of what it repeats - in
  each of the reader's three paths (line reader, event reader, node graph), whatever the spelling:
  block or flow, JSON-style ``"k":*a``, aliases as keys, merge keys, anchored long scalars.
* A mapping with a key twice is refused, also when the keys differ only in quoting or arrive
  through ``<<`` merge keys; a key written next to ``<<`` still overrides the merged one (YAML).
* One value, the whole expansion and one stored configuration are capped; the real data (the
  fixtures, a 10,000-record export) stays well inside.
* Values SafeLoader's constructors cannot build (a 13th month, a 5,000-digit number) are refused
  with the project's error, not a traceback.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.backup import import_file, parse_import
from desktop.backup.yamlio import events, limits, lines, loader, nodes
from desktop.backup.yamlio.limits import YamlReadError
from desktop.backup.yamlio.reader import load_yaml
from desktop.backup.yamlio.writer import dump_records
from desktop.models.templates import load_templates

TEMPLATES = load_templates()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPAND_WORDS = "would expand to more than"
NOTHING = "Nothing was imported"


def microsoft_record(name: str = "Mailbox") -> dict[str, Any]:
    cfg = TEMPLATES.require("Microsoft Exchange Online").new_configuration(name)
    cfg.client_id = f"id-{name}"
    return {"Name": name, "ValidID": 1, "Config": copy.deepcopy(cfg.config)}


# ---- the three paths, called one by one
def each_path(text: str) -> dict[str, str]:
    """What each reading path makes of ``text``: 'value' or the error's words; the line reader may
    also 'defer' (hand the file to the event reader), the event reader 'defer' to the node graph."""
    results: dict[str, str] = {}
    try:
        lines.load_block_lines(text)
        results["line"] = "value"
    except lines.NotBlockLines:
        results["line"] = "defer"
    except YamlReadError as exc:
        results["line"] = str(exc)
    try:
        events.load_events(text)
        results["events"] = "value"
    except events.NeedsNodes:
        results["events"] = "defer"
    except YamlReadError as exc:
        results["events"] = str(exc)
    try:
        nodes.load_nodes(text)
        results["nodes"] = "value"
    except YamlReadError as exc:
        results["nodes"] = str(exc)
    try:
        load_yaml(text)
        results["load_yaml"] = "value"
    except YamlReadError as exc:
        results["load_yaml"] = str(exc)
    return results


def assert_every_path_refuses(text: str, *words: str) -> str:
    """Every path that reads ``text`` refuses it in the same words (the line reader may defer)."""
    results = each_path(text)
    message = results["load_yaml"]
    for word in words:
        assert word in message, (word, results)
    assert results["line"] in ("defer", message), results
    assert results["events"] in ("defer", message), results
    assert results["nodes"] == message, results
    return message


# ---- alias expansion, however it is spelled
def bomb_block(levels: int = 8, width: int = 9) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i}")
        lines.extend(f"- *l{i - 1}" for _ in range(width))
    return "\n".join(lines) + "\n"


def bomb_json_adjacent(levels: int = 8, width: int = 9) -> str:
    # '"k":*a' - JSON-style, no space after the colon: the old pre-check's pattern never saw these aliases
    parts = ['"l0":&l0 {' + ",".join(f'"{j}":"lol"' for j in range(width)) + "}"]
    for i in range(1, levels + 1):
        parts.append(f'"l{i}":&l{i} {{' + ",".join(f'"{j}":*l{i - 1}' for j in range(width)) + "}")
    return "{" + ",".join(parts) + "}\n"


def bomb_flow_sequences(levels: int = 8, width: int = 9) -> str:
    lines = ["- &l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    for i in range(1, levels + 1):
        lines.append(f"- &l{i} [" + ",".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def bomb_merge_keys(levels: int = 8, width: int = 9) -> str:
    lines = ["- &m0 {" + ", ".join(f"k{j}: v" for j in range(width)) + "}"]
    for i in range(1, levels + 1):
        lines.append(f"- &m{i} {{x{i}: [" + ", ".join([f"*m{i - 1}"] * width) + f"], <<: *m{i - 1}}}")
    return "\n".join(lines) + "\n"


def bomb_alias_keys() -> str:
    # about 670,000 values, under the limit; the aliases in key positions ('? *l5', '*l5 :') add 5.4 million
    lines = [f"- {{? *l5 : {i}}}" if i % 2 else f"- {{*l5 : {i}}}" for i in range(9)]
    return bomb_flow_sequences(levels=5) + "\n".join(lines) + "\n"


def bomb_long_scalar(levels: int = 4, width: int = 9) -> str:
    # few values, but each alias repeats 16,000 characters: the old check counted it as one value
    lines = ["- &s '" + "x" * 16_000 + "'"]
    lines.append("- &l1 [" + ", ".join(["*s"] * width) + "]")
    for i in range(2, levels + 1):
        lines.append(f"- &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def bomb_plain_and_quoted_keys(levels: int = 8, width: int = 9) -> str:
    lines = ["'a0': &a0 {k: v, \"k2\": 'v'}"]
    for i in range(1, levels + 1):
        keys = ", ".join((f'"k{j}"' if j % 2 else f"k{j}") + f": *a{i - 1}" for j in range(width))
        lines.append(f'"a{i}": &a{i} {{{keys}}}')
    return "\n".join(lines) + "\n"


def bomb_tagged(levels: int = 8, width: int = 9) -> str:
    # an explicit tag sends the file to the node graph
    return "- !!str tagged\n" + bomb_flow_sequences(levels, width)


BOMBS = {
    "block": bomb_block,
    "json-adjacent": bomb_json_adjacent,
    "flow-sequences": bomb_flow_sequences,
    "merge-keys": bomb_merge_keys,
    "alias-keys": bomb_alias_keys,
    "long-scalar": bomb_long_scalar,
    "plain-and-quoted-keys": bomb_plain_and_quoted_keys,
    "tagged": bomb_tagged,
}


@pytest.mark.parametrize("spelling", list(BOMBS))
def test_alias_bombs_are_refused_however_spelled(spelling):
    text = BOMBS[spelling]()
    assert len(text) < 20_000
    assert_every_path_refuses(text, EXPAND_WORDS, NOTHING)


def test_the_refusal_states_the_limit():
    message = assert_every_path_refuses(bomb_json_adjacent(), EXPAND_WORDS)
    assert f"{limits.MAX_NODES:,} values" in message
    message = assert_every_path_refuses(bomb_long_scalar(), EXPAND_WORDS)
    assert f"{limits.MAX_TEXT_BYTES // 1048576} MiB of text" in message


def test_a_3_kb_file_cannot_become_an_86_mb_configuration(ctx, state, tmp_path):
    """The finding: a small file whose aliases expand into one huge configuration (and a huge stored row)."""
    record = microsoft_record("Expanded")
    # an unknown key (kept and exported again) refers to a 9^6-fold repetition of 80 characters: 42 MB
    text = yaml.safe_dump([record], sort_keys=False) + "  Notes:\n" + "    x0: &x0 '" + "y" * 80 + "'\n" + "".join(
        f"    x{i}: &x{i} {{" + ",".join(f'"{j}":*x{i - 1}' for j in range(9)) + "}\n" for i in range(1, 7))
    assert len(text) < 4_000
    path = tmp_path / "small.yml"
    path.write_text(text)
    before = state()
    plan, summary = import_file(ctx, path, overwrite=True)
    assert summary is None and not plan.ok
    [problem] = plan.problems
    assert EXPAND_WORDS in str(problem) and NOTHING in str(problem)
    assert state() == before


def test_bombs_are_refused_quickly_and_small():
    import time
    import tracemalloc

    text = bomb_json_adjacent(levels=12)  # 9^12 values if expanded
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(YamlReadError, match=EXPAND_WORDS):
        load_yaml(text)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2 and peak < 20_000_000, (elapsed, peak)


def test_recursive_aliases_are_refused_in_every_path():
    assert_every_path_refuses("- &r {Name: loop, Config: *r}\n", "recursive")
    assert_every_path_refuses("- !!str t\n- &r [1, *r]\n", "recursive")


# ---- the count is the same on every path, and the limit is exact
def _composed_size(text: str) -> tuple[int, int]:
    """(values, UTF-8 bytes of text) of the composed node graph with every alias counted in full - PyYAML's compose,
    independent of the reader under test."""
    memo: dict[int, tuple[int, int]] = {}

    def size(node: Any) -> tuple[int, int]:
        if id(node) in memo:
            return memo[id(node)]
        if isinstance(node, yaml.ScalarNode):
            result = (1, len(node.value.encode("utf-8", "surrogatepass")))
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
            sizes = [size(child) for child in children]
            result = (1 + sum(s[0] for s in sizes), sum(s[1] for s in sizes))
        memo[id(node)] = result
        return result

    return size(yaml.compose(text, Loader=loader.SafeLoader))


SAME_DOCUMENT = [
    ("block", dump_records([microsoft_record("A"), microsoft_record("B")])),
    ("flow", yaml.safe_dump([microsoft_record("A"), microsoft_record("B")], default_flow_style=True)),
    ("tagged", "- !!str tagged\n" + dump_records([microsoft_record("A"), microsoft_record("B")]).replace("---\n", "")),
    ("aliases", "- &r " + json.dumps(microsoft_record("A")) + "\n- *r\n- *r\n"),
    ("merge", "- &r " + json.dumps(microsoft_record("A")) + "\n- {<<: *r, Name: B}\n"),
    ("non-ascii", dump_records([microsoft_record("Z\u00fcrich \U0001f600"), microsoft_record("\u6771\u4eac")])),
    ("non-ascii-flow", yaml.safe_dump([microsoft_record("Z\u00fcrich \U0001f600")], default_flow_style=True,
                                      allow_unicode=True)),
    ("non-ascii-aliases", "- &r " + json.dumps(microsoft_record("Z\u00fcrich"), ensure_ascii=False) + "\n- *r\n"),
]


@pytest.mark.parametrize(("style", "text"), SAME_DOCUMENT, ids=[s for s, _ in SAME_DOCUMENT])
def test_the_limits_are_exact_on_every_path(monkeypatch, style, text):
    nodes, chars = _composed_size(text)
    monkeypatch.setattr(limits, "MAX_NODES", nodes)
    monkeypatch.setattr(limits, "MAX_TEXT_BYTES", chars)
    assert "value" == each_path(text)["load_yaml"]
    for name, value in (("MAX_NODES", nodes - 1), ("MAX_TEXT_BYTES", chars - 1)):
        with monkeypatch.context() as patch:
            patch.setattr(limits, name, value)
            assert_every_path_refuses(text, EXPAND_WORDS)


# ---- real data fits comfortably
def test_real_exports_fit_well_inside_the_limits():
    for path in sorted(FIXTURES.glob("*.yml")):
        nodes, chars = _composed_size(path.read_text())
        assert nodes * 100 < limits.MAX_NODES and chars * 100 < limits.MAX_TEXT_BYTES
        assert parse_import(path.read_bytes(), templates=TEMPLATES).ok
    # a 10,000-record export (bench/bench_backup.py: about 28 MB) with at least 1.5 times to spare
    nodes, chars = _composed_size(dump_records([microsoft_record("Mailbox 00000")]))
    assert nodes * 10_000 * 1.5 < limits.MAX_NODES and chars * 10_000 * 1.5 < limits.MAX_TEXT_BYTES
    assert limits.MAX_TEXT_BYTES >= limits.MAX_FILE_BYTES  # any plain file under the size limit fits


def test_a_10000_record_export_is_read_line_by_line():
    text = dump_records([microsoft_record(f"Mailbox {i:05d}") for i in range(10_000)])
    assert len(text) > 25_000_000
    records = lines.load_block_lines(text)  # the fast path takes it (no deferral for size)
    assert len(records) == 10_000 and records[-1]["Name"] == "Mailbox 09999"


# ---- a key twice in one mapping
URL_TWICE = {
    "block": "- Config:\n    URL: https://a.example/token\n    URL: https://evil.example/token\n",
    "quoted-and-plain": "- Config:\n    'URL': https://a.example/token\n    URL: https://evil.example/token\n",
    "double-quoted": '- Config:\n    "URL": https://a.example/token\n    URL: https://evil.example/token\n',
    "escaped": '- Config:\n    "\\x55RL": https://a.example/token\n    URL: https://evil.example/token\n',
    "flow": "- {Config: {URL: 'https://a.example/token', URL: 'https://evil.example/token'}}\n",
    "explicit-key": "- Config:\n    ? URL\n    : https://a.example/token\n    URL: https://evil.example/token\n",
    "alias-as-key": "- Config: {&k URL: https://a.example/token, *k : https://evil.example/token}\n",
    "tagged": "- !!str x\n- Config:\n    URL: https://a.example/token\n    URL: https://evil.example/token\n",
    "merged-twice": "- &a {URL: https://a.example/token}\n- &b {URL: https://evil.example/token}\n"
                    "- Config: {<<: [*a, *b]}\n",
    "two-merge-keys": "- &a {URL: https://a.example/token}\n- &b {URL: https://evil.example/token}\n"
                      "- Config: {<<: *a, <<: *b}\n",
    "merged-nested": "- &a {URL: https://a.example/token}\n- &b {<<: *a, Other: 1}\n"
                     "- Config: {<<: [*b, *a]}\n",
}


@pytest.mark.parametrize("spelling", list(URL_TWICE))
def test_a_key_twice_in_one_mapping_is_refused(spelling):
    message = assert_every_path_refuses(URL_TWICE[spelling], "has the key 'URL' twice in the same mapping", NOTHING)
    assert "at line " in message


def second_token_url() -> tuple[str, int, int]:
    """A record whose token endpoint is followed by a second ``URL:`` (text, its line, its column)."""
    text = yaml.safe_dump([microsoft_record("Support")], sort_keys=False)
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("URL: https://login.microsoftonline.com/")
              and line.rstrip().endswith("/token"))
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines.insert(at + 1, indent + "URL: https://attacker.example/token\n")
    return "".join(lines), at + 2, len(indent) + 1


def test_the_second_url_is_named_with_its_line(ctx, state, tmp_path):
    """The finding: a second ``URL:`` quietly replaced the token endpoint."""
    text, line, column = second_token_url()
    path = tmp_path / "twice.yml"
    path.write_text(text)
    before = state()
    plan, summary = import_file(ctx, path, overwrite=True)
    assert summary is None
    [problem] = plan.problems
    assert f"has the key 'URL' twice in the same mapping (at line {line}, column {column})" in str(problem)
    assert state() == before


def test_other_repeated_keys_are_refused_too():
    assert_every_path_refuses("- {true: a, yes: b}\n", "has the key 'True' twice")
    assert_every_path_refuses("- {1: a, 0x1: b}\n", "has the key '1' twice")
    assert_every_path_refuses("Name: a\nName: b\n", "has the key 'Name' twice")
    # one key to Python and JSON, so YAML's loader kept only the last value
    assert_every_path_refuses("1: one\ntrue: yes\n", "has the key 'True' twice",
                              "'True' and '1' are the same key here")


def test_a_key_next_to_a_merge_key_overrides_it():
    text = "- &a {URL: https://a.example/token, Scope: s}\n- {<<: *a, URL: https://b.example/token}\n"
    assert load_yaml(text) == yaml.safe_load(text)
    assert load_yaml(text)[1] == {"URL": "https://b.example/token", "Scope": "s"}
    assert list(load_yaml(text)[1]) == list(yaml.safe_load(text)[1])


# ---- one value
@pytest.mark.parametrize("quote", ["", "'", '"'])
def test_a_value_over_the_limit_is_refused_on_every_path(quote):
    size = limits.MAX_VALUE_CHARS
    fits = f"- Name: x\n  Scope: {quote}{'s' * size}{quote}\n"
    assert each_path(fits)["load_yaml"] == "value"
    too_long = f"- Name: x\n  Scope: {quote}{'s' * (size + 1)}{quote}\n"
    message = assert_every_path_refuses(too_long, f"values longer than {size:,} characters are refused", NOTHING)
    assert "at line 2" in message
    assert_every_path_refuses("- !!str x\n" + too_long, f"values longer than {size:,} characters")
    assert_every_path_refuses("- {Name: x, Scope: " + quote + "s" * (size + 1) + quote + "}\n", "values longer")


# ---- values the constructors cannot build
@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2024-13-45", "cannot be read"),
        ("2024-02-30 25:61:61", "cannot be read"),
        ("1" * 5000, "cannot be read"),
        ("0x" + "f" * 5000, "cannot be read"),
        ("!!int x", "cannot be read"),
        ("!!float x", "cannot be read"),
        ("!!bool maybe", "cannot be read"),
        ("!!timestamp x", "cannot be read"),
    ],
)
def test_unreadable_values_are_refused_not_a_crash(value, words):
    message = assert_every_path_refuses(f"- Name: x\n  Value: {value}\n", words, "at line 2")
    assert "quotes" in message
    token = value.split()[-1]
    assert len(token) < 8 or token[:8] not in message  # never the value: it may be a client secret
    parsed = parse_import(f"- Name: x\n  Value: {value}\n")
    assert words in str(parsed.problems[0])


# ---- one configuration: what the store would keep
def _padded(record: dict[str, Any], where: str, size: int) -> dict[str, Any]:
    """``record`` with the value at ``where`` (a dotted path) made ``size`` characters of text."""
    target = record
    keys = where.split(".")
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = "p" * size
    return record


def _stored_size(record: dict[str, Any]) -> int:
    config = {k: v for k, v in record["Config"].items() if k != "ClientSecret"}
    extra = {k: v for k, v in record.items() if k not in ("Name", "ValidID", "Config", "CreateTime", "CreateBy",
                                                          "ChangeTime", "ChangeBy")}
    return len(json.dumps(config)) + len(json.dumps(extra))


def test_a_configuration_too_large_to_store_is_refused(ctx, state, tmp_path):
    from desktop.store.repository import MAX_CONFIG_JSON_BYTES

    record = microsoft_record("Big")
    params = record["Config"]["Requests"]["AuthorizationCode"]["Request"]["Parameters"]
    params.update({f"p{i}": "v" * 10_000 for i in range(7)})  # known keys, 70 KB of them
    assert _stored_size(record) > MAX_CONFIG_JSON_BYTES
    path = tmp_path / "big.yml"
    path.write_text(dump_records([microsoft_record("Fine"), record]))
    before = state()
    plan, summary = import_file(ctx, path, overwrite=True)
    assert summary is None
    [problem] = plan.problems
    assert str(problem).startswith("record 2 'Big': ")
    assert f"would take more than the {MAX_CONFIG_JSON_BYTES // 1024} KiB a configuration may take" in str(problem)
    assert state() == before


def test_a_configuration_just_at_the_limit_is_imported(ctx):
    from desktop.store.repository import MAX_CONFIG_JSON_BYTES

    record = microsoft_record("At the limit")
    record["Config"]["Scope"] = ""
    size = MAX_CONFIG_JSON_BYTES - _stored_size(record)
    parameters = record["Config"]["Requests"]["AuthorizationCode"]["Request"]["Parameters"]
    for i in range(size // 10_000 + 1):
        parameters[f"p{i}"] = ""
    spare = MAX_CONFIG_JSON_BYTES - _stored_size(record)
    for i in range(size // 10_000 + 1):
        parameters[f"p{i}"] = "q" * min(10_000, spare)
        spare -= min(10_000, spare)
    assert _stored_size(record) == MAX_CONFIG_JSON_BYTES
    parsed = parse_import(dump_records([record]), templates=TEMPLATES)
    assert parsed.ok, [str(p) for r in parsed.records for p in r.problems]
    from desktop.backup import apply_import, plan_import

    apply_import(ctx, plan_import(ctx, parsed))
    stored = ctx.store.conn.execute("SELECT config_json, extra_json FROM token_config").fetchone()
    assert len(stored[0]) + len(stored[1]) == MAX_CONFIG_JSON_BYTES
    record["Config"]["Scope"] = "s"
    assert not parse_import(dump_records([record]), templates=TEMPLATES).ok


def test_unknown_keys_kept_are_capped(ctx, state, tmp_path):
    from desktop.backup.importer.store_size import MAX_UNKNOWN_BYTES

    record = microsoft_record("Unknowns")
    record["Notes"] = {f"n{i}": "v" * 1000 for i in range(10)}
    record["Config"]["Extra"] = {f"e{i}": "v" * 1000 for i in range(10)}
    path = tmp_path / "unknown.yml"
    path.write_text(dump_records([record]))
    before = state()
    plan, summary = import_file(ctx, path, overwrite=True)
    assert summary is None
    [problem] = plan.problems
    text = str(problem)
    assert text.startswith("record 1 'Unknowns': ")
    assert (f"keeps more than {MAX_UNKNOWN_BYTES // 1024} KiB of keys Tokendesk does not use (Notes, Config.Extra)"
            in text)
    assert state() == before
    record["Config"]["Extra"] = {"e": "small"}  # a few unknown keys are kept as before
    assert parse_import(dump_records([record]), templates=TEMPLATES).ok


@pytest.mark.parametrize("how", ["insert", "insert_many", "update"])
def test_the_store_refuses_a_configuration_over_the_limit(ctx, make_config, how):
    from desktop.store.repository import MAX_CONFIG_JSON_BYTES, StoreError

    stored = make_config("Stored")
    before = ctx.store.conn.execute("SELECT * FROM token_config ORDER BY id").fetchall()
    cfg = TEMPLATES.require("Microsoft Exchange Online").new_configuration("Huge")
    cfg.client_id = "huge"
    cfg.extra = {"Notes": "n" * MAX_CONFIG_JSON_BYTES}
    with pytest.raises(StoreError) as info:
        if how == "insert":
            ctx.store.insert(cfg)
        elif how == "insert_many":
            small = TEMPLATES.require("Microsoft Exchange Online").new_configuration("Small")
            ctx.store.insert_many([(small, False), (cfg, False)])
        else:
            cfg.id, cfg.name = stored.id, stored.name
            ctx.store.update(cfg)
    assert "is too large to store" in str(info.value) and "Nothing was saved" in str(info.value)
    assert f"at most {MAX_CONFIG_JSON_BYTES:,} bytes" in str(info.value)
    assert ctx.store.conn.execute("SELECT * FROM token_config ORDER BY id").fetchall() == before


# ---- properties: any input is read or refused with the project's error, within the limits
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL_LIMITS = {"MAX_NODES": 400, "MAX_TEXT_BYTES": 4_000, "MAX_VALUE_CHARS": 300}


def _graph_size(text: str) -> tuple[int, int] | None:
    """``_composed_size`` for any text: None when PyYAML cannot compose it or it is recursive."""
    try:
        root = yaml.compose(text, Loader=loader.SafeLoader)
    except yaml.YAMLError:
        return None
    if root is None:
        return (0, 0)
    memo: dict[int, tuple[int, int]] = {}
    busy: set[int] = set()

    def size(node: Any) -> tuple[int, int] | None:
        if id(node) in memo:
            return memo[id(node)]
        if id(node) in busy:
            return None
        if isinstance(node, yaml.ScalarNode):
            return (1, len(node.value.encode("utf-8", "surrogatepass")))
        busy.add(id(node))
        children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
        total = [1, 0]
        for child in children:
            part = size(child)
            if part is None:
                return None
            total[0] += part[0]
            total[1] += part[1]
        busy.discard(id(node))
        memo[id(node)] = (total[0], total[1])
        return memo[id(node)]

    try:
        return size(root)
    except RecursionError:
        return None


KEY_SPELLINGS = ["k{}", "'k{}'", '"k{}"', "? k{}"]


@st.composite
def aliased_documents(draw) -> str:
    """Small documents full of anchors, aliases and merge keys, spelled every way YAML allows; some of
    them expand past the small limits the property test sets, some repeat a key or an anchor."""
    items = []
    defined: list[str] = []  # anchors so far
    mappings: list[str] = []  # those that are mappings (for merge keys)
    for number in range(draw(st.integers(1, 7))):
        anchor = f"a{number}" if not defined or draw(st.integers(0, 9)) else defined[0]  # now and then twice
        refs = [f"*{r}" for r in draw(st.lists(st.sampled_from(defined), max_size=9))] if defined else []
        leaves = refs + draw(st.lists(st.sampled_from(["x", "'q'", '"d"', "1", "yes", "~", "'" + "w" * 60 + "'"]),
                                      max_size=3))
        shapes = ["list", "map", "json", "scalar", "keys", "block"] + (["merge"] if mappings else [])
        shape = draw(st.sampled_from(shapes))
        if shape == "scalar":
            body = draw(st.sampled_from(["lol", "'" + "s" * 90 + "'", '"dq"', "42"]))
        elif shape == "list":
            body = "[" + ", ".join(leaves) + "]"
        elif shape == "json":
            body = "{" + ",".join(f'"k{i}":{leaf}' for i, leaf in enumerate(leaves)) + "}"
        elif shape == "merge":
            merged = [f"*{m}" for m in draw(st.lists(st.sampled_from(mappings), min_size=1, max_size=3))]
            spelled = merged[0] if len(merged) == 1 and draw(st.booleans()) else "[" + ", ".join(merged) + "]"
            body = "{<<: " + spelled + "".join(f", x{i}: {v}" for i, v in enumerate(leaves)) + "}"
        elif shape == "keys":
            body = "{" + ", ".join(f"? {leaf} : {i}" if i % 2 else f"{leaf} : {i}" for i, leaf in enumerate(refs)) + "}"
        elif shape == "map":
            spelled = [draw(st.sampled_from(KEY_SPELLINGS)).format(draw(st.integers(0, 12))) for _ in leaves]
            body = "{" + ", ".join(f"{k}: {v}" for k, v in zip(spelled, leaves, strict=True)) + "}"
        else:  # block: a nested block sequence
            body = "".join(f"\n  - {leaf}" for leaf in leaves or ["x"])
        items.append(f"- &{anchor} {body}" if shape != "block" else f"- &{anchor}{body}")
        defined.append(anchor)
        if shape in ("map", "json", "merge", "keys"):
            mappings.append(anchor)
    return "\n".join(items) + "\n"


@PROPERTY
@given(aliased_documents())
def test_aliased_documents_are_read_within_the_limits_or_refused(text):
    with mock.patch.multiple(limits, **SMALL_LIMITS):
        try:
            value = load_yaml(text)
        except YamlReadError as exc:
            message = str(exc)
            size = _graph_size(text)  # None: PyYAML refuses it too (a repeated anchor later on, ...)
            if EXPAND_WORDS in message and size is not None:  # the count was right: the graph is over a limit
                assert size[0] > SMALL_LIMITS["MAX_NODES"] or size[1] > SMALL_LIMITS["MAX_TEXT_BYTES"], (size, text)
            return
        size = _graph_size(text)
        assert size is not None
        assert size[0] <= SMALL_LIMITS["MAX_NODES"] and size[1] <= SMALL_LIMITS["MAX_TEXT_BYTES"], (size, text)
        assert value == yaml.safe_load(text)


YAML_PIECES = ["&a ", "&b ", "*a", "*b", "<<: ", "? ", ": ", ":", "- ", "{", "}", "[", "]", ", ", ",", '"k":', "'k'",
               "k", "URL", "\n", "  ", "!!str ", "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!binary ",
               "!!set ", "!!omap ", "1", "0x1f", "1" * 30, "2024-13-01", "2024-01-01", "~", "yes", "=", "#", "|", ">",
               "\t", "...", "---", "%YAML 1.1\n"]


@PROPERTY
@given(st.lists(st.sampled_from(YAML_PIECES), max_size=50).map("".join))
def test_any_yaml_like_text_is_read_or_refused_with_the_projects_error(text):
    with mock.patch.multiple(limits, **SMALL_LIMITS):
        try:
            load_yaml(text)
        except YamlReadError as exc:
            assert str(exc)
        parsed = parse_import(text, templates=TEMPLATES)
    for problem in parsed.problems:
        assert problem.message
    for record in parsed.records:
        assert record.valid == (not record.problems)


JSON_KEYS = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats())
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children,
                                                                               max_size=3)),
    max_leaves=15,
)


@PROPERTY
@given(st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=6),
       st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3), st.integers(-3, 3))
def test_the_checked_size_is_what_the_store_writes(config, extra, offset):
    from desktop.backup.importer.store_size import _fits_store

    exact = len(json.dumps({k: v for k, v in config.items() if k != "ClientSecret"})) + len(json.dumps(extra))
    memo: dict[Any, Any] = {}
    for cap in (exact + offset, exact, exact - 1, 10**9):
        assert _fits_store(config, extra, memo, cap) == (exact <= cap), cap
        assert _fits_store(copy.deepcopy(config), copy.deepcopy(extra), memo, cap) == (exact <= cap)  # memo


def test_the_size_memo_never_mixes_up_equal_values():
    import itertools

    from desktop.backup.importer.store_size import _fits_store

    long = "x" * 300
    configs = [{"Requests": {"a": long, "n": 1}}, {"Requests": {"a": long, "n": True}},
               {"Requests": {"n": None, "a": long}}, {"Requests": {"a": long, "n": None}, "Scope": "s"},
               {"Requests": {"a": long, "n": None}, "ClientSecret": "s"}, {"Requests": [long, None]}, {}]
    for order in itertools.permutations(configs, 4):
        memo: dict[Any, Any] = {}
        for config in order * 2:
            exact = len(json.dumps({k: v for k, v in config.items() if k != "ClientSecret"})) + 2
            for cap in (exact - 1, exact):
                assert _fits_store(config, {}, memo, cap) == (cap == exact), (order, config, cap)


def test_measuring_a_huge_record_stays_small():
    """Aliases can make one record hundreds of MB of JSON (a 19 KB file, emoji): it is refused without
    encoding it whole."""
    import tracemalloc

    from desktop.backup.importer.store_size import _fits_store

    text = "\U0001f600" * 16_000
    level = [text] * 81
    huge = {"Notes": {str(i): level for i in range(20)}}  # 26 million characters, 330 MB of JSON
    tracemalloc.start()
    assert not _fits_store({"TemplateName": "x"}, huge, {}, 64 * 1024)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5_000_000, peak


# ---- what the window shows
def test_the_import_preview_shows_each_refusal(qtbot, ctx, tmp_path):
    """The preview shows the reader's refusal whole (wrapped) and allows nothing; a record too large to store
    is an invalid row with its reason. Screenshots in docs/screenshots with TOKENDESK_SCREENSHOTS=1."""
    import os

    from desktop.backup import plan_import
    from desktop.ui.dialogs.import_dialog import ImportPreviewDialog

    shots = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("TOKENDESK_SCREENSHOTS") != "1":
        shots = tmp_path
    twice = second_token_url()[0]
    big = microsoft_record("Big")
    big["Notes"] = {f"n{i}": "v" * 1000 for i in range(20)}
    cases = [
        ("import-alias-bomb.png", bomb_json_adjacent(), EXPAND_WORDS),
        ("import-key-twice.png", twice, "has the key 'URL' twice in the same mapping"),
        ("import-unknown-keys.png", dump_records([microsoft_record("Fine"), big]), "keys Tokendesk does not use"),
    ]
    for name, text, words in cases:
        parsed = parse_import(text, templates=ctx.templates)
        dialog = ImportPreviewDialog(parsed, lambda overwrite, parsed=parsed: plan_import(ctx, parsed, overwrite))
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        assert not dialog.apply_button.isEnabled()
        if parsed.problems:
            assert dialog.file_problem.isVisible() and words in dialog.file_problem.text()
            assert dialog.file_problem.wordWrap()
        else:
            assert [row[1] for row in dialog.rows()] == ["new", "invalid"]
            assert any(words in message for _field, message in dialog.problems_shown(1))
        dialog.grab().save(str(shots / name))
        dialog.close()



# ---- the checker's report stays short however often aliases repeat a bad value
def test_one_bad_value_repeated_by_aliases_gives_a_short_report():
    import time
    import tracemalloc

    from desktop.backup.importer.check import MAX_PROBLEMS

    # a date (no configuration value) repeated 118,098 times by aliases, in a 3 KB file
    text = yaml.safe_dump([microsoft_record("Dates")], sort_keys=False) + "  Notes:\n    x0: &x0 2024-01-01\n"
    text += "".join(f"    x{i}: &x{i} {{" + ",".join(f'"{j}":*x{i - 1}' for j in range(9)) + "}\n" for i in range(1, 6))
    text += '    all: {"a":*x5,"b":*x5}\n'
    assert len(text) < 4_000
    tracemalloc.start()
    started = time.perf_counter()
    parsed = parse_import(text, templates=TEMPLATES)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    [record] = parsed.records
    assert len(record.problems) == MAX_PROBLEMS + 1
    assert all("is a date" in p.message for p in record.problems[:-1])
    assert str(record.problems[-1]) == (f"record 1 'Dates': has more problems; only the first {MAX_PROBLEMS} are "
                                        "listed. Fix them and import the file again")
    assert elapsed < 2 and peak < 30_000_000, (elapsed, peak)


def test_notes_repeated_by_aliases_are_capped():
    from desktop.backup.importer.check import MAX_NOTES

    record = microsoft_record("Noted")
    names = {f"field{i}": f"Unknown{i}" for i in range(30)}
    text = dump_records([record]).rstrip("\n")
    text += "\n    Requests:\n" if "Requests" not in text else "\n"
    mapping = "{" + ", ".join(f"{k}: {v}" for k, v in names.items()) + "}"
    extra = "".join(f"      Other{i}: {{Response: {{ParametersMapping: {'&pm ' + mapping if i == 0 else '*pm'}}}}}\n"
                    for i in range(200))
    text = text.replace("    Requests:\n", "    Requests:\n" + extra, 1)
    parsed = parse_import(text, templates=TEMPLATES)
    [checked] = parsed.records
    assert len(checked.notes) == MAX_NOTES + 1
    assert checked.notes[-1] == f"more notes; only the first {MAX_NOTES} are listed"


def test_text_is_counted_in_bytes_as_the_file_limit_is():
    """Characters outside ASCII take up to 4 bytes in the file and 12 in the stored JSON: the expansion is counted
    in UTF-8 bytes, the unit of the file limit (a plain file under that limit still always fits)."""
    emoji = "- &s '" + "\U0001f600" * 16_000 + "'\n- &l [" + ", ".join(["*s"] * 81) + "]\n"
    text = emoji + "- [" + ", ".join(["*l"] * 20) + "]\n"  # 26 million characters, 104 million bytes
    assert_every_path_refuses(text, EXPAND_WORDS, "32 MiB of text")
    plain = "- &s '" + "s" * 16_000 + "'\n- &l [" + ", ".join(["*s"] * 81) + "]\n- [" + ", ".join(["*l"] * 20) + "]\n"
    assert each_path(plain)["load_yaml"] == "value"  # the same in ASCII: 26 million bytes
