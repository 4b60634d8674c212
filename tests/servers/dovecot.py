"""A real Dovecot 2.3 on loopback for the usage tests: IMAP and POP3 with OAuth2 bearer tokens.

Use it from a test module or a conftest::

    from tests.servers.oauth import oauth, oauth_server  # noqa: F401
    from tests.servers.dovecot import dovecot  # noqa: F401

    @pytest.mark.realserver
    def test_inbox(oauth, dovecot):
        token = oauth.issue(user=dovecot.user)["access_token"]
        ...  # IMAP on dovecot.imap_port, POP3 on dovecot.pop3_port, TLS ports with dovecot.ca_file

What runs: ``dovecot -F -c <temp dir>/dovecot.conf`` (the Debian packages dovecot-core,
dovecot-imapd, dovecot-pop3d), base_dir, state, log and the mailboxes in a temporary
directory, four free ports on 127.0.0.1 (IMAP with STARTTLS, IMAPS, POP3 with STLS, POP3S),
a server certificate from a CA made for the test run (``ca_file``). ``passdb { driver = oauth2 }``
checks each token at the OAuth2 test server's introspection endpoint and compares its
``username`` with the login. ``dovecot.user``'s INBOX holds ``dovecot.inbox_count`` messages.

As root (CI), the login processes run as Debian's ``dovenull`` and the mail as ``dovecot``
(Dovecot refuses root for both); as another user, everything runs as that user.
The process is stopped and the directory removed at the end of the session.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest

SERVERS_DIR = Path(__file__).resolve().parent
CONF_TEMPLATE = SERVERS_DIR / "dovecot.conf.in"
OAUTH2_TEMPLATE = SERVERS_DIR / "dovecot-oauth2.conf.ext.in"
START_TIMEOUT = 20.0

#: mailbox with known contents (the OAuth2 test server's default user)
MAIL_USER = "tokendesk-user@example.test"
INBOX_COUNT = 3
#: a second mailbox, to check that one user's token does not open another's
OTHER_USER = "other-user@example.test"
OTHER_INBOX_COUNT = 1


class DovecotError(RuntimeError):
    pass


# ---- a CA and a server certificate for the test run (TLS variants, also used by smtp.py / http.py)
@dataclass(frozen=True)
class TestPKI:
    ca_file: Path  # PEM of the CA (what an account's "CA file" points at)
    cert_file: Path  # PEM of the server certificate (127.0.0.1, ::1, localhost)
    key_file: Path  # PEM of its key (unencrypted)
    other_ca_file: Path  # PEM of an unrelated CA (verification must fail with it)


def make_test_pki(directory: Path) -> TestPKI:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost, plus an unrelated CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tokendesk tests"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def make_ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    ca_key, ca_cert = make_ca("Tokendesk test CA")
    _, other_cert = make_ca("Unrelated test CA")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pki = TestPKI(directory / "ca.pem", directory / "server.pem", directory / "server.key",
                  directory / "other-ca.pem")
    pki.ca_file.write_bytes(ca_cert.public_bytes(pem))
    pki.other_ca_file.write_bytes(other_cert.public_bytes(pem))
    pki.cert_file.write_bytes(cert.public_bytes(pem))
    pki.key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    pki.key_file.chmod(0o600)
    return pki


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (bound together, then released)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for_port(port: int, deadline: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


def dovecot_executable() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None)


def _write_message(maildir: Path, number: int, user: str) -> None:
    body = (
        f"From: Sender {number} <sender{number}@example.test>\r\nTo: {user}\r\n"
        f"Subject: Test message {number}\r\nDate: Fri, 27 Nov 2026 10:0{number}:00 +0000\r\n"
        f"Message-ID: <{number}.{user}@tokendesk.test>\r\n\r\nHello number {number}.\r\n"
    )
    (maildir / "cur" / f"170000000{number}.M{number}P1.tokendesk:2,S").write_text(body)


@dataclass
class DovecotServer:
    proc: subprocess.Popen[bytes]
    workdir: Path
    imap_port: int
    imaps_port: int
    pop3_port: int
    pop3s_port: int
    pki: TestPKI
    host: str = "127.0.0.1"
    user: str = MAIL_USER
    inbox_count: int = INBOX_COUNT
    other_user: str = OTHER_USER
    other_inbox_count: int = OTHER_INBOX_COUNT

    @property
    def ca_file(self) -> Path:
        return self.pki.ca_file

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        try:
            return (self.workdir / "dovecot.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_dovecot(introspection_url: str, *, debug: bool = False) -> DovecotServer:
    """Write the configuration and mailboxes into a fresh temp directory and start Dovecot."""
    exe = dovecot_executable()
    if exe is None:
        raise DovecotError("dovecot is not installed (Debian: dovecot-core dovecot-imapd dovecot-pop3d)")
    # not under pytest's tmp_path: the mail and login users must be able to traverse the path
    workdir = Path(tempfile.mkdtemp(prefix="tokendesk-dovecot-"))
    workdir.chmod(0o755)
    if os.geteuid() == 0:
        try:
            mail_user, internal_user, login_user = "dovecot", "dovecot", "dovenull"
            pwd.getpwnam(mail_user)
            pwd.getpwnam(login_user)
        except KeyError:
            shutil.rmtree(workdir, ignore_errors=True)
            raise DovecotError("the users 'dovecot' and 'dovenull' are missing (they come with Debian's "
                               "dovecot-core package)") from None
    else:
        mail_user = internal_user = login_user = pwd.getpwuid(os.geteuid()).pw_name
    mail_group = grp.getgrgid(pwd.getpwnam(mail_user).pw_gid).gr_name
    internal_group = grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name
    pki = make_test_pki(workdir / "tls")
    for user, count in ((MAIL_USER, INBOX_COUNT), (OTHER_USER, OTHER_INBOX_COUNT)):
        maildir = workdir / "mail" / user / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True)
        for n in range(1, count + 1):
            _write_message(maildir, n, user)
    if os.geteuid() == 0:
        uid, gid = pwd.getpwnam(mail_user).pw_uid, pwd.getpwnam(mail_user).pw_gid
        for root, _dirs, files in os.walk(workdir / "mail"):
            os.chown(root, uid, gid)
            for f in files:
                os.chown(os.path.join(root, f), uid, gid)
        os.chown(workdir / "mail", uid, gid)
    imap_port, imaps_port, pop3_port, pop3s_port = free_ports(4)
    values = {
        "instance": workdir.name, "workdir": str(workdir), "imap_port": imap_port, "imaps_port": imaps_port,
        "pop3_port": pop3_port, "pop3s_port": pop3s_port, "mail_user": mail_user, "mail_group": mail_group,
        "internal_user": internal_user, "internal_group": internal_group, "login_user": login_user,
        "introspection_url": introspection_url, "auth_debug": "yes" if debug else "no",
    }
    conf = workdir / "dovecot.conf"
    conf.write_text(Template(CONF_TEMPLATE.read_text()).substitute(values))
    (workdir / "dovecot-oauth2.conf.ext").write_text(Template(OAUTH2_TEMPLATE.read_text()).substitute(values))
    with open(workdir / "dovecot.stderr", "wb") as stderr_file:
        proc = subprocess.Popen([exe, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=stderr_file)
    server = DovecotServer(proc, workdir, imap_port, imaps_port, pop3_port, pop3s_port, pki)
    deadline = time.monotonic() + START_TIMEOUT
    if not all(wait_for_port(p, deadline, proc) for p in (imap_port, imaps_port, pop3_port, pop3s_port)):
        stderr = (workdir / "dovecot.stderr").read_text(errors="replace")
        log = server.log()
        server.stop()
        raise DovecotError(f"Dovecot did not start within {START_TIMEOUT:.0f} s:\n{stderr[-1500:]}\n{log[-1500:]}")
    return server


@pytest.fixture(scope="session")
def dovecot_server(oauth_server) -> Iterator[DovecotServer]:  # noqa: ANN001 - fixture from tests.servers.oauth
    """One Dovecot for the session, validating tokens at the session's OAuth2 test server."""
    if dovecot_executable() is None:
        pytest.skip("dovecot is not installed (Debian: dovecot-core dovecot-imapd dovecot-pop3d)")
    try:
        debug = bool(os.environ.get("TOKENDESK_DOVECOT_DEBUG"))
        server = start_dovecot(oauth_server.introspection_endpoint, debug=debug)
    except DovecotError as exc:
        pytest.fail(f"Dovecot could not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> DovecotServer:
    if not dovecot_server.alive():
        pytest.fail(f"Dovecot died:\n{dovecot_server.log()[-2000:]}", pytrace=False)
    return dovecot_server
