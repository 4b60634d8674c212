"""The relay's STARTTLS certificate: the admin's own (PEM certificate + key), or one generated here.

A generated certificate is self-signed (ECDSA P-256, ten years, the host name and the listen address as
subject alternative names) and kept in ``$TOKENDESK_HOME/relay/`` (the key 0600); devices that check
certificates are told its SHA-256 fingerprint, which the tab, ``relay serve`` and ``relay status`` show.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path


class CertificateError(RuntimeError):
    pass


@dataclass(frozen=True)
class RelayCertificate:
    cert_file: Path
    key_file: Path
    fingerprint: str  # SHA-256 of the DER certificate, "AB:CD:..."
    generated: bool

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise CertificateError(f"The certificate {self.cert_file} with the key {self.key_file} cannot be used "
                                   f"({exc}). Give a PEM certificate and its private key.") from None
        return context


def relay_dir() -> Path:
    from desktop.paths import data_dir

    return Path(data_dir()) / "relay"


def fingerprint_of(cert_file: Path) -> str:
    try:
        pem = Path(cert_file).read_text(encoding="ascii")
        der = ssl.PEM_cert_to_DER_cert(pem[pem.index("-----BEGIN CERTIFICATE-----"):])
    except (OSError, ValueError, UnicodeError) as exc:
        raise CertificateError(f"{cert_file} is no readable PEM certificate ({exc}).") from None
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def certificate(cert_file: str = "", key_file: str = "", listen_host: str = "") -> RelayCertificate:
    """The admin's certificate when both files are given, else the generated one (made on first use)."""
    if cert_file or key_file:
        if not (cert_file and key_file):
            raise CertificateError("Give both the certificate (--cert) and its private key (--key), or neither "
                                   "(Tokendesk then makes a self-signed one).")
        cert, key = Path(cert_file).expanduser(), Path(key_file).expanduser()
        result = RelayCertificate(cert, key, fingerprint_of(cert), generated=False)
        result.server_context()  # refuse a pair that does not load now, not at the first STARTTLS
        return result
    folder = relay_dir()
    cert, key = folder / "relay-cert.pem", folder / "relay-key.pem"
    if not (cert.exists() and key.exists()):
        _generate(cert, key, listen_host)
    return RelayCertificate(cert, key, fingerprint_of(cert), generated=True)


def _generate(cert_path: Path, key_path: Path, listen_host: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname() or "localhost"
    names: list[x509.GeneralName] = [x509.DNSName(host), x509.DNSName("localhost")]
    for text in {listen_host, "127.0.0.1"} - {"", "0.0.0.0", "::"}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            names.append(x509.DNSName(text))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Tokendesk relay on {host}")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
