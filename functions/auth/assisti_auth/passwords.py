"""Password hashing: argon2id. Only the auth function hashes passwords, so only it ships argon2."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()


@cache
def dummy_hash() -> str:
    """Verified against when the account does not exist, so the timing does not tell. Made on first
    use, not at import: an argon2 hash costs ~0.2 s of cold start (the enumeration floor hides the
    one-time cost of the first unknown address; with SnapStart it is made before the snapshot)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time verify; with no hash it still spends the same work and answers False."""
    try:
        return _hasher.verify(password_hash or dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
