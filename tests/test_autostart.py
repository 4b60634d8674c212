"""Start at log-in (desktop/autostart.py): the XDG autostart entry, its Exec line, the CLI and the dialog."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from desktop import autostart
from desktop.ui.enums import MainAction
from tests.support.window import window_features


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


def parse_exec(value: str) -> list[str]:
    """The Desktop Entry spec read backwards: string escapes, then quoted arguments, then %%."""
    unescaped = []
    i = 0
    while i < len(value):  # string-level escapes first (\\ \s \n \t \r)
        if value[i] == "\\" and i + 1 < len(value):
            unescaped.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(value[i + 1], value[i + 1]))
            i += 2
        else:
            unescaped.append(value[i])
            i += 1
    text = "".join(unescaped)
    args, current, quoted, i, started = [], [], False, 0, False
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\" and i + 1 < len(text) and text[i + 1] in '"`$\\':
                current.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                quoted = False
            else:
                current.append(c)
        elif c == '"':
            quoted, started = True, True
        elif c == " ":
            if current or started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(c)
        i += 1
    if current or started:
        args.append("".join(current))
    return [a.replace("%%", "%") for a in args]


def entry(config_home) -> dict[str, str]:
    lines = (config_home / "autostart" / "tokendesk.desktop").read_text().splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if line)


def test_on_writes_an_entry_that_starts_this_tokendesk_minimized(config_home, monkeypatch, tmp_path):
    monkeypatch.delenv("TOKENDESK_HOME", raising=False)
    assert autostart.is_enabled() is False
    path = autostart.enable()
    assert path == config_home / "autostart" / "tokendesk.desktop"
    assert autostart.is_enabled() is True
    values = entry(config_home)
    assert values["Type"] == "Application" and values["Name"] == "Tokendesk"
    assert parse_exec(values["Exec"]) == [sys.executable, "-m", "desktop", "--minimized"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert autostart.disable() is True and not path.exists() and autostart.is_enabled() is False
    assert autostart.disable() is False


@pytest.mark.parametrize("odd", ['/opt/My Apps/py "3"/bin/python', "/srv/100%/$HOME/back\\slash/python"])
def test_exec_survives_spaces_quotes_dollars_percents_and_backslashes(config_home, monkeypatch, odd, tmp_path):
    home = tmp_path / "data dir"
    monkeypatch.setenv("TOKENDESK_HOME", str(home))
    monkeypatch.setattr(sys, "executable", odd)
    autostart.enable()
    assert parse_exec(entry(config_home)["Exec"]) == ["env", f"TOKENDESK_HOME={home.resolve()}", odd, "-m",
                                                      "desktop", "--minimized"]


def test_an_entry_switched_off_by_the_desktop_counts_as_off(config_home):
    path = autostart.enable()
    path.write_text(path.read_text() + "Hidden=true\n")
    assert autostart.is_enabled() is False


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils not installed")
def test_the_entry_and_the_launcher_pass_desktop_file_validate(config_home, monkeypatch, tmp_path):
    from pathlib import Path

    monkeypatch.setenv("TOKENDESK_HOME", str(tmp_path / "data dir"))
    path = autostart.enable()
    launcher = Path(__file__).resolve().parents[1] / "resources" / "tokendesk.desktop"
    for desktop_file in (path, launcher):
        result = subprocess.run(["desktop-file-validate", str(desktop_file)], capture_output=True, text=True)
        assert result.returncode == 0 and "error" not in result.stdout.lower(), result.stdout + result.stderr


def test_the_settings_dialog_switches_it(config_home, ctx, qapp, monkeypatch, tmp_path):
    from desktop.app import Application
    from desktop.ui.dialogs.settings_dialog import SettingsDialog
    from desktop.ui.tasks import InlineTaskRunner

    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    shots = []

    def tick_and_save(dialog):
        assert dialog.autostart_check is not None and not dialog.autostart_check.isChecked()
        dialog.autostart_check.setChecked(True)
        dialog.show()
        qapp.processEvents()
        shots.append(dialog.grab().save(str(tmp_path / "settings.png")))
        dialog.hide()
        return dialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", tick_and_save)
    app.window.action(MainAction.SETTINGS).trigger()
    assert autostart.is_enabled() and shots == [True]
    monkeypatch.setattr(SettingsDialog, "exec", lambda d: (d.autostart_check.setChecked(False),
                                                           d.DialogCode.Accepted)[1])
    app.window.action(MainAction.SETTINGS).trigger()
    assert not autostart.is_enabled()
    app.window._quitting = True
    app.window.deleteLater()
