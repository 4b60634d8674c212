"""Fixtures of the oauth room: the real OAuth2 test server (tests/servers/oauth.py)."""

from tests.servers.oauth import oauth, oauth_server  # noqa: F401  (pytest fixtures)
