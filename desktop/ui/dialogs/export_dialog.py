"""The export dialog: which configurations, whether client secrets go along, and where to save.

The dialog only collects choices; the backup feature does the export on the task runner.
"Include client secrets" is off by default; ticking it asks for confirmation and then keeps a
warning visible. "Export ..." asks for the file with Znuny's file name proposed.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop.backup.export import SECRETS_WARNING, default_export_filename
from desktop.models.config import TokenConfiguration
from desktop.ui.widgets import BAR_STYLES

YAML_FILTER = "YAML files (*.yml *.yaml);;All files (*)"


class ExportDialog(QDialog):
    def __init__(
        self,
        configurations: list[TokenConfiguration],
        selected: list[str] | None = None,
        start_dir: Path | str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export token configurations")
        self.setObjectName("ExportDialog")
        self.configurations = configurations
        self.selected_names = [n for n in (selected or []) if any(c.name == n for c in configurations)]
        self.start_dir = Path(start_dir) if start_dir else Path.home()
        #: the file chosen in the save dialog (set when the dialog is accepted)
        self.path: Path | None = None

        layout = QVBoxLayout(self)
        intro = QLabel(
            "Writes a YAML file in Znuny's format (OAuth2 Token Administration), to back up or to move "
            "configurations to another workstation or to Znuny. Tokens are never exported."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.all_radio = QRadioButton(f"&All configurations ({len(configurations)})")
        self.selected_radio = QRadioButton(f"&Selected configurations ({len(self.selected_names)})")
        self.selected_radio.setEnabled(bool(self.selected_names))
        group = QButtonGroup(self)
        group.addButton(self.all_radio)
        group.addButton(self.selected_radio)
        layout.addWidget(self.all_radio)
        layout.addWidget(self.selected_radio)

        self.list = QListWidget()
        self.list.setObjectName("exportList")
        self.list.setAccessibleName("Configurations to export")
        self.list.setMinimumHeight(120)
        for cfg in configurations:
            item = QListWidgetItem(cfg.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setToolTip(f"{cfg.template_name}; client secret {'stored' if cfg.has_client_secret else 'missing'}")
            self.list.addItem(item)
        layout.addWidget(self.list, 1)

        self.secrets_box = QCheckBox("&Include client secrets")
        self.secrets_box.setToolTip("Write the client secrets in clear text, as Znuny does (off by default)")
        layout.addWidget(self.secrets_box)
        self.secrets_warning = QLabel(SECRETS_WARNING)
        self.secrets_warning.setObjectName("secretsWarning")
        self.secrets_warning.setWordWrap(True)
        self.secrets_warning.setStyleSheet(f"QLabel#secretsWarning {{{BAR_STYLES['warning']} padding:6px;}}")
        self.secrets_warning.setVisible(False)
        layout.addWidget(self.secrets_warning)
        self.summary = QLabel()
        self.summary.setObjectName("exportSummary")
        layout.addWidget(self.summary)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("&Export ...", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.buttons.accepted.connect(self.on_export_clicked)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        if self.selected_names and len(self.selected_names) < len(configurations):
            self.selected_radio.setChecked(True)
            self._check_only(set(self.selected_names))
        else:
            self.all_radio.setChecked(True)
        self.all_radio.toggled.connect(self.on_scope_changed)
        self.selected_radio.toggled.connect(self.on_scope_changed)
        self.list.itemChanged.connect(self._update)
        self.secrets_box.toggled.connect(self.on_secrets_toggled)
        self._update()
        self.resize(520, 460)

    # ---- choices
    def names(self) -> list[str]:
        """The configurations ticked in the list, in the list's order."""
        return [
            self.list.item(i).text()
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]

    @property
    def include_secrets(self) -> bool:
        return self.secrets_box.isChecked()

    def _check_only(self, names: set[str] | None) -> None:
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            item = self.list.item(i)
            checked = names is None or item.text() in names
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)
        self._update()

    @Slot()
    def on_scope_changed(self) -> None:
        self._check_only(None if self.all_radio.isChecked() else set(self.selected_names))

    @Slot(bool)
    def on_secrets_toggled(self, checked: bool) -> None:
        if checked:
            answer = QMessageBox.warning(
                self,
                "Include client secrets?",
                "The client secrets will be written to the file in clear text. Anyone who can read the file "
                "can use your OAuth2 client applications.\n\nInclude the client secrets?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.secrets_box.blockSignals(True)
                self.secrets_box.setChecked(False)
                self.secrets_box.blockSignals(False)
                checked = False
        self.secrets_warning.setVisible(checked)
        self._update()

    def _update(self) -> None:
        names = self.names()
        self.export_button.setEnabled(bool(names))
        if not names:
            self.summary.setText("Tick at least one configuration.")
            return
        text = f"{len(names)} configuration{'s' if len(names) != 1 else ''} will be exported"
        if self.include_secrets:
            wanted = set(names)
            missing = sum(1 for c in self.configurations if c.name in wanted and not c.has_client_secret)
            text += " with their client secrets"
            if missing:
                text += f" ({missing} without one: none is stored)"
        else:
            text += " without client secrets"
        self.summary.setText(text + ".")

    # ---- the file
    @Slot()
    def on_export_clicked(self) -> None:
        if not self.names():
            return
        proposed = str(self.start_dir / default_export_filename())
        path, _filter = QFileDialog.getSaveFileName(self, "Export token configurations", proposed, YAML_FILTER)
        if not path:
            return  # stay in the dialog
        chosen = Path(path)
        if not chosen.suffix:
            chosen = chosen.with_suffix(".yml")
        self.path = chosen
        self.accept()
