"""Backup and migration: Znuny-compatible YAML export and import (no Qt)."""
