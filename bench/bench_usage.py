"""Connection tests and invocations beside the bare stdlib/httpx calls (not a test): prints medians and ratios.

    .venv/bin/python bench/bench_usage.py [--repeat 30]

What it compares, against the real loopback servers of the test suite (OAuth2 server from npm,
Dovecot, aiosmtpd, the bearer-token HTTP API), each pair alternating, same token:

* IMAPS: ``check_mail_account`` (transcript recording, redaction, EXAMINE INBOX) vs a bare
  ``imaplib.IMAP4_SSL`` + ``authenticate("XOAUTH2")`` + ``select(readonly=True)`` + ``logout``;
* POP3S: ``check_mail_account`` vs bare ``poplib.POP3_SSL`` + ``AUTH XOAUTH2`` + ``STAT`` + ``QUIT``;
* SMTP submission (STARTTLS): ``check_mail_account`` vs bare ``smtplib`` + ``starttls`` + ``auth`` + ``noop``;
* HTTP: ``invoke`` (redaction, pretty JSON) vs a bare ``httpx.Client().get``.

Design target: the Tokendesk side within 1.3x of the bare side (its extra work is recording and
redacting lines, which should be small beside TLS and the server's token introspection).
Timings on this 2-core machine are noisy: read the ratios of one run, not absolute numbers.
"""

from __future__ import annotations

import argparse
import imaplib
import poplib
import smtplib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    import httpx

    from desktop.usage.accounts import MailAccount
    from desktop.usage.connection import check_mail_account, tls_context
    from desktop.usage.invoke import invoke
    from desktop.usage.invokers import WebInvoker
    from desktop.usage.sasl import xoauth2_base64, xoauth2_string
    from tests.servers.dovecot import make_test_pki, start_dovecot
    from tests.servers.http_api import start_api
    from tests.servers.oauth import start_server
    from tests.servers.smtp_server import start_smtp

    work = Path(tempfile.mkdtemp(prefix="bench-usage-"))
    oauth = start_server(work / "oauth")
    dovecot = start_dovecot(oauth.introspection_endpoint)
    pki = make_test_pki(work / "pki")
    smtp = start_smtp(oauth.introspection_endpoint, pki.cert_file, pki.key_file, pki.ca_file)
    api = start_api(oauth.introspection_endpoint)
    try:
        user = dovecot.user
        token = oauth.issue(user=user)["access_token"]
        host = "127.0.0.1"
        ca = str(dovecot.ca_file)

        def ours(protocol: str, port: int, ca_file: str) -> Callable[[], object]:
            account = MailAccount(name="bench", protocol=protocol, host=host, port=port, login=user,
                                  config_name="bench", ca_file=ca_file)

            def run() -> object:
                result = check_mail_account(account, lambda: token, timeout=10)
                assert result.ok, result.summary
                return result

            return run

        def bare_imap() -> None:
            client = imaplib.IMAP4_SSL(host, dovecot.imaps_port, ssl_context=tls_context(ca), timeout=10)
            client.authenticate("XOAUTH2", lambda _c: xoauth2_string(user, token))
            assert client.select("INBOX", readonly=True)[0] == "OK"
            client.logout()

        def bare_pop3() -> None:
            client = poplib.POP3_SSL(host, dovecot.pop3s_port, timeout=10, context=tls_context(ca))
            client._shortcmd("AUTH XOAUTH2 " + xoauth2_base64(user, token))
            client.stat()
            client.quit()

        def bare_smtp() -> None:
            client = smtplib.SMTP(host, smtp.starttls_port, local_hostname="localhost", timeout=10)
            client.ehlo("localhost")
            client.starttls(context=tls_context(str(pki.ca_file)))
            client.ehlo("localhost")
            client.auth("XOAUTH2", lambda challenge=None: "" if challenge else xoauth2_string(user, token),
                        initial_response_ok=False)
            client.noop()
            client.quit()

        invoker = WebInvoker(name="bench", url=api.url("/api/tickets"), config_name="bench")

        def our_invoke() -> None:
            assert invoke(invoker, lambda: token, timeout=10).status == 200

        def bare_http() -> None:
            with httpx.Client(timeout=10) as client:
                assert client.get(api.url("/api/tickets"), headers={"Authorization": f"Bearer {token}"}).status_code \
                    == 200

        pairs = [
            ("IMAPS login + EXAMINE", ours("IMAPS", dovecot.imaps_port, ca), bare_imap),
            ("POP3S login + STAT", ours("POP3S", dovecot.pop3s_port, ca), bare_pop3),
            ("SMTP STARTTLS + AUTH + NOOP", ours("SMTP", smtp.starttls_port, str(pki.ca_file)), bare_smtp),
            ("HTTP GET with bearer", our_invoke, bare_http),
        ]
        print(f"{'':32} {'Tokendesk ms':>13} {'bare ms':>9} {'ratio':>7}   (median of {args.repeat})")
        for label, mine, bare in pairs:
            mine()  # warm up both (imports, first TLS handshakes)
            bare()
            a = median_ms(mine, args.repeat)
            b = median_ms(bare, args.repeat)
            print(f"{label:32} {a:13.1f} {b:9.1f} {a / b:7.2f}x")
    finally:
        api.stop()
        smtp.stop()
        dovecot.stop()
        oauth.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
