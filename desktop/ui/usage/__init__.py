"""Widgets of the usage tabs: mail accounts and web-service invokers."""
