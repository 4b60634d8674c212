"""Shared fixtures: offscreen Qt, a private TOKENDESK_HOME, an in-memory keyring.

Every test runs with ``TOKENDESK_HOME`` pointing at its own temporary directory and the
``keyring`` library switched to an in-memory backend, so nothing touches the developer's
real data or keyring. The real Secret Service lane (marker ``secretservice``) undoes the
keyring switch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if os.geteuid() == 0:  # Chromium refuses to run as root with its sandbox (PLATFORM.md)
    os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("TOKENDESK_TEST", "1")

# Lets QtWebEngine be imported lazily (only when a login dialog opens) after the
# QApplication exists, exactly as desktop/app.py does at start-up.
from PySide6.QtCore import QCoreApplication, Qt  # noqa: E402

QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# PySide6 6.12.0 drops a reference to True on every signal emit from Python, which aborts a long
# test run ("bool_dealloc"); the work-around patches only a PySide6 that has the bug.
from desktop.ui.pyside_fixes import install as _install_pyside_fixes  # noqa: E402

_install_pyside_fixes()


@pytest.fixture(autouse=True)
def tokendesk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("TOKENDESK_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def memory_keyring(request: pytest.FixtureRequest):
    """Switch ``keyring`` to memory unless the test needs the real Secret Service."""
    if request.node.get_closest_marker("secretservice"):
        yield None
        return
    import keyring

    from tests.support.memory_keyring import MemoryKeyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def ctx(tokendesk_home: Path, memory_keyring):
    """A Context on a fresh database in TOKENDESK_HOME with the in-memory keyring, and the delete guards
    the composition roots (desktop/app.py, desktop/cli/common.py) install."""
    from desktop.services import open_context
    from desktop.usage.guards import install_delete_guards

    context = open_context()
    install_delete_guards(context)
    yield context
    context.close()


@pytest.fixture
def run(ctx, capsys):
    """``run(*argv)`` runs ``tokendesk`` in-process on the test context: (exit code, stdout, stderr)."""
    from desktop.cli import main

    def invoke(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv), context_factory=lambda: ctx)
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def make_config(ctx):
    """Factory: add a configuration from a template with sensible test values."""

    def factory(
        name: str = "Support mailbox",
        template: str = "Microsoft Exchange Online",
        secret: str | None = "s3cret",
        **endpoints: str,
    ):
        cfg = ctx.templates.require(template).new_configuration(name)
        cfg.client_id = f"client-{name}"
        for key, url in endpoints.items():
            cfg.set_endpoint(key, url)
        return ctx.configurations.add(cfg, secret)

    return factory


@pytest.fixture
def log_home(tmp_path):
    """A home for desktop.logfile; the logging set-up it changes is put back afterwards."""
    import logging

    from desktop import logfile

    root = logging.getLogger()
    saved = (root.level, [(h, h.level) for h in root.handlers],
             {name: logging.getLogger(name).level for name in logfile.QUIET})
    yield tmp_path
    logfile.disable()
    root.setLevel(saved[0])
    for handler, level in saved[1]:
        handler.setLevel(level)
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def shared_keyring(tmp_path, memory_keyring):
    """A keyring file shared with child processes: returns (backend, environment additions for children).
    The test's own ``keyring`` uses it too (the memory keyring fixture puts the previous one back)."""
    import keyring

    from tests.support.file_keyring import ENV, FileKeyring

    path = str(tmp_path / "keyring.json")
    backend = FileKeyring(path)
    keyring.set_keyring(backend)
    return backend, {"PYTHON_KEYRING_BACKEND": "tests.support.file_keyring.FileKeyring", ENV: path}


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server for the session (tests/support/pgserver.py: its own cluster on a loopback port)."""
    from tests.support.pgserver import PgServer

    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The address of a new, empty database on the session's PostgreSQL server (with the password in it)."""
    return pg_server.url(pg_server.create_database())


@pytest.fixture
def berlin(monkeypatch):
    """This machine's time zone is Europe/Berlin (UTC+1 in winter, UTC+2 from 2026-03-29), so local times are
    checkable; the process's own zone again afterwards."""
    import time

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
