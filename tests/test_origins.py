"""desktop.models.origins: normalised origins and the endpoints a change moves (pure, no store)."""

from __future__ import annotations

import pytest

from desktop.models.config import TokenConfiguration
from desktop.models.origins import DISCOVERY, EndpointMove, describe_moves, endpoint_moves, new_origins, origin


@pytest.mark.parametrize(("url", "expected"), [
    ("https://IdP.Example.COM/oauth2/token", "https://idp.example.com"),
    ("HTTPS://idp.example.com:443/x", "https://idp.example.com"),
    ("http://localhost:80/cb", "http://localhost"),
    ("http://127.0.0.1:8080/token", "http://127.0.0.1:8080"),
    ("https://idp.example.com:8443/token", "https://idp.example.com:8443"),
    ("https://idp.example.com./token", "https://idp.example.com"),
    ("https://[0:0:0:0:0:0:0:1]:443/t", "https://[::1]"),
    ("https://bücher.example/token", "https://xn--bcher-kva.example"),
    ("https://BÜCHER.example/token", "https://xn--bcher-kva.example"),
    ("https://xn--bcher-kva.example/token", "https://xn--bcher-kva.example"),
    ("https://user:pw@idp.example.com/t", "https://idp.example.com"),
    ("  https://idp.example.com/t  ", "https://idp.example.com"),
    ("", ""),
    ("not a url", "not a url"),
    ("https://idp.example.com:99999/t", "https://idp.example.com:99999/t"),  # unreadable port: as written
])
def test_origin_is_normalised_as_the_http_client_connects(url, expected):
    assert origin(url) == expected


def config(host: str = "https://a.example", *, refresh: str | None = None, revocation: str = "",
           discovery: str = "") -> TokenConfiguration:
    cfg = TokenConfiguration(name="x")
    cfg.set_endpoint("AuthorizationCode", f"{host}/authorize")
    cfg.set_endpoint("TokenByAuthorizationCode", f"{host}/token")
    cfg.set_endpoint("TokenByRefreshToken", f"{host}/token" if refresh is None else refresh)
    if revocation:
        cfg.set_endpoint("TokenRevocation", revocation)
    if discovery:
        cfg.discovery_url = discovery
    return cfg


def test_every_endpoint_that_moves_is_listed_with_both_origins():
    moves = endpoint_moves(config(), config("https://b.example:8443"))
    assert [(m.key, m.old_origin, m.new_origin) for m in moves] == [
        ("AuthorizationCode", "https://a.example", "https://b.example:8443"),
        ("TokenByAuthorizationCode", "https://a.example", "https://b.example:8443"),
        ("TokenByRefreshToken", "https://a.example", "https://b.example:8443"),
    ]
    assert describe_moves(moves) == ("authorization, token and token refresh endpoints move from "
                                     "https://a.example to https://b.example:8443")
    assert new_origins(moves) == ["https://b.example:8443"]


def test_scheme_and_port_are_part_of_the_origin():
    assert [m.key for m in endpoint_moves(config(), config("http://a.example"))] != []
    assert [m.new_origin for m in endpoint_moves(config(), config("https://a.example:444"))][0] == \
        "https://a.example:444"


def test_the_same_origins_written_differently_are_no_move():
    assert endpoint_moves(config("https://bücher.example"), config("https://XN--BCHER-KVA.example:443")) == []
    assert endpoint_moves(config(), config("HTTPS://A.EXAMPLE.")) == []


def test_the_refresh_endpoint_falls_back_to_the_token_endpoint():
    stored = config(refresh="")
    changed = config(refresh="https://b.example/token")
    assert [(m.key, str(m)) for m in endpoint_moves(stored, changed)] == [
        ("TokenByRefreshToken", "token refresh endpoint: https://a.example \u2192 https://b.example")]
    assert endpoint_moves(config(), config(refresh="")) == []  # emptied: it is the token endpoint again


def test_an_endpoint_set_for_the_first_time_counts_only_at_a_new_host():
    assert endpoint_moves(config(), config(revocation="https://a.example/revoke")) == []
    [move] = endpoint_moves(config(), config(revocation="https://r.example/revoke"))
    assert (move.key, move.old_origin, move.new_origin) == ("TokenRevocation", "", "https://r.example")
    assert describe_moves([move]) == "revocation endpoint is set to https://r.example (a new host)"
    assert str(move) == "revocation endpoint set to https://r.example (a new host)"


def test_a_removed_endpoint_sends_nothing_anywhere_new():
    assert endpoint_moves(config(revocation="https://r.example/revoke"), config()) == []


def test_a_configuration_that_never_had_an_endpoint_has_nothing_to_protect():
    assert endpoint_moves(TokenConfiguration(name="x"), config("https://b.example")) == []


def test_the_discovery_url_is_listed_with_endpoints_that_moved_but_is_no_move_alone():
    stored = config(discovery="https://a.example/realms/main")
    assert endpoint_moves(stored, config(discovery="https://b.example/realms/main")) == []
    moves = endpoint_moves(stored, config("https://b.example", discovery="https://b.example/realms/main"))
    assert moves[-1] == EndpointMove(DISCOVERY, "https://a.example", "https://b.example")
    assert describe_moves(moves).endswith(
        "; the issuer (discovery URL) moves from https://a.example to https://b.example")
    assert new_origins(moves) == ["https://b.example"]


def test_moves_to_several_hosts_are_grouped_per_pair():
    changed = config(refresh="https://c.example/token")
    changed.set_endpoint("TokenByAuthorizationCode", "https://b.example/token")
    text = describe_moves(endpoint_moves(config(), changed))
    assert text == ("token endpoint moves from https://a.example to https://b.example; "
                    "token refresh endpoint moves from https://a.example to https://c.example")
