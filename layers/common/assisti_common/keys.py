"""The keyring: JWT signing keys (by kid, so they can rotate) and the key for keyed hashes.

It lives in one Secrets Manager secret as JSON:
    {"active_kid": "k2", "signing_keys": {"k1": "<base64url>", "k2": "<base64url>"},
     "hash_key": "<base64url>"}
Rotation: add a new kid, make it active, and remove the old one once its tokens have expired
(15 minutes). The hash key protects stored codes and refresh tokens, so it does not rotate.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities import parameters

from assisti_common.settings import get_settings

MIN_KEY_BYTES = 32


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class Keyring:
    active_kid: str
    signing_keys: dict[str, bytes]
    hash_key: bytes

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Keyring:
        try:
            signing = {kid: _b64decode(value) for kid, value in document["signing_keys"].items()}
            keyring = cls(document["active_kid"], signing, _b64decode(document["hash_key"]))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError("the keyring secret is malformed") from exc
        if keyring.active_kid not in keyring.signing_keys:
            raise ValueError("the keyring's active_kid has no key")
        if any(len(key) < MIN_KEY_BYTES for key in [*signing.values(), keyring.hash_key]):
            raise ValueError(f"every key must be at least {MIN_KEY_BYTES} bytes")
        return keyring

    @property
    def active_signing_key(self) -> bytes:
        return self.signing_keys[self.active_kid]


def generate_keyring_document(kid: str = "k1") -> dict[str, Any]:
    """A fresh keyring, for `make keys` and the local stack."""
    return {
        "active_kid": kid,
        "signing_keys": {kid: _b64encode(secrets.token_bytes(MIN_KEY_BYTES))},
        "hash_key": _b64encode(secrets.token_bytes(MIN_KEY_BYTES)),
    }


def get_keyring() -> Keyring:
    """The keyring, fetched from Secrets Manager and cached by Powertools for a few minutes."""
    settings = get_settings()
    document = parameters.get_secret(settings.keys_secret_id, transform="json", max_age=settings.keys_cache_seconds)
    if not isinstance(document, dict):
        raise ValueError("the keyring secret is not a JSON object")
    return Keyring.from_json(document)


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def _create_secret(name: str) -> None:
    import boto3

    boto3.client("secretsmanager").create_secret(
        Name=name,
        Description="Assisti keyring: JWT signing keys and the hash key",
        SecretString=dumps(generate_keyring_document()),
    )
    print(f"created secret {name} (its value is not printed)")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Assisti keyring tools")
    parser.add_argument("command", choices=["create"])
    parser.add_argument("--name", required=True, help="the secret's name, e.g. assisti/dev/keys")
    _create_secret(parser.parse_args().name)
