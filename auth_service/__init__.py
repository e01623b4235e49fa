"""auth_service: credentials, tokens, refresh families and lockout."""
