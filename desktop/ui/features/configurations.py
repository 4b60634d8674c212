"""Configurations feature: Add, Edit and Delete token configurations, the Settings dialog, OIDC discovery.

* **Add ...** (Ctrl+N): the template picker, then ``TokenDialog`` (validation while typing); the
  service stores the configuration with its client secret in one transaction.
* **Edit ...** (F2, Enter, double-click): ``TokenDialog`` on the stored version. Endpoints moved to
  another host are confirmed in the dialog; the service then forgets the stored tokens (and the client
  secret unless kept). The save goes only over the version the dialog edits: a configuration saved
  meanwhile elsewhere raises ``ChangedMeanwhile``, which the dialog shows (re-apply, reload, cancel).
* **Delete ...** (Del): confirmed; delete guards (a mail account or web service using it) refuse
  with the names, the rest is deleted.
* **Settings ...** (Ctrl+,): ``SettingsDialog`` (and the autostart entry on Linux).
* **Discover**: the dialog's OIDC discovery runs on the task runner.
Every change emits ``hub.configurations_changed``.
"""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QKeySequence

from desktop.models.config import TokenConfiguration
from desktop.ui.enums import MainAction, MainMenu
from desktop.ui.features.host import FeatureHost


def install(host: FeatureHost) -> ConfigurationsFeature:
    return ConfigurationsFeature(host)


