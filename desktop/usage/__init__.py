"""Token usage: SASL strings, mail-server connection tests, web-service invokers (no Qt)."""
