"""The SMTP relay's cost (not a test): 200 messages of 100 KB from 4 devices in parallel, through the relay and
directly to the upstream server; prints latencies, the added latency and how many token requests were made.

    .venv/bin/python bench/bench_relay.py [--messages 200] [--devices 4] [--size-kb 100]

Against the real loopback servers of the test suite: the OAuth2 server from npm and the aiosmtpd submission server
that checks every XOAUTH2 token by introspection. Each message is one SMTP session, as a scanner sends it.

* direct: what a device that could do OAuth2 would do - STARTTLS to the upstream server, AUTH XOAUTH2 with the
  token, MAIL/RCPT/DATA, QUIT;
* relayed: the device logs in to the relay (loopback, AUTH PLAIN) and sends; the relay sends upstream before it
  answers DATA (synchronous pass-through), with the token of the mail account's configuration (``TokenService``
  through the relay's token cache), over a signed-in connection it keeps (up to 4 per account, 30 s idle) - so
  TLS and AUTH upstream are paid per connection, not per message, which the direct side pays every time.

The stored token is expired at the start, so the relay must renew it: the design target is exactly one token
request (a refresh) for all 200 messages, and an added latency per message of about one loopback SMTP session.
Timings on this 2-core machine are noisy: read the ratios of one run, not absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_message(sender: str, size_kb: int, n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "archive@example.org", f"Scan {n}"
    line = "0123456789abcdef" * 4 + "\n"  # 65 bytes
    msg.set_content(line * (size_kb * 1024 // len(line)))
    return msg


def run_parallel(send, devices: int, messages: int) -> tuple[list[float], float]:
    """``send(device index, message number)`` for every message, ``devices`` at a time; (latencies ms, wall s)."""
    latencies: list[float] = []

    def one_device(d: int) -> list[float]:
        own = []
        for n in range(d, messages, devices):
            start = time.perf_counter()
            send(d, n)
            own.append((time.perf_counter() - start) * 1000)
        return own

    start = time.perf_counter()
    with ThreadPoolExecutor(devices) as pool:
        for own in pool.map(one_device, range(devices)):
            latencies.extend(own)
    return latencies, time.perf_counter() - start


def describe(name: str, latencies: list[float], wall: float) -> str:
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return (f"{name:9} median {statistics.median(latencies):7.1f} ms  p95 {p95:7.1f} ms  "
            f"wall {wall:6.2f} s  ({len(latencies) / wall:5.1f} messages/s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--size-kb", type=int, default=100)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    os.environ["TOKENDESK_HOME"] = str(work / "home")
    import keyring

    from tests.support.memory_keyring import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())

    from desktop.relay.devices import DeviceRepository
    from desktop.relay.server import RelayServer
    from desktop.services import open_context
    from desktop.usage.accounts import MailAccount
    from desktop.usage.connection import tls_context
    from desktop.usage.repository import UsageRepository
    from desktop.usage.sasl import xoauth2_string
    from tests.servers.dovecot import MAIL_USER, free_ports, make_test_pki
    from tests.servers.oauth import start_server
    from tests.servers.smtp_server import start_smtp
    from tests.usage.conftest import point_at, store_tokens

    oauth = start_server(work / "oauth")
    pki = make_test_pki(work / "pki")
    smtp = start_smtp(oauth.introspection_endpoint, pki.cert_file, pki.key_file, pki.ca_file)
    ctx = open_context()
    relay = None
    try:
        cfg = ctx.templates.require("Generic OAuth2").new_configuration("Bench mail")
        point_at(cfg, oauth)
        saved = ctx.configurations.add(cfg, oauth.client_secret)
        pair = oauth.issue(client_id=oauth.client_id, user=MAIL_USER, scope=cfg.scope)
        store_tokens(ctx, saved.id, pair["access_token"], pair["refresh_token"], -60)  # expired: one refresh due
        UsageRepository(ctx.store).add_mail_account(MailAccount(
            name="Bench SMTP", protocol="SMTP", host="127.0.0.1", port=smtp.starttls_port, login=MAIL_USER,
            config_id=saved.id, ca_file=str(pki.ca_file)))
        passwords = [DeviceRepository(ctx.store).add(f"device{d}", "Bench SMTP")[1] for d in range(args.devices)]
        port = free_ports(1)[0]
        relay = RelayServer(ctx, listen=f"127.0.0.1:{port}", per_hour=0)
        relay.start()
        bodies = [make_message(MAIL_USER, args.size_kb, n) for n in range(args.messages)]
        size = len(bodies[0].as_bytes())
        token_requests_before = len(oauth.requests("/token"))

        def relayed(d: int, n: int) -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                client.login(f"device{d}", passwords[d])
                client.send_message(bodies[n])

        relay_lat, relay_wall = run_parallel(relayed, args.devices, args.messages)
        token_requests = oauth.requests("/token")[token_requests_before:]
        relay_auths = list(smtp.attempts)
        token = ctx.secrets.get_for(saved.id, "access_token") or pair["access_token"]
        raw = xoauth2_string(MAIL_USER, token)
        context = tls_context(str(pki.ca_file))

        def direct(d: int, n: int) -> None:
            with smtplib.SMTP("127.0.0.1", smtp.starttls_port, timeout=60) as client:
                client.starttls(context=context)
                client.auth("XOAUTH2", lambda challenge=None: raw)
                client.send_message(bodies[n])

        direct_lat, direct_wall = run_parallel(direct, args.devices, args.messages)
        assert len(smtp.messages) == 2 * args.messages, len(smtp.messages)
        print(f"{args.messages} messages of {size / 1024:.0f} KB from {args.devices} devices in parallel "
              "(one SMTP session per message)")
        print(describe("direct", direct_lat, direct_wall))
        print(describe("relayed", relay_lat, relay_wall))
        added = statistics.median(relay_lat) - statistics.median(direct_lat)
        print(f"added latency per message (median): {added:.1f} ms  "
              f"(ratio relayed/direct {statistics.median(relay_lat) / statistics.median(direct_lat):.2f}x; "
              f"wall {relay_wall / direct_wall:.2f}x)")
        grants = [r.get("grant_type") for r in token_requests]
        print(f"token requests by the relay: {len(token_requests)} ({', '.join(grants) or 'none'}); token fetches "
              f"from the store: {relay.tokens.fetches} (cache time-to-live {relay.tokens.ttl:.0f} s)")
        print(f"upstream AUTH by the relay: {len(relay_auths)} (signed-in connections are kept; all accepted: "
              f"{all(ok for *_x, ok in relay_auths)}); messages arrived: {len(smtp.messages)} of {2 * args.messages}")
    finally:
        if relay is not None:
            relay.stop()
        smtp.stop()
        oauth.stop()
        ctx.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
