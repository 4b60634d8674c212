"""Issue 16 ("What a new admin trips over"), part A: the keyboard (point 1), dialog sizes (3), the redirect URI
(4), what a template needs (5), the generic refresh endpoint (8), Settings' explanations (14) and the export
dialog (15). TOKENDESK_SCREENSHOTS=1 saves docs/screenshots/ux16-*.png at the size each dialog opens with."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from desktop.app import Application
from desktop.ui.dialogs.export_dialog import ExportDialog
from desktop.ui.tasks import InlineTaskRunner
from tests.support.window import window_features

ROOT = Path(__file__).resolve().parents[2]


def shot(widget: QWidget, name: str, tmp_path: Path) -> Path:
    folder = ROOT / "docs" / "screenshots" if os.environ.get("TOKENDESK_SCREENSHOTS") == "1" else tmp_path
    path = folder / f"ux16-{name}.png"
    assert widget.grab().save(str(path))
    return path


def focus() -> QWidget | None:
    return QApplication.focusWidget()


@pytest.fixture
def backup_app(qapp, ctx):
    application = Application(qapp, ctx, tasks=InlineTaskRunner(),
                              features=window_features("desktop.ui.features.backup"))
    application.window.show()
    yield application
    application.window._quitting = True
    application.window.hide()
    application.window.deleteLater()
    qapp.processEvents()


# ---- point 15: the export dialog
def test_enter_in_the_export_dialog_exports_and_esc_cancels(qapp, make_config, monkeypatch, tmp_path):
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda _parent, _caption, proposed, _filter: (asked.append(proposed), ("", ""))[1])
    dialog = ExportDialog([make_config("Alpha")], [])
    dialog.show()
    qapp.processEvents()
    assert dialog.export_button.isDefault()
    QTest.keyClick(focus(), Qt.Key.Key_Return)
    assert len(asked) == 1 and dialog.isVisible()  # the save dialog was asked for; cancelling it stays here
    shot(dialog, "15-export-default-button", tmp_path)
    QTest.keyClick(focus(), Qt.Key.Key_Escape)
    assert not dialog.isVisible() and dialog.result() == ExportDialog.DialogCode.Rejected


def test_export_starts_in_the_backup_folder_not_where_the_last_import_came_from(backup_app, make_config, monkeypatch,
                                                                               tmp_path):
    make_config("Alpha")
    documents = tmp_path / "Documents"
    documents.mkdir()
    monkeypatch.setattr("platformdirs.user_documents_dir", lambda: str(documents))
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    backup_app.window.ui_settings().setValue("backup/last_dir", str(downloads))  # an import came from there
    feature = backup_app.features["backup"]
    proposed: list[str] = []
    backups = tmp_path / "backups"
    backups.mkdir()

    def save(_parent, _caption, start, _filter):
        proposed.append(start)
        return str(backups / "mine.yml"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save)
    feature.on_export()
    feature.export_dialog.on_export_clicked()
    assert Path(proposed[0]).parent == documents  # first export: the documents folder
    assert (backups / "mine.yml").is_file()
    feature.on_export()
    feature.export_dialog.on_export_clicked()
    assert Path(proposed[1]).parent == backups  # then the folder of the last export
    assert backup_app.window.ui_settings().value("backup/last_dir") == str(downloads)  # imports keep theirs