class ConfigurationsFeature(QObject):
    def __init__(self, host: FeatureHost) -> None:
        super().__init__(host.window)
        self.window = w = host.window
        self.ctx = host.ctx
        self.hub = host.hub
        self.tasks = host.tasks
        self.add_configuration_action = w.add_action(
            MainAction.ADD, "&Add ...", self.on_add, QKeySequence.StandardKey.New,
            "Add a token configuration from a provider template (Ctrl+N)", context_menu=False)
        self.edit_action = w.add_action(
            MainAction.EDIT, "&Edit ...", self.on_edit, QKeySequence("F2"),
            "Edit the selected configuration (F2, Enter or double-click)", enabled_when=lambda rows: len(rows) == 1)
        self.delete_action = w.add_action(
            MainAction.DELETE, "&Delete ...", self.on_delete, QKeySequence.StandardKey.Delete,
            "Delete the selected configurations with their tokens and secrets (Del)",
            enabled_when=lambda rows: len(rows) >= 1)
        w.add_menu_separator(MainMenu.TOKEN)
        w.add_toolbar_separator()
        # File: Settings | Quit (features/backup.py puts Import, Export | above Settings)
        w.add_action(MainAction.SETTINGS, "&Settings ...", self.on_settings, QKeySequence("Ctrl+,"),
                     "Redirect URI, POP3 split hosts, refresh lead time, network time-out",
                     menu=MainMenu.FILE, before=MainAction.QUIT, toolbar=False, context_menu=False)
        w.add_menu_separator(MainMenu.FILE, before=MainAction.QUIT)
        w.row_activated.connect(self.edit_action.trigger)

    # ---- add and edit
    @Slot()
    def on_add(self, template_name: str | None = None) -> None:
        from desktop.ui.dialogs.template_picker import TemplatePicker

        catalog = self.ctx.templates
        template = catalog.get(template_name) if template_name else None
        if template is None:
            picker = TemplatePicker(catalog, self.window)
            if picker.exec() != TemplatePicker.DialogCode.Accepted:
                return
            template = picker.selected_template()
            if template is None:
                return
        dialog = self.make_token_dialog(template.new_configuration(""), template)
        if dialog.exec() == dialog.DialogCode.Accepted and dialog.saved is not None:
            self.hub.configurations_changed.emit()
            self.window.select_configuration(dialog.saved.name)
            self.window.show_status(f"Added '{dialog.saved.name}'. Next: request a token for it.")

    def make_token_dialog(self, cfg: TokenConfiguration, template: Any = None) -> Any:
        """A ``TokenDialog`` that saves through the service: a new configuration, or an edit of ``cfg``."""
        from desktop.models.settings import redirect_uri
        from desktop.ui.dialogs.token_dialog import TokenDialog

        service = self.ctx.configurations
        if cfg.id is None:

            def save(c: TokenConfiguration, secret: str | None) -> TokenConfiguration:
                return service.add(c, secret)
        else:

            def save(c: TokenConfiguration, secret: str | None, keep_client_secret: bool = False
                     ) -> TokenConfiguration:
                # endpoints at another host: the dialog asked; the service forgets tokens (and the secret unless kept).
                # Saved only over the version the dialog edits (dialog.original): else ChangedMeanwhile, no lost update
                return service.update(c, secret, keep_client_secret=keep_client_secret, expected=dialog.original)

        if template is None:
            template = self.ctx.templates.get(cfg.template_name)
        dialog = TokenDialog(
            cfg,
            template=template,
            existing_names=set(self.ctx.store.names()),
            client_secret_stored=cfg.has_client_secret,
            save_fn=save,
            redirect_uri=redirect_uri(self.ctx.settings),
            parent=self.window,
        )
        dialog.discover_fn = lambda issuer: self._discover(dialog, issuer)
        return dialog

    def _discover(self, dialog: Any, issuer: str) -> None:
        from desktop.oauth.discovery import DiscoveryError, discover

        timeout = float(self.ctx.store.get_setting("network.timeout_seconds"))

        def failed(exc: BaseException) -> None:
            dialog.discovery_failed(
                str(exc) if isinstance(exc, DiscoveryError) else f"Discovery failed: {exc.__class__.__name__}"
            )

        def found(endpoints: Any) -> None:
            endpoints.record_on(dialog.config)  # issuer and RFC 9207 promise, saved with the configuration
            dialog.apply_discovery(endpoints)

        self.tasks.run(
            discover,
            issuer,
            timeout,
            on_done=found,
            on_error=failed,
            busy_text=f"Reading the discovery document of {issuer} ...",
        )

    @Slot()
    def on_edit(self) -> None:
        cfg = self.window.current_configuration()
        if cfg is None:
            return
        fresh = self.ctx.store.find(cfg.name) or cfg
        dialog = self.make_token_dialog(fresh)
        if dialog.exec() == dialog.DialogCode.Accepted and dialog.saved is not None:
            self.hub.configurations_changed.emit()
            self.window.select_configuration(dialog.saved.name)
            moved = ""
            if dialog.moves:
                moved = (" Its endpoints moved to another host: the stored tokens were forgotten; request a new token."
                         if dialog.saved.has_client_secret or not fresh.has_client_secret else
                         " Its endpoints moved to another host: the stored tokens were forgotten and the client secret "
                         "removed; add the new host's secret with Edit, then request a new token.")
            self.window.show_status(f"Saved '{dialog.saved.name}'.{moved}")

    # ---- delete
    @Slot()
    def on_delete(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        selected = self.window.selected_configurations()
        if not selected:
            return
        names = ", ".join(f"'{c.name}'" for c in selected[:5]) + (
            f" and {len(selected) - 5} more" if len(selected) > 5 else ""
        )
        answer = QMessageBox.question(
            self.window,
            "Delete token configurations?" if len(selected) > 1 else "Delete token configuration?",
            f"Delete {names}?\n\nThe stored token and the client secret are deleted too. This cannot be undone "
            "(export a backup first if you may need it again).",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        problems: list[str] = []
        deleted = 0
        for cfg in selected:
            try:
                self.ctx.configurations.delete(cfg.name)
                deleted += 1
            except Exception as exc:
                problems.append(str(exc))
        self.hub.configurations_changed.emit()
        if problems:
            QMessageBox.warning(self.window, "Not everything was deleted", "\n\n".join(problems))
        self.window.show_status(f"Deleted {deleted} configuration{'s' if deleted != 1 else ''}.")

    # ---- settings
    @Slot()
    def on_settings(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from desktop import autostart
        from desktop.ui.dialogs.settings_dialog import SettingsDialog

        linux = sys.platform.startswith("linux")
        dialog = SettingsDialog(self.ctx.settings, self.window, autostart=autostart.is_enabled() if linux else None,
                                secrets=self.window.secrets_summary())
        if dialog.exec() == dialog.DialogCode.Accepted:
            try:
                self.ctx.store.set_settings(dialog.collected().items())
            except ValueError as exc:
                QMessageBox.warning(self.window, "Settings not saved", str(exc))
                return
            wanted = dialog.autostart_check.isChecked() if dialog.autostart_check is not None else None
            if wanted is not None and wanted != autostart.is_enabled():
                try:
                    autostart.enable() if wanted else autostart.disable()
                except OSError as exc:
                    QMessageBox.warning(self.window, "Autostart not changed",
                                        f"{autostart.entry_path()} could not be written: {exc.strerror or exc}")
            self.window.show_status("Settings saved.")
            self.hub.configurations_changed.emit()  # lead times changed: reload, re-plan the scheduler
