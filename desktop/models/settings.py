"""Application settings, declared once as data (name, type, default, help).

Znuny's names are given where a setting has a Znuny counterpart. The store keeps only
values that differ from the default; ``Store.settings``/``get_setting``/``set_setting``
(``desktop/store/repository.py``) read and write them.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class SettingSpec(NamedTuple):  # NamedTuple: ~7x quicker to build than a dataclass at start-up
    key: str
    kind: type
    default: Any
    help: str
    znuny: str = ""
    choices: tuple[str, ...] = ()
    #: one line under the field in Settings: what it holds and what it is for (the label is ``help``)
    explain: str = ""

    def parse(self, text: str) -> Any:
        """Parse a value typed by the admin (CLI or dialog); ValueError with a plain message."""
        text = text.strip()
        if self.kind is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{self.key} must be true or false, not '{text}'")
        if self.kind is int:
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{self.key} must be a whole number, not '{text}'") from None
            if value < 0:
                raise ValueError(f"{self.key} must not be negative")
            return value
        if self.kind is list:
            return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
        if self.choices and text not in self.choices:
            raise ValueError(f"{self.key} must be one of {', '.join(self.choices)}, not '{text}'")
        return text

    def check(self, value: Any) -> Any:
        """Validate a value of the right Python type (from the store or the dialog)."""
        if self.kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{self.key} must be a list of host names")
            return value
        if self.kind is int and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"{self.key} must be a whole number of at least 0")
        if self.kind is bool and not isinstance(value, bool):
            raise ValueError(f"{self.key} must be true or false")
        if self.kind is str:
            if not isinstance(value, str):
                raise ValueError(f"{self.key} must be text")
            if self.choices and value not in self.choices:
                raise ValueError(f"{self.key} must be one of {', '.join(self.choices)}")
        return value

    def format(self, value: Any) -> str:
        if self.kind is list:
            return ", ".join(value)
        if self.kind is bool:
            return "true" if value else "false"
        return str(value)


#: alert kinds (desktop/alerts/kinds.py): key and what it covers, for the alerts.* settings
ALERT_KINDS: tuple[tuple[str, str], ...] = (
    ("client_secret", "client secrets that expire"),
    ("refresh_token", "refresh tokens that die or need a sign-in"),
    ("refresh_failed", "failed automatic refreshes"),
    ("token", "access tokens that expire"),
)

SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "redirect.http_type",
        str,
        "http",
        "Scheme of the redirect URI (https required unless the host is loopback)",
        znuny="HttpType",
        choices=("http", "https"),
        explain="http only for this machine (127.0.0.1, ::1, localhost); a redirect URI on another host needs https.",
    ),
    SettingSpec("redirect.fqdn", str, "127.0.0.1:8765", "Host (and port) of the redirect URI", znuny="FQDN",
                explain="A host name or address, with the port after a colon unless it is the scheme's default: "
                        "127.0.0.1:8765 or tokens.example.org."),
    SettingSpec("redirect.script_alias", str, "oauth2/callback", "Path of the redirect URI", znuny="ScriptAlias",
                explain="What follows the host: the redirect URI is scheme://host/path (shown below)."),
    SettingSpec(
        "pop3.split_hosts",
        list,
        ["outlook.office365.com", "pop-mail.outlook.com"],
        "POP3 hosts that need AUTH XOAUTH2 and the token on separate lines",
        znuny="MailAccount::POP3::Auth::SplitOAuth2MethodAndToken::Hosts",
        explain="Mail servers (Microsoft's) that want 'AUTH XOAUTH2' on one line and the token on the next, as "
                "Znuny sends it; other POP3 servers get both on one line. Host names, separated by commas.",
    ),
    SettingSpec("refresh.lead_time_seconds", int, 300, "Refresh access tokens this many seconds before they expire",
                explain="A token due this soon is renewed in the background, and before it is handed to a program."),
    SettingSpec("network.timeout_seconds", int, 20, "Time-out for every network request, in seconds",
                explain="How long Tokendesk waits for a provider, mail server or web service before it gives up."),
    SettingSpec("ui.close_to_tray_hint_shown", bool, False, "Whether the 'still running in the tray' hint was shown"),
    SettingSpec("relay.listen", str, "127.0.0.1:2525",
                "SMTP relay address (ADDRESS:PORT; not loopback: STARTTLS required)"),
    SettingSpec("relay.max_messages_per_hour", int, 100, "SMTP relay: messages per device and hour (0: no limit)"),
    SettingSpec("relay.tls_cert_file", str, "", "SMTP relay certificate, PEM (empty: a generated self-signed one)"),
    SettingSpec("relay.tls_key_file", str, "", "SMTP relay certificate's private key, PEM"),
    *(spec for kind, what in ALERT_KINDS for spec in (
        SettingSpec(f"alerts.{kind}.command", str, "", f"Alert command for {what} (a command line, run without a "
                    "shell; TOKENDESK_ALERT_* variables describe the alert)"),
        SettingSpec(f"alerts.{kind}.mail_to", list, [], f"Alert mail recipients for {what} (comma-separated)"),
    )),
    SettingSpec("alerts.mail_account", str, "", "Mail account (SMTP) that sends alert mail, with its own token"),
)

SETTINGS_BY_KEY: dict[str, SettingSpec] = {spec.key: spec for spec in SETTINGS}


def spec_for(key: str) -> SettingSpec:
    try:
        return SETTINGS_BY_KEY[key]
    except KeyError:
        known = ", ".join(SETTINGS_BY_KEY)
        raise KeyError(f"unknown setting '{key}' (known settings: {known})") from None


def redirect_uri(values: dict[str, Any]) -> str:
    """Znuny's ``HttpType://FQDN/ScriptAlias``."""
    scheme = values.get("redirect.http_type", "http")
    fqdn = str(values.get("redirect.fqdn", "")).strip().strip("/")
    path = str(values.get("redirect.script_alias", "")).strip().strip("/")
    return f"{scheme}://{fqdn}/{path}" if path else f"{scheme}://{fqdn}/"
