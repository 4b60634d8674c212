"""Add/Edit dialog of a token configuration, with validation while typing.

The dialog edits a copy of the configuration. Save stays disabled, and the line beside it
says why, until the form is valid. Saving goes through ``save_fn`` (the window passes the
service call); if it fails (a name taken meanwhile, a locked keyring) the dialog stays open
with the message and nothing typed is lost. Saving endpoints at another origin (scheme, host,
port: ``desktop.models.origins``) asks first, lists the moves, says that the stored tokens are
forgotten and offers to send the stored client secret along (off by default); the answer reaches
``save_fn`` as ``keep_client_secret``. A save refused because the configuration was saved elsewhere
since the dialog loaded it (``ChangedMeanwhile``) lists what changed and offers Re-apply (the admin's
changes on top, when they touch other fields), Reload or Cancel. Those two questions are asked by
``token_save_questions``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.models.changes import describe_changes, reapply
from desktop.models.config import (
    AUTHORIZATION_CODE,
    BROWSER_EMBEDDED,
    BROWSER_SYSTEM,
    CLIENT_AUTH_BASIC,
    CLIENT_AUTH_POST,
    INVALID,
    INVALID_TEMPORARILY,
    TOKEN_BY_AUTHORIZATION_CODE,
    TOKEN_BY_CLIENT_CREDENTIALS,
    TOKEN_BY_REFRESH_TOKEN,
    TOKEN_REVOCATION,
    VALID,
    TokenConfiguration,
)
from desktop.models.grants import grant_for
from desktop.models.origins import EndpointMove, endpoint_moves
from desktop.models.templates import ProviderTemplate
from desktop.models.tones import style
from desktop.models.validation import ENDPOINT_LABELS, FieldError, validate_configuration
from desktop.notify.events import REFRESH_TOKEN_LIFETIME_CHOICES
from desktop.services import ChangedMeanwhile
from desktop.ui.dialogs.token_form import (
    Field,
    RedirectRow,
    RefreshFollowsToken,
    keep_rows_apart,
    open_size,
    set_tab_chain,
    sign_in_redirect,
)
from desktop.ui.dialogs.token_save_questions import REAPPLY, RELOAD, ask_changed_meanwhile, ask_endpoint_moves
from desktop.ui.widgets import SecretEdit

SaveFn = Callable[[TokenConfiguration, "str | None"], TokenConfiguration]
DiscoverFn = Callable[[str], object]


class TokenDialog(QDialog):
    def __init__(
        self,
        config: TokenConfiguration,
        *,
        template: ProviderTemplate | None = None,
        existing_names: set[str] | None = None,
        client_secret_stored: bool = False,
        save_fn: SaveFn | None = None,
        discover_fn: DiscoverFn | None = None,
        redirect_uri: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.original = config
        self.config = config.copy()
        self.template = template
        self.is_new = config.id is None
        self.existing_names = existing_names or set()
        self.client_secret_stored = client_secret_stored
        self.save_fn = save_fn
        self.discover_fn = discover_fn
        self.saved: TokenConfiguration | None = None
        #: the endpoint moves of the last save (the window's status line says what was forgotten)
        self.moves: list[EndpointMove] = []
        self.moves_box: QMessageBox | None = None
        self.errors: list[FieldError] = []
        self.fields: dict[str, Field] = {}
        self.setWindowTitle(("Add token configuration" if self.is_new else f"Edit '{config.name}'") + " - Tokendesk")
        self.default_redirect_uri = redirect_uri
        self._build(redirect_uri)
        self._load()
        #: the form as loaded, before anything was typed (what counts as the admin's changes when the stored
        #: configuration changed meanwhile: see changed_meanwhile)
        self.untouched = self._collect()
        #: the "changed meanwhile" box of the last refused save (tests, screenshots)
        self.changed_box: QMessageBox | None = None
        self._connect()
        self.revalidate()
        self.resize(open_size(self, self.scroll))  # the whole form, without scroll bars, where the screen allows
        self.name_edit.setFocus()

    # ---- construction
    def _build(self, redirect_uri: str) -> None:
        outer = QVBoxLayout(self)
        scroll = self.scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes from field to field, not to the scroll area
        body = QWidget()
        columns = QHBoxLayout(body)  # left: what to register and the application; right: notifications, advanced
        left_column = QWidget()
        left_column.setMinimumWidth(540)  # room for an endpoint URL and the secret's Show button
        layout, right = QVBoxLayout(left_column), QVBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        columns.addWidget(left_column, 1)
        columns.addLayout(right, 1)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

        # the template's lines are broken for the YAML file: one paragraph per blank line, wrapped by the label
        help_text = re.sub(r"(?<!\n)\n(?!\n)", " ", self.template.help.strip()) if self.template else ""
        if help_text:
            help_label = QLabel(help_text)
            help_label.setWordWrap(True)
            help_label.setStyleSheet("background:#eef4fb; border:1px solid #c5d9f1; border-radius:4px; padding:8px;")
            help_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(help_label)
        self.redirect_row = RedirectRow()
        self.redirect_group = QGroupBox("Redirect URI for the provider's console")
        QVBoxLayout(self.redirect_group).addWidget(self.redirect_row)
        layout.addWidget(self.redirect_group)
        self.redirect_group.setVisible(not self.is_client_credentials_flow())

        form_box = QGroupBox("Provider application")
        form = QFormLayout(form_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addWidget(form_box)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. Support mailbox (unique)")
        self._add_row(form, "&Name:", "Name", self.name_edit)

        self.template_label = QLabel(self.config.template_name or "-")
        self.template_label.setToolTip("The template is set when the configuration is created and cannot be changed.")
        form.addRow("Template:", self.template_label)

        self.validity_combo = QComboBox()
        self.validity_combo.addItem("valid", VALID)
        self.validity_combo.addItem("invalid", INVALID)
        self.validity_combo.addItem("invalid-temporarily", INVALID_TEMPORARILY)
        self._add_row(form, "&Validity:", "Validity", self.validity_combo)

        self.client_id_edit = QLineEdit()
        self.client_id_edit.setPlaceholderText("the application (client) ID from the provider's console")
        self._add_row(form, "Client &ID:", "Client ID", self.client_id_edit)

        self.secret_edit = SecretEdit()
        if self.client_secret_stored:
            self.secret_edit.setPlaceholderText("stored in the keyring - leave empty to keep it")
        elif self.template and self.template.client_secret_required:
            self.secret_edit.setPlaceholderText(f"required by {self.template.name}: from the provider's console")
        else:
            self.secret_edit.setPlaceholderText("the client secret (leave empty for a public client)")
        self._add_row(form, "Client &secret:", "Client secret", self.secret_edit)
        self.secret_expires_edit = QLineEdit(placeholderText="YYYY-MM-DD, when the provider says (Entra: "
                                             "Certificates & secrets, Expires); warnings 30, 7, 1 days ahead")
        self._add_row(form, "Secret e&xpires:", "Client secret expires", self.secret_expires_edit)

        # no sign-in (client credentials): no redirect, no refresh token, the secret required
        self.is_client_credentials = not grant_for(self.config).signs_in
        show_discovery = bool(self.template and self.template.discovery) or bool(self.config.discovery_url)
        self.issuer_edit = QLineEdit()
        self.discover_button = QPushButton("&Discover")
        self.discover_button.setToolTip("Read the issuer's .well-known/openid-configuration and fill in the endpoints")
        self.discover_status = QLabel()
        self.discover_status.setWordWrap(True)
        if show_discovery:
            row = QWidget()
            row_layout = QHBoxLayout(row)
            row_layout.setContentsMargins(0, 0, 0, 0)
            row_layout.addWidget(self.issuer_edit, 1)
            row_layout.addWidget(self.discover_button)
            self.issuer_edit.setPlaceholderText("https://login.example.com/realms/main")
            form.addRow("Iss&uer:", row)
            form.addRow("", self.discover_status)

        self.endpoint_edits: dict[str, QLineEdit] = {}
        keys = grant_for(self.config).request_keys  # the own grant's blocks (desktop/models/grants.py)
        for key in keys:
            edit = QLineEdit()
            edit.setPlaceholderText("https://...")
            self.endpoint_edits[key] = edit
            self._add_row(form, ENDPOINT_LABELS[key] + ":", ENDPOINT_LABELS[key], edit)

        self.scope_edit = QLineEdit()
        self.scope_edit.setPlaceholderText("space-separated scopes")
        self._add_row(form, "Sc&ope:", "Scope", self.scope_edit)

        notes = QGroupBox("Notifications")
        notes_layout = QFormLayout(notes)
        self.notify_expired = QCheckBox("when the access token has expired")
        self.notify_refresh_expired = QCheckBox("when the refresh token has expired")
        self.notify_before_token = QCheckBox("before the access token expires")
        self.notify_before_refresh = QCheckBox("before the refresh token expires")
        self.lead_hours = QSpinBox()
        self.lead_hours.setRange(0, 24 * 90)
        self.lead_hours.setSuffix(" hours")
        self.lead_hours.setToolTip("How long before the expiry the 'before ... expires' warnings appear")
        notes_layout.addRow(self.notify_expired)
        notes_layout.addRow(self.notify_before_token)
        if not self.is_client_credentials:  # no refresh token in that flow
            notes_layout.addRow(self.notify_refresh_expired)
            notes_layout.addRow(self.notify_before_refresh)
        notes_layout.addRow("Warn this long before expiry:", self.lead_hours)
        right.addWidget(notes)

        advanced = QGroupBox("Advanced")
        adv = QFormLayout(advanced)
        adv.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.revocation_edit = QLineEdit()
        self.revocation_edit.setPlaceholderText("optional: RFC 7009 revocation endpoint")
        self._add_row(adv, "Revocation endpoint:", ENDPOINT_LABELS[TOKEN_REVOCATION], self.revocation_edit)
        self.client_auth_combo = QComboBox()
        self.client_auth_combo.addItem("Client secret in the request body (Znuny's way)", CLIENT_AUTH_POST)
        self.client_auth_combo.addItem("Client secret as HTTP Basic authentication", CLIENT_AUTH_BASIC)
        self.client_auth_combo.setToolTip(
            "How the client ID and secret reach the token endpoint (RFC 6749 2.3.1). Most providers take both; "
            "some accept only HTTP Basic (client_secret_basic). Try the other one after an invalid_client error."
        )
        adv.addRow("Client authentication:", self.client_auth_combo)
        self.pkce_check = QCheckBox("Use PKCE (S256) - turn off only if the provider rejects it")
        self.browser_combo = QComboBox()
        self.browser_combo.addItem("Embedded browser (inside Tokendesk)", BROWSER_EMBEDDED)
        self.browser_combo.addItem("System browser (required by Google)", BROWSER_SYSTEM)
        self.redirect_edit = QLineEdit()
        self.redirect_edit.setPlaceholderText(f"default: {redirect_uri}" if redirect_uri else "default from Settings")
        self.redirect_edit.setToolTip("Only when this provider needs another redirect URI than the one in Settings")
        self.lifetime_preset = QComboBox()
        for days, rolling, label in REFRESH_TOKEN_LIFETIME_CHOICES:
            self.lifetime_preset.addItem(label, (days, rolling))
        self.lifetime_preset.addItem("Custom", None)
        self.lifetime_spin = QSpinBox()
        self.lifetime_spin.setRange(0, 3650)
        self.lifetime_spin.setSpecialValueText("unknown / unlimited")
        self.lifetime_spin.setSuffix(" days")
        self.rolling_check = QCheckBox("renewed by every refresh")
        self.lifetime_spin.setToolTip(
            "How long a refresh token lives when the provider does not say: Microsoft 90 (renewed on every refresh), "
            "Google apps in 'Testing' status 7. Tokendesk warns before it ends."
        )
        lifetime_row = self.lifetime_row = QWidget()  # kept: not laid out for client credentials
        # the presets' long labels must not widen the dialog: the combo may be narrower than its items
        self.lifetime_preset.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.lifetime_preset.setMinimumContentsLength(12)
        self.lifetime_spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        lifetime_layout = QHBoxLayout(lifetime_row)
        lifetime_layout.setContentsMargins(0, 0, 0, 0)
        lifetime_layout.addWidget(self.lifetime_preset, 1)
        lifetime_layout.addWidget(self.lifetime_spin)
        lifetime_layout.addWidget(self.rolling_check)
        if not self.is_client_credentials:
            adv.addRow(self.pkce_check)
            adv.addRow("Log in with:", self.browser_combo)
            self._add_row(adv, "Redirect URI override:", "Redirect URI", self.redirect_edit)
            adv.addRow("Refresh-token lifetime:", lifetime_row)
        right.addWidget(advanced)
        layout.addStretch(1)
        right.addStretch(1)

        bottom = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet(style("error"))
        bottom.addWidget(self.summary, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setToolTip("Save (Ctrl+S, Enter)")
        bottom.addWidget(self.buttons)
        outer.addLayout(bottom)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self._on_save)
        set_tab_chain(self, [
            self.redirect_row.edit, self.redirect_row.copy_button, self.name_edit, self.validity_combo,
            self.client_id_edit, self.secret_edit.edit, self.secret_edit.toggle, self.secret_expires_edit,
            self.issuer_edit,
            self.discover_button, *self.endpoint_edits.values(), self.scope_edit, self.notify_expired,
            self.notify_before_token, self.notify_refresh_expired, self.notify_before_refresh, self.lead_hours,
            self.revocation_edit, self.client_auth_combo, self.pkce_check, self.browser_combo, self.redirect_edit,
            self.lifetime_preset, self.lifetime_spin, self.rolling_check, *self.buttons.buttons()])

    def _add_row(self, form: QFormLayout, label: str, key: str, editor: QWidget) -> None:
        field = Field(key, editor)
        self.fields[key] = field
        form.addRow(label, field.container)

    # ---- values
    def _load(self) -> None:
        c = self.config
        self.name_edit.setText(c.name)
        self.validity_combo.setCurrentIndex(max(0, self.validity_combo.findData(c.valid_id)))
        self.client_id_edit.setText(c.client_id)
        for key, edit in self.endpoint_edits.items():
            edit.setText(c.endpoint(key))
        self.scope_edit.setText(c.scope)
        self.notify_expired.setChecked(c.notify_on_expired_token)
        self.notify_refresh_expired.setChecked(c.notify_on_expired_refresh_token)
        self.notify_before_token.setChecked(c.notify_before_token_expiry)
        self.notify_before_refresh.setChecked(c.notify_before_refresh_token_expiry)
        self.lead_hours.setValue(round(c.notification_lead_time_minutes / 60))
        self.revocation_edit.setText(c.revocation_url)
        self.client_auth_combo.setCurrentIndex(max(0, self.client_auth_combo.findData(c.client_authentication)))
        self.pkce_check.setChecked(c.pkce_enabled)
        self.browser_combo.setCurrentIndex(max(0, self.browser_combo.findData(c.browser_mode)))
        self.redirect_edit.setText(c.redirect_url_override)
        self.lifetime_spin.setValue(c.refresh_token_lifetime_days or 0)
        self.rolling_check.setChecked(c.refresh_token_lifetime_rolling)
        self._sync_lifetime_preset()
        self.issuer_edit.setText(c.discovery_url)
        self.secret_expires_edit.setText(c.client_secret_expires_text)

    def _collect(self) -> TokenConfiguration:
        c = self.config.copy()
        c.name = self.name_edit.text()
        c.valid_id = int(self.validity_combo.currentData())
        c.client_id = self.client_id_edit.text().strip()
        c.set_client_secret_expires_text(self.secret_expires_edit.text())
        for key, edit in self.endpoint_edits.items():
            c.set_endpoint(key, edit.text().strip())
        c.scope = " ".join(self.scope_edit.text().split())
        c.notify_on_expired_token = self.notify_expired.isChecked()
        c.notify_on_expired_refresh_token = self.notify_refresh_expired.isChecked()
        c.notify_before_token_expiry = self.notify_before_token.isChecked()
        c.notify_before_refresh_token_expiry = self.notify_before_refresh.isChecked()
        if self.lead_hours.value() != round(c.notification_lead_time_minutes / 60):
            # the spin box shows whole hours: write only a change, so e.g. an imported 90 minutes stays 90
            c.notification_lead_time_minutes = self.lead_hours.value() * 60
        revocation = self.revocation_edit.text().strip()
        if revocation or c.revocation_url:
            c.set_endpoint(TOKEN_REVOCATION, revocation)
        c.client_authentication = str(self.client_auth_combo.currentData())
        if not self.is_client_credentials:
            c.pkce_enabled = self.pkce_check.isChecked()
            c.browser_mode = str(self.browser_combo.currentData())
            c.redirect_url_override = self.redirect_edit.text().strip()
            if self.lifetime_spin.value() != (c.refresh_token_lifetime_days or 0) or (
                self.lifetime_spin.value() and self.rolling_check.isChecked() != c.refresh_token_lifetime_rolling
            ):
                c.refresh_token_lifetime_days = self.lifetime_spin.value() or None
                c.refresh_token_lifetime_rolling = self.rolling_check.isChecked()
        issuer = self.issuer_edit.text().strip()
        if issuer or c.discovery_url:
            c.discovery_url = issuer
        return c

    def client_secret(self) -> str | None:
        """The secret typed, or None to keep the stored one (edit with the field left empty)."""
        text = self.secret_edit.text()
        if not text and not self.is_new:
            return None
        return text

    # ---- validation
    def _connect(self) -> None:
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        self.discover_button.clicked.connect(self._on_discover)
        self.issuer_edit.returnPressed.connect(self._on_discover)
        watched: list[tuple[str, QWidget]] = [
            ("Name", self.name_edit),
            ("Client ID", self.client_id_edit),
            ("Scope", self.scope_edit),
            (ENDPOINT_LABELS[TOKEN_REVOCATION], self.revocation_edit),
            ("Redirect URI", self.redirect_edit),
            ("Client secret expires", self.secret_expires_edit),
        ]
        watched += [(ENDPOINT_LABELS[k], e) for k, e in self.endpoint_edits.items()]
        for key, edit in watched:
            edit.textChanged.connect(lambda _t, k=key: self._touch(k))
        self.secret_edit.textChanged.connect(lambda _t: self._touch("Client secret"))
        self.validity_combo.currentIndexChanged.connect(lambda _i: self.revalidate())
        self.lifetime_preset.activated.connect(self._on_lifetime_preset)
        self.lifetime_spin.valueChanged.connect(lambda _v: self._sync_lifetime_preset())
        self.rolling_check.toggled.connect(lambda _v: self._sync_lifetime_preset())
        self.browser_combo.currentIndexChanged.connect(lambda _i: self.revalidate())  # the redirect URI shown
        self.refresh_follows: RefreshFollowsToken | None = None
        if TOKEN_BY_REFRESH_TOKEN in self.endpoint_edits:
            self.refresh_follows = RefreshFollowsToken(self.endpoint_edits[TOKEN_BY_AUTHORIZATION_CODE],
                                                       self.endpoint_edits[TOKEN_BY_REFRESH_TOKEN])

    def is_client_credentials_flow(self) -> bool:
        return not grant_for(self.config).signs_in

    def _touch(self, key: str) -> None:
        if key in self.fields:
            self.fields[key].touched = True
        self.revalidate()

    @Slot()
    def revalidate(self) -> list[FieldError]:
        cfg = self._collect()
        own = self.original.name if not self.is_new else None
        # client credentials are nothing without the secret; other flows may be public clients
        # (and where the template says the provider wants one, e.g. Google's token endpoint)
        needs_secret = (self.is_client_credentials or bool(self.template and self.template.client_secret_required)) \
            and not self.client_secret_stored
        self.errors = validate_configuration(
            cfg, existing_names=self.existing_names, own_name=own,
            has_client_secret=bool(self.secret_edit.text()) if needs_secret else None,
        )
        by_field: dict[str, str] = {}
        for err in self.errors:
            by_field.setdefault(err.field, err.message)
        for key, field in self.fields.items():
            field.show_error(by_field.get(key))
        warning = self.template.client_id_warning(cfg.client_id) if self.template else None
        self.fields["Client ID"].show_warning(f"Client ID {warning}." if warning else None)
        self.redirect_row.show_uri(*sign_in_redirect(cfg, self.default_redirect_uri))
        QTimer.singleShot(0, lambda: keep_rows_apart(self.scroll))  # after the lines shown are laid out
        self.save_button.setEnabled(not self.errors)
        if self.errors:
            first = self.errors[0]
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            self.summary.setText(f"Cannot save yet: {first.field} {first.message}{more}.")
        else:
            self.summary.setText("")
        return self.errors

    def touch_all(self) -> None:
        for field in self.fields.values():
            field.touched = True
        self.revalidate()

    # ---- refresh-token lifetime presets
    def _on_lifetime_preset(self, index: int) -> None:
        data = self.lifetime_preset.itemData(index)
        if data is None:
            return  # Custom: the admin sets days and rolling
        days, rolling = data
        self.lifetime_spin.setValue(days or 0)
        self.rolling_check.setChecked(bool(rolling))

    def _sync_lifetime_preset(self) -> None:
        days = self.lifetime_spin.value() or None
        rolling = self.rolling_check.isChecked()
        self.rolling_check.setEnabled(days is not None)
        for i in range(self.lifetime_preset.count()):
            data = self.lifetime_preset.itemData(i)
            if data is not None and data[0] == days and (days is None or bool(data[1]) == rolling):
                self.lifetime_preset.setCurrentIndex(i)
                return
        self.lifetime_preset.setCurrentIndex(self.lifetime_preset.count() - 1)

    # ---- actions
    @Slot()
    def _on_save(self) -> None:
        self.touch_all()
        if self.errors:
            return
        cfg = self._collect()
        moves = [] if self.is_new else endpoint_moves(self.original, cfg)
        keep: bool | None = None
        if moves:
            keep = self.confirm_endpoint_moves(moves)
            if keep is None:
                self.summary.setText("Not saved: the endpoints were not changed yet.")
                return
        self.moves = moves
        if self.save_fn is None:
            self.saved = cfg
            self.accept()
            return
        try:
            if keep is None:
                self.saved = self.save_fn(cfg, self.client_secret())
            else:
                self.saved = self.save_fn(cfg, self.client_secret(), keep_client_secret=keep)
        except ChangedMeanwhile as exc:  # saved elsewhere since this dialog loaded it: say what, let the admin choose
            self.changed_meanwhile(exc, cfg)
            return
        except Exception as exc:  # shown, nothing lost: the dialog stays open
            self.summary.setText(f"Not saved: {exc}")
            return
        self.accept()

    def changed_meanwhile(self, exc: ChangedMeanwhile, mine: TokenConfiguration) -> None:
        """The stored configuration changed since this dialog loaded it (another window, ``tokendesk edit``, an
        import): list what changed and offer Re-apply (the admin's changes on top of that version, when they
        touch other fields), Reload (the stored version; what was typed is lost) or Cancel (keep editing)."""
        current = exc.current
        typed_secret = bool(self.client_secret())
        merged, clashes = reapply(self.original, current, self.untouched, mine)
        secret_changed = current.secret_revision != self.original.secret_revision
        if typed_secret and secret_changed:
            clashes.append("Client secret")
            merged = None
        own = describe_changes(self.untouched, mine) + (["client secret (typed)"] if typed_secret else [])
        choice, self.changed_box = ask_changed_meanwhile(self, exc, own, can_reapply=merged is not None,
                                                         clashes=clashes)
        if choice == REAPPLY and merged is not None:
            self._rebase(current, merged, keep_typed_secret=True)
            self.summary.setText("Your changes are now on top of the version saved meanwhile: check them, then save.")
        elif choice == RELOAD:
            self._rebase(current, current, keep_typed_secret=False)
            self.summary.setText("Reloaded the version saved meanwhile; your changes were discarded.")
        else:
            self.summary.setText(f"Not saved: '{exc.loaded.name}' was changed meanwhile. Save again to reload it or "
                                 "to re-apply your changes.")

    def _rebase(self, current: TokenConfiguration, shown: TokenConfiguration, *, keep_typed_secret: bool) -> None:
        """Edit ``current`` (the stored version) from now on, with the form showing ``shown``."""
        self.original = current
        self.client_secret_stored = current.has_client_secret
        self.secret_edit.setPlaceholderText("stored in the keyring - leave empty to keep it"
                                            if current.has_client_secret
                                            else "the client secret (leave empty for a public client)")
        if not keep_typed_secret:
            self.secret_edit.setText("")
        self.config = current.copy()
        self._load()
        self.untouched = self._collect()
        if shown is not current:
            self.config = shown.copy()
            self._load()
        self.setWindowTitle(f"Edit '{current.name}' - Tokendesk")
        self.revalidate()

    def confirm_endpoint_moves(self, moves: list[EndpointMove]) -> bool | None:
        """Ask before endpoints move to another host: None = cancelled, else whether the stored client secret
        goes along (the checkbox, off by default; absent when a new secret was typed or none is stored)."""
        answer, self.moves_box = ask_endpoint_moves(self, self.name_edit.text(), moves,
                                                    typed_secret=bool(self.client_secret()),
                                                    secret_stored=self.client_secret_stored)
        return answer

    @Slot()
    def _on_discover(self) -> None:
        issuer = self.issuer_edit.text().strip()
        if not issuer or self.discover_fn is None:
            self.discover_status.setText("Enter the issuer URL first.")
            return
        self.discover_button.setEnabled(False)
        self.discover_status.setStyleSheet("")
        self.discover_status.setText(f"Reading {issuer}/.well-known/openid-configuration ...")
        self.discover_fn(issuer)

    def apply_discovery(self, endpoints: object) -> None:
        """Fill the endpoints from a ``DiscoveredEndpoints`` (called on the GUI thread)."""
        self.discover_button.setEnabled(True)
        auth = getattr(endpoints, "authorization_endpoint", "")
        token = getattr(endpoints, "token_endpoint", "")
        revocation = getattr(endpoints, "revocation_endpoint", "")
        if AUTHORIZATION_CODE in self.endpoint_edits:
            self.endpoint_edits[AUTHORIZATION_CODE].setText(auth)
            self.endpoint_edits[TOKEN_BY_AUTHORIZATION_CODE].setText(token)
            self.endpoint_edits[TOKEN_BY_REFRESH_TOKEN].setText(token)
        elif TOKEN_BY_CLIENT_CREDENTIALS in self.endpoint_edits:
            self.endpoint_edits[TOKEN_BY_CLIENT_CREDENTIALS].setText(token)
        if revocation:
            self.revocation_edit.setText(revocation)
        preferred = getattr(endpoints, "preferred_client_authentication", lambda: None)()
        if preferred:
            self.client_auth_combo.setCurrentIndex(max(0, self.client_auth_combo.findData(preferred)))
        self.discover_status.setStyleSheet(style("ok"))
        self.discover_status.setText("Endpoints filled in from the discovery document. Check them, then save.")
        self.touch_all()

    def discovery_failed(self, message: str) -> None:
        self.discover_button.setEnabled(True)
        self.discover_status.setStyleSheet(style("error"))
        self.discover_status.setText(message)
