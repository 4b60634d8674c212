"""Alert mail (issue 13, point 3) received by the real SMTP test server, which checks the XOAUTH2 token by
introspection at the real OAuth2 server: sent through Tokendesk's own mail account with its token, once per alert,
to every recipient, without a secret; an unreachable server means the alert is tried again and arrives once."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta

import pytest

from desktop.alerts.runner import run_alerts
from desktop.cli import main
from tests.relay.conftest import ACCOUNT
from tests.servers.dovecot import MAIL_USER

pytestmark = pytest.mark.realserver
RECIPIENTS = ["helpdesk@example.test", "oncall@example.test"]


def secret_expiring(ctx, make_config, days=5):
    cfg = make_config("Helpdesk", secret="helpdesk-client-secret")
    cfg = ctx.store.get_by_id(cfg.id)
    cfg.client_secret_expires = datetime.now(UTC).astimezone().date() + timedelta(days=days)
    ctx.configurations.update(cfg)
    return cfg


def route_mail(ctx):
    ctx.store.set_setting("alerts.mail_account", ACCOUNT)
    ctx.store.set_setting("alerts.client_secret.mail_to", RECIPIENTS)


def test_alert_mail_arrives_once_through_the_mail_account_with_its_token(ctx, make_config, mail_account, smtp,
                                                                         capsys):
    account, pair = mail_account
    cfg = secret_expiring(ctx, make_config)
    route_mail(ctx)
    code = main(["alerts", "run"], context_factory=lambda: ctx)
    out = capsys.readouterr().out
    assert code == 0, out
    assert out == f"sent by mail to {', '.join(RECIPIENTS)}: Client secret expires soon - Helpdesk\n"
    [received] = smtp.messages
    assert received["to"] == RECIPIENTS
    assert received["from"] == MAIL_USER and received["login"] is not None
    assert [a for a in smtp.attempts if a[2]] and all(login == MAIL_USER for _m, login, _ok in smtp.attempts)
    message = email.message_from_bytes(received["data"], policy=email.policy.default)
    assert message["Subject"] == "[Tokendesk WARNING] Client secret expires soon: Helpdesk"
    assert message["To"] == ", ".join(RECIPIENTS)
    body = message.get_content()
    day = cfg.client_secret_expires.isoformat()
    assert body.startswith(f"The client secret of 'Helpdesk' expires on {day}. Make a new client secret at the "
                           "provider (Entra: App registrations > Certificates & secrets), then enter it and its "
                           "expiry date with Edit.\n")
    assert "Configuration: Helpdesk\n" in body
    raw = received["data"].decode("utf-8", "replace")
    for secret in (pair["access_token"], pair.get("refresh_token") or "no refresh token", "helpdesk-client-secret"):
        assert secret not in raw
    # once: the next runs send nothing
    assert main(["alerts", "run"], context_factory=lambda: ctx) == 0
    assert len(smtp.messages) == 1


def test_an_unreachable_mail_server_means_the_alert_is_sent_on_a_later_run(ctx, make_config, forwarded_account,
                                                                           forwarder, smtp):
    forwarded_account()
    secret_expiring(ctx, make_config, days=0)  # the day itself: critical
    route_mail(ctx)
    forwarder.down()
    first = run_alerts(ctx)
    [failed] = first.failed
    assert failed.channel == "mail" and failed.detail.startswith(f"through '{ACCOUNT}': ")
    assert smtp.messages == []
    again = run_alerts(ctx)
    assert len(again.failed) == 1 and smtp.messages == []  # still down: still not sent, still wanted
    forwarder.up()
    third = run_alerts(ctx)
    assert (len(third.sent), third.failed) == (1, [])
    [received] = smtp.messages
    message = email.message_from_bytes(received["data"], policy=email.policy.default)
    assert message["Subject"] == "[Tokendesk CRITICAL] Client secret expires today: Helpdesk"
    assert run_alerts(ctx).sent == [] and len(smtp.messages) == 1


def test_a_test_alert_mail_arrives(ctx, mail_account, smtp):
    route_mail(ctx)
    assert main(["alerts", "test", "client_secret"], context_factory=lambda: ctx) == 0
    [received] = smtp.messages
    message = email.message_from_bytes(received["data"], policy=email.policy.default)
    assert message["Subject"] == "[Tokendesk WARNING] Test alert: (test)"
    assert "alerts of the kind 'client_secret' reach you this way" in message.get_content()
