"""OAuth2 flows: authorization code with PKCE and state, exchange, refresh, revoke (no Qt)."""
