"""Send the alerts that are due: each once per channel (command, mail), a failure tried again on the next run.

``run_alerts(ctx)`` is the one entry point of the window's alerts feature (on the task runner, every few minutes
and when the notify plan changed) and of ``tokendesk alerts run`` (cron, a systemd timer). Both hold the lock
``alerts`` (``desktop/store/filelock.py``), so a window and a timer never send the same alert twice. "Sent" is a row
``(config_id, 'alert:<channel>:<event>', due)`` in the notification log, written after the hook exited 0 or the
SMTP server took the message; a failed one is not written, so the next run tries again. Rows of alerts that are no
longer true are pruned (a situation that comes back is a new alert with a new due time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from desktop.alerts.hooks import run_hook
from desktop.alerts.kinds import KINDS, Alert, due_alerts

logger = logging.getLogger(__name__)

CHANNEL_COMMAND = "command"
CHANNEL_MAIL = "mail"
LOCK_NAME = "alerts"
LOCK_TIMEOUT = 120.0


@dataclass
class Delivery:
    alert: Alert
    channel: str
    ok: bool
    detail: str = ""
    #: where it went: the command's program or the recipients
    target: str = ""


@dataclass
class AlertRun:
    sent: list[Delivery] = field(default_factory=list)
    failed: list[Delivery] = field(default_factory=list)
    #: alerts that are due but whose kind sends nowhere
    unrouted: int = 0
    #: alerts due now, sent before (by this machine's window or a timer)
    already_sent: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class Route:
    command: str
    mail_to: tuple[str, ...]


def routes(settings: dict[str, Any]) -> dict[str, Route]:
    """The configured routes per alert kind (kinds that send nowhere are left out)."""
    out = {}
    for kind in KINDS:
        route = Route(str(settings.get(f"alerts.{kind}.command") or "").strip(),
                      tuple(settings.get(f"alerts.{kind}.mail_to") or ()))
        if route.command or route.mail_to:
            out[kind] = route
    return out


_ADDRESS_CHARS = set(" ,;<>")


def setting_problem(key: str, value: Any) -> str | None:
    """What is wrong with an ``alerts.*`` value, in plain words (None: fine); the CLI and the dialog ask."""
    from desktop.alerts.hooks import parse_command

    if key.endswith(".command"):
        try:
            parse_command(str(value))
        except ValueError as exc:
            return str(exc)
    if key.endswith(".mail_to"):
        bad = [a for a in value if a.count("@") != 1 or _ADDRESS_CHARS & set(a) or a.startswith("@")
               or a.endswith("@")]
        if bad:
            return f"{', '.join(bad)} is not a mail address (name@domain; separate addresses with commas)"
    return None


def run_alerts(ctx: Any, now: datetime | None = None, *, dry_run: bool = False, tokens: Any = None,
               progress: Callable[[str], None] | None = None) -> AlertRun:
    """Send every due alert not sent yet; returns what was sent and what failed (to be tried again)."""
    from desktop.models.token import utcnow
    from desktop.notify.log import SqliteLog
    from desktop.store.filelock import exclusive

    now = now or utcnow()
    settings = ctx.store.settings()
    configured = routes(settings)
    result = AlertRun(dry_run=dry_run)

    def busy(_other: bool) -> BaseException:
        return TimeoutError("another Tokendesk is sending alerts right now; try again in a minute")

    from desktop.store.pg import team_lock

    # on a team store also across the team's desktops: each alert once per team
    with exclusive(LOCK_NAME, LOCK_TIMEOUT, busy), team_lock(ctx.store, LOCK_NAME, LOCK_TIMEOUT, lambda: busy(True)):
        pairs = ctx.store.list_with_state()
        alerts = due_alerts(pairs, now, refresh_lead_seconds=int(settings.get("refresh.lead_time_seconds", 300)))
        log = SqliteLog(ctx.store)
        wanted = {a.log_key(ch) for a in alerts for ch in (CHANNEL_COMMAND, CHANNEL_MAIL)}
        if not dry_run:
            log.prune(wanted, alerts=True)
        done = log.announced(wanted)
        mailer = None
        try:
            for alert in alerts:
                route = configured.get(alert.kind)
                if route is None:
                    result.unrouted += 1
                    continue
                channels = [(CHANNEL_COMMAND, route.command)] if route.command else []
                channels += [(CHANNEL_MAIL, ", ".join(route.mail_to))] if route.mail_to else []
                for channel, target in channels:
                    key = alert.log_key(channel)
                    if key in done:
                        result.already_sent += 1
                        continue
                    if progress:
                        progress(f"{alert.title} ({alert.name}) by {channel}")
                    if dry_run:
                        result.sent.append(Delivery(alert, channel, True, "not sent (dry run)", target))
                        continue
                    ok, detail, mailer = _deliver(ctx, settings, alert, channel, route, mailer, tokens)
                    delivery = Delivery(alert, channel, ok, detail, target)
                    if ok:
                        log.record([key], now)
                        result.sent.append(delivery)
                        logger.info("alert sent by %s: %s (%s)", channel, alert.title, alert.name)
                    else:
                        result.failed.append(delivery)
                        logger.warning("alert not sent by %s (tried again next run): %s (%s): %s", channel,
                                       alert.title, alert.name, detail)
        finally:
            if mailer is not None:
                mailer.close()
    return result


def _deliver(ctx: Any, settings: dict[str, Any], alert: Alert, channel: str, route: Route, mailer: Any,
             tokens: Any) -> tuple[bool, str, Any]:
    """One alert by one channel: (delivered, detail, the mailer to use again)."""
    if channel == CHANNEL_COMMAND:
        outcome = run_hook(route.command, alert)
        return outcome.ok, outcome.detail, mailer
    if mailer is None:
        from desktop.alerts.mail import AlertMailer

        mailer = AlertMailer(ctx, str(settings.get("alerts.mail_account") or ""), tokens,
                             timeout=float(settings.get("network.timeout_seconds", 20)))
    sent = mailer.send(alert, list(route.mail_to))
    return sent.ok, sent.detail, mailer


def send_test(ctx: Any, kinds: list[str] | None = None, *, tokens: Any = None, now: datetime | None = None,
              values: dict[str, Any] | None = None) -> AlertRun:
    """A test alert through every configured route (or those of ``kinds``): shows the admin that alerts arrive.
    Nothing is recorded; the hook sees ``TOKENDESK_ALERT_EVENT=test``. ``values``: alerts.* settings not saved yet
    (the dialog's), over the stored ones."""
    import socket

    from desktop.models.token import utcnow
    from desktop.notify.events import iso

    now = now or utcnow()
    settings = ctx.store.settings() | (values or {})
    result = AlertRun()
    mailer = None
    try:
        for kind, route in routes(settings).items():
            if kinds and kind not in kinds:
                continue
            alert = Alert(kind, "test", 0, "(test)", "warning", "Test alert",
                          f"A test alert from Tokendesk on {socket.gethostname()}: alerts of the kind '{kind}' reach "
                          "you this way. Nothing needs to be done.", iso(now), now, None, "")
            for channel, target in ((CHANNEL_COMMAND, route.command), (CHANNEL_MAIL, ", ".join(route.mail_to))):
                if not target:
                    continue
                ok, detail, mailer = _deliver(ctx, settings, alert, channel, route, mailer, tokens)
                (result.sent if ok else result.failed).append(Delivery(alert, channel, ok, detail, target))
    finally:
        if mailer is not None:
            mailer.close()
    return result


def describe_run(result: AlertRun) -> list[str]:
    """One line per delivery, for the CLI and the window's status line."""
    lines = []
    verb = "would send" if result.dry_run else "sent"
    for d in result.sent:
        about = d.alert.kind if d.alert.event == "test" else d.alert.name
        lines.append(f"{verb} by {d.channel} to {d.target}: {d.alert.title} - {about}")
    for d in result.failed:
        test = d.alert.event == "test"
        lines.append(f"NOT sent by {d.channel} to {d.target}{'' if test else ' (tried again next run)'}: "
                     f"{d.alert.title} - {d.alert.kind if test else d.alert.name}: {d.detail}")
    return lines


def alerts_cli(args: Any, factory: Callable[[], Any], out: IO[str]) -> int:
    """``tokendesk alerts run|list``."""
    from desktop.cli.common import EXIT_ERROR, EXIT_USAGE, CliError

    ctx = factory()
    action = args.alerts_command or "list"
    if action == "list":
        settings = ctx.store.settings()
        from desktop.alerts.kinds import KIND_WORDS

        print(f"mail account: {settings.get('alerts.mail_account') or '(none)'}", file=out)
        for kind in KINDS:
            command = settings.get(f"alerts.{kind}.command") or "-"
            mail_to = ", ".join(settings.get(f"alerts.{kind}.mail_to") or []) or "-"
            print(f"{kind} ({KIND_WORDS[kind]}):\n  command: {command}\n  mail to: {mail_to}", file=out)
        return 0
    if action == "test":
        unknown = [k for k in args.kinds if k not in KINDS]
        if unknown:
            raise CliError(f"unknown alert kind {', '.join(unknown)} (kinds: {', '.join(KINDS)})", EXIT_USAGE)
        result = send_test(ctx, args.kinds or None)
        if not result.sent and not result.failed:
            raise CliError("no alert kind sends anywhere yet: set alerts.<kind>.command or alerts.<kind>.mail_to "
                           "(File > Alerts ... or 'tokendesk settings set')", EXIT_USAGE)
        for line in describe_run(result):
            print(line, file=out)
        return 0 if result.ok else EXIT_ERROR
    if action != "run":
        raise CliError(f"unknown alerts action '{action}'", EXIT_USAGE)
    try:
        result = run_alerts(ctx, dry_run=args.dry_run)
    except TimeoutError as exc:
        raise CliError(str(exc)) from None
    for line in describe_run(result):
        print(line, file=out)
    return 0 if result.ok else EXIT_ERROR
