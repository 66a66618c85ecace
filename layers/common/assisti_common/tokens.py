"""Access tokens (JWT, HS256 pinned, kid for rotation) and opaque refresh tokens."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from assisti_common.errors import InvalidRefreshToken, NotAuthenticated
from assisti_common.keys import Keyring
from assisti_common.security import keyed_hash, new_token_secret
from assisti_common.settings import Settings

ALGORITHM = "HS256"  # pinned: verification accepts nothing else (no "none", no RS/HS confusion)
REFRESH_PREFIX = "rt1"


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str


def issue_access_token(keyring: Keyring, settings: Settings, claims: AccessClaims, now: float | None = None) -> str:
    issued_at = int(now if now is not None else time.time())
    payload = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": claims.user_id,
        "sid": claims.session_id,
        "iat": issued_at,
        "exp": issued_at + settings.access_token_seconds,
    }
    return jwt.encode(payload, keyring.active_signing_key, algorithm=ALGORITHM, headers={"kid": keyring.active_kid})


def verify_access_token(keyring: Keyring, settings: Settings, token: str) -> AccessClaims:
    """Checks the algorithm, kid, signature, iss, aud and exp; any failure is one 401."""
    try:
        header = jwt.get_unverified_header(token)
        key = keyring.signing_keys.get(str(header.get("kid")))
        if key is None or header.get("alg") != ALGORITHM:
            raise NotAuthenticated()
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "sid"]},
        )
    except jwt.PyJWTError as exc:
        raise NotAuthenticated() from exc
    if not isinstance(payload.get("sub"), str) or not isinstance(payload.get("sid"), str):
        raise NotAuthenticated()
    return AccessClaims(user_id=payload["sub"], session_id=payload["sid"])


@dataclass(frozen=True)
class RefreshToken:
    """`rt1.<user_id>.<session_id>.<secret>`: the ids locate the session, the secret proves it."""

    user_id: str
    session_id: str
    secret: str

    def __str__(self) -> str:
        return f"{REFRESH_PREFIX}.{self.user_id}.{self.session_id}.{self.secret}"

    @classmethod
    def new(cls, user_id: str, session_id: str) -> RefreshToken:
        return cls(user_id, session_id, new_token_secret())

    @classmethod
    def parse(cls, text: str) -> RefreshToken:
        parts = text.split(".")
        if len(parts) != 4 or parts[0] != REFRESH_PREFIX or not all(parts[1:]) or len(text) > 256:
            raise InvalidRefreshToken()
        return cls(parts[1], parts[2], parts[3])

    def hashed(self, keyring: Keyring) -> str:
        return keyed_hash(keyring.hash_key, "refresh", self.secret)
