"""``tokendesk relay ...``: the SMTP relay for devices that cannot do OAuth2 (no Qt).

``relay serve [--listen ADDRESS:PORT]`` runs it until SIGTERM/SIGINT; ``relay device add NAME --account
MAILACCOUNT [--alias ADDRESS ...]`` prints the new device's password alone on the last line (shown once, kept
only hashed); ``relay device list|remove``; ``relay status`` (running or not, devices and their counts, the last
upstream errors with what to do).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from desktop.cli.common import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_USAGE, CliError, ContextFactory, print_json, print_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "relay", help="SMTP relay for devices that cannot do OAuth2 (scanners, printers, old programs)",
        description="A local SMTP submission service: devices log in with a name and a generated password, the relay "
                    "sends their mail through a Tokendesk SMTP mail account with its OAuth2 token. A message is "
                    "acknowledged only after the upstream server accepted it.",
    )
    rsub = p.add_subparsers(dest="relay_command", metavar="ACTION")
    r = rsub.add_parser("serve", help="run the relay until stopped (SIGTERM or Ctrl+C)")
    r.add_argument("--listen", metavar="ADDRESS:PORT",
                   help="where to listen (default: the relay.listen setting, 127.0.0.1:2525); an address other than "
                        "loopback requires STARTTLS before AUTH")
    r.add_argument("--cert", metavar="FILE", help="PEM certificate for STARTTLS (default: a generated self-signed one)")
    r.add_argument("--key", metavar="FILE", help="the certificate's private key (PEM)")
    r.set_defaults(handler=cmd_serve)
    r = rsub.add_parser("status", help="running or not, devices, counts and the last upstream errors")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    r.set_defaults(handler=cmd_status)
    d = rsub.add_parser("device", help="devices that may send through the relay")
    dsub = d.add_subparsers(dest="device_command", metavar="ACTION")
    a = dsub.add_parser("add", help="add a device; its password is printed once, alone on the last line")
    a.add_argument("name", help="the device's login at the relay")
    a.add_argument("--account", required=True, metavar="MAILACCOUNT", help="the SMTP mail account it sends through")
    a.add_argument("--alias", action="append", default=[], metavar="ADDRESS",
                   help="another sender address the device may use (repeatable); the account's own is always allowed")
    a.set_defaults(handler=cmd_device_add)
    a = dsub.add_parser("list", help="list devices")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(handler=cmd_device_list)
    a = dsub.add_parser("remove", help="remove a device (it can no longer log in)")
    a.add_argument("name")
    a.set_defaults(handler=cmd_device_remove)
    d.set_defaults(handler=lambda args, factory: _usage(d))
    p.set_defaults(handler=lambda args, factory: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def cmd_device_add(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.relay.devices import DeviceRepository, RelayError

    ctx = factory()
    try:
        device, password = DeviceRepository(ctx.store).add(args.name, args.account, args.alias)
    except RelayError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    print(f"Device '{device.name}' added: it sends through '{device.account_name}' as {', '.join(device.senders)}.")
    print("Its password is shown only now (Tokendesk keeps a hash): set the device's SMTP login to "
          f"'{device.name}' with this password.")
    print(password)
    return 0


def cmd_device_list(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.relay.devices import DeviceRepository
    from desktop.relay.log import MessageLog

    ctx = factory()
    devices = DeviceRepository(ctx.store).list()
    counts = MessageLog(ctx.store).counts()
    if args.json:
        print_json([{"name": d.name, "account": d.account_name, "senders": d.senders, "created": d.create_time,
                     "delivered_24h": counts.get(d.name, (0, 0))[0], "failed_24h": counts.get(d.name, (0, 0))[1]}
                    for d in devices])
        return 0
    if not devices:
        print("No relay devices. Add one: tokendesk relay device add NAME --account MAILACCOUNT")
        return 0
    print_table(["NAME", "MAIL ACCOUNT", "MAY SEND AS", "SENT/FAILED (24 H)"],
                [[d.name, d.account_name, ", ".join(d.senders),
                  "{}/{}".format(*counts.get(d.name, (0, 0)))] for d in devices])
    return 0


def cmd_device_remove(args: argparse.Namespace, factory: ContextFactory) -> int:
    from desktop.relay.devices import DeviceNotFound, DeviceRepository

    ctx = factory()
    try:
        device = DeviceRepository(ctx.store).remove(args.name)
    except DeviceNotFound as exc:
        raise CliError(str(exc), EXIT_NOT_FOUND) from None
    print(f"Device '{device.name}' removed; it can no longer log in (a running relay refuses it at once).")
    return 0


def status_data(ctx: Any) -> dict[str, Any]:
    """What ``relay status`` shows (the tab shows the same)."""
    from desktop.relay.devices import DeviceRepository
    from desktop.relay.log import MessageLog
    from desktop.relay.server import running_relay

    log = MessageLog(ctx.store)
    counts = log.counts()
    return {
        "running": running_relay(),
        "listen_setting": ctx.store.get_setting("relay.listen"),
        "max_messages_per_hour": ctx.store.get_setting("relay.max_messages_per_hour"),
        "devices": [{"name": d.name, "account": d.account_name, "senders": d.senders,
                     "delivered_24h": counts.get(d.name, (0, 0))[0], "failed_24h": counts.get(d.name, (0, 0))[1]}
                    for d in DeviceRepository(ctx.store).list()],
        "last_errors": [e.to_dict() for e in log.recent(5, failed_only=True)],
    }


def cmd_status(args: argparse.Namespace, factory: ContextFactory) -> int:
    ctx = factory()
    data = status_data(ctx)
    if args.json:
        print_json(data)
        return 0
    running = data["running"]
    if running:
        print(f"Relay: running on {running['listen']} (process {running['pid']}, since {running['started']})"
              + (", STARTTLS required" if running.get("tls") else ", loopback only"))
        if running.get("fingerprint"):
            print(f"Certificate SHA-256 fingerprint: {running['fingerprint']}")
    else:
        print(f"Relay: not running (start it with 'tokendesk relay serve'; it would listen on "
              f"{data['listen_setting']}).")
    print(f"Limit: {data['max_messages_per_hour'] or 'no limit'} messages per device and hour.")
    if data["devices"]:
        print_table(["DEVICE", "MAIL ACCOUNT", "MAY SEND AS", "SENT/FAILED (24 H)"],
                    [[d["name"], d["account"], ", ".join(d["senders"]), f"{d['delivered_24h']}/{d['failed_24h']}"]
                     for d in data["devices"]])
    else:
        print("No devices yet: tokendesk relay device add NAME --account MAILACCOUNT")
    if data["last_errors"]:
        print("Last errors:")
        for e in data["last_errors"]:
            print(f"  {e['time']} {e['device']} from {e['sender']}: {e['answer']}")
            if e["hint"]:
                print(f"    What to do: {e['hint']}")
    return 0


def cmd_serve(args: argparse.Namespace, factory: ContextFactory) -> int:
    import signal
    import threading

    from desktop.relay.policy import ListenError, needs_tls, parse_listen
    from desktop.relay.server import RelayServer, RelayStartError
    from desktop.relay.tls import CertificateError, certificate

    ctx = factory()
    listen = args.listen or ctx.store.get_setting("relay.listen")
    try:
        host, _port = parse_listen(listen)
    except ListenError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    cert = None
    if needs_tls(host) or args.cert or args.key:
        try:
            cert = certificate(args.cert or ctx.store.get_setting("relay.tls_cert_file"),
                               args.key or ctx.store.get_setting("relay.tls_key_file"), host)
        except CertificateError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = RelayServer(ctx, listen=listen, certificate=cert)
    try:
        server.start()
    except RelayStartError as exc:
        raise CliError(str(exc), EXIT_ERROR) from None
    mode = "STARTTLS required before AUTH" if server.tls else "loopback: this machine only"
    print(f"Relay listening on {server.address} ({mode}); {len(server.devices.list())} device(s). "
          "Stop with Ctrl+C or SIGTERM.", flush=True)
    if server.tls and cert is not None:
        print(f"Certificate {cert.cert_file}{' (self-signed, generated)' if cert.generated else ''}; SHA-256 "
              f"fingerprint {cert.fingerprint}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
    print(f"Relay stopped: {server.stats.delivered} delivered, {server.stats.failed} failed.", flush=True)
    return 0
