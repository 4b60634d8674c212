"""Notifications: the pure scheduler of due events and what was already announced (no Qt)."""
