"""Secrets at rest and in transit: one-time codes, keyed hashes, opaque tokens. (Password hashing is
the auth function's alone: `assisti_auth.passwords`.)"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CODE_DIGITS = 6


def new_code() -> str:
    """Six digits from the OS's CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def keyed_hash(key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of value, domain-separated by purpose. What we store instead of a secret."""
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def constant_time_equal(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode(), right.encode())


def new_token_secret() -> str:
    return secrets.token_urlsafe(32)
