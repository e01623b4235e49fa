"""Password policy and hashing (argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.errors import InvalidArgument

MIN_LENGTH = 10
MAX_LENGTH = 256  # bounds hashing cost for hostile input


def check_policy(password: str, username: str, *, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidArgument.field(field, f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {MAX_LENGTH} characters")
    if password.strip().casefold() == username.strip().casefold():
        raise InvalidArgument.field(field, "must not be the same as the username")
    local = username.split("@", 1)[0].casefold()
    if local and password.casefold() == local:
        raise InvalidArgument.field(field, "must not be the same as the username")


class PasswordHashing:
    """argon2id with the library's RFC 9106 low-memory profile by default."""

    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4):
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the user does not exist, so timing does not reveal it.
        self.dummy_hash = self._hasher.hash("not-a-real-password-dummy")
        self.dummy_verifications = 0

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def verify_dummy(self, password: str) -> bool:
        self.dummy_verifications += 1
        self.verify(self.dummy_hash, password)
        return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
