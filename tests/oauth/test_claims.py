"""desktop.oauth.claims: the displayable facts of a token response (pure)."""

from __future__ import annotations

import base64
import json

from desktop.oauth.claims import account_mismatch, jwt_claims, token_info


def jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_a_microsoft_style_access_token_names_account_scope_and_audience():
    token = jwt({"aud": "https://outlook.office.com", "upn": "support@contoso.com",
                 "scp": "IMAP.AccessAsUser.All SMTP.Send", "iss": "https://sts.windows.net/x/"})
    info = token_info({"access_token": token, "token_type": "Bearer", "scope":
                       "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send"},
                      token)
    assert info == {
        "account": "support@contoso.com",
        "granted_scope": "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send",
        "token_scope": "IMAP.AccessAsUser.All SMTP.Send",
        "audience": "https://outlook.office.com",
        "token_type": "Bearer",
    }
    assert "c2lnbmF0dXJl" not in json.dumps(info)


def test_an_opaque_google_token_yields_the_scope_and_the_id_tokens_email():
    payload = {"access_token": "ya29.a0AfB_opaque", "scope": "https://mail.google.com/ openid",
               "id_token": jwt({"email": "sales@example.com", "aud": "client-id"}), "token_type": "Bearer"}
    info = token_info(payload, payload["access_token"])
    assert info == {"account": "sales@example.com", "granted_scope": "https://mail.google.com/ openid",
                    "token_type": "Bearer"}  # the ID token's audience is the client, not a resource: not shown


def test_roles_of_a_client_credentials_token_and_list_audiences():
    token = jwt({"aud": ["api://a", "api://b"], "roles": ["Mail.Send", "full_access_as_app"]})
    assert token_info({}, token) == {"token_scope": "Mail.Send full_access_as_app", "audience": "api://a api://b"}


def test_garbage_is_no_claims():
    for value in (None, "", "a.b", "a.b.c", "x." + base64.urlsafe_b64encode(b"[1,2]").decode() + ".y",
                  "x.!!!.y"):
        assert jwt_claims(value) == {}
    assert token_info({"scope": ["a", "b"]}, "opaque") == {"granted_scope": "a b"}


def test_account_mismatch_in_plain_words():
    assert account_mismatch({"account": "Support@Contoso.com"}, "support@contoso.com") == ""
    assert account_mismatch({}, "support@contoso.com") == ""
    text = account_mismatch({"account": "sales@contoso.com"}, "support@contoso.com")
    assert text.startswith("The token was issued to sales@contoso.com, but this account logs in as support@")


def test_missing_scopes_names_what_the_consent_screen_took_away():
    from desktop.oauth.claims import missing_scopes

    google = "https://mail.google.com/ openid email"
    assert missing_scopes(google, "") == []  # the provider said nothing: no claim either way
    userinfo = "https://www.googleapis.com/auth/userinfo.email"
    assert missing_scopes(google, f"https://mail.google.com/ openid {userinfo}") == []
    assert missing_scopes(google, f"openid {userinfo}") == ["https://mail.google.com/"]
    microsoft = "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access"
    assert missing_scopes(microsoft, "https://outlook.office.com/IMAP.AccessAsUser.All "
                                     "https://outlook.office.com/SMTP.Send") == []
    assert missing_scopes("IMAP.AccessAsUser.All", "https://outlook.office.com/IMAP.AccessAsUser.All") == []
    assert missing_scopes(microsoft, "https://outlook.office.com/IMAP.AccessAsUser.All") == [
        "https://outlook.office.com/SMTP.Send"]


def test_the_details_note_when_a_scope_was_not_granted():
    from desktop.models.templates import load_templates
    from desktop.models.token import TokenState
    from desktop.oauth.tokens import warnings_for

    cfg = load_templates().require("Google Mail").new_configuration("Sales Gmail")
    state = TokenState(1, has_access_token=True, has_refresh_token=True,
                       token_info={"granted_scope": "openid https://www.googleapis.com/auth/userinfo.email"})
    [note] = [n for n in warnings_for(cfg, state) if "granted less" in n]
    assert note.startswith("The provider granted less than was asked: https://mail.google.com/ is missing")
    state.token_info["granted_scope"] = cfg.scope
    assert not [n for n in warnings_for(cfg, state) if "granted less" in n]
