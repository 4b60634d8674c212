"""Field validation shared by the dialog, the CLI and import: URLs, names, whole configurations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.models.config import (
    AUTHORIZATION_CODE,
    INVALID_TEMPORARILY,
    TOKEN_BY_AUTHORIZATION_CODE,
    TOKEN_BY_CLIENT_CREDENTIALS,
    TOKEN_BY_REFRESH_TOKEN,
    TOKEN_REVOCATION,
    TokenConfiguration,
)
from desktop.models.validation import (
    MAX_NAME_LENGTH,
    FieldError,
    check_name,
    check_url,
    is_loopback_host,
    validate_configuration,
)

HTTPS_NEEDED = "must use https (http is allowed only for this machine: localhost, 127.0.0.1, ::1)"


# ---- URLs


@pytest.mark.parametrize(
    "url",
    [
        "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "https://idp.example.org:8443/realms/main/protocol/openid-connect/auth?x=1",
        "  https://example.com/  ",  # surrounding blanks are trimmed
        "HTTPS://EXAMPLE.COM/",
        "http://localhost/callback",
        "http://localhost:8765/oauth2/callback",
        "http://LOCALHOST:1/",
        "http://127.0.0.1/",
        "http://127.0.0.1:8765/oauth2/callback",
        "http://127.4.5.6:9000/",
        "http://[::1]/",
        "http://[::1]:8080/cb",
        "https://[2001:db8::1]/token",
    ],
)
def test_accepted_urls(url: str):
    assert check_url(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "is required"),
        ("   ", "is required"),
        ("http://example.com/token", HTTPS_NEEDED),
        ("http://mail.example.com:8765/oauth2/callback", HTTPS_NEEDED),
        ("http://localhost.example.com/", HTTPS_NEEDED),
        # *.localhost is resolved through DNS (and /etc/hosts) here, so it may be anywhere: not loopback
        ("http://app.localhost/cb", HTTPS_NEEDED),
        ("http://evil.localhost:8080/token", HTTPS_NEEDED),
        ("http://localhost./", HTTPS_NEEDED),
        ("http://127.0.0.1.nip.io/", HTTPS_NEEDED),
        ("http://0.0.0.0:8080/", HTTPS_NEEDED),
        ("http://[::2]/", HTTPS_NEEDED),
        ("http://192.168.1.10/", HTTPS_NEEDED),
        ("https://example.com/a b", "must not contain spaces"),
        ("https://exa mple.com/", "must not contain spaces"),
        ("https://example.com/\tx", "must not contain spaces"),
        ("ftp://example.com/file", "must start with https://"),
        ("example.com/token", "must start with https://"),
        ("javascript:alert(1)", "must start with https://"),
        ("https://", "has no host name"),
        ("https:///token", "has no host name"),
        ("https://example.com:99999/", "is not a valid URL"),
        ("https://example.com:port/", "is not a valid URL"),
        ("http://[::1/", "is not a valid URL"),
    ],
)
def test_refused_urls_say_why(url: str, problem: str):
    assert check_url(url) == problem


def test_optional_url_may_be_empty_but_not_wrong():
    assert check_url("", required=False) is None
    assert check_url("http://example.com", required=False) == HTTPS_NEEDED


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("LocalHost", True), ("127.0.0.1", True), ("127.255.0.9", True), ("::1", True),
     ("[::1]", True), ("x.localhost", False), ("a.b.localhost", False), ("localhost.", False),
     ("example.com", False), ("", False), (None, False), ("10.0.0.1", False), ("localhost.evil", False),
     ("::ffff:127.0.0.1", False), ("0.0.0.0", False), ("127.1", False)],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_check_url_never_raises_on_any_text(text: str):
    result = check_url(text)
    assert result is None or isinstance(result, str) and result


url_parts = st.tuples(
    st.sampled_from(["http", "https", "HTTP", "ftp", "", "http:/", "https:"]),
    st.one_of(
        st.sampled_from(["localhost", "127.0.0.1", "[::1]", "::1", "[", "]", "example.com", "[fe80::1%eth0]",
                         "user:pw@host", "", "[::1]x", "%", "xn--bcher-kva.example"]),
        st.text(max_size=20),
    ),
    st.one_of(st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"), st.text(max_size=6).map(lambda t: ":" + t)),
    st.text(max_size=20),
)


@settings(max_examples=400, deadline=None)
@given(url_parts)
def test_check_url_never_raises_on_url_like_text(parts):
    scheme, host, port, path = parts
    url = f"{scheme}://{host}{port}/{path}"
    result = check_url(url)
    if result is None:
        # an accepted URL is http(s), and plain http only to this machine
        assert url.strip().lower().startswith(("http://", "https://"))
        if url.strip().lower().startswith("http://"):
            from urllib.parse import urlsplit

            assert is_loopback_host(urlsplit(url.strip()).hostname)


# ---- names


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is required"),
        ("   ", "is required"),
        (" Support", "must not start or end with spaces"),
        ("Support ", "must not start or end with spaces"),
        ("x" * (MAX_NAME_LENGTH + 1), f"is longer than {MAX_NAME_LENGTH} characters"),
        ("Sup\x00port", "must not contain control characters"),
        ("two\nlines", "must not contain control characters"),
        ("tab\there", "must not contain control characters"),
        ("esc\x1b[31m", "must not contain control characters"),
        ("del\x7f", "must not contain control characters"),
        ("c1\x85control", "must not contain control characters"),
        ("line\u2028separator", "must not contain control characters"),
    ],
)
def test_bad_names(name: str, problem: str):
    assert check_name(name) == problem


@pytest.mark.parametrize("name", ["Support mailbox", "x" * MAX_NAME_LENGTH, "Zoë's Gmail (Büro)", "a", "名前"])
def test_good_names(name: str):
    assert check_name(name, existing_names={"Other"}) is None


def test_duplicate_names_case_insensitively_except_its_own():
    existing = {"Support Mailbox", "Sales"}
    assert check_name("support mailbox", existing) == "'support mailbox' is already used by another configuration"
    taken = "'SALES' is already used by another configuration"
    assert check_name("SALES", existing, own_name="Support Mailbox") == taken
    assert check_name("SUPPORT MAILBOX", existing, own_name="Support Mailbox") is None
    assert check_name("Straße", {"STRASSE"}) is not None  # casefold, not lower


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=250), st.sets(st.text(max_size=10), max_size=5))
def test_check_name_never_raises(name, existing):
    result = check_name(name, existing)
    assert result is None or isinstance(result, str)


# ---- whole configurations


def _auth_code_config(**endpoints: str) -> TokenConfiguration:
    cfg = TokenConfiguration(name="Cfg", config={"TemplateName": "Generic OAuth2", "ClientID": "id"})
    for key, url in {
        AUTHORIZATION_CODE: "https://idp.example/auth",
        TOKEN_BY_AUTHORIZATION_CODE: "https://idp.example/token",
        TOKEN_BY_REFRESH_TOKEN: "https://idp.example/token",
        **endpoints,
    }.items():
        cfg.set_endpoint(key, url)
    return cfg


def fields(errors: list[FieldError]) -> dict[str, str]:
    return {e.field: e.message for e in errors}


def test_complete_configuration_is_valid():
    assert validate_configuration(_auth_code_config(), existing_names={"Other"}) == []


def test_every_problem_is_named_by_field():
    cfg = TokenConfiguration(name="", config={})
    cfg.valid_id = 9
    cfg.config["AuthFlow"] = "Implicit"
    cfg.set_endpoint(TOKEN_REVOCATION, "http://idp.example/revoke")
    cfg.redirect_url_override = "https://exa mple/"
    errors = validate_configuration(cfg, has_client_secret=False)
    by_field = fields(errors)
    assert by_field["Name"] == "is required"
    assert by_field["Template"] == "is required"
    assert by_field["Client ID"] == "is required"
    assert by_field["Client secret"] == "is required"
    assert by_field["Validity"].startswith("must be one of 1 (valid), 2 (invalid), 3 (invalid-temporarily)")
    assert by_field["AuthFlow"] == "must be AuthorizationCode or ClientCredentials, not 'Implicit'"
    assert by_field["Authorization endpoint"] == "is required"
    assert by_field["Token endpoint"] == "is required"
    assert by_field["Token refresh endpoint"] == "is required"
    assert by_field["Revocation endpoint"] == HTTPS_NEEDED
    assert by_field["Redirect URI"] == "must not contain spaces"
    assert str(errors[0]) == "Name: is required"


def test_client_secret_check_is_skipped_unless_asked():
    cfg = _auth_code_config()
    assert validate_configuration(cfg, has_client_secret=None) == []
    assert validate_configuration(cfg, has_client_secret=True) == []


def test_invalid_temporarily_is_a_valid_validity():
    cfg = _auth_code_config()
    cfg.valid_id = INVALID_TEMPORARILY
    assert validate_configuration(cfg) == []


def test_http_endpoint_on_a_remote_host_is_refused():
    errors = fields(validate_configuration(_auth_code_config(**{TOKEN_BY_AUTHORIZATION_CODE: "http://idp.example/t"})))
    assert errors == {"Token endpoint": HTTPS_NEEDED}


def test_loopback_endpoints_are_fine_for_test_servers():
    cfg = _auth_code_config(**{AUTHORIZATION_CODE: "http://127.0.0.1:8080/authorize",
                               TOKEN_BY_AUTHORIZATION_CODE: "http://localhost:8080/token",
                               TOKEN_BY_REFRESH_TOKEN: "http://[::1]:8080/token"})
    assert validate_configuration(cfg) == []


def test_client_credentials_configuration_needs_only_its_endpoint():
    cfg = TokenConfiguration(name="App only", config={"TemplateName": "MS CC", "AuthFlow": "ClientCredentials",
                                                     "ClientID": "id"})
    assert fields(validate_configuration(cfg)) == {"Token endpoint (client credentials)": "is required"}
    cfg.set_endpoint(TOKEN_BY_CLIENT_CREDENTIALS, "https://login.microsoftonline.com/contoso/oauth2/v2.0/token")
    assert validate_configuration(cfg) == []  # no authorization or refresh endpoint needed


def test_duplicate_name_in_a_whole_configuration():
    errors = fields(validate_configuration(_auth_code_config(), existing_names={"CFG"}))
    assert errors == {"Name": "'Cfg' is already used by another configuration"}
    assert validate_configuration(_auth_code_config(), existing_names={"CFG"}, own_name="cfg") == []


def test_a_localhost_subdomain_gets_no_plain_http_anywhere(ctx):
    """*.localhost goes through DNS here: the dialog/import check, the token request and the system browser's
    redirect all treat it as any other host (https required), in the same words."""
    from desktop.oauth.errors import ConfigurationProblem
    from desktop.oauth.flow import check_endpoint, loopback_redirect_uri

    cfg = ctx.templates.require("Generic OAuth2").new_configuration("Local IdP")
    cfg.client_id = "c"
    cfg.set_endpoint(AUTHORIZATION_CODE, "http://idp.localhost:8080/auth")
    cfg.set_endpoint(TOKEN_BY_AUTHORIZATION_CODE, "http://idp.localhost:8080/token")
    errors = {e.field: e.message for e in validate_configuration(cfg)}
    assert errors["Token endpoint"] == HTTPS_NEEDED and errors["Authorization endpoint"] == HTTPS_NEEDED
    with pytest.raises(ConfigurationProblem) as info:
        check_endpoint("http://idp.localhost:8080/token", "Token endpoint")
    assert "https is required" in str(info.value) and "127.0.0.1, ::1 and localhost" in info.value.hint
    cfg.redirect_url_override = "http://app.localhost/cb"
    with pytest.raises(ConfigurationProblem):
        loopback_redirect_uri(cfg, {}, 4321)
    check_endpoint("http://localhost:8080/token", "Token endpoint")  # the name itself stays this machine
