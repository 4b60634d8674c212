"""Token configuration: Znuny's data model, kept as Znuny's ``Config`` mapping.

The configuration is stored as the Znuny-shaped ``Config`` mapping itself, so unknown keys
from an imported file survive untouched and are exported again. Typed accessors give the
rest of the code what it needs. The client secret is *not* part of ``config``: it lives in
the secret store (see ``desktop.store.secrets``) and is only carried transiently by an
import or an add command.

Tokendesk's own additions live in the ``Config.Tokendesk`` mapping (PKCE switch, browser
mode, redirect URI override, refresh-token lifetime, client authentication method), in
``Config.Requests.TokenRevocation`` (RFC 7009 endpoint) and in ``Config.Notifications`` (``NotifyBeforeTokenExpiry``,
``NotifyBeforeRefreshTokenExpiry``, ``NotificationLeadTimeMinutes``).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from desktop.models.record import Record

# ---- ValidID (Znuny)
VALID = 1
INVALID = 2
INVALID_TEMPORARILY = 3
VALIDITY_LABELS: dict[int, str] = {VALID: "valid", INVALID: "invalid", INVALID_TEMPORARILY: "invalid-temporarily"}

# ---- Requests keys (Znuny + Tokendesk)
AUTHORIZATION_CODE = "AuthorizationCode"
TOKEN_BY_AUTHORIZATION_CODE = "TokenByAuthorizationCode"
TOKEN_BY_REFRESH_TOKEN = "TokenByRefreshToken"
TOKEN_BY_CLIENT_CREDENTIALS = "TokenByClientCredentials"
TOKEN_REVOCATION = "TokenRevocation"  # Tokendesk
DEVICE_AUTHORIZATION = "DeviceAuthorization"  # Tokendesk (RFC 8628), in Znuny's request shape
REQUEST_KEYS = (
    AUTHORIZATION_CODE,
    TOKEN_BY_AUTHORIZATION_CODE,
    TOKEN_BY_REFRESH_TOKEN,
    TOKEN_BY_CLIENT_CREDENTIALS,
    TOKEN_REVOCATION,
    DEVICE_AUTHORIZATION,
)
#: what the forms, the details pane and the error messages call each endpoint
ENDPOINT_LABELS = {
    AUTHORIZATION_CODE: "Authorization endpoint",
    TOKEN_BY_AUTHORIZATION_CODE: "Token endpoint",
    TOKEN_BY_REFRESH_TOKEN: "Token refresh endpoint",
    TOKEN_BY_CLIENT_CREDENTIALS: "Token endpoint (client credentials)",
    TOKEN_REVOCATION: "Revocation endpoint",
    DEVICE_AUTHORIZATION: "Device authorization endpoint",
}

# ---- AuthFlow (Znuny 7.1+; absent means AuthorizationCode): the values and what they mean are the grant
# descriptors' (desktop/models/grants.py); nothing else compares them
FLOW_AUTHORIZATION_CODE = "AuthorizationCode"
FLOW_CLIENT_CREDENTIALS = "ClientCredentials"

# ---- Values allowed in AutofilledParametersMapping / ParametersMapping
AUTOFILL_SOURCES = ("ClientID", "ClientSecret", "Scope", "AuthorizationCode", "RefreshToken", "State", "RedirectURL")
RESPONSE_TARGETS = (
    "Token",
    "TokenExpirationDate",
    "RefreshToken",
    "RefreshTokenExpirationDate",
    "ErrorMessage",
    "ErrorDescription",
    "ErrorCode",
    "AuthorizationCode",
    "State",
)
#: what a Requests.DeviceAuthorization answer's ParametersMapping may name (RFC 8628 3.2; the device grant's driver)
DEVICE_RESPONSE_TARGETS = (
    "DeviceCode",
    "UserCode",
    "VerificationURI",
    "VerificationURIComplete",
    "ExpiresIn",
    "Interval",
    "ErrorMessage",
    "ErrorDescription",
    "ErrorCode",
)

BROWSER_EMBEDDED = "embedded"
BROWSER_SYSTEM = "system"

#: how the client secret reaches the token endpoint (RFC 6749 2.3.1; Config.Tokendesk.ClientAuthentication):
#: in the form body, as Znuny does, or as HTTP Basic, which some providers require
CLIENT_AUTH_POST = "client_secret_post"
CLIENT_AUTH_BASIC = "client_secret_basic"
CLIENT_AUTH_METHODS = (CLIENT_AUTH_POST, CLIENT_AUTH_BASIC)

DEFAULT_LEAD_TIME_MINUTES = 60 * 24  # warn a day ahead unless the configuration says otherwise


def _get_config(self: TokenConfiguration) -> dict[str, Any]:
    d = self.__dict__
    if "_config" not in d:
        d["_config"] = json.loads(d.pop("_config_json", "{}") or "{}")
        d.pop("_template_name", None)
    return d["_config"]  # type: ignore[no-any-return]


def _set_config(self: TokenConfiguration, value: dict[str, Any]) -> None:
    self.__dict__["_config"] = value
    self.__dict__.pop("_config_json", None)
    self.__dict__.pop("_template_name", None)


def _flag(value: Any, default: bool = False) -> bool:
    """Znuny writes booleans as 0/1 (sometimes as strings)."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off")
    return bool(value)


