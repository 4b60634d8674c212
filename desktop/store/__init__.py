"""Persistence: the SQLite database (``database``), the repository over it (``repository``),
secrets in the OS keyring or the announced local fallback (``secrets``) and settings."""
