"""user_service: staff (agents and admins) and borrowers."""
