"""Signing keys: Ed25519 (EdDSA) key pairs with a ``kid``, exported as a JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_pem: str
    created_at: datetime
    retired_at: datetime | None = None

    @staticmethod
    def generate(now: datetime) -> SigningKey:
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        kid = _b64url(hashlib.sha256(raw).digest()[:12])
        return SigningKey(kid=kid, private_pem=pem, created_at=now)

    def private_key(self) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(self.private_pem.encode("ascii"), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"signing key {self.kid} is not Ed25519")
        return key

    def public_key(self) -> Ed25519PublicKey:
        return self.private_key().public_key()

    def jwk(self) -> dict[str, Any]:
        raw = self.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(raw),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }


def published_keys(keys: list[SigningKey], now: datetime, token_ttl: timedelta) -> list[SigningKey]:
    """The active key plus retired ones whose tokens may still be unexpired."""
    margin = token_ttl + timedelta(minutes=5)
    return [k for k in keys if k.retired_at is None or now - k.retired_at < margin]


def jwks_json(keys: list[SigningKey]) -> str:
    return json.dumps({"keys": [k.jwk() for k in keys]}, sort_keys=True)
