"""One driver per grant (``desktop.models.grants`` describes them): ``TokenService`` dispatches to these.

A driver is a module with the grant's requests: ``renew(service, cfg, current)`` for the grants that renew a token
(refresh token, client credentials), and the grant's own steps for those a person takes part in
(``authorization_code``: ``begin``/``complete``/``exchange``; ``device``: ``start``/``poll``/``wait``). Drivers are
imported only when a request is made, so handing out a stored token imports none of them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from desktop.models.grants import Grant

#: grant kind -> driver module (under this package)
DRIVERS = {
    "authorization_code": "authorization_code",
    "client_credentials": "client_credentials",
    "refresh_token": "refresh",
    "device_code": "device",
}


def driver_for(grant: Grant) -> ModuleType:
    """The driver module of ``grant`` (KeyError for a grant without one: a programming error)."""
    return importlib.import_module(f"{__name__}.{DRIVERS[grant.kind]}")
