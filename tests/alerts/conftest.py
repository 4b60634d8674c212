"""Fixtures of the alerts room: the real servers of the usage room (OAuth2 server, the SMTP server that checks
XOAUTH2 by introspection) and an SMTP mail account signed in there (the relay room's fixture)."""

from __future__ import annotations

from tests.relay.conftest import forwarded_account, forwarder, mail_account  # noqa: F401  (pytest fixtures)
from tests.servers.oauth import oauth, oauth_server  # noqa: F401
from tests.servers.smtp_server import smtp, smtp_server  # noqa: F401
from tests.usage.conftest import provider  # noqa: F401
