"""Backup feature: Export (Ctrl+E) and Import (Ctrl+I) in the File menu and the toolbar, and
dropping a .yml/.yaml/.age file on the window opens the import preview.

* Export: ``ExportDialog`` (all or selected, client secrets off by default; ticking them ticks
  "Encrypt with a passphrase (age)", and writing them in clear text is confirmed; file dialog
  proposing Znuny's file name, ``.yml.age`` when encrypted); the export, the encryption (a few
  seconds of scrypt) and the atomic write run on the task runner (reading client secrets may
  wait for the keyring).
* Import: file dialog, then the file is read on the task runner. An encrypted file (age) opens
  ``BackupPassphraseDialog``; decryption runs on the task runner while the dialog shows that it works;
  a wrong passphrase is said in the dialog, which stays open for another try. Then the file is
  checked and ``ImportPreviewDialog`` opens (new / overwrites / skipped / invalid, overwrite
  option re-plans live, Apply disabled while anything is invalid; an overwrite that moves endpoints
  to another host says that its tokens are forgotten, and "Send the stored client secret to the new
  hosts" - off - travels with the plan; a preview re-opened after ``PlanChanged`` asks again); applying runs on the task
  runner in one transaction, then a summary, ``hub.configurations_changed`` and the first
  imported row selected.
The dialogs are opened with ``open()`` (window-modal, not blocking), so tests can drive them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QKeySequence

from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.features.host import FeatureHost

if TYPE_CHECKING:
    from desktop.backup.encrypted import EncryptedBackup
    from desktop.backup.export import ExportResult
    from desktop.backup.importer import ImportPlan, ImportSummary, ParsedImport
    from desktop.ui.dialogs.backup_passphrase_dialog import BackupPassphraseDialog
    from desktop.ui.dialogs.export_dialog import ExportDialog
    from desktop.ui.dialogs.import_dialog import ImportPreviewDialog

# The backup code (PyYAML among it) and the dialogs are imported when first used, not at start-up.

logger = logging.getLogger(__name__)

#: files that a drop on the window imports (.age: an encrypted backup)
BACKUP_SUFFIXES = (".yml", ".yaml", ".age")
LAST_DIR_KEY = "backup/last_dir"  # the folder of the last import (the open dialog starts there)
EXPORT_DIR_KEY = "backup/export_dir"  # the folder of the last export: backups go there, not where an import came from


def install(app: FeatureHost) -> BackupFeature:
    return BackupFeature(app)


class BackupFeature(QObject):
    def __init__(self, app: FeatureHost) -> None:
        super().__init__(app.window)
        self.app = app
        self.window = app.window
        self.export_dialog: ExportDialog | None = None
        self.preview_dialog: ImportPreviewDialog | None = None
        self.passphrase_dialog: BackupPassphraseDialog | None = None

        # toolbar: | Import, Export; File: Import, Export | Settings (features/configurations.py)
        self.window.add_toolbar_separator()
        self.import_action = self.window.add_action(
            MainAction.IMPORT, "&Import ...", self.on_import, QKeySequence("Ctrl+I"),
            "Import configurations from a Znuny or Tokendesk YAML export, plain or encrypted (Ctrl+I); you can also "
            "drop the file on the window", menu=MainMenu.FILE, before=MainAction.SETTINGS, context_menu=False)
        self.export_action = self.window.add_action(
            MainAction.EXPORT, "&Export ...", self.on_export, QKeySequence("Ctrl+E"),
            "Export all or the selected configurations to Znuny's YAML format (Ctrl+E)", menu=MainMenu.FILE,
            before=MainAction.SETTINGS)
        self.window.add_menu_separator(MainMenu.FILE, before=MainAction.SETTINGS)

        self.window.setAcceptDrops(True)
        self.window.drop_handler = self.on_drag

    # ---- folders
    def _last_dir(self) -> Path:
        value = self.window.ui_settings().value(LAST_DIR_KEY)
        path = Path(str(value)) if value else Path.home()
        return path if path.is_dir() else Path.home()

    def _remember_dir(self, path: Path, key: str = LAST_DIR_KEY) -> None:
        settings = self.window.ui_settings()
        settings.setValue(key, str(path.parent))
        settings.sync()

    def _export_dir(self) -> Path:
        """The last export's folder, else the documents folder (XDG_DOCUMENTS_DIR), else home - never the folder
        an import came from (a colleague's export in Downloads is no place for this machine's backups)."""
        value = self.window.ui_settings().value(EXPORT_DIR_KEY)
        if value and Path(str(value)).is_dir():
            return Path(str(value))
        from platformdirs import user_documents_dir

        documents = Path(user_documents_dir())
        return documents if documents.is_dir() else Path.home()

    # ---- export
    @Slot()
    def on_export(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        configurations = self.app.ctx.store.list_configurations()
        if not configurations:
            QMessageBox.information(self.window, "Export", "There are no token configurations to export yet.")
            return
        from desktop.ui.dialogs.export_dialog import ExportDialog

        selected = [c.name for c in self.window.selected_configurations()]
        dialog = ExportDialog(configurations, selected, start_dir=self._export_dir(), parent=self.window)
        self.export_dialog = dialog
        dialog.accepted.connect(lambda: self._export(dialog))
        dialog.finished.connect(lambda _code: dialog.deleteLater())
        dialog.open()

    def _export(self, dialog: ExportDialog) -> None:
        names, include_secrets, path = dialog.names(), dialog.include_secrets, dialog.path
        passphrase = dialog.passphrase()  # None: plain YAML
        dialog.clear_passphrases()
        if path is None:
            return
        ctx = self.app.ctx

        def work() -> ExportResult:
            from desktop.backup.export import export_configurations, write_export

            result = export_configurations(ctx, names, include_secrets=include_secrets)
            data: str | bytes = result.text
            if passphrase is not None:
                from desktop.backup.encrypted import encrypt_text

                data = encrypt_text(result.text, passphrase)
            write_export(path, data, private=result.has_secrets)
            return result

        def done(result: ExportResult) -> None:
            self._remember_dir(path, EXPORT_DIR_KEY)
            encrypted = " Encrypted for a passphrase (age)." if passphrase is not None else ""
            self.window.show_status(f"{result.summary()}{encrypted} Saved to {path}.", 15000)

        def failed(exc: BaseException) -> None:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(self.window, "Export failed", f"Nothing was exported.\n\n{_plain(exc)}")

        busy = "Exporting and encrypting (a few seconds) ..." if passphrase is not None else "Exporting ..."
        self.app.tasks.run(work, on_done=done, on_error=failed, busy_text=busy)

    # ---- import
    @Slot()
    def on_import(self) -> None:
        from PySide6.QtWidgets import QFileDialog  # its Python type is built on first use, not at start-up

        from desktop.ui.dialogs.export_dialog import IMPORT_FILTER

        path, _filter = QFileDialog.getOpenFileName(
            self.window, "Import token configurations", str(self._last_dir()), IMPORT_FILTER
        )
        if path:
            self.open_preview(Path(path))

    def open_preview(self, path: Path | str, overwrite: bool = False) -> None:
        """Read and check ``path`` off the GUI thread, then show the preview (an encrypted file asks first)."""
        from desktop.backup.encrypted import EncryptedBackup, open_backup

        path = Path(path)
        templates = self.app.ctx.templates

        def opened(result: ParsedImport | EncryptedBackup) -> None:
            if isinstance(result, EncryptedBackup):
                self.ask_passphrase(result, overwrite)
            else:
                self.show_preview(result, overwrite)

        self.app.tasks.run(open_backup, path, templates, on_done=opened, on_error=self._read_failed,
                           busy_text=f"Reading {path.name} ...")

    def _read_failed(self, exc: BaseException) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(self.window, "Import", f"The file could not be read.\n\n{_plain(exc)}")

    def ask_passphrase(self, backup: EncryptedBackup, overwrite: bool = False) -> BackupPassphraseDialog:
        """The passphrase dialog for an encrypted file; the preview follows once it decrypts."""
        from desktop.backup.encrypted import WrongPassphrase
        from desktop.ui.dialogs.backup_passphrase_dialog import BackupPassphraseDialog

        if self.passphrase_dialog is not None:
            self.passphrase_dialog.reject()
        templates = self.app.ctx.templates
        dialog = BackupPassphraseDialog(backup.path.name, parent=self.window)
        self.passphrase_dialog = dialog

        def submitted(passphrase: str) -> None:
            def done(parsed: ParsedImport) -> None:
                if self.passphrase_dialog is not dialog:
                    return  # cancelled while it decrypted
                dialog.accept()
                self.show_preview(parsed, overwrite)

            def failed(exc: BaseException) -> None:
                if self.passphrase_dialog is not dialog:
                    return
                if isinstance(exc, WrongPassphrase):
                    dialog.show_error(str(exc))
                    return
                dialog.reject()
                self._read_failed(exc)

            self.app.tasks.run(backup.read, passphrase, templates, on_done=done, on_error=failed,
                               busy_text=f"Decrypting {backup.path.name} (a few seconds) ...")

        dialog.submitted.connect(submitted)
        dialog.finished.connect(lambda _code: self._forget_passphrase(dialog))
        dialog.open()
        return dialog

    def _forget_passphrase(self, dialog: BackupPassphraseDialog) -> None:
        if self.passphrase_dialog is dialog:
            self.passphrase_dialog = None
        dialog.deleteLater()

    def show_preview(self, parsed: ParsedImport, overwrite: bool = False) -> ImportPreviewDialog:
        from desktop.backup.importer import plan_import
        from desktop.ui.dialogs.import_dialog import ImportPreviewDialog

        ctx = self.app.ctx
        if self.preview_dialog is not None:
            self.preview_dialog.close()
        dialog = ImportPreviewDialog(parsed, lambda ow: plan_import(ctx, parsed, ow), overwrite, parent=self.window)
        self.preview_dialog = dialog
        dialog.accepted.connect(lambda: self._apply(dialog.plan))
        dialog.finished.connect(lambda _code: self._forget_preview(dialog))
        dialog.open()
        return dialog

    def _forget_preview(self, dialog: ImportPreviewDialog) -> None:
        if self.preview_dialog is dialog:
            self.preview_dialog = None
        dialog.deleteLater()

    def _apply(self, plan: ImportPlan) -> None:
        from desktop.backup.importer import PlanChanged, apply_import

        source = Path(plan.parsed.source) if plan.parsed.source else None

        def done(summary: ImportSummary) -> None:
            from PySide6.QtWidgets import QMessageBox

            self.app.hub.configurations_changed.emit()
            if source is not None:
                self._remember_dir(source)
            first = (summary.added + summary.overwritten)[:1]
            if first:
                self.window.select_configuration(first[0])
            self.window.show_status(summary.lines()[0], 15000)
            QMessageBox.information(self.window, "Import finished", summary.text())

        def failed(exc: BaseException) -> None:
            from PySide6.QtWidgets import QMessageBox

            if isinstance(exc, PlanChanged):
                QMessageBox.warning(self.window, "Import", str(exc))
                self.show_preview(plan.parsed, plan.overwrite)
                return
            QMessageBox.critical(self.window, "Import failed", f"Nothing was imported.\n\n{_plain(exc)}")

        self.app.tasks.run(apply_import, self.app.ctx, plan, on_done=done, on_error=failed,
                           busy_text="Importing ...")

    # ---- drag and drop (the window's drop_handler: desktop/ui/drops.py)
    def on_drag(self, event: Any, dropped: bool) -> bool:
        path = _dropped_backup(event)
        if path is None:
            return False
        event.acceptProposedAction()
        if dropped:
            self.window.show_normal_and_raise()
            self.open_preview(path)
        return True


def _dropped_backup(event: Any) -> Path | None:
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and url.toLocalFile().lower().endswith(BACKUP_SUFFIXES):
            return Path(url.toLocalFile())
    return None


def _plain(exc: BaseException) -> str:
    """A message for a dialog: ours are written for people; anything else gets its class name only."""
    from desktop.backup.importer import ImportBlocked, PlanChanged
    from desktop.store.secrets import SecretStoreError

    if isinstance(exc, ImportBlocked | PlanChanged | SecretStoreError | OSError | ValueError | RuntimeError):
        return str(exc) or exc.__class__.__name__
    logger.error("backup: unexpected %s", exc.__class__.__name__)
    return f"An unexpected error occurred ({exc.__class__.__name__}). Run 'tokendesk -v import FILE' for details."
