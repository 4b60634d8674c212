"""Mail accounts and invokers in the database; the delete guard on token configurations."""

from __future__ import annotations

import sqlite3

import pytest

from desktop.models.config import INVALID, INVALID_TEMPORARILY
from desktop.services import InUseError
from desktop.usage.accounts import MailAccount
from desktop.usage.invokers import PLACEHOLDER, WebInvoker
from desktop.usage.repository import (
    DuplicateUsageName,
    UsageNotFound,
    UsageRepository,
    UsageValidationFailed,
    eligible_configurations,
)


@pytest.fixture
def repo(ctx) -> UsageRepository:
    return UsageRepository(ctx.store)


def mail(name: str = "Support IMAP", config: str = "Support mailbox", **changes) -> MailAccount:
    values = {"name": name, "protocol": "IMAPS", "host": "imap.example.org", "login": "support@example.org",
              "config_name": config}
    values.update(changes)
    return MailAccount(**values)


def api(name: str = "Ticket API", config: str = "Support mailbox", **changes) -> WebInvoker:
    values = {"name": name, "url": "https://api.example.org/tickets", "config_name": config}
    values.update(changes)
    return WebInvoker(**values)


def test_add_list_get_update_delete_mail_account(repo, offline_config):
    cfg = offline_config()
    saved = repo.add_mail_account(mail(port=993))
    assert saved.id and saved.config_id == cfg.id and saved.port is None  # the default port is not pinned
    assert [a.name for a in repo.list_mail_accounts()] == ["Support IMAP"]
    got = repo.get_mail_account("support imap")
    assert (got.protocol, got.host, got.effective_port, got.login, got.config_name) == (
        "IMAPS", "imap.example.org", 993, "support@example.org", "Support mailbox")
    got.protocol, got.port, got.mechanism = "pop3+starttls", 10110, "OAUTHBEARER"
    repo.update_mail_account(got)
    again = repo.get_mail_account("Support IMAP")
    assert (again.protocol, again.port, again.mechanism) == ("POP3+STARTTLS", 10110, "OAUTHBEARER")
    repo.delete_mail_account("Support IMAP")
    assert repo.list_mail_accounts() == []
    with pytest.raises(UsageNotFound, match="No mail account named 'Support IMAP'.*tokendesk mail list"):
        repo.get_mail_account("Support IMAP")


def test_add_list_update_delete_invoker(repo, offline_config):
    offline_config()
    offline_config("Other provider")
    saved = repo.add_invoker(api(method="post", body='{"title": "x"}',
                                 headers=[("Authorization", f"Bearer {PLACEHOLDER}"), ("X-Tenant", "acme")]))
    assert saved.method == "POST"
    got = repo.get_invoker("ticket api")
    assert got.headers == [("Authorization", f"Bearer {PLACEHOLDER}"), ("X-Tenant", "acme")]
    assert got.body == '{"title": "x"}'
    got.config_name = "Other provider"
    repo.update_invoker(got)
    assert repo.get_invoker("Ticket API").config_name == "Other provider"
    repo.delete_invoker("Ticket API")
    assert repo.list_invokers() == []


def test_names_are_unique_per_kind(repo, offline_config):
    offline_config()
    repo.add_mail_account(mail())
    with pytest.raises(DuplicateUsageName) as info:
        repo.add_mail_account(mail(name="SUPPORT imap"))
    assert "already used by another mail account" in str(info.value)
    repo.add_invoker(api(name="Support IMAP"))  # another kind may use the same name
    with pytest.raises(UsageValidationFailed, match="already used by another invoker"):
        repo.add_invoker(api(name="support imap"))
    other = repo.add_mail_account(mail(name="Second"))
    other.name = "Support IMAP"
    with pytest.raises(UsageValidationFailed):
        repo.update_mail_account(other)
    assert sorted(a.name for a in repo.list_mail_accounts()) == ["Second", "Support IMAP"]


def test_every_field_error_at_once_and_nothing_saved(repo, offline_config):
    offline_config()
    with pytest.raises(UsageValidationFailed) as info:
        repo.add_mail_account(mail(name="", host="", login="", config="No such thing"))
    assert {e.field for e in info.value.errors} == {"Name", "Host", "Login", "Token configuration"}
    assert "no configuration named 'No such thing'" in str(info.value)
    assert repo.list_mail_accounts() == []


def test_only_valid_configurations_are_offered_and_accepted(ctx, repo, offline_config):
    good = offline_config("Good")
    bad = offline_config("Switched off", valid_id=INVALID)
    offline_config("Paused", valid_id=INVALID_TEMPORARILY)
    assert [c.name for c in eligible_configurations(ctx.store)] == ["Good"]
    with pytest.raises(UsageValidationFailed, match="'Switched off' is invalid; only valid configurations"):
        repo.add_mail_account(mail(config="Switched off"))
    with pytest.raises(UsageValidationFailed, match="invalid-temporarily"):
        repo.add_invoker(api(config="Paused"))
    # an account keeps a configuration that became invalid after it was chosen (and may be edited) ...
    saved = repo.add_mail_account(mail(config="Good"))
    good.valid_id = INVALID
    ctx.configurations.update(good)
    assert [c.name for c in eligible_configurations(ctx.store, keep_config_id=saved.config_id)] == ["Good"]
    saved.login = "other@example.org"
    assert repo.update_mail_account(saved).login == "other@example.org"
    # ... but cannot be switched to another invalid one
    saved.config_name = bad.name
    with pytest.raises(UsageValidationFailed, match="Switched off"):
        repo.update_mail_account(saved)


