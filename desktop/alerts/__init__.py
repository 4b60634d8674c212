"""Deadlines and alerts beyond the desktop (issue 13): ``check.py`` the monitoring plugin's findings
(``tokendesk check``), ``kinds.py`` alert kinds and their settings, ``hooks.py`` the command hook, ``mail.py`` the
alert mail through one of Tokendesk's own SMTP accounts, ``runner.py`` what is due, sent once, retried. No Qt."""
