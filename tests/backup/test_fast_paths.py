"""The fast paths of large backups give exactly what the general ones give.

* ``yamlio.lines.load_block_lines`` (block-style files read line by line) reads what ``yaml.safe_load`` reads,
  and leaves every other file to the event reader (so its guards and messages apply unchanged);
* ``scalar_text`` quotes without PyYAML exactly as PyYAML quotes;
* the import checker's memo (equal Requests, equal clean mappings) reports the same problems and notes;
* ``Store.insert_many`` inserts all or nothing, ids in order, a token state for each.
"""

from __future__ import annotations

import copy
import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.backup import apply_import, parse_import, plan_import
from desktop.backup.yamlio.limits import YamlReadError
from desktop.backup.yamlio.lines import NotBlockLines, load_block_lines
from desktop.backup.yamlio.reader import load_yaml
from desktop.backup.yamlio.writer import _NUMBERISH, _PLAIN_SAFE, _pyyaml_scalar, dump_records, scalar_text
from desktop.models.templates import load_templates
from desktop.store.repository import DuplicateNameError
from desktop.store.secrets import CLIENT_SECRET

TEMPLATES = load_templates()
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fast_or_none(text: str):
    """(True, value) when the line reader takes the text, (False, None) when it leaves it to the others."""
    try:
        return True, load_block_lines(text)
    except NotBlockLines:
        return False, None


def assert_same_as_safe_load(text: str) -> bool:
    taken, value = fast_or_none(text)
    if taken:
        expected = yaml.safe_load(text)  # must not raise: the line reader took only valid YAML
        assert value == expected and repr(value) == repr(expected), text
        assert load_yaml(text) == expected
    return taken


# ---- the line reader
LINE = st.tuples(
    st.sampled_from([0, 0, 1, 2, 2, 3, 4, 4, 6]),
    st.sampled_from([0, 0, 0, 1, 1, 2]),
    st.sampled_from([
        "k: v", "k:", "v", "'q': v", "k: 'x y'", "k: {}", "k: []", "j: 1", "i: a b", 'k: "d\\tq"', "k: ~", "l:",
        "m: x:y", "'': e", "k: -", "k: - x", "k:x", "? k", ": v", "k: v # c", "- k: v", "{}", "[]", "...", "---",
        "k: |", "k: >", "&a k: v", "k: *a", "x", "k: yes", "k: 2024-01-01", "k: 0x1F", "<<: v", "1: v", "k: a  b",
        "k: \u00e9t\u00e9", "k: a\u2028b", "k: \ufeffx", "k: a\tb", "k:  v", "k: v ",
    ]),
)


@SETTINGS
@given(st.booleans(), st.lists(LINE, min_size=1, max_size=8))
def test_line_reader_reads_what_safe_load_reads(header, lines):
    text = ("---\n" if header else "") + "".join(" " * i + "- " * d + t + "\n" for i, d, t in lines)
    assert_same_as_safe_load(text)


KEYS = st.text(alphabet=string.ascii_letters[:6] + "019 :/-._'#~\u00e9\"\\", min_size=1, max_size=10)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), KEYS,
              st.sampled_from(["yes", "1_0", "0o7", "1.5", "2024-01-01", ".inf", "~", "", "a:b", "x#y", "a\nb"])),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=3)),
    max_leaves=20,
)


@SETTINGS
@given(st.lists(st.dictionaries(KEYS, VALUES, max_size=5), min_size=1, max_size=4))
def test_line_reader_reads_our_writer(records):
    text = dump_records(records)
    if assert_same_as_safe_load(text):
        assert load_block_lines(text) == records


@SETTINGS
@given(VALUES, st.sampled_from([None, "'", '"']), st.integers(2, 4))
def test_line_reader_reads_safe_dump(value, style, indent):
    text = yaml.safe_dump(value, default_flow_style=False, default_style=style, allow_unicode=True, indent=indent)
    assert_same_as_safe_load(text)


@pytest.mark.parametrize(
    "text",
    [
        "# a comment\n- a\n",
        "- a\n\n- b\n",
        "- Scope: one\n    two\n",  # a plain scalar continued on the next line
        "- {Name: x}\n",
        "- k: &a v\n  j: *a\n",
        "- k: !!str 1\n",
        "- k: |\n    text\n",
        "%YAML 1.1\n---\n- a\n",
        "- a\n---\n- b\n",
        "- a\r\n- b\r\n",
        "- k:\tv\n",
        "- k: v\x07\n",
        "- 1: v\n",
        "- null: v\n",
        "- " + "k" * 1100 + ": v\n",
        "--- []\n",
        "",
    ],
)
def test_line_reader_leaves_other_files_to_the_parser(text):
    assert fast_or_none(text) == (False, None)


def test_line_reader_takes_the_writers_style():
    text = "---\n- Name: a\n  ValidID: 1\n  Config:\n    List:\n    - x\n    - k: 'y'\n      j: []\n    Empty: {}\n"
    assert fast_or_none(text) == (True, yaml.safe_load(text))


def test_deep_nesting_read_line_by_line_is_refused_in_the_same_words():
    text = "".join("  " * i + "k:\n" for i in range(600)) + "  " * 600 + "k: v\n"
    with pytest.raises(YamlReadError, match="nested too deeply"):
        load_yaml(text)


