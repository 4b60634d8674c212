"""Make the README/doc screenshots from a demo data set (offscreen; refresh with this script).

    .venv/bin/python scripts/screenshots.py [OUTDIR]

Builds a throw-away TOKENDESK_HOME with one configuration per token status, opens the real
main window, its Token menu and dialogs, and saves PNGs (default docs/screenshots/).
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def demo_context():
    from desktop.models.token import utcnow
    from desktop.services import open_context
    from desktop.store.secrets import MemorySecrets

    ctx = open_context(secrets=MemorySecrets())
    now = utcnow()
    service = ctx.configurations

    def add(name, template, **state):
        cfg = ctx.templates.require(template).new_configuration(name)
        cfg.client_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        if template.startswith("Generic"):
            cfg.set_endpoint("AuthorizationCode", "https://sso.example.org/oauth2/authorize")
            cfg.set_endpoint("TokenByAuthorizationCode", "https://sso.example.org/oauth2/token")
            cfg.set_endpoint("TokenByRefreshToken", "https://sso.example.org/oauth2/token")
        if template.endswith("(client credentials)"):
            cfg.set_endpoint("TokenByClientCredentials", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
        if state.pop("invalid", False):
            cfg.valid_id = 3
        saved = service.add(cfg, "demo-secret")
        if state:
            ctx.store.update_state(saved.id, **state)
            from desktop.store.secrets import ACCESS_TOKEN, REFRESH_TOKEN

            if state.get("has_access_token"):
                ctx.secrets.set_for(saved.id, ACCESS_TOKEN, "demo-access-token")
            if state.get("has_refresh_token"):
                ctx.secrets.set_for(saved.id, REFRESH_TOKEN, "demo-refresh-token")
        return saved

    add("Support mailbox (Exchange)", "Microsoft Exchange Online", has_access_token=True, has_refresh_token=True,
        token_expires_at=now + timedelta(minutes=48), refresh_token_expires_at=now + timedelta(days=89),
        last_requested_at=now - timedelta(days=1), last_refreshed_at=now - timedelta(minutes=12),
        token_info={"account": "support@contoso.com", "audience": "https://outlook.office.com",
                    "granted_scope": "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
                    "token_scope": "IMAP.AccessAsUser.All SMTP.Send", "token_type": "Bearer"})
    add("Sales Gmail", "Google Mail", has_access_token=True, has_refresh_token=True,
        token_expires_at=now - timedelta(minutes=20), last_requested_at=now - timedelta(days=3),
        token_info={"account": "sales@example.com", "granted_scope": "https://mail.google.com/"})
    add("Helpdesk shared mailbox", "Microsoft Exchange Online", has_access_token=True, has_refresh_token=True,
        token_expires_at=now + timedelta(minutes=3), refresh_token_expires_at=now + timedelta(hours=20),
        last_requested_at=now - timedelta(days=89), token_info={"account": "helpdesk@contoso.com"})
    add("Ticket API (SSO)", "Generic OpenID Connect", has_access_token=False, has_refresh_token=True,
        error_message="invalid_grant", error_description="The refresh token has expired.",
        reauthorization_needed=True, last_requested_at=now - timedelta(days=30))
    add("Billing webhook", "Generic OAuth2", error_message="invalid_client", error_code="AADSTS7000215",
        error_description="Invalid client secret provided.", last_requested_at=now - timedelta(hours=2))
    add("Archive mailbox", "Microsoft Exchange Online (client credentials)")
    add("Old test tenant", "Microsoft Exchange Online", invalid=True)
    return ctx


def token_menu_shot(win):
    """The window with its Token menu open (offscreen a menu is a window of its own: drawn in where it opens)."""
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QApplication

    from desktop.ui.enums import MainMenu

    menu, bar = win.menu(MainMenu.TOKEN), win.menuBar()
    at = bar.mapTo(win, bar.actionGeometry(menu.menuAction()).bottomLeft())
    menu.popup(win.mapToGlobal(at))
    bar.setActiveAction(menu.menuAction())
    QApplication.processEvents()
    shot = win.grab()
    painter = QPainter(shot)
    painter.drawPixmap(at, menu.grab())
    painter.end()
    menu.hide()
    QApplication.processEvents()
    return shot


def main(outdir: str | None = None) -> list[Path]:
    out = Path(outdir or ROOT / "docs" / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    home = tempfile.mkdtemp(prefix="tokendesk-shots-")
    os.environ["TOKENDESK_HOME"] = home
    from desktop.app import Application, prepare_qt

    prepare_qt()
    from PySide6.QtWidgets import QApplication

    qapp = QApplication.instance() or QApplication(["tokendesk"])
    ctx = demo_context()
    # demo data only: no automatic refresh against the real providers while taking pictures
    try:
        from desktop.ui.features.oauth import OAuthFeature

        OAuthFeature.on_refresh_due = lambda self, config_id: None  # type: ignore[method-assign]
    except ImportError:
        pass
    app = Application(qapp, ctx)
    win = app.window
    win.resize(1500, 600)
    win.show()
    win.select_configuration("Support mailbox (Exchange)")
    qapp.processEvents()
    shots = []
    path = out / "main-window.png"
    win.grab().save(str(path))
    shots.append(path)
    path = out / "token-menu.png"
    token_menu_shot(win).save(str(path))
    shots.append(path)
    if os.environ.get("TOKENDESK_SHOT_DARK"):  # the same window in a dark theme (not in the README)
        from PySide6.QtGui import QColor, QPalette

        light_style, light_palette = qapp.style().name(), qapp.palette()
        qapp.setStyle("Fusion")
        dark = QPalette()
        for role, colour in ((QPalette.ColorRole.Window, "#2a2e32"), (QPalette.ColorRole.WindowText, "#eff0f1"),
                             (QPalette.ColorRole.Base, "#1b1e20"), (QPalette.ColorRole.AlternateBase, "#232629"),
                             (QPalette.ColorRole.Text, "#eff0f1"), (QPalette.ColorRole.Button, "#31363b"),
                             (QPalette.ColorRole.ButtonText, "#eff0f1"), (QPalette.ColorRole.Highlight, "#3daee9"),
                             (QPalette.ColorRole.HighlightedText, "#eff0f1")):
            dark.setColor(role, QColor(colour))
        qapp.setPalette(dark)
        win.model.tick()
        win.select_configuration("Support mailbox (Exchange)")
        qapp.processEvents()
        path = out / "main-window-dark.png"
        win.grab().save(str(path))
        shots.append(path)
        qapp.setPalette(light_palette)
        qapp.setStyle(light_style)

    template = ctx.templates.require("Microsoft Exchange Online")
    cfg = template.new_configuration("Support mailbox (exchange)")
    dialog = app.features["configurations"].make_token_dialog(cfg, template)
    dialog.client_id_edit.setText("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    dialog.secret_edit.setText("this-is-masked")
    dialog.name_edit.setText("")
    dialog.name_edit.setText("Support mailbox (exchange)")  # taken (case-insensitively): shows the message
    dialog.endpoint_edits["TokenByRefreshToken"].setText("http://login.example.com/token")
    from PySide6.QtCore import QRect

    from desktop.ui.dialogs.token_form import open_size

    dialog.resize(open_size(dialog, dialog.scroll, QRect(0, 0, 1366, 740)))  # as it opens on a 1366x768 screen
    dialog.show()
    for _ in range(3):  # the error lines are laid out after the dialog is (token_form.keep_rows_apart)
        qapp.processEvents()
    path = out / "add-dialog.png"
    dialog.grab().save(str(path))
    shots.append(path)
    dialog.close()
    for p in shots:
        print(p)
    return shots


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
