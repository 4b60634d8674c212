"""Tokendesk: desktop OAuth2 token administration.

The import name is ``desktop`` (fixed by the product brief); the distribution and the
command are ``tokendesk``. Importing this package imports nothing heavy: the CLI path
must stay free of Qt.
"""

__version__ = "0.1.0"
APP_NAME = "Tokendesk"
