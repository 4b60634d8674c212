"""Which program asked for a token (desktop/procinfo.py): real process chains and argv shapes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from desktop import procinfo
from desktop.procinfo import Process

pytestmark = pytest.mark.skipif(not Path("/proc/self/exe").exists(), reason="needs Linux /proc")

PYTHON = os.path.realpath(sys.executable)
ROOT = Path(__file__).resolve().parent.parent

#: what a fake "tokendesk" command prints: the program that asked, seen from inside it
REPORT = f"import os, sys; sys.path.insert(0, {str(ROOT)!r}); from desktop import procinfo; " \
         "print(procinfo.requesting_program(os.getpid()))"


@pytest.fixture
def fake_tokendesk(tmp_path: Path) -> Path:
    """A script named ``tokendesk`` that reports who asked (what the console script looks like to /proc)."""
    script = tmp_path / "bin" / "tokendesk"
    script.parent.mkdir()
    script.write_text(REPORT.replace("; ", "\n") + "\n")
    return script


def run(argv: list[str], **kwargs) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, **kwargs)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_program_running_sh_c_running_tokendesk_is_named(fake_tokendesk, tmp_path):
    """mailer (a Python script) -> sh -c "...; true" -> python .../tokendesk: the mailer is reported with its script."""
    mailer = tmp_path / "mailer.py"
    mailer.write_text("import subprocess, sys\n"
                      f"out = subprocess.run(['sh', '-c', {PYTHON!r} + ' ' + {str(fake_tokendesk)!r} + '; true'],\n"
                      "                     capture_output=True, text=True).stdout\n"
                      "sys.stdout.write(out)\n")
    assert run([sys.executable, str(mailer)]) == f"{PYTHON} {mailer}"


def test_a_binary_parent_through_two_shells(fake_tokendesk):
    """timeout (a binary that forks) -> bash -lc -> sh -c -> python -m desktop-like script: /usr/bin/timeout."""
    timeout = shutil.which("timeout")
    bash = shutil.which("bash")
    if not (timeout and bash):
        pytest.skip("needs coreutils timeout and bash")
    inner = f"sh -c '{PYTHON} {fake_tokendesk}; true'; true"
    assert run([timeout, "20", bash, "-lc", inner]) == os.path.realpath(timeout)


def test_python_m_desktop_is_skipped_too(tmp_path):
    """The real command line: ``python -m desktop`` (here a package named desktop that only reports)."""
    package = tmp_path / "pkg" / "desktop"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "import os, importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('procinfo', {str(ROOT / 'desktop' / 'procinfo.py')!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "print(mod.requesting_program(os.getpid()))\n")
    mailer = tmp_path / "mailer.py"
    mailer.write_text("import subprocess, sys\n"
                      f"print(subprocess.run([sys.executable, '-m', 'desktop'], cwd={str(tmp_path / 'pkg')!r},\n"
                      "                     capture_output=True, text=True).stdout.strip())\n")
    assert run([sys.executable, str(mailer)]) == f"{PYTHON} {mailer}"


def test_an_interactive_shell_stays_as_it_is():
    shell = Process(10, "/usr/bin/bash", ["-bash"], 1)
    assert not procinfo.is_shell_command(shell)
    assert procinfo.describe(shell) == "/usr/bin/bash"
    assert not procinfo.is_shell_command(Process(10, "/usr/bin/bash", ["bash", "-i"], 1))
    # a shell script is named with its script; "sh -c" and "bash -o pipefail -ec" are walked past
    script = Process(10, "/usr/bin/dash", ["sh", "/home/a/fetch.sh"], 1)
    assert procinfo.describe(script) == "/usr/bin/dash /home/a/fetch.sh"
    assert procinfo.is_shell_command(Process(10, "/usr/bin/dash", ["sh", "-c", "tokendesk token X"], 1))
    assert procinfo.is_shell_command(Process(10, "/usr/bin/bash", ["bash", "-o", "pipefail", "-ec", "x"], 1))
    assert not procinfo.is_shell_command(Process(10, "/usr/bin/bash", ["bash", "script.sh", "-c"], 1))
    assert not procinfo.is_shell_command(Process(10, "/usr/bin/msmtp", ["msmtp", "-c"], 1))


def test_tokendesk_command_shapes():
    def proc(*argv: str, exe: str = "/usr/bin/python3.11") -> Process:
        return Process(10, exe, list(argv), 1)

    assert procinfo.is_tokendesk_command(proc("python3", "-m", "desktop", "token", "X"))
    assert procinfo.is_tokendesk_command(proc("python3", "-X", "importtime", "-mdesktop", "token"))
    assert procinfo.is_tokendesk_command(proc("python3", "-I", "/home/a/.venv/bin/tokendesk", "token", "X"))
    assert procinfo.is_tokendesk_command(proc("tokendesk", "token", exe="/opt/tokendesk/tokendesk"))
    assert not procinfo.is_tokendesk_command(proc("python3", "/usr/bin/getmail", "--rcfile", "x"))
    assert not procinfo.is_tokendesk_command(proc("python3", "-c", "import desktop"))
    assert not procinfo.is_tokendesk_command(proc("perl", "tokendesk", exe="/usr/bin/perl"))
    assert procinfo.describe(proc("python3", "-u", "/usr/bin/getmail", "-q")) == "/usr/bin/python3.11 /usr/bin/getmail"
    assert procinfo.describe(proc("python3", "-m", "offlineimap")) == "/usr/bin/python3.11 -m offlineimap"
    assert procinfo.describe(proc("python3", "-c", "...")) == "/usr/bin/python3.11"
    # another user's process: argv[0] is all that is known
    assert procinfo.describe(Process(10, "", ["/usr/sbin/cron", "-f"], 1)) == "/usr/sbin/cron"


def test_gone_or_unknown_processes_give_nothing():
    assert procinfo.requesting_program(0) == ""
    assert procinfo.requesting_program(2**22 + 12345) == ""  # beyond pid_max: no such process
    assert procinfo.read_process(os.getpid()).exe == PYTHON


def test_the_walk_is_bounded(monkeypatch):
    """A (pathological) endless chain of shells ends after MAX_HOPS with nothing rather than looping."""
    monkeypatch.setattr(procinfo, "read_process", lambda pid: Process(pid, "/bin/sh", ["sh", "-c", "x"], pid + 1))
    assert procinfo.requesting_program(100) == ""
