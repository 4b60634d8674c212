"""Start-up checks in a fresh Python process: what a real start imports and builds cannot be seen from a test
process that has PySide6, Qt's namespace and the whole app loaded already."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: code that records, in ``made``, the name of every enum class built from then on (PySide6 builds a Qt class's
#: enums through ``enum.EnumType._create_`` when the class's Python type is first needed)
RECORD_ENUMS = (
    "import enum\n"
    "made = []\n"
    "create = enum.EnumType._create_\n"
    "def recording(cls, name, names, **kw):\n"
    "    made.append(name)\n"
    "    return create(cls, name, names, **kw)\n"
    "enum.EnumType._create_ = recording\n"
)


def run_offscreen(code: str, tmp_path: Path, **env_vars: str) -> list[str]:
    """``python -c code`` in a fresh process (offscreen, its own TOKENDESK_HOME, none of this run's TOKENDESK_*
    settings); it must succeed. Its output lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENDESK_")}
    env.update(TOKENDESK_HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), **env_vars)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()
