"""TokenConfiguration and TokenState are plain classes (desktop/models/record.py: no ``dataclasses`` on the
window's start path); they keep what the dataclasses gave: defaults, equality, repr and replace."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from desktop.models.config import VALID, TokenConfiguration
from desktop.models.token import TokenState


def test_a_configuration_compares_by_its_fields_but_not_by_the_revisions_it_was_read_at():
    a = TokenConfiguration("Support", {"ClientID": "abc"}, id=4, revision=1, secret_revision=2)
    b = TokenConfiguration(name="Support", config={"ClientID": "abc"}, id=4)
    assert a == b  # the revisions are not part of equality
    assert a != TokenConfiguration("Support", {"ClientID": "abd"}, id=4)
    assert a != TokenConfiguration("Support", {"ClientID": "abc"}, id=5)
    assert (a == "Support") is False
    with pytest.raises(TypeError):
        hash(a)  # mutable: not hashable, as the dataclass was not


def test_defaults_are_fresh_per_object():
    a, b = TokenConfiguration("A"), TokenConfiguration("B")
    a.config["Scope"] = "mail"
    a.extra["Note"] = "x"
    assert b.config == {} and b.extra == {}
    assert (a.valid_id, a.id, a.has_client_secret, a.revision) == (VALID, None, False, 0)
    s, t = TokenState(1), TokenState(2)
    s.token_info["account"] = "ops@example.org"
    assert t.token_info == {} and t.last_used_by == "" and t.has_access_token is False


def test_replace_gives_a_changed_copy_and_refuses_unknown_fields():
    at = datetime(2026, 12, 1, tzinfo=UTC)
    state = TokenState(7, has_access_token=True, token_expires_at=at, token_info={"account": "a"})
    renewed = state.replace(reauthorization_needed=True)
    assert renewed.reauthorization_needed and not state.reauthorization_needed
    assert (renewed.config_id, renewed.token_expires_at, renewed.token_info) == (7, at, {"account": "a"})
    cfg = TokenConfiguration("Support", {"ClientID": "abc"}, revision=3)
    moved = cfg.replace(id=9)
    assert (moved.id, moved.name, moved.config, moved.revision, cfg.id) == (9, "Support", {"ClientID": "abc"}, 3, None)
    with pytest.raises(TypeError, match="no field colour"):
        cfg.replace(colour="red")


def test_a_stored_configuration_parses_its_config_when_first_read_and_shows_it_in_its_repr():
    cfg = TokenConfiguration.from_stored("Support", '{"ClientID": "abc", "TemplateName": "Google"}', "Google", id=3)
    assert "_config" not in cfg.__dict__ and cfg.template_name == "Google"  # not parsed for the table
    assert cfg == TokenConfiguration("Support", {"ClientID": "abc", "TemplateName": "Google"}, id=3)
    assert repr(cfg).startswith("TokenConfiguration(name='Support', config={'ClientID': 'abc'")
    assert repr(TokenState(1)).startswith("TokenState(config_id=1, has_access_token=False")