class TokenConfiguration(Record):
    """One provider application registration (a Znuny "token configuration")."""

    name: str
    config: dict[str, Any]
    valid_id: int
    id: int | None
    create_time: str | None
    change_time: str | None
    create_by: int | None
    change_by: int | None
    #: top-level record keys other than Name/Config/ValidID/Create*/Change* (kept for export)
    extra: dict[str, Any]
    #: whether the secret store holds a client secret for it (stored configurations only)
    has_client_secret: bool
    #: the stored revisions this object was read at (schema 7; each save of the row / of its client secret counts
    #: one up): an edit saves over them only (``Store.update(expected=...)``); not part of equality
    revision: int
    secret_revision: int

    _fields = ("name", "config", "valid_id", "id", "create_time", "change_time", "create_by", "change_by", "extra",
               "has_client_secret", "revision", "secret_revision")
    _compared = _fields[:-2]

    def __init__(self, name: str, config: dict[str, Any] | None = None, valid_id: int = VALID, id: int | None = None,  # noqa: A002
                 create_time: str | None = None, change_time: str | None = None, create_by: int | None = None,
                 change_by: int | None = None, extra: dict[str, Any] | None = None, has_client_secret: bool = False,
                 revision: int = 0, secret_revision: int = 0) -> None:
        self.name = name
        self.config = {} if config is None else config
        self.valid_id = valid_id
        self.id = id
        self.create_time = create_time
        self.change_time = change_time
        self.create_by = create_by
        self.change_by = change_by
        self.extra = {} if extra is None else extra
        self.has_client_secret = has_client_secret
        self.revision = revision
        self.secret_revision = secret_revision

    def copy(self) -> TokenConfiguration:
        import copy  # not at the top: only an edit copies, and the window's start does without it

        return copy.deepcopy(self)

    @classmethod
    def from_stored(cls, name: str, config_json: str, template_name: str, **fields: Any) -> TokenConfiguration:
        """A configuration whose ``config`` is parsed from JSON only when first used.

        Listing 10,000 configurations for the table needs names, templates and validity, not
        every Config mapping; parsing lazily keeps the table load well under 0.5 s.
        """
        obj = cls(name=name, **fields)
        obj.__dict__.pop("_config", None)
        obj.__dict__["_config_json"] = config_json
        obj.__dict__["_template_name"] = template_name
        return obj

    # ---- identity and top-level fields
    @property
    def template_name(self) -> str:
        if "_config" not in self.__dict__ and "_template_name" in self.__dict__:
            return str(self.__dict__["_template_name"])
        return str(self.config.get("TemplateName") or "")

    @template_name.setter
    def template_name(self, value: str) -> None:
        self.config["TemplateName"] = value

    @property
    def auth_flow(self) -> str:
        return str(self.config.get("AuthFlow") or FLOW_AUTHORIZATION_CODE)

    @property
    def client_id(self) -> str:
        return str(self.config.get("ClientID") or "")

    @client_id.setter
    def client_id(self, value: str) -> None:
        self.config["ClientID"] = value

    @property
    def scope(self) -> str:
        return str(self.config.get("Scope") or "")

    @scope.setter
    def scope(self, value: str) -> None:
        self.config["Scope"] = value

    @property
    def is_valid(self) -> bool:
        return self.valid_id == VALID

    @property
    def validity_label(self) -> str:
        return VALIDITY_LABELS.get(self.valid_id, f"unknown ({self.valid_id})")

    # ---- requests
    def request(self, key: str) -> dict[str, Any]:
        """The ``Requests.<key>`` mapping (empty when absent); read-only view semantics."""
        requests = self.config.get("Requests") or {}
        value = requests.get(key) if isinstance(requests, dict) else None
        return value if isinstance(value, dict) else {}

    def _request_part(self, key: str, part: str) -> dict[str, Any]:
        req = self.request(key).get(part)
        return req if isinstance(req, dict) else {}

    def endpoint(self, key: str) -> str:
        return str(self._request_part(key, "Request").get("URL") or "")

    def set_endpoint(self, key: str, url: str) -> None:
        requests = self.config.setdefault("Requests", {})
        entry = requests.setdefault(key, {})
        request = entry.setdefault("Request", {})
        request["URL"] = url

    def static_parameters(self, key: str) -> dict[str, str]:
        params = self._request_part(key, "Request").get("Parameters") or {}
        return {str(k): "" if v is None else str(v) for k, v in params.items()} if isinstance(params, dict) else {}

    def autofilled_parameters(self, key: str) -> dict[str, str]:
        params = self._request_part(key, "Request").get("AutofilledParametersMapping") or {}
        return {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {}

    def response_mapping(self, key: str) -> dict[str, str]:
        mapping = self._request_part(key, "Response").get("ParametersMapping") or {}
        return {str(k): str(v) for k, v in mapping.items()} if isinstance(mapping, dict) else {}

    @property
    def authorization_url(self) -> str:
        return self.endpoint(AUTHORIZATION_CODE)

    @property
    def token_url(self) -> str:
        return self.endpoint(TOKEN_BY_AUTHORIZATION_CODE)

    @property
    def refresh_url(self) -> str:
        return self.endpoint(TOKEN_BY_REFRESH_TOKEN)

    @property
    def client_credentials_url(self) -> str:
        return self.endpoint(TOKEN_BY_CLIENT_CREDENTIALS)

    @property
    def revocation_url(self) -> str:
        return self.endpoint(TOKEN_REVOCATION)

    def endpoints_in_use(self) -> dict[str, str]:
        """The endpoints this configuration's grants need, keyed by request key (``grants.endpoint_keys``)."""
        from desktop.models.grants import endpoint_keys

        return {k: self.endpoint(k) for k in endpoint_keys(self)}

    # ---- notifications
    def _notifications(self) -> dict[str, Any]:
        value = self.config.get("Notifications")
        return value if isinstance(value, dict) else {}

    def _set_notification(self, key: str, value: Any) -> None:
        notes = self.config.get("Notifications")
        if not isinstance(notes, dict):
            notes = self.config["Notifications"] = {}
        notes[key] = value

    @property
    def notify_on_expired_token(self) -> bool:
        return _flag(self._notifications().get("NotifyOnExpiredToken"), False)

    @notify_on_expired_token.setter
    def notify_on_expired_token(self, value: bool) -> None:
        self._set_notification("NotifyOnExpiredToken", int(bool(value)))

    @property
    def notify_on_expired_refresh_token(self) -> bool:
        return _flag(self._notifications().get("NotifyOnExpiredRefreshToken"), True)

    @notify_on_expired_refresh_token.setter
    def notify_on_expired_refresh_token(self, value: bool) -> None:
        self._set_notification("NotifyOnExpiredRefreshToken", int(bool(value)))

    @property
    def notify_before_token_expiry(self) -> bool:
        return _flag(self._notifications().get("NotifyBeforeTokenExpiry"), False)

    @notify_before_token_expiry.setter
    def notify_before_token_expiry(self, value: bool) -> None:
        self._set_notification("NotifyBeforeTokenExpiry", int(bool(value)))

    @property
    def notify_before_refresh_token_expiry(self) -> bool:
        return _flag(self._notifications().get("NotifyBeforeRefreshTokenExpiry"), True)

    @notify_before_refresh_token_expiry.setter
    def notify_before_refresh_token_expiry(self, value: bool) -> None:
        self._set_notification("NotifyBeforeRefreshTokenExpiry", int(bool(value)))

    @property
    def notification_lead_time_minutes(self) -> int:
        try:
            return max(0, int(self._notifications().get("NotificationLeadTimeMinutes", DEFAULT_LEAD_TIME_MINUTES)))
        except (TypeError, ValueError):
            return DEFAULT_LEAD_TIME_MINUTES

    @notification_lead_time_minutes.setter
    def notification_lead_time_minutes(self, value: int) -> None:
        self._set_notification("NotificationLeadTimeMinutes", int(value))

    # ---- Tokendesk additions
    def _tokendesk(self) -> dict[str, Any]:
        value = self.config.get("Tokendesk")
        return value if isinstance(value, dict) else {}

    def _set_tokendesk(self, key: str, value: Any) -> None:
        td = self.config.get("Tokendesk")
        if not isinstance(td, dict):
            td = self.config["Tokendesk"] = {}
        if value is None:
            td.pop(key, None)
        else:
            td[key] = value

    @property
    def pkce_enabled(self) -> bool:
        return _flag(self._tokendesk().get("PKCE"), True)

    @pkce_enabled.setter
    def pkce_enabled(self, value: bool) -> None:
        self._set_tokendesk("PKCE", int(bool(value)))

    @property
    def browser_mode(self) -> str:
        mode = str(self._tokendesk().get("Browser") or BROWSER_EMBEDDED)
        return mode if mode in (BROWSER_EMBEDDED, BROWSER_SYSTEM) else BROWSER_EMBEDDED

    @browser_mode.setter
    def browser_mode(self, value: str) -> None:
        self._set_tokendesk("Browser", value)

    @property
    def client_authentication(self) -> str:
        method = str(self._tokendesk().get("ClientAuthentication") or CLIENT_AUTH_POST)
        return method if method in CLIENT_AUTH_METHODS else CLIENT_AUTH_POST

    @client_authentication.setter
    def client_authentication(self, value: str) -> None:
        # the default is not written: configurations stay as Znuny would export them
        self._set_tokendesk("ClientAuthentication", None if value == CLIENT_AUTH_POST else value)

    @property
    def redirect_url_override(self) -> str:
        return str(self._tokendesk().get("RedirectURL") or "")

    @redirect_url_override.setter
    def redirect_url_override(self, value: str) -> None:
        self._set_tokendesk("RedirectURL", value or None)

    @property
    def refresh_token_lifetime_days(self) -> int | None:
        """Known refresh-token lifetime when the provider does not send one (None: unlimited)."""
        value = self._tokendesk().get("RefreshTokenLifetimeDays")
        try:
            return int(value) if value not in (None, "", 0, "0") else None
        except (TypeError, ValueError):
            return None

    @refresh_token_lifetime_days.setter
    def refresh_token_lifetime_days(self, value: int | None) -> None:
        self._set_tokendesk("RefreshTokenLifetimeDays", value)

    @property
    def refresh_token_lifetime_rolling(self) -> bool:
        """True when every refresh renews the refresh token's lifetime (Microsoft)."""
        return _flag(self._tokendesk().get("RefreshTokenLifetimeRolling"), True)

    @refresh_token_lifetime_rolling.setter
    def refresh_token_lifetime_rolling(self, value: bool) -> None:
        self._set_tokendesk("RefreshTokenLifetimeRolling", int(bool(value)))

    @property
    def discovery_url(self) -> str:
        return str(self._tokendesk().get("DiscoveryURL") or "")

    @discovery_url.setter
    def discovery_url(self, value: str) -> None:
        self._set_tokendesk("DiscoveryURL", value or None)

    @property
    def issuer(self) -> str:
        """The issuer identifier discovery confirmed ('' when unknown): an ``iss`` on the sign-in answer must
        equal it (RFC 9207)."""
        value = self._tokendesk().get("Issuer")
        return value if isinstance(value, str) else ""

    @issuer.setter
    def issuer(self, value: str) -> None:
        self._set_tokendesk("Issuer", value or None)

    @property
    def iss_parameter_supported(self) -> bool:
        """The provider announced ``authorization_response_iss_parameter_supported``: a sign-in answer without
        ``iss`` is refused."""
        return _flag(self._tokendesk().get("IssParameterSupported"), False)

    @iss_parameter_supported.setter
    def iss_parameter_supported(self, value: bool) -> None:
        self._set_tokendesk("IssParameterSupported", 1 if value else None)

    @property
    def userinfo_url(self) -> str:
        """The provider's OpenID Connect userinfo endpoint, as discovery named it ('' when unknown): asked once
        after a sign-in whose tokens do not say who signed in."""
        value = self._tokendesk().get("UserinfoURL")
        return value if isinstance(value, str) else ""

    @userinfo_url.setter
    def userinfo_url(self, value: str) -> None:
        self._set_tokendesk("UserinfoURL", value or None)


    @property
    def client_secret_expires_text(self) -> str:
        """``Config.Tokendesk.ClientSecretExpires`` as stored ('' when not set), for validation and display."""
        value = self._tokendesk().get("ClientSecretExpires")
        return "" if value is None else str(value).strip()

    @property
    def client_secret_expires(self) -> date | None:
        """The day the client secret expires (Entra: at most 24 months after it was made); None when not set
        or not a date (validation says so)."""
        return parse_day(self.client_secret_expires_text)

    @client_secret_expires.setter
    def client_secret_expires(self, value: date | None) -> None:
        if value is not None or "ClientSecretExpires" in self._tokendesk():
            self._set_tokendesk("ClientSecretExpires", value.isoformat() if value else None)

    def set_client_secret_expires_text(self, text: str) -> None:
        """As typed in Edit: kept as written (validation names a text that is not a date), '' forgets it."""
        if text.strip() or "ClientSecretExpires" in self._tokendesk():
            self._set_tokendesk("ClientSecretExpires", text.strip() or None)


def parse_day(text: str) -> date | None:
    """A calendar day written YYYY-MM-DD (ISO 8601), else None."""
    text = (text or "").strip()
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# ``config`` is a field for construction, equality and repr, backed by a lazily parsed JSON text when loaded
# from the store (see ``TokenConfiguration.from_stored``).
TokenConfiguration.config = property(_get_config, _set_config)  # type: ignore[assignment, method-assign]
