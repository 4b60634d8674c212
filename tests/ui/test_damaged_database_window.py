"""The window on a damaged database (issue 10, point 9): at start-up and while it runs it says what happened
and what to do (the same words as the command line), once, instead of a traceback on stderr.
TOKENDESK_SCREENSHOTS=1 refreshes docs/screenshots/damaged-database-*.png."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from desktop.app import Application
from desktop.ui.tasks import InlineTaskRunner, TaskRunner
from tests.support.damaged_store import build_damaged, damage_page
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]


def shots_dir(fallback: Path) -> Path:
    path = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


def _advice(text: str, path: Path) -> None:
    assert f"The database {path} is damaged (database disk image is malformed)" in text
    assert "tokendesk export --salvage -o FILE" in text
    assert "move the database away" in text and "tokendesk import FILE" in text


@pytest.mark.qt_no_exception_capture
def test_start_up_on_a_damaged_database_explains_in_a_window(ctx, qapp, monkeypatch, log_home, tmp_path):
    from desktop import app as app_module

    d = build_damaged(ctx, count=120)
    shown: list[QMessageBox] = []

    def fake_exec(box: QMessageBox) -> int:
        box.show()  # as exec() would: laid out with its style sheet
        qapp.processEvents()
        shown.append(box)
        box.grab().save(str(shots_dir(tmp_path) / "damaged-database-start.png"))
        return int(QMessageBox.StandardButton.Ok)

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    monkeypatch.setattr(app_module.Application, "serve_later_starts", lambda self: True)
    assert app_module.run_gui() == 1
    [box] = shown
    assert box.text() == "Tokendesk cannot start."
    _advice(box.informativeText(), d.path)


@pytest.mark.qt_no_exception_capture
def test_damage_met_while_the_window_runs_is_explained_once(ctx, make_config, qapp, qtbot, tmp_path):
    from desktop.app import DamageReport

    for i in range(150):
        make_config(f"Mailbox {i:03d}")
    app = Application(qapp, ctx, tasks=InlineTaskRunner(), features=window_features())
    report = DamageReport(app)
    try:
        app.window.show()
        qtbot.waitExposed(app.window)
        path = ctx.store.path
        ctx.store.close()  # the window's connection reopens on the next query and reads the damaged file
        damage_page(path)
        app.hub.configurations_changed.emit()  # a reload, as after a change by the command line
        qapp.processEvents()
        box = report.box
        assert box is not None and box.isVisible()
        assert box.text() == "Tokendesk's database is damaged."
        _advice(box.informativeText(), path)
        qapp.processEvents()
        box.grab().save(str(shots_dir(tmp_path) / "damaged-database-running.png"))
        app.hub.configurations_changed.emit()  # again: the same box stays, no second one
        qapp.processEvents()
        assert report.box is box and len(report.shown) == 1

        # a background task that meets the damage reports the same words to its own error handler
        errors: list[BaseException] = []
        app.tasks.run(lambda: ctx.store.list_with_state(), on_error=errors.append)
        assert len(errors) == 1 and "tokendesk export --salvage" in str(errors[0])
    finally:
        report.uninstall()
        app.window.hide()
        app.window.deleteLater()


def test_a_real_task_runner_hands_on_the_plain_words(ctx, qapp, qtbot):
    import sqlite3

    runner = TaskRunner()
    caught: list[BaseException] = []
    damaged: list[BaseException] = []
    runner.damaged.connect(damaged.append)

    def fails() -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    runner.run(fails, on_error=caught.append)
    qtbot.waitUntil(lambda: bool(caught), timeout=5000)
    assert "is damaged (database disk image is malformed)" in str(caught[0])
    assert damaged == caught
