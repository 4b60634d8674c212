"""The GUI's log file (desktop/logfile.py): private, rotating, Tokendesk at INFO, libraries quiet, no secrets."""

from __future__ import annotations

import logging
import stat

from desktop import logfile


def test_the_log_is_private_and_keeps_tokendesk_info_but_not_library_chatter(log_home):
    path = logfile.enable(log_home)
    assert path == log_home / "logs" / "tokendesk.log" and logfile.current() == path
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    logging.getLogger("desktop.oauth.tokens").info("'Support': refreshing (refresh token 1a2b3c)")
    logging.getLogger("httpx").info('HTTP Request: POST https://login.example.org/token "HTTP/1.1 200 OK"')
    logging.getLogger("desktop.notify").warning("something to look at")
    text = path.read_text()
    assert "Tokendesk started; this log:" in text
    assert "INFO desktop.oauth.tokens: 'Support': refreshing (refresh token 1a2b3c)" in text
    assert "WARNING desktop.notify: something to look at" in text
    assert "HTTP Request" not in text
    assert logfile.enable(log_home) == path  # once per process


def test_the_log_rotates_and_rotated_files_stay_private(log_home, monkeypatch):
    monkeypatch.setattr(logfile, "MAX_BYTES", 2000)
    path = logfile.enable(log_home)
    for i in range(100):
        logging.getLogger("desktop.test").info("line %03d %s", i, "x" * 40)
    rotated = sorted(path.parent.glob("tokendesk.log.*"))
    assert [p.name for p in rotated] == ["tokendesk.log.1", "tokendesk.log.2", "tokendesk.log.3"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in [path, *rotated])
    assert "line 099" in path.read_text()


def test_a_home_that_cannot_be_written_means_no_log_not_no_start(log_home):
    blocker = log_home / "logs"
    blocker.write_text("a file where the folder should be")
    assert logfile.enable(log_home) is None
    assert logfile.current() is None