def test_in_use_configuration_cannot_be_deleted_and_the_message_names_the_users(ctx, repo, offline_config):
    offline_config()
    repo.add_mail_account(mail("Support IMAP"))
    repo.add_mail_account(mail("Support SMTP", protocol="SMTP"))
    repo.add_invoker(api("Ticket API"))
    with pytest.raises(InUseError) as info:
        ctx.configurations.delete("Support mailbox")
    message = str(info.value)
    assert "mail account 'Support IMAP'" in message
    assert "mail account 'Support SMTP'" in message
    assert "invoker 'Ticket API'" in message
    assert ctx.store.find("Support mailbox") is not None  # nothing lost
    # once nothing uses it, it goes
    for name in ("Support IMAP", "Support SMTP"):
        repo.delete_mail_account(name)
    repo.delete_invoker("Ticket API")
    ctx.configurations.delete("Support mailbox")
    assert ctx.store.find("Support mailbox") is None


def test_the_database_refuses_too_even_without_the_guard(ctx, repo, offline_config):
    cfg = offline_config()
    repo.add_mail_account(mail())
    with pytest.raises(sqlite3.IntegrityError):
        ctx.store.delete(cfg.id)
    assert ctx.store.find("Support mailbox") is not None


def test_renaming_the_configuration_shows_up_in_the_account(ctx, repo, offline_config):
    cfg = offline_config()
    repo.add_mail_account(mail())
    cfg.name = "Renamed provider"
    ctx.configurations.update(cfg)
    assert repo.get_mail_account("Support IMAP").config_name == "Renamed provider"


def test_cli_process_sees_accounts_from_another_connection(ctx, repo, offline_config, tokendesk_home):
    from desktop.services import open_context

    offline_config()
    repo.add_mail_account(mail())
    other = open_context()
    try:
        assert [a.name for a in UsageRepository(other.store).list_mail_accounts()] == ["Support IMAP"]
    finally:
        other.close()


# ---- unencrypted connections to another host: an explicit choice, kept in options_json
def stored_options(ctx, name: str) -> dict:
    import json

    row = ctx.store.conn.execute("SELECT options_json FROM mail_account WHERE name_key = ?", (name.casefold(),))
    return json.loads(row.fetchone()[0])


def test_plain_imap_to_another_host_is_refused_and_nothing_is_stored(repo, offline_config):
    offline_config()
    with pytest.raises(UsageValidationFailed) as info:
        repo.add_mail_account(mail(protocol="IMAP", host="mail.lan"))
    assert [e.field for e in info.value.errors] == ["Protocol"]
    assert "IMAP is unencrypted: the token would travel in clear text to mail.lan." in str(info.value)
    assert repo.list_mail_accounts() == []


def test_the_choice_is_stored_read_back_and_dropped_when_no_longer_needed(ctx, repo, offline_config):
    offline_config()
    saved = repo.add_mail_account(mail(protocol="IMAP", host="mail.lan", allow_plaintext=True))
    assert saved.allow_plaintext
    assert stored_options(ctx, "Support IMAP") == {"allow_plaintext": True}
    got = repo.get_mail_account("Support IMAP")
    assert got.allow_plaintext and [a.allow_plaintext for a in repo.list_mail_accounts()] == [True]
    # an edit that keeps the choice keeps it; taking it away is refused while still unencrypted
    got.login = "other@example.org"
    assert repo.update_mail_account(got).allow_plaintext
    got.allow_plaintext = False
    with pytest.raises(UsageValidationFailed, match="clear text to mail.lan"):
        repo.update_mail_account(got)
    assert repo.get_mail_account("Support IMAP").allow_plaintext  # nothing lost
    # encrypted (or this machine) needs no permission: none is kept, so going back asks again
    got.protocol, got.allow_plaintext = "IMAPS", True
    assert not repo.update_mail_account(got).allow_plaintext
    assert stored_options(ctx, "Support IMAP") == {}
    got.protocol = "IMAP"
    with pytest.raises(UsageValidationFailed):
        repo.update_mail_account(got.copy(allow_plaintext=False))
    local = repo.add_mail_account(mail(name="Local", protocol="POP3", host="127.0.0.1", allow_plaintext=True))
    assert not local.allow_plaintext and stored_options(ctx, "Local") == {}


def test_other_stored_options_survive_an_edit(ctx, repo, offline_config):
    offline_config()
    repo.add_mail_account(mail(protocol="POP3", host="pop.lan", allow_plaintext=True))
    ctx.store.conn.execute("UPDATE mail_account SET options_json = ? WHERE name_key = ?",
                           ('{"allow_plaintext": true, "future": [1, 2]}', "support imap"))
    got = repo.get_mail_account("Support IMAP")
    got.port = 10110
    repo.update_mail_account(got)
    assert stored_options(ctx, "Support IMAP") == {"allow_plaintext": True, "future": [1, 2]}


def test_an_account_stored_before_the_rule_is_still_listed(ctx, repo, offline_config):
    cfg = offline_config()
    ctx.store.conn.execute(
        "INSERT INTO mail_account(name, name_key, protocol, host, port, login, config_id, mechanism, ca_file, "
        "create_time, change_time) VALUES ('Old', 'old', 'IMAP', 'mail.lan', NULL, 'a', ?, 'XOAUTH2', '', "
        "'2024-01-01 00:00:00', '2024-01-01 00:00:00')", (cfg.id,))
    [old] = repo.list_mail_accounts()
    assert (old.protocol, old.host, old.allow_plaintext) == ("IMAP", "mail.lan", False)
