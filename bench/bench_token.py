"""``tokendesk token NAME`` beside a bare keyring read (not a test): prints times and the ratio.

    .venv/bin/python bench/bench_token.py [--repeat 30]

Design target: ``tokendesk token NAME`` on a valid stored token within 1.5x of
``python -c "import keyring; keyring.get_password(...)"``, measured in the same run.

Both sides read the secret through the same file-based keyring backend (``FileKeyring`` below,
selected with ``PYTHON_KEYRING_BACKEND``), so the comparison is fair: the baseline pays for the
interpreter, ``import keyring`` and one read; Tokendesk additionally parses its command line,
opens its SQLite database (WAL, schema check), reads the configuration and its token state,
probes the keyring once and records "last used" (at most once a minute). A second line does the
same with Tokendesk's database fallback for secrets (no keyring at all) for comparison.
Every run is a fresh process; the medians of --repeat alternating runs are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

SERVICE_PREFIX = "tokendesk:"
NAME = "Bench mailbox"
TOKEN = "bench-access-token-" + "x" * 1200  # about the size of a real JWT access token

FILE_KEYRING_MODULE = '''
"""A tiny file-based keyring backend for bench_token.py (JSON file named by $BENCH_KEYRING_FILE)."""
import json
import os

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1

    def _path(self):
        return os.environ["BENCH_KEYRING_FILE"]

    def _load(self):
        try:
            with open(self._path(), encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return {}

    def get_password(self, service, username):
        return self._load().get(service + "\\0" + username)

    def set_password(self, service, username, password):
        data = self._load()
        data[service + "\\0" + username] = password
        with open(self._path(), "w", encoding="utf-8") as fh:
            json.dump(data, fh)

    def delete_password(self, service, username):
        data = self._load()
        if data.pop(service + "\\0" + username, None) is None:
            raise PasswordDeleteError("not found")
        with open(self._path(), "w", encoding="utf-8") as fh:
            json.dump(data, fh)
'''


def prepare(home: Path, *, file_fallback: bool, env: dict[str, str]) -> str:
    """A configuration with a valid stored access token; returns the keyring service name."""
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from datetime import timedelta
from desktop.models.token import utcnow
from desktop.services import open_context
from desktop.store.secrets import ACCESS_TOKEN, DatabaseSecrets, MemorySecrets
if {file_fallback!r}:
    ctx = open_context(secrets=MemorySecrets())
    ctx.store.set_setting("secrets.allow_file_fallback", True)
    ctx.secrets = DatabaseSecrets(lambda: ctx.store.conn)
else:
    ctx = open_context()
cfg = ctx.templates.require("Microsoft Exchange Online").new_configuration({NAME!r})
cfg.client_id = "bench-client"
cfg = ctx.configurations.add(cfg, "bench-secret")
ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, {TOKEN!r})
ctx.store.update_state(cfg.id, has_access_token=True, token_expires_at=utcnow() + timedelta(hours=10))
print(ctx.secrets.kind, "{SERVICE_PREFIX}" + ctx.store.store_id, f"config-{{cfg.id}}/access_token")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    kind, service, user = out.split()
    expected = "file" if file_fallback else "keyring"
    if kind != expected:
        raise SystemExit(f"set-up used the {kind} secret store, expected {expected}")
    return json.dumps([service, user])


def timed(cmd: list[str], env: dict[str, str], expect: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or proc.stdout.strip() != expect:
        raise SystemExit(f"{cmd[:4]} failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
    return elapsed


def compare(label: str, tokendesk_cmd: list[str], baseline_cmd: list[str], env: dict[str, str], repeat: int,
            baseline_env: dict[str, str] | None = None) -> float:
    baseline_env = baseline_env or env
    timed(tokendesk_cmd, env, TOKEN)  # warm the page cache
    timed(baseline_cmd, baseline_env, TOKEN)
    ours: list[float] = []
    base: list[float] = []
    for _ in range(repeat):
        ours.append(timed(tokendesk_cmd, env, TOKEN))
        base.append(timed(baseline_cmd, baseline_env, TOKEN))
    mine, theirs = statistics.median(ours), statistics.median(base)
    ratio = mine / theirs
    print(f"{label}")
    print(f"  tokendesk token NAME       median {mine * 1000:7.1f} ms  (min {min(ours) * 1000:.1f})")
    print(f"  python -c keyring.get_...  median {theirs * 1000:7.1f} ms  (min {min(base) * 1000:.1f})")
    print(f"  ratio {ratio:.2f}x  (design: within 1.5x) {'OK' if ratio <= 1.5 else 'OVER'}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {args.repeat} alternating runs each, fresh processes\n")
    with tempfile.TemporaryDirectory(prefix="tokendesk-bench-token-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "bench_file_keyring.py").write_text(FILE_KEYRING_MODULE)
        base_env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS")}
        base_env["PYTHONPATH"] = str(tmpdir)
        tokendesk_cmd = [sys.executable, "-m", "desktop", "token", NAME]

        # 1) both sides through the same file-based keyring backend
        env = dict(base_env, TOKENDESK_HOME=str(tmpdir / "home-keyring"),
                   PYTHON_KEYRING_BACKEND="bench_file_keyring.FileKeyring",
                   BENCH_KEYRING_FILE=str(tmpdir / "keyring.json"))
        service, user = json.loads(prepare(tmpdir / "home-keyring", file_fallback=False, env=env))
        baseline = [sys.executable, "-c",
                    f"import keyring; print(keyring.get_password({service!r}, {user!r}))"]
        ratio = compare("secrets in a file-based keyring backend (both sides):", tokendesk_cmd, baseline, env,
                        args.repeat)

        # 2) Tokendesk's database fallback vs the same baseline (keyring file backend)
        env2 = dict(base_env, TOKENDESK_HOME=str(tmpdir / "home-db"),
                    PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        prepare(tmpdir / "home-db", file_fallback=True, env=env2)
        print()
        compare("secrets in Tokendesk's database fallback (no keyring) vs the same keyring baseline:",
                tokendesk_cmd, baseline, env2, args.repeat, baseline_env=env)
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