# ---- quoting without PyYAML
@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.text(alphabet=string.printable[:95], max_size=16),
                 st.from_regex(_PLAIN_SAFE, fullmatch=True), st.from_regex(_NUMBERISH, fullmatch=True),
                 st.sampled_from(["true", "No", "null", "~", "1:30", "2024-01-01 10:00", "-1", "+.5", ".inf", "a: b"])))
def test_scalar_text_quotes_as_pyyaml_does(value):
    quote = bool(_NUMBERISH.fullmatch(value))
    expected = value if scalar_text(value) == value else _pyyaml_scalar(value, quote=quote)
    assert scalar_text(value) == expected
    assert yaml.safe_load(f"- {scalar_text(value)}\n") == [value]


# ---- the checker's memo
def _record(name: str) -> dict:
    cfg = TEMPLATES.require("Microsoft Exchange Online").new_configuration(name)
    cfg.client_id = f"id-{name}"
    return {"Name": name, "ValidID": 1, "Config": copy.deepcopy(cfg.config)}


def _report(records) -> list[list[str]]:
    """Per record: its problems (field: message) and notes."""
    parsed = parse_import(yaml.safe_dump(records, sort_keys=False), templates=TEMPLATES)
    return [[f"{p.field}: {p.message}" for p in r.problems] + r.notes for r in parsed.records]


def test_equal_requests_are_reported_for_every_record():
    bad = [_record(f"Bad {i}") for i in range(3)]
    for record in bad:
        record["Config"]["Requests"]["TokenByRefreshToken"]["Request"]["URL"] = "http://example.com/token"
        record["Config"]["Requests"]["Extra"] = {"Request": {"URL": "https://example.com/x"}}
    good = [_record(f"Good {i}") for i in range(2)]
    report = _report([good[0], bad[0], good[1], bad[1], bad[2]])
    assert report[0] == report[2] == []
    assert report[1] and report[1] == report[3] == report[4]
    assert any("must use https" in line for line in report[4])
    assert any("Config.Requests.Extra is not used" in line for line in report[4])


def test_equal_clean_mappings_are_still_checked_at_their_own_depth():
    deep = {"a": {"b": {"c": 1}}}
    shallow, nested = _record("Shallow"), _record("Nested")
    shallow["Config"]["X"] = copy.deepcopy(deep)
    inner = nested["Config"]
    for _ in range(30):
        inner["X"] = {}
        inner = inner["X"]
    inner["X"] = copy.deepcopy(deep)
    report = _report([shallow, nested])
    assert report[0] == []
    assert any("nested more than 32 levels deep" in line for line in report[1])


# ---- insert_many
def test_insert_many_gives_ids_in_order_and_token_states(ctx, make_config):
    make_config("Stored")
    configs = [TEMPLATES.require("Microsoft Exchange Online").new_configuration(f"Bulk {i}") for i in range(5)]
    for cfg in configs:
        cfg.client_id = "bulk"
    ids = ctx.store.insert_many([(cfg, i % 2 == 0) for i, cfg in enumerate(configs)], changed_now=True)
    assert [ctx.store.get_by_id(i).name for i in ids] == [c.name for c in configs]
    assert [ctx.store.get_by_id(i).has_client_secret for i in ids] == [True, False, True, False, True]
    assert all(ctx.store.get_state(i).config_id == i for i in ids)
    times = {(ctx.store.get_by_id(i).create_time, ctx.store.get_by_id(i).change_time) for i in ids}
    assert len(times) == 1  # one timestamp per call


@pytest.mark.parametrize("clash", ["stored", "twice"])
def test_insert_many_is_all_or_nothing(ctx, make_config, clash):
    make_config("Stored")
    names = ["New A", "STORED" if clash == "stored" else "New B", "new a" if clash == "twice" else "New C"]
    configs = [TEMPLATES.require("Microsoft Exchange Online").new_configuration(n) for n in names]
    before = ctx.store.names()
    with ctx.store.transaction():  # inside a caller's transaction too
        with pytest.raises(DuplicateNameError, match="STORED" if clash == "stored" else "new a"):
            ctx.store.insert_many([(cfg, False) for cfg in configs])
        assert ctx.store.names() == before
    assert ctx.store.names() == before


def test_bulk_import_stores_every_secret_in_its_transaction(ctx, make_config):
    make_config("Existing", secret="old")
    records = [_record("Existing"), *(_record(f"New {i}") for i in range(20))]
    for i, record in enumerate(records):
        record["Config"]["ClientSecret"] = f"file-secret-{i}" if i % 3 else ""
    plan = plan_import(ctx, parse_import(dump_records(records), templates=TEMPLATES), overwrite=True)
    summary = apply_import(ctx, plan)
    assert summary.added == [f"New {i}" for i in range(20)] and summary.overwritten == ["Existing"]
    assert summary.without_secret == [r["Name"] for i, r in enumerate(records) if i and not i % 3]
    for i, record in enumerate(records):
        cfg = ctx.store.get(record["Name"])
        expected = f"file-secret-{i}" if i % 3 else ("old" if i == 0 else None)
        assert ctx.secrets.get_for(cfg.id, CLIENT_SECRET) == expected
        assert cfg.has_client_secret == (expected is not None)
