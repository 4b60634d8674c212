"""The questions the token dialog asks when a save needs the admin's choice (``token_dialog.TokenDialog``).

* ``ask_endpoint_moves``: endpoints move to another host - the stored tokens are forgotten; the stored
  client secret goes along only when the admin ticks the box (off by default).
* ``ask_changed_meanwhile``: the configuration was saved elsewhere since the dialog loaded it - what
  changed, the admin's own changes, and Re-apply (when they touch other fields), Reload or Cancel.

Each builds its message box, shows it modally and returns the answer with the box (tests and screenshots
read it). The texts name fields and hosts, never a secret.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget

from desktop.models.origins import EndpointMove
from desktop.services import ChangedMeanwhile

#: the answers of ``ask_changed_meanwhile``
REAPPLY = "reapply"
RELOAD = "reload"
CANCEL = "cancel"

#: wide enough that an origin or a changed endpoint is not broken across lines
_WIDE_INFO = "QLabel#qt_msgbox_informativelabel { min-width: 36em; }"


def ask_endpoint_moves(parent: QWidget, name: str, moves: list[EndpointMove], *, typed_secret: bool,
                       secret_stored: bool) -> tuple[bool | None, QMessageBox]:
    """Ask before ``name``'s endpoints move to another host: None = cancelled, else whether the stored client
    secret goes along (the checkbox, off by default; absent when a new secret was typed or none is stored)."""
    box = QMessageBox(parent)
    box.setObjectName("endpointMovesBox")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Endpoints move to another host - Tokendesk")
    box.setText(f"Save '{name}' with endpoints at another host?")
    info = "\n".join(f"\u2022 {m}" for m in moves) + (
        "\n\nThe stored access and refresh tokens are forgotten: they were issued for the old host and are never "
        "sent to the new one. Request a new token after saving.")
    check = None
    if typed_secret:
        info += "\n\nThe new client secret you typed is stored for the new host."
    elif secret_stored:
        info += ("\n\nThe stored client secret is removed unless you tick the box below - then it is sent to the "
                 "new host.")
        check = QCheckBox("Send the stored client secret to the new hosts")
        check.setChecked(False)
        box.setCheckBox(check)
    box.setInformativeText(info)
    box.setStyleSheet(_WIDE_INFO)
    box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    clicked = box.clickedButton()
    if clicked is None or box.standardButton(clicked) != QMessageBox.StandardButton.Save:
        return None, box
    return bool(check is not None and check.isChecked()), box


def ask_changed_meanwhile(parent: QWidget, exc: ChangedMeanwhile, own: list[str], *, can_reapply: bool,
                          clashes: list[str]) -> tuple[str, QMessageBox]:
    """Say what the other save changed (``exc.changes``) and what the admin changed (``own``), and ask:
    REAPPLY (offered when ``can_reapply``), RELOAD or CANCEL (keep editing; also Esc)."""
    box = QMessageBox(parent)
    box.setObjectName("changedMeanwhileBox")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Changed meanwhile - Tokendesk")
    box.setText(f"'{exc.loaded.name}' was changed meanwhile")
    info = ("Saved in another window or by a tokendesk command since you opened it:\n"
            + "\n".join(f"\u2022 {line}" for line in exc.changes) + "\n\nYour changes are not saved yet"
            + (":\n" + "\n".join(f"\u2022 {line}" for line in own) if own else ".") + "\n\n")
    if can_reapply:
        info += ("Re-apply puts your changes on top of the saved version (check them, then save). Reload shows "
                 "the saved version; what you typed is lost.")
    else:
        info += (f"You changed the same fields ({', '.join(clashes)}). Reload shows the saved version (what you "
                 "typed is lost), or Cancel to keep editing.")
    box.setInformativeText(info)
    box.setStyleSheet(_WIDE_INFO)
    reapply_button = box.addButton("Re-apply my changes", QMessageBox.ButtonRole.AcceptRole) if can_reapply else None
    reload_button = box.addButton("Reload", QMessageBox.ButtonRole.DestructiveRole)
    cancel_button = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(reapply_button or cancel_button)
    box.setEscapeButton(cancel_button)
    box.exec()
    clicked = box.clickedButton()
    if reapply_button is not None and clicked is reapply_button:
        return REAPPLY, box
    if clicked is reload_button:
        return RELOAD, box
    return CANCEL, box
