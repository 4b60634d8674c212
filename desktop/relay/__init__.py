"""The SMTP relay for devices that cannot do OAuth2 (scanners, printers, old programs): Qt-free.

``devices.py`` (devices and their hashed passwords), ``policy.py`` (where it listens, rate limit, password
throttle, plain-language hints), ``log.py`` (the message log, no bodies), ``upstream.py`` (one message to the
mail account's SMTP server with its token), ``tls.py`` (the STARTTLS certificate), ``server.py`` (aiosmtpd in
its own thread; synchronous pass-through). The window's tab is ``desktop/ui/features/relay.py``, the commands
``desktop/cli/relay_commands.py``.
"""
