"""The cost of wrapping the team store's data key for a member (not a test): prints medians and ratios.

    .venv/bin/python bench/bench_team_keys.py [--repeat 2000]

Times, in one process, the median of ``--repeat`` runs each of

  (a) a plain AES-256-GCM seal of the 32-byte data key (what the vault's passphrase wrapping does, minus Argon2id);
  (b) ``wrap_data_key``: ephemeral X25519 agreement + HKDF-SHA256 + the same seal (``store grant``, and once per
      remaining member on ``store remove``'s re-key);
  (c) ``unwrap_data_key``: X25519 agreement + HKDF + open (each time a member's Tokendesk opens the team store);

and prints b/a and c/a, plus one Argon2id derivation (a member key kept in a passphrase file) for scale.
Nothing is asserted: the figures are for reading.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def median_us(action, repeat: int) -> float:  # noqa: ANN001 - a no-argument callable
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from desktop.store.team_keys import generate_member_key, unwrap_data_key, wrap_data_key
    from desktop.store.vault_crypto import derive_kek, new_kdf

    data_key, member = os.urandom(32), generate_member_key()
    place = {"store_id": "bench-store", "member": "alice@desk1", "key_id": "0123456789abcdef"}
    aead, nonce = AESGCM(os.urandom(32)), os.urandom(12)
    blob = wrap_data_key(data_key, member.public_text, **place)

    seal = median_us(lambda: AESGCM(os.urandom(32)).encrypt(nonce, data_key, b"ad"), args.repeat)
    seal_only = median_us(lambda: aead.encrypt(nonce, data_key, b"ad"), args.repeat)
    wrap = median_us(lambda: wrap_data_key(data_key, member.public_text, **place), args.repeat)
    unwrap = median_us(lambda: unwrap_data_key(blob, member.private, **place), args.repeat)
    start = time.perf_counter()
    derive_kek("a passphrase of a member", new_kdf())
    argon = (time.perf_counter() - start) * 1e3

    print(f"medians of {args.repeat} runs")
    print(f"(a) AES-256-GCM seal of the data key (new key each time) {seal:9.1f} us"
          f"   (seal with a ready key: {seal_only:.1f} us)")
    print(f"(b) wrap_data_key (X25519 + HKDF + seal)               {wrap:9.1f} us   b/a = {wrap / seal:6.1f}x")
    print(f"(c) unwrap_data_key (X25519 + HKDF + open)             {unwrap:9.1f} us   c/a = {unwrap / seal:6.1f}x")
    print(f"for scale: one Argon2id derivation (t=3, 64 MiB, p=4)  {argon:9.1f} ms   "
          f"= {argon * 1e3 / unwrap:,.0f}x an unwrap")
    return 0


if __name__ == "__main__":
    sys.exit(main())
