"""Settings dialog, built from the setting specs in desktop/models/settings.py (data, not code)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.models.settings import SETTINGS, SettingSpec, redirect_uri
from desktop.models.tones import style
from desktop.models.validation import check_url


class SettingsDialog(QDialog):
    def __init__(self, values: dict[str, Any], parent: QWidget | None = None, *, autostart: bool | None = None,
                 secrets: str = "") -> None:
        """``secrets``: where the vault's key lives and why (shown read-only; changed from the File menu or
        with 'tokendesk vault')."""
        super().__init__(parent)
        self.setWindowTitle("Settings - Tokendesk")
        self.setMinimumWidth(940)  # wide enough that each field's explanation takes a line or two
        self.values = dict(values)
        self.editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addLayout(form)
        #: the redirect URI as saved: the one registered at the providers
        self.saved_redirect_uri = redirect_uri(self.values)
        self.redirect_label = QLabel()
        self.redirect_label.setWordWrap(True)
        self.redirect_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.redirect_warning = QLabel()
        self.redirect_warning.setObjectName("redirectWarning")
        self.redirect_warning.setWordWrap(True)
        redirect_box = QWidget()
        redirect_layout = QVBoxLayout(redirect_box)
        redirect_layout.setContentsMargins(0, 0, 0, 0)
        redirect_layout.setSpacing(2)
        redirect_layout.addWidget(self.redirect_label)
        redirect_layout.addWidget(self.redirect_warning)
        for spec in SETTINGS:
            if spec.key.startswith(("ui.", "alerts.")):  # alerts: their own dialog (dialogs/alerts_settings.py)
                continue
            editor = self._editor(spec, values.get(spec.key, spec.default))
            editor.setToolTip(spec.help + (f" (Znuny: {spec.znuny})" if spec.znuny else ""))
            self.editors[spec.key] = editor
            label = spec.help.split(" (")[0]
            form.addRow(label + ":", self._explained(editor, spec.explain))
            if spec.key == "redirect.script_alias":  # the URI the three make, right under them
                form.addRow("Redirect URI:", redirect_box)
        #: None: this platform has no XDG autostart (the row is left out)
        self.autostart_check: QCheckBox | None = None
        if autostart is not None:
            self.autostart_check = QCheckBox("Start Tokendesk in the tray when I log in")
            self.autostart_check.setChecked(autostart)
            self.autostart_check.setToolTip("Writes ~/.config/autostart/tokendesk.desktop (tokendesk --minimized); "
                                            "unticked, the file is removed")
            form.addRow(self.autostart_check)
        self.secrets_label: QLabel | None = None
        if secrets:
            self.secrets_label = QLabel(secrets + "\nChange it with File \u2192 Protect secrets with a passphrase (or "
                                        "'tokendesk vault passphrase|keyring|rekey').")
            self.secrets_label.setObjectName("settingsSecrets")
            self.secrets_label.setWordWrap(True)
            self.secrets_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow("Secrets:", self.secrets_label)
        self.error = QLabel()
        self.error.setStyleSheet(style("error"))
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update()
        # tall enough for the wrapped explanations at that width (a dialog's size hint wraps them narrower)
        available = (parent.screen() if parent else self.screen()).availableGeometry()
        width = min(max(self.minimumWidth(), self.sizeHint().width()), available.width() - 16)
        self.resize(width, min(layout.totalHeightForWidth(width), available.height() - 40))

    @staticmethod
    def _explained(editor: QWidget, explain: str) -> QWidget:
        """The editor with its one-line explanation under it."""
        if not explain:
            return editor
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(editor)
        note = QLabel(explain)
        note.setWordWrap(True)
        note.setStyleSheet(style("muted"))
        layout.addWidget(note)
        return box

    def _editor(self, spec: SettingSpec, value: Any) -> QWidget:
        if spec.kind is bool:
            check = QCheckBox()
            check.setChecked(bool(value))
            check.toggled.connect(self._update)
            return check
        if spec.kind is int:
            spin = QSpinBox()
            spin.setRange(0, 10**6)
            spin.setValue(int(value))
            spin.setSuffix(" s" if spec.key.endswith("seconds") else "")
            spin.valueChanged.connect(self._update)
            return spin
        if spec.choices:
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            combo.setCurrentText(str(value))
            combo.currentTextChanged.connect(self._update)
            return combo
        edit = QLineEdit(spec.format(value))
        edit.textChanged.connect(self._update)
        return edit

    def collected(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in SETTINGS:
            editor = self.editors.get(spec.key)
            if editor is None:
                continue
            if isinstance(editor, QCheckBox):
                out[spec.key] = editor.isChecked()
            elif isinstance(editor, QSpinBox):
                out[spec.key] = editor.value()
            elif isinstance(editor, QComboBox):
                out[spec.key] = editor.currentText()
            elif isinstance(editor, QLineEdit):
                out[spec.key] = spec.parse(editor.text())
        return out

    def _update(self) -> None:
        values = self.values | self.collected()
        uri = redirect_uri(values)
        problem = check_url(uri)
        self.redirect_label.setText(uri)
        if uri != self.saved_redirect_uri:
            self.redirect_warning.setStyleSheet(style("warn"))
            self.redirect_warning.setText(
                f"Changed: sign-ins fail at every provider where {self.saved_redirect_uri} is registered until you "
                "register the new redirect URI there too. Configurations with a redirect URI of their own (Edit, "
                "Advanced) keep theirs.")
        else:
            self.redirect_warning.setStyleSheet(style("muted"))
            self.redirect_warning.setText("Registered at your providers: changing it breaks their sign-ins until "
                                          "the new one is registered there too.")
        ok = problem is None
        self.error.setText("" if ok else f"The redirect URI {uri} {problem}.")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(ok)

    def _on_save(self) -> None:
        self._update()
        if self.buttons.button(QDialogButtonBox.StandardButton.Save).isEnabled():
            self.accept()
