"""Test support: write age v1 passphrase files with a *low* scrypt work factor.

pyrage always encrypts with a work factor that costs about a second or two (and decrypting such
a file costs as much again); it offers no way to lower it. Files written here, following the
age v1 specification (https://age-encryption.org/v1), use 2**10 instead, so pyrage decrypts them
in milliseconds: the tests can try wrong passphrases, damaged and armored files often while only
a few tests pay for pyrage's own encryption. Test code only - never use a low work factor for
real backups.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

CHUNK = 64 * 1024
#: the passphrase of the test files (``fast_file`` in conftest.py)
TEST_PASSPHRASE = "correct horse battery staple"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _hkdf_sha256(key: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    prk = hmac.new(salt or bytes(32), key, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def encrypt_fast(plain: bytes, passphrase: str, log_n: int = 10) -> bytes:
    """A binary age file for ``passphrase`` (one scrypt recipient, work factor ``log_n``)."""
    file_key, salt = os.urandom(16), os.urandom(16)
    wrap_key = hashlib.scrypt(passphrase.encode("utf-8"), salt=b"age-encryption.org/v1/scrypt" + salt,
                              n=2**log_n, r=8, p=1, dklen=32)
    body = ChaCha20Poly1305(wrap_key).encrypt(bytes(12), file_key, None)
    header = f"age-encryption.org/v1\n-> scrypt {_b64(salt)} {log_n}\n{_b64(body)}\n---".encode("ascii")
    mac = hmac.new(_hkdf_sha256(file_key, b"", b"header"), header, hashlib.sha256).digest()
    nonce = os.urandom(16)
    stream = ChaCha20Poly1305(_hkdf_sha256(file_key, nonce, b"payload"))
    chunks = [plain[i:i + CHUNK] for i in range(0, len(plain), CHUNK)] or [b""]
    out = [header, b" ", _b64(mac).encode("ascii"), b"\n", nonce]
    for index, chunk in enumerate(chunks):
        last = 1 if index == len(chunks) - 1 else 0
        out.append(stream.encrypt(index.to_bytes(11, "big") + bytes([last]), chunk, None))
    return b"".join(out)
