"""Authentication: access JWTs, refresh-token families and password hashing."""
