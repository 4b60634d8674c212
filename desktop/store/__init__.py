"""Persistence: the SQLite database (``database``), the repository over it (``repository``), the
encrypted vault for secrets (``vault``, with ``keyring_access`` for its one keyring item and ``legacy``
for secrets of earlier versions), the secret store interface (``secrets``) and lock files (``filelock``)."""
