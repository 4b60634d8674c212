"""The export dialog: which configurations, whether client secrets go along, encryption, and where to save.

The dialog only collects choices; the backup feature does the export (and the encryption) on the
task runner. "Include client secrets" is off by default; ticking it also ticks "Encrypt with a
passphrase (age)", whose two masked fields must then match before Export is enabled (the summary
line says why it is not). Unticking encryption while secrets are included asks for confirmation,
and a warning stays visible (Znuny reads only plain YAML). "Export ..." asks for the file with
Znuny's file name proposed, plus ``.age`` when encrypting.
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
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop.backup.encrypted import AGE_SUFFIX, encrypted_name
from desktop.backup.export import SECRETS_WARNING, default_export_filename
from desktop.models.config import TokenConfiguration
from desktop.models.tones import style
from desktop.ui.widgets import BAR_STYLES

YAML_FILTER = "YAML files (*.yml *.yaml);;All files (*)"
AGE_FILTER = "Encrypted backups (*.age);;All files (*)"
IMPORT_FILTER = "Backups (*.yml *.yaml *.age);;YAML files (*.yml *.yaml);;Encrypted backups (*.age);;All files (*)"

ENCRYPT_EXPLANATION = (
    "Nobody can read the file without the passphrase, so it can travel (mail, USB stick). Tokendesk's Import "
    "and the age tool open it; Znuny reads only plain YAML. Use several words, send the passphrase another way "
    "than the file, and keep it: a lost passphrase cannot be recovered."
)
ENCRYPTED_SECRETS_NOTE = (
    "The client secrets are in the file, encrypted with your passphrase. Anyone with the file and the passphrase "
    "can use your OAuth2 client applications."
)
CLEAR_SECRETS_WARNING = (
    f"{SECRETS_WARNING} Encrypt the file with a passphrase to take it elsewhere; only Znuny needs the plain form."
)


def grow_to_fit(dialog: QWidget) -> None:
    """Make ``dialog`` tall enough for its layout at its width: word-wrapped labels that appear or
    change do not enlarge a dialog by themselves, and would be clipped."""
    layout = dialog.layout()
    layout.activate()
    if layout.hasHeightForWidth():
        needed = layout.totalHeightForWidth(dialog.width())
    else:
        needed = layout.totalSizeHint().height()
    if needed > dialog.height():
        dialog.resize(dialog.width(), needed)


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
        self.secrets_box.setToolTip("Write the client secrets into the file, as Znuny does (off by default); "
                                    "encryption is then suggested")
        layout.addWidget(self.secrets_box)

        self.encrypt_box = QCheckBox("Encrypt with a &passphrase (age)")
        self.encrypt_box.setObjectName("encryptBox")
        self.encrypt_box.setToolTip("Encrypt the file for a passphrase in the age format (file name *.yml.age)")
        layout.addWidget(self.encrypt_box)
        self.encrypt_panel = QWidget()
        self.encrypt_panel.setObjectName("encryptPanel")
        panel = QVBoxLayout(self.encrypt_panel)
        panel.setContentsMargins(24, 0, 0, 0)
        self.encrypt_explanation = QLabel(ENCRYPT_EXPLANATION)
        self.encrypt_explanation.setObjectName("encryptExplanation")
        self.encrypt_explanation.setWordWrap(True)
        panel.addWidget(self.encrypt_explanation)
        form = QFormLayout()
        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setObjectName("passphraseEdit")
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_edit.setAccessibleName("Passphrase")
        self.repeat_edit = QLineEdit()
        self.repeat_edit.setObjectName("passphraseRepeatEdit")
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit.setAccessibleName("Passphrase again")
        for edit in (self.passphrase_edit, self.repeat_edit):
            edit.setInputMethodHints(Qt.InputMethodHint.ImhHiddenText | Qt.InputMethodHint.ImhNoPredictiveText
                                     | Qt.InputMethodHint.ImhSensitiveData)
        passphrase_label = QLabel("Pass&phrase:")
        passphrase_label.setBuddy(self.passphrase_edit)
        repeat_label = QLabel("&Repeat:")
        repeat_label.setBuddy(self.repeat_edit)
        form.addRow(passphrase_label, self.passphrase_edit)
        form.addRow(repeat_label, self.repeat_edit)
        panel.addLayout(form)
        self.encrypt_panel.setVisible(False)
        layout.addWidget(self.encrypt_panel)
        #: encryption was ticked by ticking the secrets, not by the admin (unticked again with them)
        self._encrypt_suggested = False

        self.secrets_warning = QLabel(CLEAR_SECRETS_WARNING)
        self.secrets_warning.setObjectName("secretsWarning")
        self.secrets_warning.setWordWrap(True)
        self.secrets_warning.setVisible(False)
        layout.addWidget(self.secrets_warning)
        self.summary = QLabel()
        self.summary.setObjectName("exportSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("&Export ...", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.on_export_clicked)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        # only once the box is inside the dialog: set before, the dialog never learns it and Cancel (the box's
        # first button) becomes the default - Enter cancelled
        self.export_button.setDefault(True)
        QWidget.setTabOrder(self.export_button, self.buttons.button(QDialogButtonBox.StandardButton.Cancel))

        if self.selected_names and len(self.selected_names) < len(configurations):
            self.selected_radio.setChecked(True)
            self._check_only(set(self.selected_names))
        else:
            self.all_radio.setChecked(True)
        self.all_radio.toggled.connect(self.on_scope_changed)
        self.selected_radio.toggled.connect(self.on_scope_changed)
        self.list.itemChanged.connect(self._update)
        self.secrets_box.toggled.connect(self.on_secrets_toggled)
        self.encrypt_box.toggled.connect(self.on_encrypt_toggled)
        self.passphrase_edit.textChanged.connect(self._update)
        self.repeat_edit.textChanged.connect(self._update)
        self._update()
        self.resize(560, 480)

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

    @property
    def encrypt(self) -> bool:
        return self.encrypt_box.isChecked()

    def passphrase(self) -> str | None:
        """The passphrase to encrypt with (None: write plain YAML); read it once, then ``clear_passphrases``."""
        return self.passphrase_edit.text() if self.encrypt else None

    def clear_passphrases(self) -> None:
        self.passphrase_edit.clear()
        self.repeat_edit.clear()

    def passphrase_problem(self) -> str:
        """Why the passphrases cannot be used yet ('' when they can, or when not encrypting)."""
        if not self.encrypt:
            return ""
        first, second = self.passphrase_edit.text(), self.repeat_edit.text()
        if not first:
            return "Enter a passphrase twice to encrypt the file."
        if not second:
            return "Enter the passphrase a second time, in Repeat."
        if first != second:
            return "The two passphrases differ."
        return ""

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
        if checked and not self.encrypt:
            self.encrypt_box.setChecked(True)  # suggested: a file with secrets should be encrypted
            self._encrypt_suggested = True
            self.passphrase_edit.setFocus()
        elif not checked and self._encrypt_suggested and not self.passphrase_edit.text():
            self.encrypt_box.setChecked(False)
        self._update()
        grow_to_fit(self)

    @Slot(bool)
    def on_encrypt_toggled(self, checked: bool) -> None:
        self._encrypt_suggested = False
        if not checked and self.include_secrets:
            answer = QMessageBox.warning(
                self,
                "Write client secrets in clear text?",
                "Without encryption the client secrets are written to the file in clear text. Anyone who can "
                "read the file can use your OAuth2 client applications. Only Znuny needs this plain form."
                "\n\nWrite the client secrets in clear text?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.encrypt_box.blockSignals(True)
                self.encrypt_box.setChecked(True)
                self.encrypt_box.blockSignals(False)
                checked = True
        self.encrypt_panel.setVisible(checked)
        if checked:
            self.passphrase_edit.setFocus()
        else:
            self.clear_passphrases()  # nothing typed lingers behind a hidden field
        self._update()
        grow_to_fit(self)

    def _update(self) -> None:
        secrets, encrypt = self.include_secrets, self.encrypt
        self.secrets_warning.setVisible(secrets)
        self.secrets_warning.setText(ENCRYPTED_SECRETS_NOTE if encrypt else CLEAR_SECRETS_WARNING)
        kind = "info" if encrypt else "warning"
        self.secrets_warning.setStyleSheet(f"QLabel#secretsWarning {{{BAR_STYLES[kind]} padding:6px;}}")
        names = self.names()
        problem = "" if names else "Tick at least one configuration."
        problem = problem or self.passphrase_problem()
        self.export_button.setEnabled(not problem)
        self.export_button.setToolTip(problem)
        self.summary.setStyleSheet(style("warn") if problem else "")
        if not names:
            self.summary.setText(problem)
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
        if encrypt:
            text += ", encrypted for a passphrase"
        self.summary.setText(text + "." + (f" {problem}" if problem else ""))

    # ---- the file
    @Slot()
    def on_export_clicked(self) -> None:
        if not self.names() or not self.export_button.isEnabled():
            return
        encrypt = self.encrypt
        proposed = str(self.start_dir / (default_export_filename() + (AGE_SUFFIX if encrypt else "")))
        path, _filter = QFileDialog.getSaveFileName(
            self, "Export token configurations", proposed, AGE_FILTER if encrypt else YAML_FILTER
        )
        if not path:
            return  # stay in the dialog
        chosen = Path(path)
        if encrypt:
            chosen = encrypted_name(chosen)  # backup -> backup.yml.age, backup.yml -> backup.yml.age
        elif not chosen.suffix:
            chosen = chosen.with_suffix(".yml")
        self.path = chosen
        self.accept()
