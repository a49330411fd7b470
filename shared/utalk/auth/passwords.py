"""Password hashing with Argon2id (RFC 9106 low-memory profile).

argon2 is imported on first use: only the functions that hash or verify passwords pay for it.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _hasher():
    from argon2 import PasswordHasher, profiles
    return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    from argon2 import exceptions
    try:
        return _hasher().verify(stored_hash, password)
    except (exceptions.VerificationError, exceptions.InvalidHashError):
        return False


# Verified against when the email is unknown, so timing does not reveal which accounts exist.
@lru_cache(maxsize=1)
def dummy_hash() -> str:
    return hash_password("not-a-real-password")
